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
 * Completion: a file <state-dir>/<slot>.snapshot, written only after Kafka
 * acknowledged every READ record.  A slot without that file (a crash in
 * the middle of the copy) is dropped and recreated, and the copy redone:
 * the exported snapshot of the first attempt is gone, and a partial copy
 * cannot be resumed consistently.
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "walstar.pb-c.h"

#include "column_type.h"
#include "log.h"
#include "lsn.h"
#include "metrics.h"
#include "name_pattern.h"
#include "salt_hmac.h"
#include "snapshot.h"
#include "source_conn.h"

/* One column of a copied table. */
typedef struct SnapColumn
{
	Walstar__V1__Column desc;	   /* what READ records say about the column */
	ValueKind			kind;	   /* how to parse it (common/column_type.c) */
	int					key_order; /* 0: not a key column, else 1-based */
} SnapColumn;

typedef struct SnapTable
{
	char	*schema;
	char	*table;
	unsigned oid;
	char	 replident; /* pg_class.relreplident */
	double	 reltuples; /* estimate, for the ETA */
	uint64_t rows;		/* rows copied */
} SnapTable;

/* Who writes the READ records: Change.source and Change.system_id. */
typedef struct SnapSource
{
	const char *name;	   /* source-id, default the database name */
	uint64_t	system_id; /* the source cluster's system identifier */
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

/* ---- completion record ---- */

static void
state_path(const Config *cfg, char *buf, size_t buflen, const char *suffix)
{
	snprintf(buf, buflen, "%s/%s.snapshot%s", cfg->state_dir, cfg->slot,
			 suffix);
}

bool
snapshot_is_done(const Config *cfg, const char *system_id, const char *dbname)
{
	char  path[1024];
	char  line[512];
	char  expect[512];
	FILE *f;
	bool  done = false;

	state_path(cfg, path, sizeof(path), "");
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	snprintf(expect, sizeof(expect), "done system=%s database=%s ", system_id,
			 dbname);
	if (fgets(line, sizeof(line), f) != NULL)
		done = strncmp(line, expect, strlen(expect)) == 0;
	fclose(f);
	return done;
}

bool
snapshot_mark_done(const Config *cfg, const char *system_id,
				   const char *dbname, uint64_t consistent_point, char *err,
				   size_t errlen)
{
	char tmp[1024];
	char path[1024];
	char line[512];
	int	 fd;
	int	 n;

	mkdir(cfg->state_dir, 0700);
	state_path(cfg, tmp, sizeof(tmp), ".tmp");
	state_path(cfg, path, sizeof(path), "");
	n = snprintf(line, sizeof(line),
				 "done system=%s database=%s consistent_point=%s\n", system_id,
				 dbname, LSN(consistent_point));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, line, (size_t)n) != n || fsync(fd) != 0 ||
		close(fd) != 0 || rename(tmp, path) != 0)
	{
		snprintf(err, errlen, "cannot record snapshot completion in %s: %s",
				 path, strerror(errno));
		return false;
	}
	fd = open(cfg->state_dir, O_RDONLY);
	if (fd >= 0)
	{
		fsync(fd);
		close(fd);
	}
	return true;
}

void
snapshot_forget(const Config *cfg)
{
	char path[1024];

	state_path(cfg, path, sizeof(path), "");
	unlink(path);
}

/* ---- table selection (common/name_pattern.c, as the decoder) ---- */

/* The patterns of one option, compiled. */
typedef struct SnapPatterns
{
	NamePatternList list; /* n == 0 when the option is not set */
	char		   *text; /* the parts point into this copy */
} SnapPatterns;

/*
 * Compile the option's value as the decoder does; a value the decoder
 * would refuse is an error here too, before anything is copied.
 */
