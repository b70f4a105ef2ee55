/*-------------------------------------------------------------------------
 *
 * snapshot.c
 *		The initial copy: every selected table, read under the snapshot the
 *		slot exported, sent as op READ records in the decoder's format.
 *
 * The slot is created with EXPORT_SNAPSHOT on the replication connection;
 * a second, normal connection imports it (SET TRANSACTION SNAPSHOT) and
 * COPYs each table.  Streaming starts at the slot's consistent point
 * afterwards, so every change is either in the copy or in the stream,
 * never in both and never in neither.
 *
 * READ records carry what a consumer needs to order them before the
 * stream: commit_lsn = consistent point - 1 (every streamed transaction's
 * commit record starts at or after the consistent point), lsn = the
 * consistent point, position = 1, 2, ... over the whole copy, xid 0,
 * commit_time = the start of the copy.  Values are typed as the decoder
 * types them (see decoder/encode_value.c); COPY gives us text, which the
 * SELECT list shapes into something exact to parse (epoch microseconds,
 * day numbers).  PII options are applied here as in the decoder: masked
 * columns are not even read, hashed ones are HMAC-SHA256'd before they
 * leave this process.  Before copying, the decoder checks on the new
 * slot that the server's hash salt has our salt's fingerprint: a copy
 * hashed with another salt would never join with the stream.
 *
 * This file is the copy loop; snapshot_catalog.c reads the tables and
 * columns, snapshot_value.c shapes and parses the values (copy_text.c: the
 * COPY text format), snapshot_state.c records completion.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <libpq-fe.h>

#include "walstar.pb-c.h"

#include "copy_text.h"
#include "log.h"
#include "lsn.h"
#include "metrics.h"
#include "snapshot.h"
#include "snapshot_catalog.h"
#include "snapshot_row.h"
#include "source_conn.h"

/*
 * Who writes the READ records: Change.source, Change.system_id and
 * Change.timeline.
 */
typedef struct SnapSource
{
	const char *name;	   /* source-id, default the database name */
	uint64_t	system_id; /* the source cluster's system identifier */
	uint32_t	timeline;  /* its timeline (IDENTIFY_SYSTEM) */
} SnapSource;

typedef struct Progress
{
	int64_t	 start_ms;		 /* copy start */
	int64_t	 last_ms;		 /* last progress line */
	uint64_t rows;			 /* rows sent */
	double	 total_estimate; /* sum of reltuples */
	int		 tables_done;
	int		 ntables;
} Progress;

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool
exec_ok(PGconn *conn, const char *sql, ExecStatusType want, char *err,
		size_t errlen)
{
	PGresult *res = PQexec(conn, sql);
	bool	  ok = PQresultStatus(res) == want;

	if (!ok)
	{
		snprintf(err, errlen, "%s: %s", sql, PQresultErrorMessage(res));
		err[strcspn(err, "\n")] = '\0';
	}
	PQclear(res);
	return ok;
}

static void
progress_line(Progress *pr, const SnapTable *t, bool force)
{
	int64_t now = mono_ms();
	double	secs = (now - pr->start_ms) / 1000.0;
	double	rate = secs > 0 ? pr->rows / secs : 0;
	double	left = pr->total_estimate - (double)pr->rows;

	if (!force && now - pr->last_ms < 1000)
		return;
	pr->last_ms = now;
	log_info("snapshot",
			 "table=%s.%s rows=%" PRIu64 " rows_per_s=%.0f tables_done=%d/%d "
			 "eta_s=%.0f",
			 t->schema, t->table, pr->rows, rate, pr->tables_done, pr->ntables,
			 rate > 0 && left > 0 ? left / rate : 0.0);
}

