/*-------------------------------------------------------------------------
 *
 * snapshot_chunk.c
 *		The chunked copy (DBLog's watermarks): keyed tables copied in key
 *		order, chunk by chunk, while the slot streams.
 *
 * One chunk:
 *	1. low watermark: pg_logical_emit_message(true, 'walstar.watermark',
 *	   '<epoch> <attempt> low'), committed before the chunk is read;
 *	2. the chunk: SELECT ... WHERE (key) > (upper key of the last chunk)
 *	   ORDER BY key LIMIT snapshot-chunk-size, one statement of its own
 *	   (READ COMMITTED), its rows kept here with their key bytes;
 *	3. high watermark, committed after the chunk was read.
 * The stream brings the watermarks in commit order.  Between them, every
 * change of the table drops its row (old and new key) from the chunk: the
 * stream's version wins.  At the high watermark the rows left go out as
 * READ records with commit_lsn = the high watermark's commit LSN and
 * positions 1, 2, ...: downstream they follow everything committed before
 * it and precede everything committed after it.  A row left was not
 * changed between the watermarks, so its value read in step 2 is its value
 * at the high watermark: the result equals a snapshot at that instant.
 *
 * Progress (snapshot_chunk_state.c) is written once the high watermark's
 * transaction, which the READ records belong to, is in Kafka (the tracker's
 * flush position passed it); a restart resumes at the next chunk.  The
 * epoch is 16 random bytes, the attempt 8 more per chunk: a watermark that
 * is not the chunk's in flight (a resend after a restart, a forgery) is
 * ignored, and no watermark is forwarded.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <openssl/rand.h>

#include "walstar.pb-c.h"

#include "change_peek.h"
#include "log.h"
#include "lsn.h"
#include "metrics.h"
#include "snapshot_catalog.h"
#include "snapshot_chunk.h"
#include "snapshot_chunk_state.h"
#include "snapshot_row.h"
#include "source_conn.h"

typedef enum ChunkPhase
{
	PHASE_IDLE,	  /* next chunk not started */
	PHASE_WINDOW, /* read; waiting for its watermarks in the stream */
	PHASE_ACK	  /* sent; waiting for Kafka */
} ChunkPhase;

typedef struct BufRow
{
	uint8_t *key;
	size_t	 keylen;
	bool	 gone; /* the stream changed it inside the window */
} BufRow;