static bool
compile_patterns(const char *name, const char *value, int nparts,
				 SnapPatterns *out, char *err, size_t errlen)
{
	size_t bad_start = 0, bad_len = 0;

	memset(out, 0, sizeof(*out));
	if (value == NULL)
		return true;
	out->text = strdup(value);
	out->list.patterns =
		calloc((size_t)name_pattern_max_count(value), sizeof(NamePattern));
	if (out->text == NULL || out->list.patterns == NULL)
		abort();
	if (name_pattern_parse_list(out->text, nparts, &out->list, &bad_start,
								&bad_len) != NAME_PATTERN_OK)
	{
		snprintf(err, errlen, "invalid pattern \"%.*s\" in option '%s'",
				 (int)bad_len, value + bad_start, name);
		return false;
	}
	return true;
}

static void
free_patterns(SnapPatterns *p)
{
	free(p->text);
	free(p->list.patterns);
}

/* ---- value conversion ---- */

/* SELECT-list expression giving the COPY text we parse for the column. */
static void
select_expr(char *buf, size_t buflen, const char *col, const SnapColumn *c)
{
	if (c->desc.pii == WALSTAR__V1__PII__MASKED)
	{
		snprintf(buf, buflen, "NULL");
		return;
	}
	if (c->desc.pii == WALSTAR__V1__PII__HASHED)
	{
		snprintf(buf, buflen, "%s", col);
		return;
	}
	switch (c->kind)
	{
		case VK_DATE:
			snprintf(
				buf, buflen,
				"CASE WHEN isfinite(%s) THEN (%s - date '1970-01-01')::text"
				" ELSE %s::text END",
				col, col, col);
			break;
		case VK_TIME:
			snprintf(buf, buflen, "(extract(epoch from %s) * 1000000)::int8",
					 col);
			break;
		case VK_TIMESTAMP:
		case VK_TIMESTAMPTZ:
		{
			/*
			 * Epoch microseconds while they fit in 64 bits, as the
			 * decoder's timestamp_value; past that (the last 30 years of
			 * PostgreSQL's range) the decoder sends UTC text, which to_char
			 * writes the same way.  Computed from the date and the time of
			 * day, exact over the whole range: extract(epoch) falls back to
			 * float8 where the microseconds do not fit.  The session's
			 * TimeZone is UTC (source_conn.h).
			 */
			char us[400];

			snprintf(us, sizeof(us),
					 "((%s)::date - date '1970-01-01')::numeric * 86400000000"
					 " + extract(epoch from (%s)::time) * 1000000",
					 col, col);
			snprintf(buf, buflen,
					 "CASE WHEN NOT isfinite(%s) THEN %s::text "
					 "WHEN %s <= 9223372036854775807 THEN (%s)::int8::text "
					 "ELSE to_char(%s, 'YYYY-MM-DD HH24:MI:SS.US') || '+00' "
					 "END",
					 col, col, us, us, col);
			break;
		}
		case VK_INTERVAL:
			snprintf(buf, buflen,
					 "(extract(year from %s) * 12 + extract(month from %s))"
					 "::int4 || ' ' || extract(day from %s)::int4 || ' ' || "
					 "(extract(hour from %s) * 3600000000 + extract(minute "
					 "from %s) * 60000000 + extract(microseconds from %s))"
					 "::int8",
					 col, col, col, col, col, col);
			break;
		default:
			snprintf(buf, buflen, "%s", col);
			break;
	}
}

