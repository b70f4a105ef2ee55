/*-------------------------------------------------------------------------
 *
 * apply.c
 *		Apply one batch of Kafka messages into the landing tables.
 *
 * The caller runs a batch in one transaction; here every message is
 * decoded, resends are skipped by their (commit LSN, position), and the
 * row changes are grouped per landing table into table batches (a new one
 * when the table's column layout changes, so the order is kept). Within a
 * table batch the changes of one key collapse to the key's last state in
 * message order (deleted, or present with its newest values, unchanged
 * TOAST columns taken from an earlier change of the batch when it had
 * them), so that each table batch takes at most four set-based
 * statements: TRUNCATE, DELETE ... USING, INSERT ... ON CONFLICT DO
 * UPDATE, and an UPDATE for rows whose unchanged TOAST columns keep the
 * stored value. Values travel as text arrays (statement parameters) cast
 * to the landing column types; names from messages are always quoted.
 *
 * A landing table with triggers (models keep star schemas with them) must
 * see every row version, not only each key's last state: for such a table
 * a change whose key (new key, or old key of a DELETE or key-changing
 * UPDATE) is already in the current table batch, or a TRUNCATE after rows,
 * starts the table batch's next round, a table batch of its own applied
 * right after it. Every key appears once per round, so each version gets
 * its own statements, in message order; a later round finds its unchanged
 * TOAST values in the row an earlier round stored. "Has triggers" means a
 * trigger that is not internal (as those of foreign keys are) and fires
 * under the worker's session_replication_role; it is looked up once per
 * table and batch, on the table's first change, under a ROW EXCLUSIVE lock
 * kept to the end of the transaction, so no trigger can appear before the
 * batch's statements run. A table the batch creates has none. Tables
 * without triggers keep the collapse.
 *
 * Each table batch's statements (all its rounds) run in one
 * subtransaction. When they fail, its changes are applied one by one, each
 * in its own subtransaction, and those that still fail go to
 * walstar.dead_letters with the error (or stop the subscription, by its
 * error policy). Then the partitions' progress is written, still in the
 * caller's transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "parser/parse_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "walstar.h"

/* One decoded message of a table batch. */
typedef struct BatchItem
{
	const KafkaMessage *msg;	/* where it came from */
	Change	   *change;			/* the decoded record */
} BatchItem;

/* Final state of one key in a table batch. */
typedef struct RowState
{
	char	   *key;			/* hash key: the key values as one string */
	bool		deleted;		/* the row is gone at the end of the batch */
	char	  **values;			/* text per column (NULL for SQL NULL) */
	bool	   *toast;			/* per column: unchanged TOAST, keep stored */
	bool		any_toast;		/* some toast[] set */
	char	   *toast_from;		/* key of the stored row that holds the
								 * unchanged TOAST values (any_toast) */
} RowState;

/* The changes of one landing table with one column layout. */
typedef struct TableBatch
{
	char	   *relname;		/* landing table name */
	int			ncols;			/* number of columns (0: TRUNCATE only) */
	Column	  **columns;		/* the columns, from the first change */
	int			nkeys;			/* number of key columns */
	int		   *keycols;		/* their indexes in columns */
	Oid		   *typids;			/* landing column types (landing_table_prepare) */
	bool		truncate;		/* TRUNCATE before the rows */
	char	   *bad;			/* why a change cannot be applied, or NULL */
	HTAB	   *rows;			/* key -> RowState (tables with a key) */
	List	   *items;			/* BatchItem *, in message order */
	struct TableBatch *next_round;	/* the next versions of its keys (a
									 * table with triggers), or NULL */
} TableBatch;

/* A landing table's entry in a batch. */
typedef struct TableEntry
{
	char	   *relname;		/* hash key: landing table name */
	TableBatch *tb;				/* the table batch its next change joins */
	bool		triggers;		/* it has triggers: every row version counts */
	LandingHolder *holder;		/* the source table it holds */
} TableEntry;

