/*-------------------------------------------------------------------------
 *
 * compat.h
 *		Every PostgreSQL version difference the walstar extension depends on.
 *
 * The extension is built and tested against PostgreSQL 15; the macros below
 * are the only places where another major version needs a branch.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALSTAR_EXT_COMPAT_H
#define WALSTAR_EXT_COMPAT_H

#include "utils/backend_status.h"
#include "utils/guc.h"

#if PG_VERSION_NUM < 140000
#error "walstar requires PostgreSQL 14 or later"
#endif

/* Reserving a GUC prefix: MarkGUCPrefixReserved from 15 on. */
#if PG_VERSION_NUM >= 150000
#define RESERVE_GUC_PREFIX(prefix) MarkGUCPrefixReserved(prefix)
#else
#define RESERVE_GUC_PREFIX(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/* The n-th (1-based) local backend status entry: renamed in 16. */
#if PG_VERSION_NUM >= 160000
#define LOCAL_BACKEND_STATUS(n) pgstat_get_local_beentry_by_index(n)
#else
#define LOCAL_BACKEND_STATUS(n) pgstat_fetch_stat_local_beentry(n)
#endif

#endif							/* WALSTAR_EXT_COMPAT_H */
