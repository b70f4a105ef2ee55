/*-------------------------------------------------------------------------
 *
 * change_op.h
 *		The name of a Change's op, as walstar.proto spells it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALSTAR_CHANGE_OP_H
#define WALSTAR_CHANGE_OP_H

/* "INSERT", "COMMIT", ...; "UNKNOWN" for a value the proto does not name. */
extern const char *change_op_name(int op);

#endif							/* WALSTAR_CHANGE_OP_H */