/* Undo COPY text escapes in place; returns the new length. */
static size_t
copy_unescape(char *s, size_t len)
{
	size_t i = 0, j = 0;

	while (i < len)
	{
		char c = s[i++];

		if (c != '\\' || i >= len)
		{
			s[j++] = c;
			continue;
		}
		c = s[i++];
		switch (c)
		{
			case 'b':
				s[j++] = '\b';
				break;
			case 'f':
				s[j++] = '\f';
				break;
			case 'n':
				s[j++] = '\n';
				break;
			case 'r':
				s[j++] = '\r';
				break;
			case 't':
				s[j++] = '\t';
				break;
			case 'v':
				s[j++] = '\v';
				break;
			case 'x':
			{
				int v = 0, k;

				for (k = 0; k < 2 && i < len && isxdigit((unsigned char)s[i]);
					 k++, i++)
					v = v * 16 +
						(isdigit((unsigned char)s[i])
							 ? s[i] - '0'
							 : (tolower((unsigned char)s[i]) - 'a' + 10));
				s[j++] = (char)v;
				break;
			}
			default:
				if (c >= '0' && c <= '7')
				{
					int v = c - '0', k;

					for (k = 0; k < 2 && i < len && s[i] >= '0' && s[i] <= '7';
						 k++, i++)
						v = v * 8 + (s[i] - '0');
					s[j++] = (char)v;
				}
				else
					s[j++] = c;
				break;
		}
	}
	s[j] = '\0';
	return j;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode hex text (pairs; '-' skipped) into out; returns bytes written. */
static size_t
decode_hex(const char *s, uint8_t *out)
{
	size_t n = 0;

	while (*s)
	{
		int hi, lo;

		if (*s == '-')
		{
			s++;
			continue;
		}
		hi = hexval(s[0]);
		lo = s[1] ? hexval(s[1]) : -1;
		if (hi < 0 || lo < 0)
			break;
		out[n++] = (uint8_t)(hi * 16 + lo);
		s += 2;
	}
	return n;
}

static bool
is_integer_text(const char *s)
{
	if (*s == '-')
		s++;
	if (!*s)
		return false;
	for (; *s; s++)
	{
		if (!isdigit((unsigned char)*s))
			return false;
	}
	return true;
}

/*
 * Fill v from the field text (unescaped, NUL-terminated, may be modified;
 * NULL for SQL NULL).  Scratch memory (bytea, uuid, interval, hash) comes
 * from *scratch, which the caller frees after packing.
 */
static void
to_value(const SnapColumn *col, char *text, size_t len, const char *salt,
		 Walstar__V1__Value *v, Walstar__V1__Interval *iv, uint8_t *scratch)
{
	walstar__v1__value__init(v);
	if (text == NULL || col->desc.pii == WALSTAR__V1__PII__MASKED)
	{
		v->kind_case = WALSTAR__V1__VALUE__KIND_IS_NULL;
		v->is_null = true;
		return;
	}
	if (col->desc.pii == WALSTAR__V1__PII__HASHED)
	{
		/* scratch holds at least len + 80 bytes */
		salt_hmac_hex(salt, text, len, (char *)scratch);
		v->kind_case = WALSTAR__V1__VALUE__KIND_TEXT_VALUE;
		v->text_value = (char *)scratch;
		return;
	}
	switch (col->kind)
	{
		case VK_INT2:
		case VK_INT4:
		case VK_INT8:
		case VK_OID:
			v->kind_case = WALSTAR__V1__VALUE__KIND_INT_VALUE;
			v->int_value = strtoll(text, NULL, 10);
			break;
		case VK_FLOAT4:
			v->kind_case = WALSTAR__V1__VALUE__KIND_DOUBLE_VALUE;
			v->double_value = (double)strtof(text, NULL);
			break;
		case VK_FLOAT8:
			v->kind_case = WALSTAR__V1__VALUE__KIND_DOUBLE_VALUE;
			v->double_value = strtod(text, NULL);
			break;
		case VK_BOOL:
			v->kind_case = WALSTAR__V1__VALUE__KIND_BOOL_VALUE;
			v->bool_value = text[0] == 't';
			break;
		case VK_NUMERIC:
			v->kind_case = WALSTAR__V1__VALUE__KIND_NUMERIC_VALUE;
			v->numeric_value = text;
			break;
		case VK_BYTEA:
			v->kind_case = WALSTAR__V1__VALUE__KIND_BYTES_VALUE;
			v->bytes_value.data = scratch;
			v->bytes_value.len =
				(len >= 2 && text[0] == '\\' && text[1] == 'x')
					? decode_hex(text + 2, scratch)
					: 0;
			break;
		case VK_DATE:
			if (is_integer_text(text))
			{
				v->kind_case = WALSTAR__V1__VALUE__KIND_DATE_VALUE;
				v->date_value = (int32_t)strtol(text, NULL, 10);
			}
			else
			{
				v->kind_case = WALSTAR__V1__VALUE__KIND_TEXT_VALUE;
				v->text_value = text;
			}
			break;
		case VK_TIME:
			v->kind_case = WALSTAR__V1__VALUE__KIND_TIME_VALUE;
			v->time_value = strtoll(text, NULL, 10);
			break;
		case VK_TIMESTAMP:
		case VK_TIMESTAMPTZ:
			if (is_integer_text(text))
			{
				v->kind_case = WALSTAR__V1__VALUE__KIND_TIMESTAMP_VALUE;
				v->timestamp_value = strtoll(text, NULL, 10);
			}
			else
			{
				v->kind_case = WALSTAR__V1__VALUE__KIND_TEXT_VALUE;
				v->text_value = text;
			}
			break;
		case VK_UUID:
			v->kind_case = WALSTAR__V1__VALUE__KIND_UUID_VALUE;
			v->uuid_value.data = scratch;
			v->uuid_value.len = decode_hex(text, scratch);
			break;
		case VK_INTERVAL:
		{
			long long months = 0, days = 0, micros = 0;

			sscanf(text, "%lld %lld %lld", &months, &days, &micros);
			walstar__v1__interval__init(iv);
			iv->months = (int32_t)months;
			iv->days = (int32_t)days;
			iv->micros = micros;
			v->kind_case = WALSTAR__V1__VALUE__KIND_INTERVAL_VALUE;
			v->interval_value = iv;
			break;
		}
		case VK_TEXT:
		case VK_NAME:
		case VK_ENUM:
		case VK_OUTPUT:
			v->kind_case = WALSTAR__V1__VALUE__KIND_TEXT_VALUE;
			v->text_value = text;
			break;
	}
}

/* ---- the copy ---- */

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

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		abort();
	return d;
}

