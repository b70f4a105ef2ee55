/*-------------------------------------------------------------------------
 *
 * apply_sql.c
 *		The statements that apply a table batch (batch.c), and the cache of
 *		their plans.
 *
 * Each table batch takes at most four set-based statements: TRUNCATE,
 * DELETE ... USING, INSERT ... ON CONFLICT DO UPDATE, and an UPDATE for
 * rows whose unchanged TOAST columns keep the stored value.  Values travel
 * as text arrays (statement parameters) cast to the landing column types;
 * names from messages are always quoted, functions and operators
 * schema-qualified.
 *
 * Plans are prepared once per statement text and kept for the life of the
 * process, in a hash keyed by that text: a worker applying many tables
 * finds each statement's plan without comparing it with every other one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#include "batch.h"
#include "model_source.h"

/* A prepared statement, kept for the life of the process. */
typedef struct CachedStatement
{
	char	   *sql;			/* hash key: its text, in PlanCacheContext */
	SPIPlanPtr	plan;			/* SPI_keepplan'ed plan */
} CachedStatement;

static HTAB *PlanCache = NULL;
static MemoryContext PlanCacheContext = NULL;

/* A prepared, kept plan for a statement text. */
static SPIPlanPtr
statement_plan(const char *sql, int nargs, Oid *argtypes)
{
	CachedStatement *cs;
	SPIPlanPtr	plan;
	char	   *key;

	if (PlanCache == NULL)
	{
		MemoryContext old;

		PlanCacheContext = AllocSetContextCreate(TopMemoryContext,
												 "walstar statements",
												 ALLOCSET_SMALL_SIZES);
		old = MemoryContextSwitchTo(PlanCacheContext);
		PlanCache = batch_string_table("walstar statements", 64,
									   sizeof(CachedStatement));
		MemoryContextSwitchTo(old);
	}
	cs = hash_search(PlanCache, &sql, HASH_FIND, NULL);
	if (cs != NULL)
		return cs->plan;

	/* entered only once prepared: a failure leaves no half entry */
	plan = SPI_prepare(sql, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	key = MemoryContextStrdup(PlanCacheContext, sql);
	cs = hash_search(PlanCache, &key, HASH_ENTER, NULL);
	cs->sql = key;
	cs->plan = plan;
	return plan;
}

void
apply_sql_run(const char *sql, int nargs, Oid *argtypes, Datum *args,
					const char *nulls)
{
	MemoryContext cxt = CurrentMemoryContext;
	SPIPlanPtr	plan = statement_plan(sql, nargs, argtypes);
	int			rc = SPI_execute_plan(plan, args, nulls, false, 0);

	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	/* SPI leaves its procedure context current; the caller's memory is ours */
	MemoryContextSwitchTo(cxt);
}

static void
run_statement(const char *sql, int nargs, Oid *argtypes, Datum *args)
{
	apply_sql_run(sql, nargs, argtypes, args, NULL);
}

/* The statements' parameters: text[] (NULL elements for NULL) and bool[]. */
Datum
apply_sql_text_array(char **vals, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			i;

	for (i = 0; i < n; i++)
	{
		nulls[i] = (vals[i] == NULL);
		elems[i] = nulls[i] ? (Datum) 0 : CStringGetTextDatum(vals[i]);
	}
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs,
											  TEXTOID, -1, false, TYPALIGN_INT));
}

Datum
apply_sql_bool_array(bool *vals, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		elems[i] = BoolGetDatum(vals[i]);
	return PointerGetDatum(construct_array(elems, n, BOOLOID, 1, true, TYPALIGN_CHAR));
}

/* "t.k1 = u.a1::type AND ..." over the key columns. */
static void
append_key_match(StringInfo sql, TableBatch *tb, char **types)
{
	int			i;

	for (i = 0; i < tb->nkeys; i++)
	{
		int			k = tb->keycols[i];

		appendStringInfo(sql, "%st.%s OPERATOR(pg_catalog.=) u.a%d::%s", i > 0 ? " AND " : "",
						 quote_identifier(tb->columns[k]->name), k + 1, types[k]);
	}
}

