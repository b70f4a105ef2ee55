/*-------------------------------------------------------------------------
 *
 * dead_letters.c
 *		Export walstar.dead_letters to the store (see dead_letters.h).
 *
 * The role of dsn needs only USAGE on schema walstar and SELECT on
 * walstar.dead_letters.  Each line is the row as PostgreSQL's
 * json_build_object writes it: id, subscription, topic, partition, offset,
 * error (the reason), created_at (RFC 3339 UTC), retries and raw (the
 * Kafka value, base64).
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "change_ndjson.h"
#include "dead_letters.h"
#include "layout.h"
#include "log.h"
#include "object.h"
#include "s3.h"

/* A (subscription, topic, partition) and the highest offset stored. */
typedef struct Mark
{
	char   *subscription;
	char   *topic;
	int32_t partition;
	int64_t last;
} Mark;

static const char export_sql[] =
	"SELECT d.subscription, d.topic, d.partition, d.\"offset\","
	" pg_catalog.floor(pg_catalog.date_part('epoch', d.created_at)"
	"  * 1000000)::pg_catalog.int8,"
	" pg_catalog.json_build_object('id', d.id, 'subscription', d.subscription,"
	"  'topic', d.topic, 'partition', d.partition, 'offset', d.\"offset\","
	"  'error', d.error, 'created_at', pg_catalog.to_char("
	"  pg_catalog.timezone('UTC', d.created_at),"
	"  'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
	"  'retries', d.retries, 'raw', pg_catalog.translate("
	"  pg_catalog.encode(d.raw, 'base64'), E'\\n', ''))::pg_catalog.text"
	" FROM walstar.dead_letters d"
	" LEFT JOIN pg_catalog.json_to_recordset($1::pg_catalog.json)"
	"  AS h(s pg_catalog.text, t pg_catalog.text, p pg_catalog.int4,"
	"  o pg_catalog.int8)"
	"  ON h.s = d.subscription AND h.t = d.topic AND h.p = d.partition"
	" WHERE h.o IS NULL OR d.\"offset\" > h.o"
	" ORDER BY d.subscription, d.topic, d.partition, d.\"offset\"";

static void
marks_free(Mark *marks, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
	{
		free(marks[i].subscription);
		free(marks[i].topic);
	}
	free(marks);
}

/*
 * The highest stored offset per (subscription, topic, partition) of this
 * database, from the object names under <prefix>/dead_letters/.
 */
static bool
read_marks(Config *cfg, S3 *s3, const char *table_prefix, Mark **out,
		   size_t *nout, char *err, size_t errlen)
{
	char   prefix[1024];
	S3List list = {0};
	Mark  *marks = NULL;
	size_t n = 0, i, j;

	snprintf(prefix, sizeof(prefix), "%s/%s/%s", cfg->prefix,
			 LAYOUT_DEAD_LETTERS, table_prefix);
	if (!s3_list(s3, prefix, &list, err, errlen))
		return false;
	for (i = 0; i < list.count; i++)
	{
		ObjectName name;
		Mark	  *m;

		if (!layout_parse(list.objects[i].key, cfg->prefix, &name) ||
			strncmp(name.table, table_prefix, strlen(table_prefix)) != 0)
			continue;
		for (j = 0; j < n; j++)
		{
			if (marks[j].partition == name.partition &&
				strcmp(marks[j].topic, name.topic) == 0 &&
				strcmp(marks[j].subscription,
					   name.table + strlen(table_prefix)) == 0)
				break;
		}
		if (j == n)
		{
			m = realloc(marks, sizeof(Mark) * (n + 1));
			if (m == NULL)
				goto oom;
			marks = m;
			marks[n].subscription = strdup(name.table + strlen(table_prefix));
			marks[n].topic = strdup(name.topic);
			marks[n].partition = name.partition;
			marks[n].last = -1;
			n++;
			if (marks[j].subscription == NULL || marks[j].topic == NULL)
				goto oom;
		}
		if (name.last > marks[j].last)
			marks[j].last = name.last;
	}
	s3_list_free(&list);
	*out = marks;
	*nout = n;
	return true;
oom:
	s3_list_free(&list);
	marks_free(marks, n);
	snprintf(err, errlen, "out of memory");
	return false;
}

/* The marks as the JSON array the query joins on. */
static char *
marks_json(const Mark *marks, size_t n)
{
	JsonBuf b = {0};
	char	tmp[64];
	size_t	i;

	json_buf_append(&b, "[", 1);
	for (i = 0; i < n; i++)
	{
		json_buf_append(&b, i > 0 ? ",{\"s\":" : "{\"s\":", i > 0 ? 6 : 5);
		json_buf_string(&b, marks[i].subscription,
						strlen(marks[i].subscription));
		json_buf_append(&b, ",\"t\":", 5);
		json_buf_string(&b, marks[i].topic, strlen(marks[i].topic));
		snprintf(tmp, sizeof(tmp), ",\"p\":%" PRId32 ",\"o\":%" PRId64 "}",
				 marks[i].partition, marks[i].last);
		json_buf_append(&b, tmp, strlen(tmp));
	}
	json_buf_append(&b, "]", 2); /* with the NUL */
	if (b.oom)
	{
		json_buf_free(&b);
		return NULL;
	}
	return b.data;
}

