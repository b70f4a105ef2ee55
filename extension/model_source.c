/*-------------------------------------------------------------------------
 *
 * model_source.c
 *		Landing tables that models read: applied with the final state per
 *		key in one round, and optionally with an append-only version
 *		history written by the apply worker.
 *
 * A landing table with triggers is normally applied in rounds, one per
 * repeated version of a key, so that its triggers see every version: the
 * busier a key, the more rounds. A model registers the landing tables it
 * reads in walstar.model_sources (walstar.register_model_source): those
 * are applied in one round whatever their triggers, which then see each
 * key once, in its final state. A model that needs every version (an SCD2
 * dimension) asks for a version history: walstar_versions.<schema>__<table>,
 * owned by the landing table's owner, with
 *   walstar_version (identity: the order), walstar_commit_lsn,
 *   walstar_position, walstar_op, then the columns (but any of those four
 *   names, which the history does not keep).
 * The apply worker writes every version of a table batch into it in one
 * INSERT, in message order (a key change as 'D' of the old key then 'U'
 * of the new one, a TRUNCATE or the start of a newer initial copy as 'T'),
 * before it applies the landing table; the model consumes them as one set
 * from a statement-level trigger on the history. Writes to the landing
 * table by anyone else reach the history through walstar.record_versions
 * triggers, which step aside while the worker applies the table
 * (walstar._applying_versions).
 *
 * Unchanged TOAST values are taken from an earlier version of the key in
 * the same table batch, else from the landing row the key had before the
 * batch (still stored: the history is written first).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "batch.h"
#include "model_source.h"

PG_FUNCTION_INFO_V1(walstar_applying_versions);

/* Where version histories live (walstar--0.1.sql). */
#define MODEL_SOURCE_HISTORY_SCHEMA "walstar_versions"

/* The landing table whose batch the worker is applying with a history. */
static Oid	applying_relid = InvalidOid;

/* A key's newest version so far in a table batch. */
typedef struct KeyVersion
{
	char	   *key;			/* hash key: the key values as one string */
	bool		deleted;		/* its last version is a delete */
	char	  **values;			/* text per column */
	bool	   *toast;			/* per column: still in the stored row */
	char	   *from;			/* key of the stored row that holds them */
} KeyVersion;

/* The rows of the history INSERT, one array per column. */
typedef struct VersionRows
{
	int			n;				/* rows so far */
	int			cap;			/* allocated */
	int			ncols;			/* landing columns */
	int			nkeys;			/* key columns */
	char	  **lsn;			/* commit LSN (text) */
	char	  **pos;			/* position (text) */
	char	  **op;				/* op letter */
	char	 ***vals;			/* per column */
	bool	  **flags;			/* per column: an unchanged TOAST value */
	char	 ***from;			/* per key column: the stored row's key */
	bool	   *tany;			/* per column: some row has the flag */
} VersionRows;

