/*-------------------------------------------------------------------------
 *
 * snapshot_catalog.c
 *		What the initial copy reads from the source's catalogs: the
 *		selected tables and their columns, described as the decoder's
 *		relation cache describes them, and the decoder's check of our salt.
 *
 * Selection and protection by the decoder's own pattern code
 * (common/name_pattern.c), types and landing types by its rule
 * (common/column_type.c): the SQL here only fetches the catalog facts the
 * rule needs (base type of a domain, element type of an array,
 * format_type).
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsn.h"
#include "name_pattern.h"
#include "salt_hmac.h"
#include "snapshot_catalog.h"

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

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		abort();
	return d;
}

SnapTable *
snapshot_catalog_tables(PGconn *conn, const Config *cfg, int *ntables,
						char *err, size_t errlen)
{
	PGresult	*res;
	SnapTable	*tables;
	SnapPatterns include = {0}, exclude = {0}, only = {0};
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
						  err, errlen) ||
		!compile_patterns("table", cfg->snapshot_tables, 2, &only, err,
						  errlen))
	{
		PQclear(res);
		free_patterns(&include);
		free_patterns(&exclude);
		free_patterns(&only);
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
		/* an on-demand copy: only the requested tables */
		if (only.list.n > 0 &&
			!name_pattern_match_any(&only.list, names[0], names[1], NULL))
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
	free_patterns(&only);
	*ntables = n;
	return tables;
}

SnapColumn *
snapshot_catalog_columns(PGconn *conn, const Config *cfg, const SnapTable *t,
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

void
snapshot_catalog_free_columns(SnapColumn *cols, int ncols)
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

bool
snapshot_catalog_check_salt(PGconn *conn, const Config *cfg, const char *slot,
							uint64_t consistent_point, char *err,
							size_t errlen)
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