/* Store rows [from, to) of res, one (subscription, topic, partition). */
static bool
store(Config *cfg, S3 *s3, const char *table_prefix, const char *database,
	  PGresult *res, int from, int to, char *err, size_t errlen)
{
	ObjectBuffer buf = {0};
	char		 table[1024], key[2048];
	char		 records[32], first[32], last[32];
	uint8_t		*body = NULL;
	size_t		 bodylen = 0;
	int64_t		 first_offset = strtoll(PQgetvalue(res, from, 3), NULL, 10);
	int64_t		 last_offset = strtoll(PQgetvalue(res, to - 1, 3), NULL, 10);
	const char	*topic = PQgetvalue(res, from, 1);
	const char	*partition = PQgetvalue(res, from, 2);
	bool		 ok = false;
	int			 i;

	snprintf(table, sizeof(table), "%s%s", table_prefix,
			 PQgetvalue(res, from, 0));
	if (!layout_key(key, sizeof(key), cfg->prefix, LAYOUT_DEAD_LETTERS, table,
					strtoll(PQgetvalue(res, from, 4), NULL, 10), topic,
					(int32_t)atoi(partition), first_offset, last_offset,
					object_extension(true, cfg->compression)))
	{
		snprintf(err, errlen,
				 "subscription or topic name makes no object key: %s", table);
		return false;
	}
	for (i = from; i < to; i++)
	{
		if (!object_append_line(&buf, PQgetvalue(res, i, 5),
								(size_t)PQgetlength(res, i, 5)))
		{
			snprintf(err, errlen, "out of memory");
			goto done;
		}
	}
	if (!object_compress(&buf, cfg->compression, cfg->compression_level, &body,
						 &bodylen, err, errlen))
		goto done;
	snprintf(records, sizeof(records), "%d", to - from);
	snprintf(first, sizeof(first), "%" PRId64, first_offset);
	snprintf(last, sizeof(last), "%" PRId64, last_offset);
	{
		S3Meta meta[] = {
			{"walstar-format", "walstar.dead_letters-ndjson"},
			{"walstar-compression",
			 cfg->compression == COMPRESSION_GZIP ? "gzip" : "zstd"},
			{"walstar-records", records},
			{"walstar-database", database},
			{"walstar-subscription", PQgetvalue(res, from, 0)},
			{"walstar-topic", topic},
			{"walstar-partition", partition},
			{"walstar-first-offset", first},
			{"walstar-last-offset", last},
		};

		if (!s3_put(s3, key, body, bodylen,
					cfg->compression == COMPRESSION_GZIP ? "application/gzip"
														 : "application/zstd",
					meta, sizeof(meta) / sizeof(meta[0]), err, errlen))
			goto done;
	}
	log_info("dead-letters", "key=%s records=%d msg=\"object stored\"",
			 LOG_Q(key), to - from);
	ok = true;
done:
	free(body);
	object_free(&buf);
	return ok;
}

static bool
same_group(PGresult *res, int a, int b)
{
	return strcmp(PQgetvalue(res, a, 0), PQgetvalue(res, b, 0)) == 0 &&
		   strcmp(PQgetvalue(res, a, 1), PQgetvalue(res, b, 1)) == 0 &&
		   strcmp(PQgetvalue(res, a, 2), PQgetvalue(res, b, 2)) == 0;
}

int
dead_letters_export(Config *cfg)
{
	char		err[1024];
	char		table_prefix[512];
	char	   *database;
	char	   *json = NULL;
	Mark	   *marks = NULL;
	size_t		nmarks = 0;
	PGconn	   *conn;
	PGresult   *res = NULL;
	S3		   *s3 = NULL;
	const char *params[1];
	int			rc = 1, stored = 0, exported = 0, i, start;

	conn = PQconnectdb(cfg->dsn);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		/* libpq's message names no password */
		log_error("postgres", "msg=%s", LOG_Q(PQerrorMessage(conn)));
		PQfinish(conn);
		return 1;
	}
	res = PQexec(conn, "SET search_path = pg_catalog, pg_temp");
	PQclear(res);
	res = PQexec(conn, "SELECT pg_catalog.current_database()");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		log_error("postgres", "msg=%s", LOG_Q(PQerrorMessage(conn)));
		goto done;
	}
	database = PQgetvalue(res, 0, 0);
	snprintf(table_prefix, sizeof(table_prefix), "apply=%s.", database);
	database = strdup(database);
	PQclear(res);
	res = NULL;
	if (database == NULL)
		goto done;

	s3 = s3_create(cfg, err, sizeof(err));
	if (s3 == NULL || !s3_check_bucket(s3, err, sizeof(err)) ||
		!read_marks(cfg, s3, table_prefix, &marks, &nmarks, err, sizeof(err)))
	{
		log_error("s3", "msg=%s", LOG_Q(err));
		goto done_db;
	}
	json = marks_json(marks, nmarks);
	if (json == NULL)
	{
		log_error("dead-letters", "msg=\"out of memory\"");
		goto done_db;
	}
	params[0] = json;
	/* one snapshot; rows of a partition commit in offset order */
	res = PQexecParams(conn, export_sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		log_error("postgres", "msg=%s", LOG_Q(PQerrorMessage(conn)));
		goto done_db;
	}
	rc = 0;
	for (start = 0, i = 1; i <= PQntuples(res); i++)
	{
		if (i < PQntuples(res) && same_group(res, start, i) &&
			i - start < cfg->object_max_records)
			continue;
		if (!store(cfg, s3, table_prefix, database, res, start, i, err,
				   sizeof(err)))
		{
			/* the next run starts again after what is stored */
			log_error("dead-letters", "msg=%s", LOG_Q(err));
			rc = 1;
			break;
		}
		stored++;
		exported += i - start;
		start = i;
	}
	log_info("dead-letters",
			 "database=%s exported=%d objects=%d msg=\"dead letters "
			 "exported\"",
			 LOG_Q(database), exported, stored);
done_db:
	free(database);
done:
	PQclear(res);
	PQfinish(conn);
	free(json);
	marks_free(marks, nmarks);
	if (s3 != NULL)
		s3_destroy(s3);
	return rc;
}