/* Selected tables, in schema/table order. */
static SnapTable *
list_tables(PGconn *conn, const Config *cfg, int *ntables, char *err,
			size_t errlen)
{
	PGresult	*res;
	SnapTable	*tables;
	SnapPatterns include = {0}, exclude = {0};
	int			 i, n = 0;

	res = PQexec(conn,
				 "SELECT c.oid, n.nspname, c.relname, c.relreplident, "
				 "greatest(c.reltuples, 0) "
				 "FROM pg_catalog.pg_class c "
				 "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
				 "WHERE c.relkind = 'r' AND c.relpersistence = 'p' "
				 "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
				 "AND n.nspname !~ '^pg_(toast|temp)' "
				 "ORDER BY n.nspname, c.relname");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		snprintf(err, errlen, "cannot list tables: %s",
				 PQresultErrorMessage(res));
		PQclear(res);
		return NULL;
	}
	if (!compile_patterns("include-tables", cfg->include_tables, 2, &include,
						  err, errlen) ||
		!compile_patterns("exclude-tables", cfg->exclude_tables, 2, &exclude,
						  err, errlen))
	{
		PQclear(res);
		free_patterns(&include);
		free_patterns(&exclude);
		return NULL;
	}
	tables = calloc(PQntuples(res) + 1, sizeof(SnapTable));
	if (tables == NULL)
		abort();
	for (i = 0; i < PQntuples(res); i++)
	{
		const char *names[2] = {PQgetvalue(res, i, 1), PQgetvalue(res, i, 2)};

		if (include.list.n > 0 &&
			!name_pattern_match_any(&include.list, names[0], names[1], NULL))
			continue;
		if (name_pattern_match_any(&exclude.list, names[0], names[1], NULL))
			continue;
		tables[n].oid = (unsigned)strtoul(PQgetvalue(res, i, 0), NULL, 10);
		tables[n].schema = xstrdup(names[0]);
		tables[n].table = xstrdup(names[1]);
		tables[n].replident = PQgetvalue(res, i, 3)[0];
		tables[n].reltuples = strtod(PQgetvalue(res, i, 4), NULL);
		n++;
	}
	PQclear(res);
	free_patterns(&include);
	free_patterns(&exclude);
	*ntables = n;
	return tables;
}