struct ChunkCopy
{
	const Config   *cfg;
	Stream		   *stream;
	char		   *source;
	uint64_t		system_id;
	const uint32_t *timeline; /* the stream's (Change.timeline) */
	PGconn		   *conn;
	ChunkState		st;
	bool			active;
	int				cur; /* table of the chunk in flight */
	ChunkPhase		phase;
	uint8_t			attempt[8];
	bool			seen_low;
	bool			conflict; /* an UPDATE with unchanged TOAST hit a row */
	SnapTable		table;	  /* cur, as the catalog describes it */
	SnapRow			row;	  /* its encoder */
	PGresult	   *res;	  /* the chunk's rows */
	BufRow		   *rows;
	int				nrows;
	int			   *slots; /* hash of key bytes -> row index + 1 */
	int				nslots;
	uint64_t		ack_after; /* high watermark's commit LSN */
	uint64_t		sent;	   /* READ records of the chunk */
	uint32_t		snap_xmax; /* the chunk SELECT's snapshot: xmax, */
	uint32_t	   *xip;	   /* the transactions in progress, */
	int				nxip, xipcap;
	int64_t			last_log_ms;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
hex(const uint8_t *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

ChunkCopy *
chunk_copy_create(const Config *cfg, Stream *stream, const char *source,
				  const char *system_id, const uint32_t *timeline)
{
	ChunkCopy *cc = calloc(1, sizeof(ChunkCopy));

	if (cc == NULL || (cc->source = strdup(source)) == NULL)
		abort();
	cc->cfg = cfg;
	cc->stream = stream;
	cc->system_id = strtoull(system_id, NULL, 10);
	cc->timeline = timeline;
	return cc;
}

static void
chunk_clear(ChunkCopy *cc)
{
	int i;

	for (i = 0; i < cc->nrows; i++)
		free(cc->rows[i].key);
	free(cc->rows);
	free(cc->slots);
	cc->rows = NULL;
	cc->slots = NULL;
	cc->nrows = cc->nslots = 0;
	PQclear(cc->res);
	cc->res = NULL;
	snap_row_free(&cc->row);
	free(cc->table.schema);
	free(cc->table.table);
	memset(&cc->table, 0, sizeof(cc->table));
	cc->phase = PHASE_IDLE;
	cc->seen_low = cc->conflict = false;
}

void
chunk_copy_destroy(ChunkCopy *cc)
{
	if (cc == NULL)
		return;
	chunk_clear(cc);
	chunk_state_free(&cc->st);
	PQfinish(cc->conn);
	free(cc->xip);
	free(cc->source);
	free(cc);
}

bool
chunk_copy_active(const ChunkCopy *cc)
{
	return cc->active;
}

void
chunk_copy_stream_lost(ChunkCopy *cc)
{
	/* the watermarks may come again, or not: read the chunk again */
	if (cc->phase != PHASE_IDLE)
		chunk_clear(cc);
}

static bool
ensure_conn(ChunkCopy *cc, char *err, size_t errlen)
{
	char why[512];

	if (cc->conn != NULL && PQstatus(cc->conn) == CONNECTION_OK)
		return true;
	PQfinish(cc->conn);
	cc->conn = source_connect(cc->cfg->conninfo, false,
							  "walstar-sink chunked copy", why, sizeof(why));
	if (cc->conn == NULL)
	{
		snprintf(err, errlen, "chunked copy connection failed: %s", why);
		return false;
	}
	return true;
}

bool
chunk_copy_plan(ChunkCopy *cc, const char *only, int *keyless, char *err,
				size_t errlen)
{
	SnapTable *tables;
	Config	   c = *cc->cfg;
	int		   ntables = 0, i;
	bool	   ok = true;

	c.snapshot_tables = (char *)only;
	*keyless = 0;

	if (cc->cfg->hash_columns != NULL && cc->cfg->hash_salt == NULL)
	{
		snprintf(err, errlen,
				 "hash-columns needs hash-salt or hash-salt-file to hash a "
				 "copy");
		return false;
	}
	if (!ensure_conn(cc, err, errlen))
		return false;
	tables = snapshot_catalog_tables(cc->conn, &c, &ntables, err, errlen);
	if (tables == NULL)
		return false;
	chunk_clear(cc);
	chunk_state_free(&cc->st);
	if (RAND_bytes(cc->st.epoch, CHUNK_EPOCH_LEN) != 1)
		abort();
	cc->st.tables = calloc(ntables + 1, sizeof(ChunkTable));
	if (cc->st.tables == NULL)
		abort();
	for (i = 0; i < ntables; i++)
	{
		SnapRow r;

		if (ok &&
			snap_row_init(&r, cc->conn, cc->cfg, &tables[i], err, errlen))
		{
			if (snap_row_chunkable(&r))
			{
				ChunkTable *t = &cc->st.tables[cc->st.ntables++];

				t->schema = strdup(tables[i].schema);
				t->table = strdup(tables[i].table);
				if (t->schema == NULL || t->table == NULL)
					abort();
			}
			else
				(*keyless)++;
			snap_row_free(&r);
		}
		else
			ok = false;
		free(tables[i].schema);
		free(tables[i].table);
	}
	free(tables);
	if (ok)
		ok = chunk_state_save(cc->cfg, &cc->st, err, errlen);
	cc->active = ok && cc->st.ntables > 0;
	if (ok)
	{
		char e[2 * CHUNK_EPOCH_LEN + 1];

		hex(cc->st.epoch, CHUNK_EPOCH_LEN, e);
		log_info("snapshot",
				 "epoch=%s tables=%d chunk_size=%d msg=\"chunked copy "
				 "planned; it runs while streaming\"",
				 e, cc->st.ntables, cc->cfg->snapshot_chunk_size);
	}
	return ok;
}

void
chunk_copy_resume(ChunkCopy *cc)
{
	int	 i;
	char e[2 * CHUNK_EPOCH_LEN + 1];

	chunk_state_free(&cc->st);
	if (!chunk_state_load(cc->cfg, &cc->st))
		return;
	for (i = 0; i < cc->st.ntables; i++)
		if (!cc->st.tables[i].done)
			cc->active = true;
	hex(cc->st.epoch, CHUNK_EPOCH_LEN, e);
	for (i = 0; cc->active && i < cc->st.ntables; i++)
		if (!cc->st.tables[i].done)
		{
			log_info("snapshot",
					 "epoch=%s table=%s.%s chunks_done=%" PRIu64
					 " rows=%" PRIu64 " msg=\"chunked copy resumes at the "
					 "next chunk\"",
					 e, cc->st.tables[i].schema, cc->st.tables[i].table,
					 cc->st.tables[i].chunks, cc->st.tables[i].rows);
			break;
		}
}

static uint32_t
key_hash(const uint8_t *k, size_t n)
{
	uint32_t h = 2166136261u;
	size_t	 i;

	for (i = 0; i < n; i++)
		h = (h ^ k[i]) * 16777619u;
	return h;
}

static BufRow *
buf_find(ChunkCopy *cc, const uint8_t *key, size_t keylen)
{
	uint32_t i;

	if (cc->nslots == 0 || key == NULL)
		return NULL;
	for (i = key_hash(key, keylen) & (cc->nslots - 1); cc->slots[i] != 0;
		 i = (i + 1) & (cc->nslots - 1))
	{
		BufRow *r = &cc->rows[cc->slots[i] - 1];

		if (r->keylen == keylen && memcmp(r->key, key, keylen) == 0)
			return r;
	}
	return NULL;
}

/* Copy row i's fields out of the result, modifiable, and encode it. */
static void
encode_row(ChunkCopy *cc, int i, char **fields, size_t *flens, char **copies,
		   const SnapStamp *stamp)
{
	int f;

	for (f = 0; f < cc->row.ncols; f++)
	{
		free(copies[f]);
		copies[f] = NULL;
		if (PQgetisnull(cc->res, i, f))
		{
			fields[f] = NULL;
			flens[f] = 0;
			continue;
		}
		flens[f] = (size_t)PQgetlength(cc->res, i, f);
		copies[f] = malloc(flens[f] + 1);
		if (copies[f] == NULL)
			abort();
		memcpy(copies[f], PQgetvalue(cc->res, i, f), flens[f] + 1);
		fields[f] = copies[f];
	}
	snap_row_encode(&cc->row, fields, flens, stamp);
}

static bool
emit_watermark(ChunkCopy *cc, const char *which, char *err, size_t errlen)
{
	char		content[128];
	const char *params[2] = {CHUNK_WATERMARK_PREFIX, content};
	PGresult   *res;
	bool		ok;

	hex(cc->st.epoch, CHUNK_EPOCH_LEN, content);
	content[2 * CHUNK_EPOCH_LEN] = ' ';
	hex(cc->attempt, sizeof(cc->attempt), content + 2 * CHUNK_EPOCH_LEN + 1);
	snprintf(content + 2 * CHUNK_EPOCH_LEN + 1 + 2 * sizeof(cc->attempt),
			 sizeof(content) - 2 * CHUNK_EPOCH_LEN - 1 -
				 2 * sizeof(cc->attempt),
			 " %s", which);
	res = PQexecParams(cc->conn,
					   "SELECT pg_catalog.pg_logical_emit_message(true, $1, "
					   "$2)",
					   2, NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
	{
		snprintf(err, errlen, "cannot write the %s watermark: %s", which,
				 PQresultErrorMessage(res));
		err[strcspn(err, "\n")] = '\0';
	}
	PQclear(res);
	return ok;
}

/*
 * Open the chunk's REPEATABLE READ transaction and note its snapshot: a
 * transaction can commit in the WAL before the low watermark and still be
 * invisible to the SELECT (its commit record precedes its leaving the
 * proc array), so the window alone would miss it.
 */
static bool
read_snapshot(ChunkCopy *cc, char *err, size_t errlen)
{
	PGresult   *res;
	const char *p;
	char	   *end;

	PQclear(PQexec(cc->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ"));
	res = PQexec(cc->conn,
				 "SELECT pg_catalog.pg_current_snapshot()::pg_catalog.text");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		snprintf(err, errlen, "cannot read a snapshot: %s",
				 PQresultErrorMessage(res));
		err[strcspn(err, "\n")] = '\0';
		PQclear(res);
		PQclear(PQexec(cc->conn, "ROLLBACK"));
		return false;
	}
	/* xmin:xmax:xip,... (64-bit xids; the stream's are their low 32 bits) */
	p = PQgetvalue(res, 0, 0);
	p = strchr(p, ':') + 1;
	cc->snap_xmax = (uint32_t)strtoull(p, &end, 10);
	cc->nxip = 0;
	for (p = end + 1; *p != '\0'; p = *end == ',' ? end + 1 : end)
	{
		uint64_t x = strtoull(p, &end, 10);

		if (end == p)
			break;
		if (cc->nxip == cc->xipcap)
		{
			cc->xipcap = cc->xipcap ? 2 * cc->xipcap : 64;
			cc->xip = realloc(cc->xip, cc->xipcap * sizeof(uint32_t));
			if (cc->xip == NULL)
				abort();
		}
		cc->xip[cc->nxip++] = (uint32_t)x;
	}
	PQclear(res);
	return true;
}

/* Did the chunk's SELECT not see transaction xid? */
static bool
invisible(const ChunkCopy *cc, uint32_t xid)
{
	int i;

	if ((int32_t)(xid - cc->snap_xmax) >= 0)
		return true;
	for (i = 0; i < cc->nxip; i++)
		if (cc->xip[i] == xid)
			return true;
	return false;
}

/* Read the next chunk of st.tables[cur] between two watermarks. */
static bool
start_chunk(ChunkCopy *cc, char *err, size_t errlen)
{
	ChunkTable	*t = &cc->st.tables[cc->cur];
	char		*list = NULL, *qs = NULL, *qt = NULL;
	char		*sql = NULL;
	size_t		 cap, len;
	const char **params = NULL;
	Oid			*types = NULL;
	int			 k, i, nkeys;
	bool		 ok = false;

	if (!ensure_conn(cc, err, errlen))
		return false;
	{
		char	  sqlt[512];
		char	 *q1 = PQescapeLiteral(cc->conn, t->schema, strlen(t->schema));
		char	 *q2 = PQescapeLiteral(cc->conn, t->table, strlen(t->table));
		PGresult *r;

		if (q1 == NULL || q2 == NULL)
			abort();
		/* the table as it is now: a DDL since the last chunk shows here */
		snprintf(sqlt, sizeof(sqlt),
				 "SELECT c.oid, c.relreplident FROM pg_catalog.pg_class c "
				 "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
				 "WHERE n.nspname = %s AND c.relname = %s",
				 q1, q2);
		PQfreemem(q1);
		PQfreemem(q2);
		r = PQexec(cc->conn, sqlt);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
		{
			snprintf(err, errlen, "cannot find %s.%s: %s", t->schema, t->table,
					 PQresultErrorMessage(r));
			err[strcspn(err, "\n")] = '\0';
			PQclear(r);
			return false;
		}
		if (PQntuples(r) == 0)
		{
			log_warning("snapshot",
						"table=%s.%s msg=\"table gone; its chunked copy "
						"ends\"",
						t->schema, t->table);
			PQclear(r);
			t->done = true;
			return chunk_state_save(cc->cfg, &cc->st, err, errlen);
		}
		cc->table.schema = strdup(t->schema);
		cc->table.table = strdup(t->table);
		cc->table.oid = (unsigned)strtoul(PQgetvalue(r, 0, 0), NULL, 10);
		cc->table.replident = PQgetvalue(r, 0, 1)[0];
		PQclear(r);
	}
	if (!snap_row_init(&cc->row, cc->conn, cc->cfg, &cc->table, err, errlen))
		return false;
	if (!snap_row_chunkable(&cc->row) ||
		(t->nkeys != 0 && t->nkeys != cc->row.nkeys))
	{
		snprintf(err, errlen,
				 "%s.%s lost its key (or changed it) during its chunked copy; "
				 "request a copy of it with the snapshot command",
				 t->schema, t->table);
		return false;
	}
	nkeys = cc->row.nkeys;
	list = snap_row_select_list(&cc->row, cc->conn);
	qs = PQescapeIdentifier(cc->conn, t->schema, strlen(t->schema));
	qt = PQescapeIdentifier(cc->conn, t->table, strlen(t->table));
	params = calloc(nkeys + 1, sizeof(*params));
	types = calloc(nkeys + 1, sizeof(*types));
	cap = 1024 + (list ? strlen(list) : 0) + (size_t)nkeys * 600;
	sql = malloc(cap);
	if (!list || !qs || !qt || !params || !types || !sql)
		abort();
	/* the SELECT list, then the key columns' text (the next chunk's start) */
	len = (size_t)snprintf(sql, cap, "SELECT %s", list);
	for (k = 1; k <= nkeys; k++)
		for (i = 0; i < cc->row.ncols; i++)
			if (cc->row.cols[i].key_order == k)
			{
				char *qc =
					PQescapeIdentifier(cc->conn, cc->row.cols[i].desc.name,
									   strlen(cc->row.cols[i].desc.name));

				len += (size_t)snprintf(sql + len, cap - len,
										", CAST(t.%s AS pg_catalog.text)", qc);
				PQfreemem(qc);
			}
	len += (size_t)snprintf(sql + len, cap - len, " FROM ONLY %s.%s AS t", qs,
							qt);
	for (int pass = 0; pass < 2; pass++)
	{
		/* WHERE (k1, ...) > ($1, ...), then ORDER BY k1, ... */
		if (pass == 0 && t->nkeys == 0)
			continue;
		len += (size_t)snprintf(sql + len, cap - len,
								pass == 0 ? " WHERE (" : " ORDER BY ");
		for (k = 1; k <= nkeys; k++)
			for (i = 0; i < cc->row.ncols; i++)
				if (cc->row.cols[i].key_order == k)
				{
					char *qc =
						PQescapeIdentifier(cc->conn, cc->row.cols[i].desc.name,
										   strlen(cc->row.cols[i].desc.name));

					len += (size_t)snprintf(sql + len, cap - len, "%st.%s",
											k > 1 ? ", " : "", qc);
					PQfreemem(qc);
					types[k - 1] = cc->row.cols[i].desc.type_oid;
				}
		if (pass == 0)
		{
			len += (size_t)snprintf(sql + len, cap - len, ") > (");
			for (k = 1; k <= nkeys; k++)
				len += (size_t)snprintf(sql + len, cap - len, "%s$%d",
										k > 1 ? ", " : "", k);
			len += (size_t)snprintf(sql + len, cap - len, ")");
		}
	}
	snprintf(sql + len, cap - len, " LIMIT %d", cc->cfg->snapshot_chunk_size);
	for (k = 0; k < t->nkeys; k++)
		params[k] = t->upper[k];

	if (RAND_bytes(cc->attempt, sizeof(cc->attempt)) != 1)
		abort();
	if (!emit_watermark(cc, "low", err, errlen) ||
		!read_snapshot(cc, err, errlen))
		goto done;
	cc->res = PQexecParams(cc->conn, sql, t->nkeys, t->nkeys ? types : NULL,
						   params, NULL, NULL, 0);
	PQclear(PQexec(cc->conn, "COMMIT"));
	if (PQresultStatus(cc->res) != PGRES_TUPLES_OK)
	{
		snprintf(err, errlen, "cannot read a chunk of %s.%s: %s", t->schema,
				 t->table, PQresultErrorMessage(cc->res));
		err[strcspn(err, "\n")] = '\0';
		goto done;
	}
	/* an empty chunk goes through the window too: it ends the table */
	cc->nrows = PQntuples(cc->res);
	/* the rows' keys, to match the stream's changes against */
	{
		SnapStamp stamp = {cc->source, cc->system_id, 0, 0, 1, 0, NULL};
		char	**fields = calloc(cc->row.ncols + 1, sizeof(char *));
		char	**copies = calloc(cc->row.ncols + 1, sizeof(char *));
		size_t	 *flens = calloc(cc->row.ncols + 1, sizeof(size_t));

		cc->rows = calloc(cc->nrows, sizeof(BufRow));
		for (cc->nslots = 1; cc->nslots < 2 * cc->nrows; cc->nslots *= 2)
			;
		cc->slots = calloc(cc->nslots, sizeof(int));
		if (!fields || !copies || !flens || !cc->rows || !cc->slots)
			abort();
		for (i = 0; i < cc->nrows; i++)
		{
			BufRow	*r = &cc->rows[i];
			uint32_t h;

			encode_row(cc, i, fields, flens, copies, &stamp);
			r->keylen = cc->row.keylen;
			r->key = malloc(r->keylen + 1);
			if (r->key == NULL)
				abort();
			memcpy(r->key, cc->row.key, r->keylen);
			for (h = key_hash(r->key, r->keylen) & (cc->nslots - 1);
				 cc->slots[h] != 0; h = (h + 1) & (cc->nslots - 1))
				;
			cc->slots[h] = i + 1;
		}
		for (i = 0; i < cc->row.ncols; i++)
			free(copies[i]);
		free(fields);
		free(copies);
		free(flens);
	}
	if (!emit_watermark(cc, "high", err, errlen))
		goto done;
	cc->phase = PHASE_WINDOW;
	ok = true;

done:
	if (!ok && cc->phase == PHASE_IDLE && cc->res != NULL)
		chunk_clear(cc);
	free(list);
	free(sql);
	free(params);
	free(types);
	if (qs)
		PQfreemem(qs);
	if (qt)
		PQfreemem(qt);
	return ok;
}

/* The chunk's READ records are in Kafka: record it, go on. */
static bool
chunk_acknowledged(ChunkCopy *cc, char *err, size_t errlen)
{
	ChunkTable *t = &cc->st.tables[cc->cur];
	int			nkeys = cc->row.nkeys;
	int			last = cc->nrows - 1;
	int			k;
	bool		ok;

	if (cc->conflict)
	{
		/* read again: the row's unchanged TOAST values are not in the stream */
		log_info("snapshot",
				 "table=%s.%s chunk=%" PRIu64 " msg=\"an UPDATE with "
				 "unchanged TOAST values met the chunk; it is read again\"",
				 t->schema, t->table, t->chunks + 1);
		chunk_clear(cc);
		return true;
	}
	for (k = 0; last >= 0 && k < t->nkeys; k++)
		free(t->upper[k]);
	if (last >= 0)
	{
		free(t->upper);
		t->upper = calloc(nkeys + 1, sizeof(char *));
		if (t->upper == NULL)
			abort();
	}
	for (k = 0; last >= 0 && k < nkeys; k++)
	{
		t->upper[k] = strdup(PQgetvalue(cc->res, last, cc->row.ncols + k));
		if (t->upper[k] == NULL)
			abort();
	}
	if (last >= 0)
		t->nkeys = nkeys;
	t->chunks++;
	t->rows += cc->sent;
	if (cc->nrows < cc->cfg->snapshot_chunk_size)
		t->done = true;
	ok = chunk_state_save(cc->cfg, &cc->st, err, errlen);
	if (t->done ||
		mono_ms() - cc->last_log_ms >= cc->cfg->progress_interval * 1000)
	{
		char e[2 * CHUNK_EPOCH_LEN + 1];

		hex(cc->st.epoch, CHUNK_EPOCH_LEN, e);
		cc->last_log_ms = mono_ms();
		log_info("snapshot",
				 "epoch=%s table=%s.%s chunks=%" PRIu64 " rows=%" PRIu64
				 " msg=\"%s\"",
				 e, t->schema, t->table, t->chunks, t->rows,
				 t->done ? "chunked copy of the table complete and "
						   "acknowledged"
						 : "chunk acknowledged");
	}
	chunk_clear(cc);
	return ok;
}

bool
chunk_copy_service(ChunkCopy *cc, uint64_t flush, char *err, size_t errlen)
{
	int i;

	if (!cc->active)
		return true;
	if (cc->phase == PHASE_ACK && flush > cc->ack_after)
	{
		if (!chunk_acknowledged(cc, err, errlen))
			return false;
	}
	if (cc->phase != PHASE_IDLE)
		return true;
	for (i = 0; i < cc->st.ntables && cc->st.tables[i].done; i++)
		;
	if (i == cc->st.ntables)
	{
		char e[2 * CHUNK_EPOCH_LEN + 1];

		hex(cc->st.epoch, CHUNK_EPOCH_LEN, e);
		log_info("snapshot",
				 "epoch=%s tables=%d msg=\"chunked copy complete and "
				 "acknowledged\"",
				 e, cc->st.ntables);
		cc->active = false;
		chunk_state_forget(cc->cfg);
		PQfinish(cc->conn);
		cc->conn = NULL;
		return true;
	}
	cc->cur = i;
	return start_chunk(cc, err, errlen);
}

/* Is content our watermark of the chunk in flight?  Sets *high. */
static bool
our_watermark(ChunkCopy *cc, const ProtobufCBinaryData *content, bool *high)
{
	char want[2 * CHUNK_EPOCH_LEN + 1 + 2 * 8 + 1];

	hex(cc->st.epoch, CHUNK_EPOCH_LEN, want);
	want[2 * CHUNK_EPOCH_LEN] = ' ';
	hex(cc->attempt, sizeof(cc->attempt), want + 2 * CHUNK_EPOCH_LEN + 1);
	if (cc->phase != PHASE_WINDOW || content->len < sizeof(want) + 3 ||
		memcmp(content->data, want, sizeof(want) - 1) != 0 ||
		content->data[sizeof(want) - 1] != ' ')
		return false;
	*high = content->len == sizeof(want) + 4 &&
			memcmp(content->data + sizeof(want), "high", 4) == 0;
	return *high || (content->len == sizeof(want) + 3 &&
					 memcmp(content->data + sizeof(want), "low", 3) == 0);
}

/*
 * One record of the copy into the watermark's transaction, waiting while
 * the producer pushes back.  CHUNK_PASS: stopped, the chunk is dropped (it
 * is redone at the next start, nothing of it is recorded).
 */
static ChunkObserve
send_out(ChunkCopy *cc, const uint8_t *data, size_t len, uint64_t lsn,
		 volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	for (;;)
	{
		StreamResult r =
			stream_record(cc->stream, data, len, lsn, err, errlen);

		if (r == STREAM_DONE)
			return CHUNK_CONSUMED;
		if (r == STREAM_FAILED)
			return CHUNK_FAILED;
		producer_poll(cc->stream->producer, 10);
		if (*stop)
		{
			chunk_clear(cc);
			return CHUNK_PASS;
		}
	}
}

/*
 * SNAPSHOT_BEGIN (at the table's first low watermark, before any change
 * the stream brings after it) or SNAPSHOT_END (after the table's last READ
 * records), which the stream sends to every partition of the table's
 * topic: downstream, a partition's part of the copy lies between the two.
 */
static ChunkObserve
send_mark(ChunkCopy *cc, int op, uint64_t commit_lsn, int64_t commit_time,
		  volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	Walstar__V1__Change c;
	char				topic[512];
	int					parts = 1;
	uint8_t			   *buf;
	size_t				len;
	ChunkObserve		ret;

	stream_table_topic(cc->cfg, cc->table.schema, strlen(cc->table.schema),
					   cc->table.table, strlen(cc->table.table), topic,
					   sizeof(topic));
	while (producer_partition_count(cc->stream->producer, topic, &parts, err,
									errlen) != PRODUCE_OK)
	{
		producer_poll(cc->stream->producer, 100);
		if (*stop)
		{
			chunk_clear(cc);
			return CHUNK_PASS;
		}
	}
	walstar__v1__change__init(&c);
	c.version = 1;
	c.source = cc->source;
	c.system_id = cc->system_id;
	c.op = op;
	c.schema = cc->table.schema;
	c.table = cc->table.table;
	c.commit_lsn = c.lsn = commit_lsn;
	c.commit_time = commit_time;
	/* epochs compare by (timeline, LSN): a failover reuses LSNs */
	c.timeline = *cc->timeline;
	c.snapshot_epoch.data = cc->st.epoch;
	c.snapshot_epoch.len = CHUNK_EPOCH_LEN;
	c.partitions = (uint32_t)parts;
	len = walstar__v1__change__get_packed_size(&c);
	if ((buf = malloc(len + 1)) == NULL)
		abort();
	walstar__v1__change__pack(&c, buf);
	ret = send_out(cc, buf, len, commit_lsn, stop, err, errlen);
	free(buf);
	return ret;
}

/* The rows the window left, as READ records at the high watermark. */
static ChunkObserve
flush_chunk(ChunkCopy *cc, uint64_t commit_lsn, int64_t commit_time,
			volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	/*
	 * With their timeline: after a failover the new timeline reuses the old
	 * one's LSNs, and a READ without one would compare with the old
	 * timeline's positions by LSN alone (a resend, skipped).
	 */
	SnapStamp	 stamp = {cc->source, cc->system_id, commit_lsn,   commit_lsn,
						  0,		  commit_time,	 cc->st.epoch, *cc->timeline};
	char	   **fields = calloc(cc->row.ncols + 1, sizeof(char *));
	char	   **copies = calloc(cc->row.ncols + 1, sizeof(char *));
	size_t		*flens = calloc(cc->row.ncols + 1, sizeof(size_t));
	ChunkObserve ret = CHUNK_CONSUMED;
	int			 i;

	if (!fields || !copies || !flens)
		abort();
	cc->sent = 0;
	for (i = 0; i < cc->nrows && ret == CHUNK_CONSUMED; i++)
	{
		if (cc->rows[i].gone)
			continue;
		stamp.position = (uint32_t)(cc->sent + 1);
		encode_row(cc, i, fields, flens, copies, &stamp);
		ret = send_out(cc, cc->row.out, cc->row.outlen, commit_lsn, stop, err,
					   errlen);
		if (ret == CHUNK_CONSUMED)
		{
			cc->sent++;
			atomic_fetch_add_explicit(&metrics.snapshot_rows_total, 1,
									  memory_order_relaxed);
		}
	}
	for (i = 0; i < cc->row.ncols; i++)
		free(copies[i]);
	free(fields);
	free(copies);
	free(flens);
	/* the table's last chunk: its end follows its READ records */
	if (ret == CHUNK_CONSUMED && cc->nrows < cc->cfg->snapshot_chunk_size)
		ret = send_mark(cc, WALSTAR__V1__OP__SNAPSHOT_END, commit_lsn,
						commit_time, stop, err, errlen);
	if (ret == CHUNK_PASS)
		return CHUNK_CONSUMED;
	if (ret == CHUNK_CONSUMED)
	{
		cc->phase = PHASE_ACK;
		cc->ack_after = commit_lsn;
	}
	return ret;
}

static bool
same_name(const char *name, const char *s, size_t len)
{
	return name != NULL && strlen(name) == len && memcmp(name, s, len) == 0;
}

ChunkObserve
chunk_copy_observe(ChunkCopy *cc, const uint8_t *data, size_t len,
				   volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	ChangePeek c;
	BufRow	  *r;

	if (!change_peek(data, len, &c))
		return CHUNK_PASS;
	if (c.op == WALSTAR__V1__OP__MESSAGE)
	{
		Walstar__V1__Change *m = walstar__v1__change__unpack(NULL, len, data);
		ChunkObserve		 ret = CHUNK_PASS;
		bool				 high = false;

		if (m != NULL && m->message != NULL && m->message->prefix != NULL &&
			strcmp(m->message->prefix, CHUNK_WATERMARK_PREFIX) == 0)
		{
			ret = CHUNK_CONSUMED;
			if (our_watermark(cc, &m->message->content, &high))
			{
				if (!high)
				{
					cc->seen_low = true;
					if (cc->st.tables[cc->cur].nkeys == 0 && c.commit_lsn != 0)
						ret = send_mark(cc, WALSTAR__V1__OP__SNAPSHOT_BEGIN,
										c.commit_lsn, c.commit_time, stop, err,
										errlen);
					if (ret == CHUNK_PASS)
						ret = CHUNK_CONSUMED;
				}
				else if (!cc->seen_low || c.commit_lsn == 0)
					chunk_clear(cc); /* cannot place it: read it again */
				else
					ret = flush_chunk(cc, c.commit_lsn, c.commit_time, stop,
									  err, errlen);
			}
		}
		if (m != NULL)
			walstar__v1__change__free_unpacked(m, NULL);
		return ret;
	}
	/* before the low watermark: the changes the SELECT did not see */
	if (cc->phase != PHASE_WINDOW ||
		(!cc->seen_low && !invisible(cc, c.xid)) ||
		!same_name(cc->table.schema, c.schema, c.schema_len) ||
		!same_name(cc->table.table, c.table, c.table_len))
		return CHUNK_PASS;
	if (c.op == WALSTAR__V1__OP__TRUNCATE)
	{
		int i;

		for (i = 0; i < cc->nrows; i++)
			cc->rows[i].gone = true;
		return CHUNK_PASS;
	}
	if ((r = buf_find(cc, c.key, c.key_len)) != NULL)
	{
		r->gone = true;
		if (c.op == WALSTAR__V1__OP__UPDATE)
		{
			Walstar__V1__Change *m =
				walstar__v1__change__unpack(NULL, len, data);
			size_t i;

			for (i = 0; m != NULL && i < m->n_new_values; i++)
				if (m->new_values[i]->kind_case ==
					WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST)
					cc->conflict = true;
			if (m != NULL)
				walstar__v1__change__free_unpacked(m, NULL);
		}
	}
	if (c.op == WALSTAR__V1__OP__UPDATE)
	{
		uint8_t *del = NULL;
		size_t	 del_len, off, klen;

		if (change_old_key_delete(data, len, &c, &del, &del_len, &off,
								  &klen) &&
			(r = buf_find(cc, del + off, klen)) != NULL)
			r->gone = true;
		free(del);
	}
	return CHUNK_PASS;
}