/* Hand one record to the stream, waiting while the producer pushes back. */
static bool
send_record(Stream *stream, const uint8_t *buf, size_t len, uint64_t lsn,
			volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	for (;;)
	{
		StreamResult r = stream_record(stream, buf, len, lsn, err, errlen);

		if (r == STREAM_DONE)
			break;
		if (r == STREAM_FAILED)
			return false;
		producer_poll(stream->producer, 10);
		if (*stop)
		{
			snprintf(err, errlen, "stopped");
			return false;
		}
	}
	producer_poll(stream->producer, 0);
	if (stream->failed)
	{
		snprintf(err, errlen, "%s", stream->failure);
		return false;
	}
	return true;
}

/*
 * BEGIN or COMMIT framing the copy: the copy is one pseudo-transaction
 * (xid 0, commit_lsn = consistent point - 1) in <prefix>.transactions, so
 * a consumer sees where a copy starts and that it completed (COMMIT with
 * the row count per table, end_lsn = the consistent point).  A BEGIN
 * without its COMMIT is a copy a crash interrupted; the next one has a
 * higher commit_lsn and replaces it.
 */
static bool
send_marker(Stream *stream, Walstar__V1__Op op, const SnapSource *source,
			uint64_t consistent_point, int64_t start_us,
			const SnapTable *tables, int ntables, uint64_t rows,
			volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	Walstar__V1__Change		  msg;
	Walstar__V1__Commit		  commit;
	Walstar__V1__TableCount	 *counts = NULL;
	Walstar__V1__TableCount **countptrs = NULL;
	uint8_t					 *buf = NULL;
	size_t					  size;
	bool					  ok;
	int						  i;

	walstar__v1__change__init(&msg);
	msg.version = 1;
	msg.source = (char *)source->name;
	msg.system_id = source->system_id;
	msg.timeline = source->timeline;
	msg.op = op;
	msg.commit_lsn = consistent_point - 1;
	msg.lsn = consistent_point;
	msg.commit_time = start_us;
	if (op == WALSTAR__V1__OP__COMMIT)
	{
		walstar__v1__commit__init(&commit);
		counts = calloc(ntables + 1, sizeof(*counts));
		countptrs = calloc(ntables + 1, sizeof(*countptrs));
		if (counts == NULL || countptrs == NULL)
			abort();
		for (i = 0; i < ntables; i++)
		{
			walstar__v1__table_count__init(&counts[i]);
			counts[i].schema = tables[i].schema;
			counts[i].table = tables[i].table;
			counts[i].count = (uint32_t)tables[i].rows;
			countptrs[i] = &counts[i];
		}
		commit.change_count = (uint32_t)rows;
		commit.n_tables = (size_t)ntables;
		commit.tables = countptrs;
		commit.end_lsn = consistent_point;
		msg.commit = &commit;
	}
	size = walstar__v1__change__get_packed_size(&msg);
	buf = malloc(size + 1);
	if (buf == NULL)
		abort();
	walstar__v1__change__pack(&msg, buf);
	ok = send_record(stream, buf, size, consistent_point, stop, err, errlen);
	free(buf);
	free(counts);
	free(countptrs);
	return ok;
}

/*
 * Leave a COPY we stopped reading (SIGTERM, a record Kafka cannot take):
 * PQgetResult keeps returning PGRES_COPY_OUT while the server is still
 * sending, so the server is asked to cancel first, then its remaining rows
 * and results are read until the connection is idle again.
 */
static void
abandon_copy(PGconn *conn)
{
	PGcancel *cancel;
	PGresult *res;
	char	 *row;
	char	  why[256];

	if (PQstatus(conn) != CONNECTION_OK)
		return;
	cancel = PQgetCancel(conn);
	if (cancel != NULL)
	{
		if (!PQcancel(cancel, why, sizeof(why)))
			log_warning("snapshot", "msg=%s", LOG_Q(why));
		PQfreeCancel(cancel);
	}
	while ((res = PQgetResult(conn)) != NULL)
	{
		ExecStatusType st = PQresultStatus(res);

		PQclear(res);
		if (st != PGRES_COPY_OUT)
			continue;
		while (PQgetCopyData(conn, &row, 0) > 0)
			PQfreemem(row);
		if (PQstatus(conn) != CONNECTION_OK)
			break;
	}
}