/* Column descriptions, as the decoder's relation cache builds them. */
static SnapColumn *
describe_columns(PGconn *conn, const Config *cfg, const SnapTable *t,
				 int *ncols, char *err, size_t errlen)
{
	char		 sql[4096];
	PGresult	*res;
	SnapColumn	*cols;
	SnapPatterns mask = {0}, hash = {0};
	int			 i;

	snprintf(
		sql, sizeof(sql),
		"WITH RECURSIVE a AS ("
		" SELECT attnum, attname, atttypid, atttypmod, atthasdef,"
		"  atttypid AS base, atttypmod AS basemod"
		" FROM pg_catalog.pg_attribute"
		" WHERE attrelid = %u AND attnum > 0 AND NOT attisdropped),"
		" d AS ("
		" SELECT attnum, base, basemod, 0 AS depth FROM a"
		" UNION ALL"
		" SELECT d.attnum, t.typbasetype, t.typtypmod, d.depth + 1"
		" FROM d JOIN pg_catalog.pg_type t ON t.oid = d.base"
		" WHERE t.typtype = 'd'),"
		" b AS (SELECT DISTINCT ON (attnum) attnum, base, basemod"
		" FROM d ORDER BY attnum, depth DESC),"
		" k AS (SELECT unnest(i.indkey::int2[]) AS attnum,"
		"  generate_subscripts(i.indkey::int2[], 1) + 1 AS ord"
		" FROM pg_catalog.pg_index i WHERE i.indrelid = %u AND"
		" CASE '%c' WHEN 'd' THEN i.indisprimary"
		" WHEN 'i' THEN i.indisreplident"
		" WHEN 'f' THEN i.indisprimary ELSE false END)"
		" SELECT a.attname, a.atttypid,"
		" CASE WHEN a.atttypid >= 16384 THEN"
		"  CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN"
		"   quote_ident(en.nspname) || '.' || quote_ident(et.typname) || '[]'"
		"  ELSE quote_ident(tn.nspname) || '.' || quote_ident(t.typname) END"
		" ELSE format_type(a.atttypid, a.atttypmod) END,"
		" b.base, format_type(b.base, b.basemod),"
		" coalesce(k.ord, 0), a.attnum, a.atthasdef,"
		" CASE WHEN bt.typelem <> 0 AND bt.typsubscript ="
		"  'pg_catalog.array_subscript_handler'::pg_catalog.regproc"
		"  THEN bt.typelem ELSE 0 END"
		" FROM a JOIN b USING (attnum)"
		" JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
		" JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace"
		" JOIN pg_catalog.pg_type bt ON bt.oid = b.base"
		" LEFT JOIN pg_catalog.pg_type et ON et.oid = t.typelem"
		" LEFT JOIN pg_catalog.pg_namespace en ON en.oid = et.typnamespace"
		" LEFT JOIN k ON k.attnum = a.attnum"
		" ORDER BY a.attnum",
		t->oid, t->oid, t->replident);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		snprintf(err, errlen, "cannot describe %s.%s: %s", t->schema, t->table,
				 PQresultErrorMessage(res));
		err[strcspn(err, "\n")] = '\0';
		PQclear(res);
		return NULL;
	}
	if (!compile_patterns("mask-columns", cfg->mask_columns, 3, &mask, err,
						  errlen) ||
		!compile_patterns("hash-columns", cfg->hash_columns, 3, &hash, err,
						  errlen))
	{
		PQclear(res);
		free_patterns(&mask);
		free_patterns(&hash);
		return NULL;
	}
	*ncols = PQntuples(res);
	cols = calloc(*ncols + 1, sizeof(SnapColumn));
	if (cols == NULL)
		abort();
	for (i = 0; i < *ncols; i++)
	{
		SnapColumn *c = &cols[i];
		const char *attname = PQgetvalue(res, i, 0);
		unsigned	base = (unsigned)strtoul(PQgetvalue(res, i, 3), NULL, 10);
		unsigned	elem = (unsigned)strtoul(PQgetvalue(res, i, 8), NULL, 10);

		walstar__v1__column__init(&c->desc);
		c->desc.name = xstrdup(PQgetvalue(res, i, 0));
		c->desc.type_oid = (uint32_t)strtoul(PQgetvalue(res, i, 1), NULL, 10);
		c->desc.type_name = xstrdup(PQgetvalue(res, i, 2));
		c->key_order = atoi(PQgetvalue(res, i, 5));
		c->desc.is_key = c->key_order > 0;
		/* as the decoder: the attnum where it is not the position */
		if (atoi(PQgetvalue(res, i, 6)) != i + 1)
			c->desc.attnum = (uint32_t)atoi(PQgetvalue(res, i, 6));
		c->desc.has_default = PQgetvalue(res, i, 7)[0] == 't';
		c->kind = column_type_value_kind(base);
		if (name_pattern_match_any(&mask.list, t->schema, t->table, attname))
			c->desc.pii = WALSTAR__V1__PII__MASKED;
		else if (name_pattern_match_any(&hash.list, t->schema, t->table,
										attname))
			c->desc.pii = WALSTAR__V1__PII__HASHED;
		/* the decoder's rule (relation_cache.c landing_type) */
		c->desc.landing_type =
			xstrdup(c->desc.pii == WALSTAR__V1__PII__HASHED ||
							column_type_lands_as_text(base, elem)
						? "text"
						: PQgetvalue(res, i, 4));
	}
	PQclear(res);
	free_patterns(&mask);
	free_patterns(&hash);
	return cols;
}

