/*-------------------------------------------------------------------------
 *
 * walstar.h
 *		Declarations shared by the walstar extension's files.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALSTAR_H
#define WALSTAR_H

#include "fmgr.h"
#include "lib/stringinfo.h"

#include "walstar.pb-c.h"

typedef Walstar__V1__Change Change;
typedef Walstar__V1__Value Value;
typedef Walstar__V1__Column Column;

/* The only wire format version this reader understands. */
#define WALSTAR_WIRE_VERSION 1

/* change.c: reading walstar.v1.Change messages */
extern Change *change_unpack(const char *data, size_t len, char **error);
extern bool change_is_row_change(const Change *change);
extern const char *change_op_name(int op);
extern char *change_value_text(const Value *value, const Column *column);
extern void change_append_lsn(StringInfo out, uint64 lsn);

/* decode.c: walstar.decode(bytea) */
extern void decode_append_json(StringInfo out, const Change *change);

#endif							/* WALSTAR_H */
