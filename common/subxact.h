/*-------------------------------------------------------------------------
 *
 * subxact.h
 *		Run a piece of backend code in an internal subtransaction and get
 *		its error back as text (server-side parts only).
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALSTAR_SUBXACT_H
#define WALSTAR_SUBXACT_H

/*
 * Run fn(arg) in an internal subtransaction.  NULL when it succeeded; else
 * its error ("message (detail)"), allocated in the caller's memory
 * context, with the subtransaction rolled back.  A query cancel, a
 * shutdown request or a deadlock is never swallowed: it is thrown again.
 */
extern char *subxact_try(void (*fn) (void *arg), void *arg);

#endif
