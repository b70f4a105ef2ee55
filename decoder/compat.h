/*-------------------------------------------------------------------------
 *
 * compat.h
 *		Every PostgreSQL version difference the decoder depends on.
 *
 * The decoder is built and tested against PostgreSQL 15; the macros below
 * are the only places where another major version would need a branch.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALSTAR_COMPAT_H
#define WALSTAR_COMPAT_H

#include "replication/reorderbuffer.h"

#if PG_VERSION_NUM < 140000
#error "walstar_decoder requires PostgreSQL 14 or later"
#endif

/*
 * Tuples of a change: PostgreSQL 17 hands out HeapTuple directly, older
 * versions wrap them in a ReorderBufferTupleBuf.
 */
#if PG_VERSION_NUM >= 170000
#define CHANGE_NEWTUPLE(change) ((change)->data.tp.newtuple)
#define CHANGE_OLDTUPLE(change) ((change)->data.tp.oldtuple)
#else
#define CHANGE_NEWTUPLE(change) \
	((change)->data.tp.newtuple ? &(change)->data.tp.newtuple->tuple : NULL)
#define CHANGE_OLDTUPLE(change) \
	((change)->data.tp.oldtuple ? &(change)->data.tp.oldtuple->tuple : NULL)
#endif

/* Top-level transaction of a (sub)transaction; a macro from 17 on. */
#if PG_VERSION_NUM >= 170000
#define TXN_TOPLEVEL(txn) rbtxn_get_toptxn(txn)
#else
#define TXN_TOPLEVEL(txn) ((txn)->toptxn ? (txn)->toptxn : (txn))
#endif

/*
 * Transaction commit/prepare time: a union since PostgreSQL 15, a plain
 * commit_time field before.
 */
#if PG_VERSION_NUM >= 150000
#define TXN_COMMIT_TIME(txn) ((txn)->xact_time.commit_time)
#define TXN_PREPARE_TIME(txn) ((txn)->xact_time.prepare_time)
#else
#define TXN_COMMIT_TIME(txn) ((txn)->commit_time)
#define TXN_PREPARE_TIME(txn) ((txn)->commit_time)
#endif

/* Claim a GUC prefix: MarkGUCPrefixReserved since PostgreSQL 15. */
#if PG_VERSION_NUM >= 150000
#define MARK_GUC_PREFIX_RESERVED(prefix) MarkGUCPrefixReserved(prefix)
#else
#define MARK_GUC_PREFIX_RESERVED(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/*
 * The timeline WAL is written on now: InsertTimeLineID since PostgreSQL 15
 * (logical decoding runs on a primary there), the ThisTimeLineID global
 * before.
 */
#if PG_VERSION_NUM >= 150000
#define CURRENT_TIMELINE() GetWALInsertionTimeLine()
#else
#define CURRENT_TIMELINE() ThisTimeLineID
#endif

#endif							/* WALSTAR_COMPAT_H */