/*
 * " ON CONFLICT (key) DO UPDATE SET col = excluded.col, ...", or DO NOTHING
 * when the table has only key columns.
 */
static void
append_on_conflict(StringInfo sql, TableBatch *tb)
{
	int			i;
	int			nset = 0;

	appendStringInfoString(sql, " ON CONFLICT (");
	for (i = 0; i < tb->nkeys; i++)
		appendStringInfo(sql, "%s%s", i > 0 ? ", " : "",
						 quote_identifier(tb->columns[tb->keycols[i]]->name));
	appendStringInfoChar(sql, ')');
	for (i = 0; i < tb->ncols; i++)
	{
		const char *q;

		if (tb->columns[i]->is_key)
			continue;
		q = quote_identifier(tb->columns[i]->name);
		appendStringInfo(sql, "%s%s = excluded.%s",
						 nset++ > 0 ? ", " : " DO UPDATE SET ", q, q);
	}
	if (nset == 0)
		appendStringInfoString(sql, " DO NOTHING");
}

/* INSERT (upsert for keyed tables) of rows given as one text array per column. */
static void
insert_rows(const char *qualified, TableBatch *tb, char **types, char ***cols, int n)
{
	StringInfoData sql;
	Oid		   *argtypes = palloc(sizeof(Oid) * tb->ncols);
	Datum	   *args = palloc(sizeof(Datum) * tb->ncols);
	int			i;

	initStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s AS t (", qualified);
	for (i = 0; i < tb->ncols; i++)
		appendStringInfo(&sql, "%s%s", i > 0 ? ", " : "", quote_identifier(tb->columns[i]->name));
	appendStringInfoString(&sql, ") SELECT ");
	for (i = 0; i < tb->ncols; i++)
		appendStringInfo(&sql, "%su.a%d::%s", i > 0 ? ", " : "", i + 1, types[i]);
	appendStringInfoString(&sql, " FROM ROWS FROM (pg_catalog.unnest(");
	for (i = 0; i < tb->ncols; i++)
	{
		appendStringInfo(&sql, "%s$%d::pg_catalog.text[]", i > 0 ? "), pg_catalog.unnest(" : "", i + 1);
		argtypes[i] = TEXTARRAYOID;
		args[i] = apply_sql_text_array(cols[i], n);
	}
	appendStringInfoString(&sql, ")) AS u(");
	for (i = 0; i < tb->ncols; i++)
		appendStringInfo(&sql, "%sa%d", i > 0 ? ", " : "", i + 1);
	appendStringInfoChar(&sql, ')');
	if (tb->nkeys > 0)
	{
		append_on_conflict(&sql, tb);
	}
	run_statement(sql.data, tb->ncols, argtypes, args);
}

/*
 * Rows some of whose columns are unchanged TOAST values: the stored row at
 * key toast_from supplies them. moved: the row's key changed in this batch,
 * so it is inserted from the stored row under its old key (before that one
 * is deleted); else the stored row is updated in place.
 */
static void
apply_toast_rows(const char *qualified, TableBatch *tb, char **types,
				 RowState **rows, int n, bool moved)
{
	StringInfoData sql;
	Oid		   *argtypes = palloc(sizeof(Oid) * (tb->ncols * 2 + tb->nkeys));
	Datum	   *args = palloc(sizeof(Datum) * (tb->ncols * 2 + tb->nkeys));
	bool	   *tany = palloc0(sizeof(bool) * tb->ncols);
	int			nargs = 0;
	int			nset = 0;
	int			i,
				r;
	const char *target = moved ? "o" : "t";

	for (r = 0; r < n; r++)
		for (i = 0; i < tb->ncols; i++)
			tany[i] |= rows[r]->toast[i];

	initStringInfo(&sql);
	if (moved)
	{
		appendStringInfo(&sql, "INSERT INTO %s AS t (", qualified);
		for (i = 0; i < tb->ncols; i++)
			appendStringInfo(&sql, "%s%s", i > 0 ? ", " : "",
							 quote_identifier(tb->columns[i]->name));
		appendStringInfoString(&sql, ") SELECT ");
	}
	else
		appendStringInfo(&sql, "UPDATE %s AS t SET ", qualified);
	for (i = 0; i < tb->ncols; i++)
	{
		const char *q = quote_identifier(tb->columns[i]->name);

		if (!moved)
		{
			if (tb->columns[i]->is_key)
				continue;
			appendStringInfo(&sql, "%s%s = ", nset++ > 0 ? ", " : "", q);
		}
		else if (i > 0)
			appendStringInfoString(&sql, ", ");
		if (tany[i])
			appendStringInfo(&sql, "CASE WHEN u.f%d THEN %s.%s ELSE u.a%d::%s END",
							 i + 1, target, q, i + 1, types[i]);
		else
			appendStringInfo(&sql, "u.a%d::%s", i + 1, types[i]);
	}
	appendStringInfoString(&sql, " FROM ROWS FROM (pg_catalog.unnest(");
	for (i = 0; i < tb->ncols; i++)
	{
		char	  **vals = palloc(sizeof(char *) * n);

		for (r = 0; r < n; r++)
			vals[r] = rows[r]->values[i];
		appendStringInfo(&sql, "%s$%d::pg_catalog.text[]", i > 0 ? "), pg_catalog.unnest(" : "", nargs + 1);
		argtypes[nargs] = TEXTARRAYOID;
		args[nargs++] = apply_sql_text_array(vals, n);
	}
	for (i = 0; i < tb->ncols; i++)
	{
		bool	   *flags;

		if (!tany[i])
			continue;
		flags = palloc(sizeof(bool) * n);
		for (r = 0; r < n; r++)
			flags[r] = rows[r]->toast[i];
		appendStringInfo(&sql, "), pg_catalog.unnest($%d::pg_catalog.bool[]", nargs + 1);
		argtypes[nargs] = BOOLARRAYOID;
		args[nargs++] = apply_sql_bool_array(flags, n);
	}
	if (moved)
	{
		char	  **from = palloc(sizeof(char *) * tb->nkeys);
		char	 ***cols = palloc(sizeof(char **) * tb->nkeys);

		for (i = 0; i < tb->nkeys; i++)
			cols[i] = palloc(sizeof(char *) * n);
		for (r = 0; r < n; r++)
		{
			table_batch_key_values(tb, rows[r]->toast_from, from);
			for (i = 0; i < tb->nkeys; i++)
				cols[i][r] = from[i];
		}
		for (i = 0; i < tb->nkeys; i++)
		{
			appendStringInfo(&sql, "), pg_catalog.unnest($%d::pg_catalog.text[]", nargs + 1);
			argtypes[nargs] = TEXTARRAYOID;
			args[nargs++] = apply_sql_text_array(cols[i], n);
		}
	}
	appendStringInfoString(&sql, ")) AS u(");
	for (i = 0; i < tb->ncols; i++)
		appendStringInfo(&sql, "%sa%d", i > 0 ? ", " : "", i + 1);
	for (i = 0; i < tb->ncols; i++)
		if (tany[i])
			appendStringInfo(&sql, ", f%d", i + 1);
	if (moved)
	{
		for (i = 0; i < tb->nkeys; i++)
			appendStringInfo(&sql, ", k%d", i + 1);
		appendStringInfo(&sql, ") JOIN %s AS o ON ", qualified);
		for (i = 0; i < tb->nkeys; i++)
		{
			int			k = tb->keycols[i];

			appendStringInfo(&sql, "%so.%s OPERATOR(pg_catalog.=) u.k%d::%s", i > 0 ? " AND " : "",
							 quote_identifier(tb->columns[k]->name), i + 1, types[k]);
		}
		append_on_conflict(&sql, tb);
	}
	else
	{
		appendStringInfoString(&sql, ") WHERE ");
		append_key_match(&sql, tb, types);
		if (nset == 0)
			return;				/* only key columns: nothing to update */
	}
	run_statement(sql.data, nargs, argtypes, args);
}

/*
 * Apply a keyed table batch set-based: rows moved away from a key whose
 * unchanged TOAST values they need first, then the deletes, the upserts
 * and the in-place updates of rows with unchanged TOAST values.
 */
static void
apply_keyed(const char *qualified, TableBatch *tb, char **types)
{
	HASH_SEQ_STATUS seq;
	RowState   *row;
	long		nrows = hash_get_num_entries(tb->rows);
	char	  **dkeys[FUNC_MAX_ARGS];
	char	  **kv = palloc(sizeof(char *) * Max(tb->nkeys, 1));
	char	 ***ucols = palloc(sizeof(char **) * tb->ncols);
	RowState  **moved = palloc(sizeof(RowState *) * Max(nrows, 1));
	RowState  **inplace = palloc(sizeof(RowState *) * Max(nrows, 1));
	int			nd = 0,
				nu = 0,
				nm = 0,
				ni = 0;
	int			i;

	if (nrows == 0)
		return;
	/* a record's key is external input: a dead letter, not a crash */
	if (tb->nkeys > FUNC_MAX_ARGS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("cannot apply changes to %s: the record has %d key columns",
						qualified, tb->nkeys),
				 errdetail("At most %d key columns are supported.", FUNC_MAX_ARGS)));
	for (i = 0; i < tb->nkeys; i++)
		dkeys[i] = palloc(sizeof(char *) * nrows);
	for (i = 0; i < tb->ncols; i++)
		ucols[i] = palloc(sizeof(char *) * nrows);

	hash_seq_init(&seq, tb->rows);
	while ((row = hash_seq_search(&seq)) != NULL)
	{
		if (row->deleted)
		{
			table_batch_key_values(tb, row->key, kv);
			for (i = 0; i < tb->nkeys; i++)
				dkeys[i][nd] = kv[i];
			nd++;
		}
		else if (!row->any_toast)
		{
			for (i = 0; i < tb->ncols; i++)
				ucols[i][nu] = row->values[i];
			nu++;
		}
		else if (strcmp(row->toast_from, row->key) != 0)
			moved[nm++] = row;
		else
			inplace[ni++] = row;
	}

	if (nm > 0)
		apply_toast_rows(qualified, tb, types, moved, nm, true);
	if (nd > 0)
	{
		StringInfoData sql;
		Oid		   *argtypes = palloc(sizeof(Oid) * tb->nkeys);
		Datum	   *args = palloc(sizeof(Datum) * tb->nkeys);

		initStringInfo(&sql);
		appendStringInfo(&sql, "DELETE FROM %s AS t USING ROWS FROM (pg_catalog.unnest(", qualified);
		for (i = 0; i < tb->nkeys; i++)
		{
			appendStringInfo(&sql, "%s$%d::pg_catalog.text[]", i > 0 ? "), pg_catalog.unnest(" : "", i + 1);
			argtypes[i] = TEXTARRAYOID;
			args[i] = apply_sql_text_array(dkeys[i], nd);
		}
		appendStringInfoString(&sql, ")) AS u(");
		for (i = 0; i < tb->nkeys; i++)
			appendStringInfo(&sql, "%sa%d", i > 0 ? ", " : "", tb->keycols[i] + 1);
		appendStringInfoString(&sql, ") WHERE ");
		append_key_match(&sql, tb, types);
		run_statement(sql.data, tb->nkeys, argtypes, args);
	}
	if (nu > 0)
		insert_rows(qualified, tb, types, ucols, nu);
	if (ni > 0)
		apply_toast_rows(qualified, tb, types, inplace, ni, false);
}