/* Where an error happened, for the error context. */
typedef struct ApplyErrorContext
{
	const char *relname;		/* landing table, or NULL */
	const KafkaMessage *msg;	/* the message, or NULL for a table batch */
	int			nchanges;		/* size of the table batch, all rounds */
	int			nrounds;		/* its rounds */
	int			round;			/* the round being applied, from 1 */
} ApplyErrorContext;

/* A prepared statement, kept for the life of the process. */
typedef struct CachedStatement
{
	char	   *sql;			/* its text */
	SPIPlanPtr	plan;			/* SPI_keepplan'ed plan */
} CachedStatement;

static List *plan_cache = NIL;
static MemoryContext plan_cache_cxt = NULL;

static void apply_error_callback(void *arg);
static TableBatch *table_batch_new(const char *relname, const Change *c);
static void table_batch_add(TableBatch *tb, BatchItem *item);
static void table_batch_apply(const char *schema, TableBatch *tb);
static char *try_table_batch(const char *schema, Oid as_user, TableBatch *tb,
							 ApplyErrorContext *ectx);
static bool same_columns(const TableBatch *tb, const Change *c);
static bool landing_has_triggers(const char *schema, const char *relname);
static bool table_batch_repeats(TableBatch *tb, const Change *c);

static uint32
string_ptr_hash(const void *key, Size keysize)
{
	return string_hash(*(char *const *) key, strlen(*(char *const *) key) + 1);
}

