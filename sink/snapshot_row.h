/*-------------------------------------------------------------------------
 *
 * snapshot_row.h
 *		One copied row -> one packed READ record (snapshot_row.c): the
 *		encoder both copies share, the one-shot COPY and the chunked copy.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_SNAPSHOT_ROW_H
#define SINK_SNAPSHOT_ROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "config.h"
#include "snapshot_catalog.h"
#include "snapshot_value.h"

/* Where a READ record goes in the stream, and who wrote it. */
typedef struct SnapStamp
{
	const char	  *source;		/* Change.source */
	uint64_t	   system_id;	/* Change.system_id */
	uint64_t	   commit_lsn;	/* the copy's epoch, or a chunk's watermark */
	uint64_t	   lsn;			/* Change.lsn */
	uint32_t	   position;	/* Change.position */
	int64_t		   commit_time; /* Change.commit_time */
	const uint8_t *epoch;		/* chunked copy: 16 bytes, else NULL */
	uint32_t	   timeline;	/* Change.timeline (0: not known) */
} SnapStamp;

typedef struct SnapRow
{
	const SnapTable		  *table;
	SnapColumn			  *cols;
	int					   ncols;
	int					   nkeys; /* key columns (replica identity) */
	const char			  *salt;  /* hash-salt */
	Walstar__V1__Column	 **colptrs;
	Walstar__V1__Value	  *vals;
	Walstar__V1__Value	 **valptrs;
	Walstar__V1__Value	 **keyptrs;
	Walstar__V1__Interval *ivs;
	uint8_t				  *scratch;
	size_t				   scratchcap;
	uint8_t				  *key; /* serialized Key of the last row */
	size_t				   keylen;
	size_t				   keycap;
	uint8_t				  *out; /* the last packed record */
	size_t				   outlen;
	size_t				   outcap;
} SnapRow;

/* Describe t's columns (snapshot_catalog_columns); false with err. */
extern bool snap_row_init(SnapRow *r, PGconn *conn, const Config *cfg,
						  const SnapTable *t, char *err, size_t errlen);
extern void snap_row_free(SnapRow *r);

/*
 * Whether the table can be copied in key-ordered chunks: it has a key
 * (primary key or replica identity index) and no key column is masked or
 * hashed (the chunk's upper key is kept in the state directory in clear).
 */
extern bool snap_row_chunkable(const SnapRow *r);

/*
 * The SELECT list whose fields snap_row_encode takes, in column order
 * (malloc'd; "1" for a table without columns); NULL when out of memory.
 */
extern char *snap_row_select_list(const SnapRow *r, PGconn *conn);

/*
 * Pack the row whose field texts (unescaped, NUL-terminated, modified;
 * NULL for SQL NULL) are fields[0..ncols-1] into r->out/r->outlen, its key
 * into r->key/r->keylen (0 without a key).
 */
extern void snap_row_encode(SnapRow *r, char **fields, const size_t *flens,
							const SnapStamp *stamp);

#endif