bool
model_source_lookup(const char *schema, const char *relname, char **history)
{
	Oid			argtypes[2] = {NAMEOID, NAMEOID};
	Datum		args[2] = {CStringGetDatum(schema), CStringGetDatum(relname)};
	MemoryContext cxt = CurrentMemoryContext;
	BookkeepingUser save;
	bool		found = false;

	*history = NULL;
	bookkeeping_begin(&save);
	if (SPI_execute_with_args("SELECT CASE WHEN s.keep_versions THEN (SELECT v.history_table"
							  "  FROM walstar.version_histories v"
							  "  WHERE v.landing_schema OPERATOR(pg_catalog.=) $1"
							  "  AND v.landing_table OPERATOR(pg_catalog.=) $2) END"
							  " FROM walstar.model_sources s"
							  " WHERE s.landing_schema OPERATOR(pg_catalog.=) $1"
							  " AND s.landing_table OPERATOR(pg_catalog.=) $2"
							  " ORDER BY s.keep_versions DESC LIMIT 1",
							  2, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read walstar.model_sources");
	if (SPI_processed == 1)
	{
		char	   *h = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		found = true;
		if (h != NULL)
			*history = MemoryContextStrdup(cxt, h);
	}
	bookkeeping_end(&save);
	MemoryContextSwitchTo(cxt);
	return found;
}

static void
rows_add(VersionRows *r, const Change *c, char op, char **vals, bool *flags,
		 char **from)
{
	int			i;

	if (r->n == r->cap)
	{
		r->cap *= 2;
		r->lsn = repalloc(r->lsn, sizeof(char *) * r->cap);
		r->pos = repalloc(r->pos, sizeof(char *) * r->cap);
		r->op = repalloc(r->op, sizeof(char *) * r->cap);
		for (i = 0; i < r->ncols; i++)
		{
			r->vals[i] = repalloc(r->vals[i], sizeof(char *) * r->cap);
			r->flags[i] = repalloc(r->flags[i], sizeof(bool) * r->cap);
		}
		for (i = 0; i < r->nkeys; i++)
			r->from[i] = repalloc(r->from[i], sizeof(char *) * r->cap);
	}
	r->lsn[r->n] = c->commit_lsn != 0 ?
		psprintf("%X/%X", (uint32) (c->commit_lsn >> 32), (uint32) c->commit_lsn) : NULL;
	r->pos[r->n] = c->commit_lsn != 0 ? psprintf(UINT64_FORMAT, (uint64) c->position) : NULL;
	r->op[r->n] = psprintf("%c", op);
	for (i = 0; i < r->ncols; i++)
	{
		r->vals[i][r->n] = vals ? vals[i] : NULL;
		r->flags[i][r->n] = flags ? flags[i] : false;
		if (flags && flags[i])
			r->tany[i] = true;
	}
	for (i = 0; i < r->nkeys; i++)
		r->from[i][r->n] = from ? from[i] : NULL;
	r->n++;
}

/* The text of values present in a record (missing, unchanged: NULL). */
static char **
record_values(TableBatch *tb, Value **values, size_t n)
{
	char	  **out = palloc0(sizeof(char *) * tb->ncols);
	int			i;

	for (i = 0; i < tb->ncols && (size_t) i < n; i++)
	{
		if (values[i]->kind_case == WALSTAR__V1__VALUE__KIND__NOT_SET ||
			values[i]->kind_case == WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST)
			continue;
		out[i] = change_value_text(values[i], tb->columns[i]);
	}
	return out;
}

static KeyVersion *
key_enter(HTAB *keys, char *key)
{
	bool		found;
	KeyVersion *kv = hash_search(keys, &key, HASH_ENTER, &found);

	if (!found)
	{
		kv->key = key;
		kv->deleted = false;
		kv->values = NULL;
		kv->toast = NULL;
		kv->from = NULL;
	}
	return kv;
}

/* Add the history columns the landing table gained since. */
static void
add_missing_columns(Oid landing_relid, Oid history_relid, const char *hqualified,
					TableBatch *tb, bool *present)
{
	int			i;

	for (i = 0; i < tb->ncols; i++)
	{
		const char *name = tb->columns[i]->name;
		AttrNumber	att;
		Oid			typid;
		int32		typmod;
		Oid			collid;

		/* a landing column of a bookkeeping column's name is not kept */
		if (strncmp(name, "walstar_", 8) == 0 &&
			(strcmp(name, "walstar_version") == 0 || strcmp(name, "walstar_commit_lsn") == 0 ||
			 strcmp(name, "walstar_position") == 0 || strcmp(name, "walstar_op") == 0))
		{
			present[i] = false;
			continue;
		}
		present[i] = get_attnum(history_relid, name) != InvalidAttrNumber;
		if (present[i])
			continue;
		att = get_attnum(landing_relid, name);
		if (att == InvalidAttrNumber)
			continue;
		get_atttypetypmodcoll(landing_relid, att, &typid, &typmod, &collid);
		if (SPI_execute(psprintf("ALTER TABLE %s ADD COLUMN %s %s", hqualified,
								 quote_identifier(name),
								 format_type_extended(typid, typmod,
													  FORMAT_TYPE_TYPEMOD_GIVEN |
													  FORMAT_TYPE_FORCE_QUALIFY)),
						false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not add column \"%s\" to %s", name, hqualified);
		present[i] = true;
	}
}

/* The one INSERT of a table batch's versions, in message order. */
static void
insert_versions(const char *hqualified, const char *qualified, TableBatch *tb,
				char **types, VersionRows *r, const bool *present)
{
	StringInfoData sql;
	int			maxargs = 3 + tb->ncols * 2 + tb->nkeys;
	Oid		   *argtypes = palloc(sizeof(Oid) * maxargs);
	Datum	   *args = palloc(sizeof(Datum) * maxargs);
	bool		any_toast = false;
	int			nargs = 0;
	int			i;

	for (i = 0; i < tb->ncols; i++)
		any_toast |= r->tany[i];

	initStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s (walstar_commit_lsn, walstar_position, walstar_op", hqualified);
	for (i = 0; i < tb->ncols; i++)
		if (present[i])
			appendStringInfo(&sql, ", %s", quote_identifier(tb->columns[i]->name));
	appendStringInfoString(&sql, ") SELECT u.l::pg_catalog.pg_lsn, u.p::pg_catalog.int8,"
						   " u.o::pg_catalog.\"char\"");
	for (i = 0; i < tb->ncols; i++)
	{
		if (!present[i])
			continue;
		if (r->tany[i])
			appendStringInfo(&sql, ", CASE WHEN u.f%d THEN t.%s ELSE u.a%d::%s END",
							 i + 1, quote_identifier(tb->columns[i]->name), i + 1, types[i]);
		else
			appendStringInfo(&sql, ", u.a%d::%s", i + 1, types[i]);
	}
	appendStringInfoString(&sql, " FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]),"
						   " pg_catalog.unnest($2::pg_catalog.text[]),"
						   " pg_catalog.unnest($3::pg_catalog.text[])");
	argtypes[0] = argtypes[1] = argtypes[2] = TEXTARRAYOID;
	args[0] = apply_sql_text_array(r->lsn, r->n);
	args[1] = apply_sql_text_array(r->pos, r->n);
	args[2] = apply_sql_text_array(r->op, r->n);
	nargs = 3;
	for (i = 0; i < tb->ncols; i++)
	{
		appendStringInfo(&sql, ", pg_catalog.unnest($%d::pg_catalog.text[])", nargs + 1);
		argtypes[nargs] = TEXTARRAYOID;
		args[nargs++] = apply_sql_text_array(r->vals[i], r->n);
	}
	for (i = 0; i < tb->ncols; i++)
	{
		if (!r->tany[i])
			continue;
		appendStringInfo(&sql, ", pg_catalog.unnest($%d::pg_catalog.bool[])", nargs + 1);
		argtypes[nargs] = BOOLARRAYOID;
		args[nargs++] = apply_sql_bool_array(r->flags[i], r->n);
	}
	if (any_toast)
		for (i = 0; i < tb->nkeys; i++)
		{
			appendStringInfo(&sql, ", pg_catalog.unnest($%d::pg_catalog.text[])", nargs + 1);
			argtypes[nargs] = TEXTARRAYOID;
			args[nargs++] = apply_sql_text_array(r->from[i], r->n);
		}
	appendStringInfoString(&sql, ") WITH ORDINALITY AS u(l, p, o");
	for (i = 0; i < tb->ncols; i++)
		appendStringInfo(&sql, ", a%d", i + 1);
	for (i = 0; i < tb->ncols; i++)
		if (r->tany[i])
			appendStringInfo(&sql, ", f%d", i + 1);
	if (any_toast)
		for (i = 0; i < tb->nkeys; i++)
			appendStringInfo(&sql, ", k%d", i + 1);
	appendStringInfoString(&sql, ", n)");
	if (any_toast)
	{
		appendStringInfo(&sql, " LEFT JOIN %s AS t ON ", qualified);
		for (i = 0; i < tb->nkeys; i++)
		{
			int			k = tb->keycols[i];

			appendStringInfo(&sql, "%st.%s OPERATOR(pg_catalog.=) u.k%d::%s",
							 i > 0 ? " AND " : "",
							 quote_identifier(tb->columns[k]->name), i + 1, types[k]);
		}
	}
	appendStringInfoString(&sql, " ORDER BY u.n");
	apply_sql_run(sql.data, nargs, argtypes, args, NULL);
}

void
model_source_write_versions(const char *schema, const char *qualified,
							TableBatch *tb, char **types)
{
	Oid			nspid = get_namespace_oid(schema, false);
	Oid			landing_relid = get_relname_relid(tb->relname, nspid);
	Oid			hnspid = get_namespace_oid(MODEL_SOURCE_HISTORY_SCHEMA, true);
	Oid			history_relid = OidIsValid(hnspid) ?
		get_relname_relid(tb->history, hnspid) : InvalidOid;
	char	   *hqualified = psprintf("%s.%s", MODEL_SOURCE_HISTORY_SCHEMA,
									  quote_identifier(tb->history));
	VersionRows r;
	HTAB	   *keys;
	bool	   *present;
	ListCell   *lc;
	int			i;

	if (!OidIsValid(history_relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("version history %s of landing table %s does not exist",
						hqualified, qualified),
				 errhint("Register the landing table again with walstar.register_model_source(), or unregister it.")));
	if (tb->nkeys == 0 && tb->ncols > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot keep the version history of %s: the record has no key columns",
						qualified)));

	memset(&r, 0, sizeof(r));
	r.cap = Max(list_length(tb->items) * 2, 4);
	r.ncols = tb->ncols;
	r.nkeys = tb->nkeys;
	r.lsn = palloc(sizeof(char *) * r.cap);
	r.pos = palloc(sizeof(char *) * r.cap);
	r.op = palloc(sizeof(char *) * r.cap);
	r.vals = palloc(sizeof(char **) * Max(tb->ncols, 1));
	r.flags = palloc(sizeof(bool *) * Max(tb->ncols, 1));
	r.from = palloc(sizeof(char **) * Max(tb->nkeys, 1));
	r.tany = palloc0(sizeof(bool) * Max(tb->ncols, 1));
	for (i = 0; i < tb->ncols; i++)
	{
		r.vals[i] = palloc(sizeof(char *) * r.cap);
		r.flags[i] = palloc(sizeof(bool) * r.cap);
	}
	for (i = 0; i < tb->nkeys; i++)
		r.from[i] = palloc(sizeof(char *) * r.cap);
	keys = batch_string_table("walstar key versions", 256, sizeof(KeyVersion));

	foreach(lc, tb->items)
	{
		BatchItem  *item = lfirst(lc);
		Change	   *c = item->change;
		char	   *newkey = NULL;
		char	   *oldkey = NULL;

		if (c->op == WALSTAR__V1__OP__DDL)
			continue;
		if (c->op == WALSTAR__V1__OP__TRUNCATE || item->copy_start)
		{
			rows_add(&r, c, 'T', NULL, NULL, NULL);
			hash_destroy(keys);
			keys = batch_string_table("walstar key versions", 256, sizeof(KeyVersion));
			if (c->op == WALSTAR__V1__OP__TRUNCATE)
				continue;
		}
		if (c->n_new_values > 0)
			newkey = table_batch_row_key(tb, c->new_values);
		if (c->n_old_values > 0)
			oldkey = table_batch_row_key(tb, c->old_values);
		if (c->op == WALSTAR__V1__OP__DELETE)
		{
			if (oldkey == NULL)
				continue;		/* tb->bad: the batch fails before this */
			rows_add(&r, c, 'D', record_values(tb, c->old_values, c->n_old_values),
					 NULL, NULL);
			key_enter(keys, oldkey)->deleted = true;
			continue;
		}
		if (newkey == NULL)
			continue;
		{
			bool		moved = (c->op == WALSTAR__V1__OP__UPDATE && oldkey &&
								 strcmp(oldkey, newkey) != 0);
			char	   *prevkey = moved ? oldkey : newkey;
			KeyVersion *prev = hash_search(keys, &prevkey, HASH_FIND, NULL);
			bool		had = prev != NULL && !prev->deleted && prev->values != NULL;
			char	  **vals = palloc0(sizeof(char *) * tb->ncols);
			bool	   *flags = palloc0(sizeof(bool) * tb->ncols);
			bool		any = false;
			char	   *from = had && prev->from ? prev->from : prevkey;
			char	  **fromvals = NULL;
			KeyVersion *kv;

			for (i = 0; i < tb->ncols; i++)
			{
				const Value *v = c->new_values[i];

				if (v->kind_case == WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST)
				{
					if (had && !prev->toast[i])
						vals[i] = prev->values[i];
					else
					{
						flags[i] = true;
						any = true;
					}
				}
				else
					vals[i] = change_value_text(v, tb->columns[i]);
			}
			if (any)
			{
				fromvals = palloc(sizeof(char *) * tb->nkeys);
				table_batch_key_values(tb, from, fromvals);
			}
			if (moved && !c->old_key_elsewhere)
			{
				rows_add(&r, c, 'D', record_values(tb, c->old_values, c->n_old_values),
						 NULL, NULL);
				key_enter(keys, oldkey)->deleted = true;
			}
			rows_add(&r, c, c->op == WALSTAR__V1__OP__INSERT ? 'I' :
					 c->op == WALSTAR__V1__OP__READ ? 'R' : 'U', vals, flags, fromvals);
			kv = key_enter(keys, newkey);
			kv->deleted = false;
			kv->values = vals;
			kv->toast = flags;
			kv->from = any ? from : NULL;
		}
	}
	if (r.n == 0)
		return;

	present = palloc0(sizeof(bool) * Max(tb->ncols, 1));
	add_missing_columns(landing_relid, history_relid, hqualified, tb, present);
	insert_versions(hqualified, qualified, tb, types, &r, present);
}

void
model_source_begin_apply(const char *schema, TableBatch *tb)
{
	applying_relid = InvalidOid;
	if (tb->history != NULL)
		applying_relid = get_relname_relid(tb->relname, get_namespace_oid(schema, false));
}

void
model_source_end_apply(void)
{
	applying_relid = InvalidOid;
}

/*
 * walstar._applying_versions(landing regclass): whether this backend's
 * apply worker is applying that landing table right now, having written
 * its versions to the history itself.
 */
Datum
walstar_applying_versions(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(OidIsValid(applying_relid) && PG_GETARG_OID(0) == applying_relid);
}
