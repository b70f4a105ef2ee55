/*-------------------------------------------------------------------------
 *
 * snapshot_catalog.h
 *		The source catalog as the initial copy reads it (snapshot_catalog.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_SNAPSHOT_CATALOG_H
#define SINK_SNAPSHOT_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "config.h"
#include "snapshot_value.h"

/* One selected table. */
typedef struct SnapTable
{
	char	*schema;	/* schema name, unquoted */
	char	*table;		/* table name, unquoted */
	unsigned oid;		/* pg_class.oid (Change.relation_oid) */
	char	 replident; /* pg_class.relreplident */
	double	 reltuples; /* estimate, for the ETA */
	uint64_t rows;		/* rows copied */
} SnapTable;

/*
 * The tables include-tables/exclude-tables select, in schema/table order,
 * malloc'd (*ntables entries); NULL with err on error, a pattern the decoder
 * would refuse included.
 */
extern SnapTable *snapshot_catalog_tables(PGconn *conn, const Config *cfg,
										  int *ntables, char *err,
										  size_t errlen);

/*
 * t's columns, described and protected (mask-columns, hash-columns) as the
 * decoder's relation cache does, with their keys by replica identity;
 * NULL with err on error.  Free with snapshot_catalog_free_columns.
 */
extern SnapColumn *snapshot_catalog_columns(PGconn *conn, const Config *cfg,
											const SnapTable *t, int *ncols,
											char *err, size_t errlen);
extern void		   snapshot_catalog_free_columns(SnapColumn *cols, int ncols);

/*
 * Let the decoder compare its salt's fingerprint with ours (option
 * hash-salt-id) by starting it on the new slot, up to the consistent point:
 * it refuses a mismatch, or a server without a salt file, when it starts.
 * Nothing is consumed (peek), and the exported snapshot stays valid, since
 * the replication connection is idle meanwhile.
 */
extern bool snapshot_catalog_check_salt(PGconn *conn, const Config *cfg,
										const char *slot,
										uint64_t consistent_point, char *err,
										size_t errlen);

#endif