static int
string_ptr_match(const void *a, const void *b, Size keysize)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static HTAB *
rows_create(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(char *);
	ctl.entrysize = sizeof(RowState);
	ctl.hash = string_ptr_hash;
	ctl.match = string_ptr_match;
	ctl.hcxt = CurrentMemoryContext;
	return hash_create("walstar rows", 256, &ctl,
					   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

static void
apply_error_callback(void *arg)
{
	ApplyErrorContext *ectx = arg;

	if (ectx->msg)
		errcontext("walstar apply of topic \"%s\" partition %d offset " INT64_FORMAT "%s%s%s",
				   ectx->msg->topic, ectx->msg->partition, ectx->msg->offset,
				   ectx->relname ? " into \"" : "",
				   ectx->relname ? ectx->relname : "",
				   ectx->relname ? "\"" : "");
	else if (ectx->relname && ectx->nrounds > 1)
		errcontext("walstar apply of %d changes into \"%s\", round %d of %d",
				   ectx->nchanges, ectx->relname, ectx->round, ectx->nrounds);
	else if (ectx->relname)
		errcontext("walstar apply of %d changes into \"%s\"",
				   ectx->nchanges, ectx->relname);
}

/* Whether a row change has exactly the batch's columns (names, types, key). */
static bool
same_columns(const TableBatch *tb, const Change *c)
{
	size_t		i;

	if (tb->ncols == 0 || c->n_columns != (size_t) tb->ncols)
		return false;
	for (i = 0; i < c->n_columns; i++)
	{
		const Column *a = tb->columns[i];
		const Column *b = c->columns[i];

		if (a->is_key != b->is_key || strcmp(a->name, b->name) != 0 ||
			strcmp(a->landing_type, b->landing_type) != 0)
			return false;
	}
	return true;
}

static TableBatch *
table_batch_new(const char *relname, const Change *c)
{
	TableBatch *tb = palloc0(sizeof(TableBatch));
	size_t		i;

	tb->relname = pstrdup(relname);
	if (c->op != WALSTAR__V1__OP__TRUNCATE)
	{
		tb->ncols = c->n_columns;
		tb->columns = c->columns;
		tb->keycols = palloc(sizeof(int) * c->n_columns);
		for (i = 0; i < c->n_columns; i++)
			if (c->columns[i]->is_key)
				tb->keycols[tb->nkeys++] = i;
	}
	if (tb->nkeys > 0)
		tb->rows = rows_create();
	return tb;
}

/* The key of a row as one string; NULL when a key value is missing. */
static char *
row_key(TableBatch *tb, Value **values)
{
	StringInfoData s;
	int			i;

	initStringInfo(&s);
	for (i = 0; i < tb->nkeys; i++)
	{
		int			k = tb->keycols[i];
		char	   *text;

		if (values[k]->kind_case == WALSTAR__V1__VALUE__KIND__NOT_SET ||
			values[k]->kind_case == WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST)
			return NULL;
		text = change_value_text(values[k], tb->columns[k]);
		if (text == NULL)
			appendStringInfoString(&s, "N|");
		else
			appendStringInfo(&s, "%zu:%s|", strlen(text), text);
	}
	return s.data;
}

static RowState *
row_enter(TableBatch *tb, char *key)
{
	bool		found;
	RowState   *row = hash_search(tb->rows, &key, HASH_ENTER, &found);

	if (!found)
	{
		row->key = key;
		row->values = NULL;
		row->toast = NULL;
		row->any_toast = false;
		row->toast_from = NULL;
	}
	return row;
}

/* Fold one change into its table batch (a key's state, or the items only). */
static void
table_batch_add(TableBatch *tb, BatchItem *item)
{
	Change	   *c = item->change;
	char	   *newkey = NULL;
	char	   *oldkey = NULL;
	RowState   *row;
	int			i;

	tb->items = lappend(tb->items, item);
	if (c->op == WALSTAR__V1__OP__TRUNCATE)
	{
		tb->truncate = true;
		if (tb->rows)
		{
			hash_destroy(tb->rows);
			tb->rows = rows_create();
		}
		return;
	}
	if (tb->nkeys == 0)
		return;					/* applied in order, one by one */

	if (c->n_new_values > 0)
		newkey = row_key(tb, c->new_values);
	if (c->n_old_values > 0)
		oldkey = row_key(tb, c->old_values);
	if (c->op == WALSTAR__V1__OP__DELETE)
	{
		if (oldkey == NULL)
		{
			tb->bad = psprintf("DELETE record without the old key of \"%s\"", tb->relname);
			return;
		}
		row = row_enter(tb, oldkey);
		row->deleted = true;
		return;
	}
	if (newkey == NULL)
	{
		tb->bad = psprintf("%s record without the key of \"%s\"",
						   change_op_name(c->op), tb->relname);
		return;
	}
	{
		bool		moved = (c->op == WALSTAR__V1__OP__UPDATE && oldkey &&
							 strcmp(oldkey, newkey) != 0);
		char	   *prevkey = moved ? oldkey : newkey;
		RowState   *prev = hash_search(tb->rows, &prevkey, HASH_FIND, NULL);
		char	  **values = palloc(sizeof(char *) * tb->ncols);
		bool	   *toast = palloc0(sizeof(bool) * tb->ncols);
		bool		any_toast = false;
		bool		had_values = (prev != NULL && prev->values != NULL && !prev->deleted);

		for (i = 0; i < tb->ncols; i++)
		{
			const Value *v = c->new_values[i];

			if (v->kind_case == WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST)
			{
				if (had_values && !prev->toast[i])
					values[i] = prev->values[i];
				else
				{
					values[i] = NULL;
					toast[i] = true;
					any_toast = true;
				}
			}
			else
				values[i] = change_value_text(v, tb->columns[i]);
		}

		/*
		 * Unchanged TOAST values still sit in the stored row the key had when
		 * the batch began: follow a chain of key changes back to it.
		 */
		{
			char	   *from = NULL;

			if (any_toast)
				from = (had_values && prev->toast_from) ? prev->toast_from : prevkey;
			if (moved)
			{
				RowState   *old = row_enter(tb, oldkey);

				old->deleted = true;
			}
			row = row_enter(tb, newkey);
			row->toast_from = from;
		}
		row->values = values;
		row->toast = toast;
		row->any_toast = any_toast;
		row->deleted = false;
	}
}

/*
 * Whether a change must go to a new table batch of a table with triggers:
 * its key is already in this one (so the trigger would miss a version), or
 * it is a TRUNCATE after rows (which would drop them unseen) or after a
 * TRUNCATE. Rows of a table without a key are applied in order anyway.
 *
 * One exception: a key-changing UPDATE whose old key this table batch only
 * deletes. That DELETE is the one the sink sends to the old key's partition
 * when a key change crosses partitions, and it may come first. In a new
 * round it would run first and take the stored row, whose unchanged TOAST
 * values the moved row needs; in this one the moved row is stored before
 * the DELETE runs, and the trigger sees DELETE old key, INSERT new key, as
 * for any key change.
 */
static bool
table_batch_repeats(TableBatch *tb, const Change *c)
{
	char	   *newkey = NULL;
	char	   *oldkey;
	RowState   *old;

	if (c->op == WALSTAR__V1__OP__TRUNCATE)
		return tb->nkeys > 0 || tb->ncols == 0;
	if (tb->nkeys == 0)
		return false;
	if (c->n_new_values > 0 && (newkey = row_key(tb, c->new_values)) != NULL &&
		hash_search(tb->rows, &newkey, HASH_FIND, NULL) != NULL)
		return true;
	if (c->n_old_values == 0 || (oldkey = row_key(tb, c->old_values)) == NULL ||
		(old = hash_search(tb->rows, &oldkey, HASH_FIND, NULL)) == NULL)
		return false;
	if (c->op == WALSTAR__V1__OP__UPDATE && old->deleted && old->values == NULL &&
		newkey != NULL && strcmp(oldkey, newkey) != 0)
		return false;
	return true;
}

/*
 * Whether the landing table (a table or partitioned table) has a trigger
 * that fires for the worker: not internal (foreign keys' triggers are),
 * enabled for the session's replication role (as TriggerEnabled() decides),
 * of any level and event. The ROW EXCLUSIVE lock the apply takes anyway is
 * taken now and kept, so the answer holds until the batch commits. A table
 * that does not exist yet has no trigger.
 */
static bool
landing_has_triggers(const char *schema, const char *relname)
{
	Oid			nspid = get_namespace_oid(schema, true);
	Oid			relid;
	Relation	rel;
	char		relkind;
	bool		found = false;
	int			i;

	if (!OidIsValid(nspid))
		return false;
	relid = get_relname_relid(relname, nspid);
	if (!OidIsValid(relid))
		return false;
	/* anything else under that name fails in the apply's subtransaction */
	relkind = get_rel_relkind(relid);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		return false;
	rel = try_table_open(relid, RowExclusiveLock);
	if (rel == NULL)
		return false;			/* dropped meanwhile */
	for (i = 0; rel->trigdesc && i < rel->trigdesc->numtriggers && !found; i++)
	{
		const Trigger *trig = &rel->trigdesc->triggers[i];

		if (trig->tgisinternal || trig->tgenabled == TRIGGER_DISABLED)
			continue;
		if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
			found = trig->tgenabled != TRIGGER_FIRES_ON_ORIGIN;
		else
			found = trig->tgenabled != TRIGGER_FIRES_ON_REPLICA;
	}
	table_close(rel, NoLock);
	return found;
}

/* A prepared, kept plan for a statement text. */
static SPIPlanPtr
statement_plan(const char *sql, int nargs, Oid *argtypes)
{
	ListCell   *lc;
	CachedStatement *cs;
	SPIPlanPtr	plan;
	MemoryContext old;

	foreach(lc, plan_cache)
	{
		cs = lfirst(lc);
		if (strcmp(cs->sql, sql) == 0)
			return cs->plan;
	}
	plan = SPI_prepare(sql, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (plan_cache_cxt == NULL)
		plan_cache_cxt = AllocSetContextCreate(TopMemoryContext, "walstar statements",
											   ALLOCSET_SMALL_SIZES);
	SPI_keepplan(plan);
	old = MemoryContextSwitchTo(plan_cache_cxt);
	cs = palloc(sizeof(CachedStatement));
	cs->sql = pstrdup(sql);
	cs->plan = plan;
	plan_cache = lappend(plan_cache, cs);
	MemoryContextSwitchTo(old);
	return plan;
}

void
apply_reset_cache(void)
{
	ListCell   *lc;

	foreach(lc, plan_cache)
		SPI_freeplan(((CachedStatement *) lfirst(lc))->plan);
	list_free_deep(plan_cache);
	plan_cache = NIL;
}

static void
run_statement_nulls(const char *sql, int nargs, Oid *argtypes, Datum *args,
					const char *nulls)
{
	SPIPlanPtr	plan = statement_plan(sql, nargs, argtypes);
	int			rc = SPI_execute_plan(plan, args, nulls, false, 0);

	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
}

static void
run_statement(const char *sql, int nargs, Oid *argtypes, Datum *args)
{
	run_statement_nulls(sql, nargs, argtypes, args, NULL);
}

static Datum
text_array(char **vals, int n)
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

static Datum
bool_array(bool *vals, int n)
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
		args[i] = text_array(cols[i], n);
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

/* The key values encoded in a row key string (see row_key). */
static void
key_values(TableBatch *tb, const char *key, char **out)
{
	const char *p = key;
	int			i;

	for (i = 0; i < tb->nkeys; i++)
	{
		if (p[0] == 'N')
		{
			out[i] = NULL;
			p += 2;
		}
		else
		{
			char	   *end;
			size_t		len = strtoul(p, &end, 10);

			out[i] = pnstrdup(end + 1, len);
			p = end + 1 + len + 1;
		}
	}
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
		args[nargs++] = text_array(vals, n);
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
		args[nargs++] = bool_array(flags, n);
	}
	if (moved)
	{
		char	  **from = palloc(sizeof(char *) * tb->nkeys);
		char	 ***cols = palloc(sizeof(char **) * tb->nkeys);

		for (i = 0; i < tb->nkeys; i++)
			cols[i] = palloc(sizeof(char *) * n);
		for (r = 0; r < n; r++)
		{
			key_values(tb, rows[r]->toast_from, from);
			for (i = 0; i < tb->nkeys; i++)
				cols[i][r] = from[i];
		}
		for (i = 0; i < tb->nkeys; i++)
		{
			appendStringInfo(&sql, "), pg_catalog.unnest($%d::pg_catalog.text[]", nargs + 1);
			argtypes[nargs] = TEXTARRAYOID;
			args[nargs++] = text_array(cols[i], n);
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
	if (tb->nkeys > FUNC_MAX_ARGS)
		elog(ERROR, "too many key columns");
	for (i = 0; i < tb->nkeys; i++)
		dkeys[i] = palloc(sizeof(char *) * nrows);
	for (i = 0; i < tb->ncols; i++)
		ucols[i] = palloc(sizeof(char *) * nrows);

	hash_seq_init(&seq, tb->rows);
	while ((row = hash_seq_search(&seq)) != NULL)
	{
		if (row->deleted)
		{
			key_values(tb, row->key, kv);
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
			args[i] = text_array(dkeys[i], nd);
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

static void
table_batch_apply(const char *schema, TableBatch *tb)
{
	char	   *qualified = psprintf("%s.%s", quote_identifier(schema),
									 quote_identifier(tb->relname));
	char	  **types;

	/* raised here, in the subtransaction: the change goes to dead_letters */
	if (tb->bad)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("%s", tb->bad)));
	types = landing_table_prepare(schema, tb->relname, qualified, tb->ncols,
								  tb->columns, tb->nkeys, tb->keycols, &tb->typids);
	if (types == NULL)
		return;					/* TRUNCATE of a table never seen */
	/* keyless tables truncate in order, in apply_keyless */
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
 * Run a table batch and its next rounds in a subtransaction, as the
 * subscription's owner (as_user): the landing tables, their triggers and
 * the types' functions get that role's rights, never the extension
 * owner's. NULL on success, else the error (the subtransaction rolled
 * back, which also restores the user).
 */
static char *
try_table_batch(const char *schema, Oid as_user, TableBatch *tb, ApplyErrorContext *ectx)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorContextCallback errcb;
	char	   *volatile error = NULL;
	Oid			saved_user;
	int			saved_sec;

	GetUserIdAndSecContext(&saved_user, &saved_sec);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	SetUserIdAndSecContext(as_user, saved_sec | SECURITY_LOCAL_USERID_CHANGE);
	errcb.callback = apply_error_callback;
	errcb.arg = ectx;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	PG_TRY();
	{
		TableBatch *round;

		ectx->round = 0;
		for (round = tb; round != NULL; round = round->next_round)
		{
			ectx->round++;
			table_batch_apply(schema, round);
		}
		error_context_stack = errcb.previous;
		SetUserIdAndSecContext(saved_user, saved_sec);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		error_context_stack = errcb.previous;
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
			edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
			ReThrowError(edata);
		error = edata->detail
			? psprintf("%s (%s)", edata->message, edata->detail)
			: pstrdup(edata->message);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	/* PG_END_TRY restored the stack as it was at PG_TRY, with errcb on top */
	error_context_stack = errcb.previous;
	return error;
}

static void
store_progress(const Subscription *sub, HTAB *parts)
{
	HASH_SEQ_STATUS seq;
	PartitionState *ps;
	TimestampTz now = GetCurrentTimestamp();

	hash_seq_init(&seq, parts);
	while ((ps = hash_seq_search(&seq)) != NULL)
	{
		Oid			argtypes[12] = {INT4OID, TEXTOID, INT4OID, INT8OID, PG_LSNOID,
			INT8OID, TIMESTAMPTZOID, INT8OID, FLOAT8OID, INT8OID, TEXTOID, INT8OID};
		Datum		args[12];
		char		nulls[13] = "            ";

		if (!ps->dirty)
			continue;
		args[0] = Int32GetDatum(sub->id);
		args[1] = CStringGetTextDatum(ps->key.topic);
		args[2] = Int32GetDatum(ps->key.partition);
		args[3] = Int64GetDatum(ps->next_offset);
		args[4] = LSNGetDatum(ps->last_commit_lsn);
		args[5] = Int64GetDatum((int64) ps->last_position);
		if (ps->last_commit_time != 0)
			args[6] = TimestampTzGetDatum(ps->last_commit_time - WALSTAR_PG_EPOCH_USECS);
		else
		{
			args[6] = (Datum) 0;
			nulls[6] = 'n';
		}
		if (ps->high_watermark >= 0)
			args[7] = Int64GetDatum(Max(ps->high_watermark, ps->next_offset));
		else
		{
			args[7] = (Datum) 0;
			nulls[7] = 'n';
		}
		args[8] = Float8GetDatum(ps->rate);
		args[9] = Int64GetDatum(ps->applied_messages);
		if (ps->source_known)
		{
			args[10] = CStringGetTextDatum(ps->source);
			args[11] = Int64GetDatum((int64) ps->system_id);
		}
		else
		{
			args[10] = args[11] = (Datum) 0;
			nulls[10] = nulls[11] = 'n';
		}
		run_statement_nulls("INSERT INTO walstar.subscription_offsets AS o"
					  " (subscription_id, topic, partition, next_offset, last_commit_lsn,"
					  "  last_position, last_commit_time, high_watermark,"
					  "  messages_per_second, applied_messages, applied_at, source,"
					  "  system_identifier)"
					  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, pg_catalog.now(),"
					  "  $11, $12)"
					  " ON CONFLICT (subscription_id, topic, partition) DO UPDATE"
					  " SET next_offset = excluded.next_offset,"
					  "  last_commit_lsn = excluded.last_commit_lsn,"
					  "  last_position = excluded.last_position,"
					  "  last_commit_time = coalesce(excluded.last_commit_time, o.last_commit_time),"
					  "  high_watermark = coalesce(excluded.high_watermark, o.high_watermark),"
					  "  messages_per_second = excluded.messages_per_second,"
					  "  applied_messages = excluded.applied_messages,"
					  "  applied_at = excluded.applied_at,"
					  "  source = excluded.source,"
					  "  system_identifier = excluded.system_identifier",
					  12, argtypes, args, nulls);
		ps->stored = true;
		ps->dirty = false;
		ps->applied_at = now;
	}
}

/* Stop-policy reason for one message. */
static char *
stop_reason(const KafkaMessage *msg, const char *error)
{
	return psprintf("topic \"%s\" partition %d offset " INT64_FORMAT ": %s",
					msg->topic, msg->partition, msg->offset, error);
}

/*
 * A message that cannot be applied: a dead letter, or with error policy
 * stop the batch's end (true: the caller returns at once).
 */
static bool
reject(const Subscription *sub, const KafkaMessage *msg, const char *error,
	   ApplyResult *result)
{
	if (sub->stop_on_error)
	{
		result->stop_error = stop_reason(msg, error);
		return true;
	}
	dead_letter_add(sub->name, msg, error);
	result->dead++;
	return false;
}

/*
 * Apply a batch in the caller's transaction (SPI connected). With error
 * policy stop, returns at the first bad message with result->stop_error
 * set; the caller then rolls the transaction back.
 */
void
apply_batch(const Subscription *sub, HTAB *parts, KafkaMessage *msgs, int n,
			ApplyResult *result)
{
	HTAB	   *current;		/* "schema.table" -> current TableBatch */
	List	   *batches = NIL;
	HASHCTL		ctl;
	ListCell   *lc;
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	memset(result, 0, sizeof(*result));
	ctl.keysize = sizeof(char *);
	ctl.entrysize = sizeof(TableEntry);
	ctl.hash = string_ptr_hash;
	ctl.match = string_ptr_match;
	ctl.hcxt = CurrentMemoryContext;
	current = hash_create("walstar table batches", 64, &ctl,
						  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);

	for (i = 0; i < n; i++)
	{
		KafkaMessage *msg = &msgs[i];
		PartitionState *ps = partition_state_get(parts, msg->topic, msg->partition, true);
		Change	   *c;
		char	   *error = NULL;

		if (ps->next_offset >= 0 && msg->offset < ps->next_offset)
		{
			result->skipped++;
			continue;
		}
		ps->next_offset = msg->offset + 1;
		ps->applied_messages++;
		ps->dirty = true;

		if (msg->payload == NULL)
		{
			result->skipped++;	/* a tombstone (compacted topics): no change */
			continue;
		}
		c = change_unpack(msg->payload, msg->len, &error);
		if (c == NULL)
		{
			if (reject(sub, msg, error, result))
				return;
			continue;
		}
		if (!change_is_row_change(c) && c->op != WALSTAR__V1__OP__TRUNCATE)
		{
			result->skipped++;	/* BEGIN, COMMIT, MESSAGE, ...: no table data */
			continue;
		}
		switch (stream_position_check(parts, ps, c, &error))
		{
			case STREAM_RESEND:
				result->skipped++;	/* a resend of something applied */
				continue;
			case STREAM_REFUSED:
				if (reject(sub, msg, error, result))
					return;
				continue;
			case STREAM_NEW:
				break;
		}

		{
			char	   *relname = landing_name_of(c);
			bool		found;
			TableEntry *entry;
			BatchItem  *item = palloc(sizeof(BatchItem));

			entry = hash_search(current, &relname, HASH_ENTER, &found);
			if (!found)
			{
				entry->relname = relname;
				entry->tb = NULL;
				entry->holder = landing_name_claim(sub->landing_schema, relname, c);
				entry->triggers = landing_has_triggers(sub->landing_schema, relname);
			}
			if (!landing_name_holds(entry->holder, c))
			{
				error = landing_name_clash(sub->landing_schema, relname, entry->holder, c);
				if (reject(sub, msg, error, result))
					return;
				continue;
			}
			stream_position_advance(ps, c);
			if (entry->tb == NULL ||
				(c->op != WALSTAR__V1__OP__TRUNCATE && !same_columns(entry->tb, c)))
			{
				entry->tb = table_batch_new(relname, c);
				batches = lappend(batches, entry->tb);
			}
			else if (entry->triggers && table_batch_repeats(entry->tb, c))
			{
				/* applied right after the current one, in its subtransaction */
				entry->tb->next_round = table_batch_new(relname, c);
				entry->tb = entry->tb->next_round;
			}
			item->msg = msg;
			item->change = c;
			table_batch_add(entry->tb, item);
		}
	}

	foreach(lc, batches)
	{
		TableBatch *tb = lfirst(lc);
		List	   *items = NIL;
		ApplyErrorContext ectx = {tb->relname, NULL, 0, 0, 0};
		char	   *error;
		TableBatch *round;
		ListCell   *ic;

		for (round = tb; round != NULL; round = round->next_round)
		{
			items = tb->next_round ? list_concat(items, round->items) : tb->items;
			ectx.nrounds++;
		}
		ectx.nchanges = list_length(items);
		error = try_table_batch(sub->landing_schema, sub->owner, tb, &ectx);
		if (error == NULL)
		{
			result->applied += list_length(items);
			continue;
		}
		if (list_length(items) == 1)
		{
			BatchItem  *item = linitial(items);

			if (reject(sub, item->msg, error, result))
				return;
			continue;
		}
		/* Find the poison: one change at a time, in order. */
		foreach(ic, items)
		{
			BatchItem  *item = lfirst(ic);
			TableBatch *one = table_batch_new(tb->relname, item->change);
			ApplyErrorContext ectx1 = {tb->relname, item->msg, 1, 1, 0};

			table_batch_add(one, item);
			error = try_table_batch(sub->landing_schema, sub->owner, one, &ectx1);
			if (error == NULL)
			{
				result->applied++;
				continue;
			}
			if (reject(sub, item->msg, error, result))
				return;
		}
	}

	/* Progress and rates of the partitions this batch moved. */
	{
		HASH_SEQ_STATUS seq;
		PartitionState *ps;

		hash_seq_init(&seq, parts);
		while ((ps = hash_seq_search(&seq)) != NULL)
		{
			if (!ps->dirty)
				continue;
			if (ps->applied_at != 0 && now > ps->applied_at)
			{
				int			count = 0;

				for (i = 0; i < n; i++)
					if (msgs[i].partition == ps->key.partition &&
						strcmp(msgs[i].topic, ps->key.topic) == 0)
						count++;
				ps->rate = count * 1000000.0 / (double) (now - ps->applied_at);
			}
		}
	}
	store_progress(sub, parts);
}

/*
 * Apply one message now, in the caller's transaction (retry of a dead
 * letter). Returns NULL when applied, else why not.
 */
char *
apply_one_message(const char *landing_schema, Oid owner, const char *data, size_t len)
{
	char	   *error;
	Change	   *c = change_unpack(data, len, &error);
	TableBatch *tb;
	BatchItem  *item;
	char	   *relname;
	LandingHolder *holder;
	KafkaMessage msg = {"(dead letter)", 0, 0, NULL, 0};
	ApplyErrorContext ectx;

	if (c == NULL)
		return error;
	if (!change_is_row_change(c) && c->op != WALSTAR__V1__OP__TRUNCATE)
		return NULL;
	relname = landing_name_of(c);
	holder = landing_name_claim(landing_schema, relname, c);
	if (!landing_name_holds(holder, c))
		return landing_name_clash(landing_schema, relname, holder, c);
	tb = table_batch_new(relname, c);
	item = palloc(sizeof(BatchItem));
	item->msg = &msg;
	item->change = c;
	table_batch_add(tb, item);
	ectx.relname = tb->relname;
	ectx.msg = NULL;
	ectx.nchanges = 1;
	ectx.nrounds = 1;
	return try_table_batch(landing_schema, owner, tb, &ectx);
}