static bool
copy_table(PGconn *conn, const Config *cfg, const SnapTable *t,
		   const SnapSource *source, uint64_t consistent_point,
		   int64_t start_us, bool keyless_only, Stream *stream, Progress *pr,
		   volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	SnapRow	  r;
	SnapStamp stamp = {0};
	char	 *list = NULL;
	char	 *sql = NULL;
	char	 *qschema = NULL, *qtable = NULL;
	char	**fields = NULL;
	size_t	 *flens = NULL;
	PGresult *res = NULL;
	char	 *row = NULL;
	bool	  ok = false;
	int		  len;

	if (!snap_row_init(&r, conn, cfg, t, err, errlen))
		return false;
	if (keyless_only && snap_row_chunkable(&r))
	{
		/* copied in chunks while streaming (snapshot_chunk.c) */
		snap_row_free(&r);
		return true;
	}
	qschema = PQescapeIdentifier(conn, t->schema, strlen(t->schema));
	qtable = PQescapeIdentifier(conn, t->table, strlen(t->table));
	list = snap_row_select_list(&r, conn);
	fields = calloc(r.ncols + 1, sizeof(*fields));
	flens = calloc(r.ncols + 1, sizeof(*flens));
	if (!qschema || !qtable || !list || !fields || !flens ||
		asprintf(&sql, "COPY (SELECT %s FROM ONLY %s.%s) TO STDOUT", list,
				 qschema, qtable) < 0)
	{
		sql = NULL;
		snprintf(err, errlen, "out of memory");
		goto done;
	}

	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT)
	{
		snprintf(err, errlen, "cannot copy %s.%s: %s", t->schema, t->table,
				 PQresultErrorMessage(res));
		err[strcspn(err, "\n")] = '\0';
		goto done;
	}
	PQclear(res);
	res = NULL;

	stamp.source = source->name;
	stamp.system_id = source->system_id;
	stamp.timeline = source->timeline;
	stamp.commit_lsn = consistent_point - 1;
	stamp.lsn = consistent_point;
	stamp.commit_time = start_us;
	while ((len = PQgetCopyData(conn, &row, 0)) > 0)
	{
		copy_text_split(row, (size_t)len, fields, flens, r.ncols);
		stamp.position = (uint32_t)(pr->rows + 1);
		snap_row_encode(&r, fields, flens, &stamp);
		PQfreemem(row);
		row = NULL;

		if (!send_record(stream, r.out, r.outlen, consistent_point, stop, err,
						 errlen))
			goto done;
		pr->rows++;
		atomic_fetch_add_explicit(&metrics.snapshot_rows_total, 1,
								  memory_order_relaxed);
		if (pr->rows % 1024 == 0)
		{
			if ((mono_ms() - pr->last_ms) >= cfg->progress_interval * 1000)
				progress_line(pr, t, true);
			if (*stop)
			{
				snprintf(err, errlen, "stopped");
				goto done;
			}
		}
	}
	if (len == -2)
	{
		snprintf(err, errlen, "copy of %s.%s failed: %s", t->schema, t->table,
				 PQerrorMessage(conn));
		err[strcspn(err, "\n")] = '\0';
		goto done;
	}
	res = PQgetResult(conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		snprintf(err, errlen, "copy of %s.%s failed: %s", t->schema, t->table,
				 PQresultErrorMessage(res));
		err[strcspn(err, "\n")] = '\0';
		goto done;
	}
	ok = true;

done:
	if (row != NULL)
		PQfreemem(row);
	PQclear(res);
	if (!ok)
		abandon_copy(conn);
	if (qschema)
		PQfreemem(qschema);
	if (qtable)
		PQfreemem(qtable);
	free(list);
	free(sql);
	free(fields);
	free(flens);
	snap_row_free(&r);
	return ok;
}