static void
free_columns(SnapColumn *cols, int ncols)
{
	int i;

	for (i = 0; i < ncols; i++)
	{
		free(cols[i].desc.name);
		free(cols[i].desc.type_name);
		free(cols[i].desc.landing_type);
	}
	free(cols);
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

static bool
copy_table(PGconn *conn, const Config *cfg, const SnapTable *t,
		   const SnapSource *source, uint64_t consistent_point,
		   int64_t start_us, Stream *stream, Progress *pr,
		   volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	SnapColumn			  *cols;
	int					   ncols = 0;
	int					   nkeys = 0;
	char				  *sql = NULL;
	size_t				   sqlcap, sqllen;
	char				  *qschema = NULL, *qtable = NULL;
	Walstar__V1__Column	 **colptrs = NULL;
	Walstar__V1__Value	  *vals = NULL;
	Walstar__V1__Value	 **valptrs = NULL;
	Walstar__V1__Value	 **keyptrs = NULL;
	Walstar__V1__Interval *ivs = NULL;
	uint8_t				  *scratch = NULL;
	uint8_t				  *keybuf = NULL;
	uint8_t				  *out = NULL;
	size_t				   outcap = 0;
	char				 **fields = NULL;
	size_t				  *flens = NULL;
	PGresult			  *res = NULL;
	char				  *row = NULL;
	bool				   ok = false;
	int					   i;
	int					   len;

	cols = describe_columns(conn, cfg, t, &ncols, err, errlen);
	if (cols == NULL)
		return false;

	qschema = PQescapeIdentifier(conn, t->schema, strlen(t->schema));
	qtable = PQescapeIdentifier(conn, t->table, strlen(t->table));
	sqlcap = 1024 + (size_t)ncols * 2100;
	sql = malloc(sqlcap);
	colptrs = calloc(ncols + 1, sizeof(*colptrs));
	vals = calloc(ncols + 1, sizeof(*vals));
	valptrs = calloc(ncols + 1, sizeof(*valptrs));
	keyptrs = calloc(ncols + 1, sizeof(*keyptrs));
	ivs = calloc(ncols + 1, sizeof(*ivs));
	fields = calloc(ncols + 1, sizeof(*fields));
	flens = calloc(ncols + 1, sizeof(*flens));
	if (!qschema || !qtable || !sql || !colptrs || !vals || !valptrs ||
		!keyptrs || !ivs || !fields || !flens)
	{
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	sqllen = (size_t)snprintf(sql, sqlcap, "COPY (SELECT ");
	for (i = 0; i < ncols; i++)
	{
		char *qcol = PQescapeIdentifier(conn, cols[i].desc.name,
										strlen(cols[i].desc.name));
		char  expr[2048];

		if (qcol == NULL)
		{
			snprintf(err, errlen, "out of memory");
			goto done;
		}
		select_expr(expr, sizeof(expr), qcol, &cols[i]);
		PQfreemem(qcol);
		sqllen += (size_t)snprintf(sql + sqllen, sqlcap - sqllen, "%s%s",
								   i ? ", " : "", expr);
		colptrs[i] = &cols[i].desc;
		valptrs[i] = &vals[i];
		if (cols[i].key_order > 0)
			nkeys = cols[i].key_order > nkeys ? cols[i].key_order : nkeys;
	}
	if (ncols == 0)
		sqllen += (size_t)snprintf(sql + sqllen, sqlcap - sqllen, "1");
	snprintf(sql + sqllen, sqlcap - sqllen, " FROM ONLY %s.%s) TO STDOUT",
			 qschema, qtable);

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

	while ((len = PQgetCopyData(conn, &row, 0)) > 0)
	{
		Walstar__V1__Change msg;
		Walstar__V1__Key	key;
		size_t				scratch_need = 0, spos = 0, keylen = 0, size;
		char			   *p = row;
		char			   *end = row + len;
		int					f = 0;

		/* split the line into fields */
		if (end > p && end[-1] == '\n')
			*--end = '\0';
		while (f < ncols)
		{
			char *q = p;

			while (q < end && *q != '\t')
				q++;
			*q = '\0';
			if (q - p == 2 && p[0] == '\\' && p[1] == 'N')
			{
				fields[f] = NULL;
				flens[f] = 0;
			}
			else
			{
				fields[f] = p;
				flens[f] = copy_unescape(p, (size_t)(q - p));
			}
			scratch_need += flens[f] + 80;
			f++;
			p = q + 1;
			if (q >= end)
				break;
		}
		for (; f < ncols; f++)
			fields[f] = NULL;

		scratch = realloc(scratch, scratch_need + 1);
		if (scratch == NULL)
		{
			snprintf(err, errlen, "out of memory");
			goto done;
		}
		for (i = 0; i < ncols; i++)
		{
			to_value(&cols[i], fields[i], flens[i], cfg->hash_salt, &vals[i],
					 &ivs[i], scratch + spos);
			spos += flens[i] + 80;
		}

		walstar__v1__change__init(&msg);
		msg.version = 1;
		msg.source = (char *)source->name;
		msg.system_id = source->system_id;
		msg.op = WALSTAR__V1__OP__READ;
		msg.schema = t->schema;
		msg.table = t->table;
		msg.n_columns = (size_t)ncols;
		msg.columns = colptrs;
		msg.n_new_values = (size_t)ncols;
		msg.new_values = valptrs;
		msg.commit_lsn = consistent_point - 1;
		msg.lsn = consistent_point;
		msg.commit_time = start_us;
		msg.position = (uint32_t)(pr->rows + 1);
		msg.relation_oid = t->oid;

		if (nkeys > 0)
		{
			int k;

			walstar__v1__key__init(&key);
			for (i = 0; i < ncols; i++)
			{
				if (cols[i].key_order > 0)
					keyptrs[cols[i].key_order - 1] = &vals[i];
			}
			key.n_values = 0;
			for (k = 0; k < nkeys; k++)
			{
				if (keyptrs[k] != NULL)
					keyptrs[key.n_values++] = keyptrs[k];
			}
			key.values = keyptrs;
			keylen = walstar__v1__key__get_packed_size(&key);
			keybuf = realloc(keybuf, keylen + 1);
			if (keybuf == NULL)
				abort();
			walstar__v1__key__pack(&key, keybuf);
			msg.key.data = keybuf;
			msg.key.len = keylen;
			memset(keyptrs, 0, sizeof(*keyptrs) * (ncols + 1));
		}

		size = walstar__v1__change__get_packed_size(&msg);
		if (size > outcap)
		{
			outcap = size * 2;
			out = realloc(out, outcap);
			if (out == NULL)
				abort();
		}
		walstar__v1__change__pack(&msg, out);
		PQfreemem(row);
		row = NULL;

		if (!send_record(stream, out, size, consistent_point, stop, err,
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
	/* drain a COPY we abandoned */
	while (!ok && (res = PQgetResult(conn)) != NULL)
		PQclear(res);
	if (qschema)
		PQfreemem(qschema);
	if (qtable)
		PQfreemem(qtable);
	free(sql);
	free(colptrs);
	free(vals);
	free(valptrs);
	free(keyptrs);
	free(ivs);
	free(fields);
	free(flens);
	free(scratch);
	free(keybuf);
	free(out);
	free_columns(cols, ncols);
	return ok;
}

/*
 * Let the decoder compare its salt's fingerprint with ours (option
 * hash-salt-id) by starting it on the new slot, up to the consistent point:
 * it refuses a mismatch, or a server without a salt file, when it starts.
 * Nothing is consumed (peek), and the exported snapshot stays valid, since
 * the replication connection is idle meanwhile.
 */
static bool
check_salt(PGconn *conn, const Config *cfg, const char *slot,
		   uint64_t consistent_point, char *err, size_t errlen)
{
	char		id[SALT_ID_LEN + 1];
	const char *params[4];
	PGresult   *res;
	bool		ok;

	salt_hmac_id(cfg->hash_salt, id);
	params[0] = slot;
	params[1] = LSN(consistent_point);
	params[2] = cfg->hash_columns;
	params[3] = id;
	res = PQexecParams(conn,
					   "SELECT count(*) FROM "
					   "pg_catalog.pg_logical_slot_peek_binary_changes($1, "
					   "$2::pg_catalog.pg_lsn, NULL, 'hash-columns', $3, "
					   "'hash-salt-id', $4)",
					   4, NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
	{
		const char *msg = PQresultErrorMessage(res);

		if (strncmp(msg, "ERROR:  ", 8) == 0)
			msg += 8;
		snprintf(err, errlen, "the source refuses our hash salt: %s", msg);
		err[strcspn(err, "\n")] = '\0';
	}
	PQclear(res);
	return ok;
}

bool
snapshot_run(const Config *cfg, const char *snapshot_name, const char *slot,
			 uint64_t consistent_point, const char *dbname,
			 const char *system_id, Stream *stream,
			 volatile sig_atomic_t *stop, char *err, size_t errlen)
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
		!check_salt(conn, cfg, slot, consistent_point, err, errlen))
		goto done;
	snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT '%s'", snapshot_name);
	if (!exec_ok(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
				 PGRES_COMMAND_OK, err, errlen) ||
		!exec_ok(conn, sql, PGRES_COMMAND_OK, err, errlen))
		goto done;

	tables = list_tables(conn, cfg, &ntables, err, errlen);
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
	if (!send_marker(stream, WALSTAR__V1__OP__BEGIN, &source, consistent_point,
					 start_us, tables, ntables, 0, stop, err, errlen))
		goto done;
	for (i = 0; i < ntables; i++)
	{
		uint64_t before = pr.rows;

		if (!copy_table(conn, cfg, &tables[i], &source, consistent_point,
						start_us, stream, &pr, stop, err, errlen))
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