/*
 * "o.col IS NOT DISTINCT FROM $n::type" for one column of a full old row
 * (REPLICA IDENTITY FULL). A type without a default equality (json, xml,
 * point, ...; box's "=" compares areas) is compared by its text form, of
 * the stored value and of the sent one read as the type, so that both go
 * through the same output function.
 */
static void
append_old_value_match(StringInfo sql, bool and, const char *column, Oid typid,
					   const char *type, int param)
{
	TypeCacheEntry *tce = lookup_type_cache(typid, TYPECACHE_EQ_OPR);
	const char *q = quote_identifier(column);

	if (and)
		appendStringInfoString(sql, " AND ");
	if (OidIsValid(tce->eq_opr))
		appendStringInfo(sql, "o.%s IS NOT DISTINCT FROM $%d::%s", q, param, type);
	else
		appendStringInfo(sql, "o.%s::pg_catalog.text IS NOT DISTINCT FROM ($%d::%s)::pg_catalog.text",
						 q, param, type);
}

/*
 * Empty a landing table before a newer initial copy fills it: DELETE, not
 * TRUNCATE, so that model triggers see the rows go and no ACCESS EXCLUSIVE
 * lock meets the model's readers of this table in other workers (a
 * deadlock); an empty table costs nothing.
 */
static void
empty_table(const char *qualified)
{
	if (SPI_execute(psprintf("DELETE FROM %s", qualified), false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not empty %s", qualified);
}

/*
 * A table without a key: changes in order; inserts of a run go together,
 * an UPDATE or DELETE finds one row equal to the full old row.
 */
static void
apply_keyless(const char *qualified, TableBatch *tb, char **types)
{
	ListCell   *lc;
	char	 ***cols = palloc(sizeof(char **) * tb->ncols);
	int			n = 0;
	int			cap = list_length(tb->items);
	int			i;

	for (i = 0; i < tb->ncols; i++)
		cols[i] = palloc(sizeof(char *) * Max(cap, 1));

	foreach(lc, tb->items)
	{
		BatchItem  *item = lfirst(lc);
		Change	   *c = item->change;
		StringInfoData sql;
		Oid		   *argtypes;
		Datum	   *args;
		char	  **nulls;
		int			nargs = 0;
		int			nmatch = 0;

		if (item->copy_start)
		{
			if (n > 0)
				insert_rows(qualified, tb, types, cols, n);
			n = 0;
			empty_table(qualified);
		}
		if (c->op == WALSTAR__V1__OP__INSERT || c->op == WALSTAR__V1__OP__READ)
		{
			for (i = 0; i < tb->ncols; i++)
				cols[i][n] = change_value_text(c->new_values[i], tb->columns[i]);
			n++;
			continue;
		}
		if (c->op == WALSTAR__V1__OP__TRUNCATE)
		{
			char	   *truncate = psprintf("TRUNCATE %s", qualified);

			/* run them anyway: triggers see every insert exactly once */
			if (n > 0)
				insert_rows(qualified, tb, types, cols, n);
			n = 0;
			if (SPI_execute(truncate, false, 0) != SPI_OK_UTILITY)
				elog(ERROR, "could not truncate %s", qualified);
			continue;
		}
		if (n > 0)
		{
			insert_rows(qualified, tb, types, cols, n);
			n = 0;
		}
		if (c->n_old_values == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot apply %s to %s: the table has no key and the record no old row",
							change_op_name(c->op), qualified),
					 errhint("Give the source table a primary key or REPLICA IDENTITY FULL.")));

		argtypes = palloc(sizeof(Oid) * tb->ncols * 2);
		args = palloc(sizeof(Datum) * tb->ncols * 2);
		nulls = palloc(sizeof(char *) * tb->ncols * 2);
		initStringInfo(&sql);
		if (c->op == WALSTAR__V1__OP__DELETE)
			appendStringInfo(&sql, "DELETE FROM %s AS t", qualified);
		else
		{
			int			nset = 0;

			appendStringInfo(&sql, "UPDATE %s AS t SET ", qualified);
			for (i = 0; i < tb->ncols; i++)
			{
				const Value *v = c->new_values[i];

				if (v->kind_case == WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST ||
					v->kind_case == WALSTAR__V1__VALUE__KIND__NOT_SET)
					continue;
				argtypes[nargs] = TEXTOID;
				nulls[nargs] = change_value_text(v, tb->columns[i]);
				appendStringInfo(&sql, "%s%s = $%d::%s", nset++ > 0 ? ", " : "",
								 quote_identifier(tb->columns[i]->name), nargs + 1, types[i]);
				nargs++;
			}
		}
		appendStringInfo(&sql, " WHERE t.ctid OPERATOR(pg_catalog.=) (SELECT o.ctid FROM %s AS o WHERE ", qualified);
		for (i = 0; i < tb->ncols; i++)
		{
			const Value *v = c->old_values[i];

			if (v->kind_case == WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST ||
				v->kind_case == WALSTAR__V1__VALUE__KIND__NOT_SET)
				continue;
			argtypes[nargs] = TEXTOID;
			nulls[nargs] = change_value_text(v, tb->columns[i]);
			append_old_value_match(&sql, nmatch++ > 0, tb->columns[i]->name,
								   tb->typids[i], types[i], nargs + 1);
			nargs++;
		}
		if (nmatch == 0)
			appendStringInfoString(&sql, "false");
		appendStringInfoString(&sql, " LIMIT 1)");
		{
			char	   *nullflags = palloc(nargs + 1);

			for (i = 0; i < nargs; i++)
			{
				nullflags[i] = nulls[i] ? ' ' : 'n';
				args[i] = nulls[i] ? CStringGetTextDatum(nulls[i]) : (Datum) 0;
			}
			nullflags[nargs] = '\0';
			if (SPI_execute_with_args(sql.data, nargs, argtypes, args, nullflags,
									  false, 0) < 0)
				elog(ERROR, "could not apply %s to %s", change_op_name(c->op), qualified);
		}
	}
	if (n > 0)
		insert_rows(qualified, tb, types, cols, n);
}