bool
snapshot_run(const Config *cfg, const char *snapshot_name, const char *slot,
			 uint64_t consistent_point, const char *dbname,
			 const char *system_id, uint32_t timeline, bool keyless_only,
			 Stream *stream, volatile sig_atomic_t *stop, char *err,
			 size_t errlen)
{
	PGconn		  *conn;
	char		   why[512];
	SnapTable	  *tables = NULL;
	int			   ntables = 0;
	Progress	   pr = {0};
	char		   sql[256];
	struct timeval tv;
	int64_t		   start_us;
	SnapSource	   source;
	bool		   ok = false;
	int			   i;

	conn = source_connect(cfg->conninfo, false, "walstar-sink snapshot", why,
						  sizeof(why));
	if (conn == NULL)
	{
		snprintf(err, errlen, "snapshot connection failed: %s", why);
		goto done;
	}
	if (slot != NULL && cfg->hash_columns != NULL && cfg->hash_salt != NULL &&
		!snapshot_catalog_check_salt(conn, cfg, slot, consistent_point, err,
									 errlen))
		goto done;
	snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT '%s'", snapshot_name);
	if (!exec_ok(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
				 PGRES_COMMAND_OK, err, errlen) ||
		!exec_ok(conn, sql, PGRES_COMMAND_OK, err, errlen))
		goto done;

	tables = snapshot_catalog_tables(conn, cfg, &ntables, err, errlen);
	if (tables == NULL)
		goto done;
	pr.start_ms = pr.last_ms = mono_ms();
	pr.ntables = ntables;
	for (i = 0; i < ntables; i++)
		pr.total_estimate += tables[i].reltuples;
	gettimeofday(&tv, NULL);
	start_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
	log_info("snapshot",
			 "slot=%s snapshot=%s consistent_point=%s tables=%d "
			 "msg=\"initial copy started\"",
			 cfg->slot, snapshot_name, LSN(consistent_point), ntables);

	source.name = cfg->source_id ? cfg->source_id : dbname;
	source.system_id = strtoull(system_id, NULL, 10);
	source.timeline = timeline;
	if (!send_marker(stream, WALSTAR__V1__OP__BEGIN, &source, consistent_point,
					 start_us, tables, ntables, 0, stop, err, errlen))
		goto done;
	for (i = 0; i < ntables; i++)
	{
		uint64_t before = pr.rows;

		if (!copy_table(conn, cfg, &tables[i], &source, consistent_point,
						start_us, keyless_only, stream, &pr, stop, err,
						errlen))
			goto done;
		tables[i].rows = pr.rows - before;
		pr.tables_done++;
		progress_line(&pr, &tables[i], true);
	}
	exec_ok(conn, "COMMIT", PGRES_COMMAND_OK, err, errlen);
	if (!send_marker(stream, WALSTAR__V1__OP__COMMIT, &source,
					 consistent_point, start_us, tables, ntables, pr.rows,
					 stop, err, errlen))
		goto done;

	/* complete only once Kafka has every READ record */
	while (stream->tracker->outstanding > 0)
	{
		if (*stop)
		{
			snprintf(err, errlen, "stopped");
			goto done;
		}
		if (stream->failed)
		{
			snprintf(err, errlen, "%s", stream->failure);
			goto done;
		}
		stream_service(stream);
		producer_poll(stream->producer, 100);
	}
	log_info("snapshot",
			 "slot=%s rows=%" PRIu64 " tables=%d seconds=%.1f "
			 "msg=\"initial copy complete and acknowledged\"",
			 cfg->slot, pr.rows, ntables, (mono_ms() - pr.start_ms) / 1000.0);
	ok = true;

done:
	for (i = 0; tables != NULL && i < ntables; i++)
	{
		free(tables[i].schema);
		free(tables[i].table);
	}
	free(tables);
	PQfinish(conn);
	return ok;
}