/* The rows of a prepared table batch: TRUNCATE or emptying, then the rows. */
static void
apply_rows(const char *qualified, TableBatch *tb, char **types)
{
	/* keyless tables truncate and empty in order, in apply_keyless */
	if (tb->copy_start && tb->nkeys > 0)
		empty_table(qualified);
	if (tb->truncate && (tb->nkeys > 0 || tb->ncols == 0))
	{
		char	   *sql = psprintf("TRUNCATE %s", qualified);

		if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not truncate %s", qualified);
	}
	if (tb->ncols == 0)
		return;
	if (tb->nkeys > 0)
		apply_keyed(qualified, tb, types);
	else
		apply_keyless(qualified, tb, types);
}

/*
 * The stashes the batch's moved UPDATEs took their unchanged TOAST values
 * from go with them (in the batch's subtransaction: a dead letter keeps its
 * stash for a retry).
 */
static void
forget_stashes(const char *schema, TableBatch *tb)
{
	ListCell   *lc;

	foreach(lc, tb->items)
	{
		BatchItem  *item = lfirst(lc);

		if (item->took_stash)
			moved_row_forget(schema, tb->relname, item->change);
	}
}

void
apply_sql_table_batch(const char *schema, TableBatch *tb)
{
	char	   *qualified = psprintf("%s.%s", quote_identifier(schema),
									 quote_identifier(tb->relname));
	char	  **types;

	/* raised here, in the subtransaction: the change goes to dead_letters */
	if (tb->bad)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("%s", tb->bad)));
	if (tb->fill)
		moved_row_fill_batch(schema, tb);
	if (tb->ddl != NULL)
	{
		landing_ddl_apply(schema, tb->relname, qualified, tb->ddl, tb->drop_columns);
		return;
	}
	types = landing_table_prepare(schema, tb->relname, qualified, tb->ncols,
								  tb->columns, tb->nkeys, tb->keycols,
								  tb->items ? ((BatchItem *) linitial(tb->items))->change : NULL,
								  &tb->typids);
	if (types == NULL)
		return;					/* TRUNCATE of a table never seen */
	/* the old row, as its DELETE finds it, for a moved UPDATE elsewhere */
	if (tb->stash != NULL)
		moved_row_stash(schema, qualified, tb, types);
	forget_stashes(schema, tb);
	if (tb->history == NULL)
	{
		apply_rows(qualified, tb, types);
		copy_epoch_track(schema, tb);
		return;
	}
	/* every version first, while the stored rows still hold unchanged TOAST */
	model_source_write_versions(schema, qualified, tb, types);
	model_source_begin_apply(schema, tb);
	PG_TRY();
	{
		apply_rows(qualified, tb, types);
	}
	PG_FINALLY();
	{
		model_source_end_apply();
	}
	PG_END_TRY();
	copy_epoch_track(schema, tb);
}
