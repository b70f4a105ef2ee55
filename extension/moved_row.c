/*-------------------------------------------------------------------------
 *
 * moved_row.c
 *		Unchanged TOAST values of a key change across partitions: the old
 *		row, stashed by the old key's partition for the new key's.
 *
 * An UPDATE that changes the key travels in the new key's partition; when
 * the old key's partition is another one, walstar-sink sends a DELETE of
 * the old key there and marks the UPDATE old_key_elsewhere (sink/README.md).
 * A TOASTed column the UPDATE left alone has no value in its record: the
 * value is the old row's at the UPDATE's position, and that row's history
 * is the other partition's, which may be behind (the stored old row is an
 * older version, or not there yet) or ahead (deleted, or a new row under
 * the old key). So when the UPDATE has such values the sink marks both
 * records old_row_stashed. Applying a marked DELETE stashes the landing row it deletes
 * in walstar.moved_rows, under the landing table and the position both
 * records share (timeline, commit LSN, position), in its own table batch
 * (apply.c), so that the row is the one the old key had right there. The
 * UPDATE takes its unchanged values from the stash (moved_row_fill); until
 * the stash exists its partition parks (ddl_barrier_park_moved), and the
 * stash row goes in the transaction that applies the UPDATE
 * (moved_row_forget). Both commit with their partitions' offsets, so a
 * crash repeats neither and loses neither.
 *
 * When the DELETE becomes a dead letter, its stash is a mark naming the
 * letter (moved_row_mark_dead), so the UPDATE becomes one too rather than
 * park its partition for ever.
 *
 * An UPDATE that an earlier sink wrote (old_key_elsewhere without
 * old_row_stashed) has no stash coming: it reads the row stored under the
 * old key, as before, rather than wait for ever.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/pg_lsn.h"

#include "batch.h"

/* The stash's key: landing schema and table, and the records' position. */
#define MOVED_ROW_NARGS 5
static void
position_args(Datum *args, Oid *argtypes, const char *schema, const char *relname,
			  uint32 timeline, uint64 commit_lsn, uint32 position)
{
	argtypes[0] = TEXTOID;
	argtypes[1] = TEXTOID;
	argtypes[2] = INT8OID;
	argtypes[3] = PG_LSNOID;
	argtypes[4] = INT8OID;
	args[0] = CStringGetTextDatum(schema);
	args[1] = CStringGetTextDatum(relname);
	args[2] = Int64GetDatum((int64) timeline);
	args[3] = LSNGetDatum(commit_lsn);
	args[4] = Int64GetDatum((int64) position);
}

#define MOVED_ROW_WHERE \
	" WHERE m.landing_schema = $1 AND m.landing_table = $2 AND m.timeline = $3" \
	" AND m.commit_lsn = $4 AND m.position = $5"

bool
moved_row_is_stash(const Change *c)
{
	return c->op == WALSTAR__V1__OP__DELETE && c->old_row_stashed;
}

bool
moved_row_needs_stash(const Change *c)
{
	return c->op == WALSTAR__V1__OP__UPDATE && c->old_row_stashed;
}

/*
 * Stash the landing row the marked DELETE of table batch tb deletes, before
 * it does (in the table batch's subtransaction, as the subscription's
 * owner: the landing row is read with the owner's rights, walstar's table
 * written with the extension owner's). No row: a stash without values.
 */
void
moved_row_stash(const char *schema, const char *qualified, TableBatch *tb, char **types)
{
	const Change *c = tb->stash;
	MemoryContext cxt = CurrentMemoryContext;
	StringInfoData sql;
	Oid		   *kargtypes = palloc(sizeof(Oid) * Max(tb->nkeys, 1));
	Datum	   *kargs = palloc(sizeof(Datum) * Max(tb->nkeys, 1));
	char	   *knulls = palloc(tb->nkeys + 1);
	char	  **names = palloc(sizeof(char *) * Max(tb->ncols, 1));
	Oid			argtypes[MOVED_ROW_NARGS + 2];
	Datum		args[MOVED_ROW_NARGS + 2];
	char		nulls[MOVED_ROW_NARGS + 3] = "       ";
	Datum		row = (Datum) 0;
	BookkeepingUser save;
	int			i;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ARRAY[");
	for (i = 0; i < tb->ncols; i++)
	{
		appendStringInfo(&sql, "%so.%s::pg_catalog.text", i > 0 ? ", " : "",
						 quote_identifier(tb->columns[i]->name));
		names[i] = tb->columns[i]->name;
	}
	appendStringInfo(&sql, "]::pg_catalog.text[] FROM %s AS o WHERE ", qualified);
	for (i = 0; i < tb->nkeys; i++)
	{
		int			k = tb->keycols[i];
		char	   *text = change_value_text(c->old_values[k], tb->columns[k]);

		appendStringInfo(&sql, "%so.%s OPERATOR(pg_catalog.=) $%d::%s", i > 0 ? " AND " : "",
						 quote_identifier(tb->columns[k]->name), i + 1, types[k]);
		kargtypes[i] = TEXTOID;
		kargs[i] = text ? CStringGetTextDatum(text) : (Datum) 0;
		knulls[i] = text ? ' ' : 'n';
	}
	knulls[tb->nkeys] = '\0';
	if (SPI_execute_with_args(sql.data, tb->nkeys, kargtypes, kargs, knulls, false, 1) !=
		SPI_OK_SELECT)
		elog(ERROR, "could not read the old row of a moved key from %s", qualified);
	MemoryContextSwitchTo(cxt);
	if (SPI_processed == 1)
	{
		bool		isnull;

		row = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		row = datumCopy(row, false, -1);
	}

	position_args(args, argtypes, schema, tb->relname, c->timeline, c->commit_lsn, c->position);
	argtypes[5] = argtypes[6] = TEXTARRAYOID;
	args[5] = apply_sql_text_array(names, tb->ncols);
	args[6] = row;
	if (row == (Datum) 0)
		nulls[6] = 'n';
	bookkeeping_begin(&save);
	if (SPI_execute_with_args("INSERT INTO walstar.moved_rows AS m (landing_schema, landing_table,"
							  "  timeline, commit_lsn, position, column_names, old_values)"
							  " VALUES ($1, $2, $3, $4, $5, $6, $7)"
							  " ON CONFLICT (landing_schema, landing_table, timeline, commit_lsn,"
							  "  position) DO UPDATE SET column_names = excluded.column_names,"
							  "  old_values = excluded.old_values, stashed_at = excluded.stashed_at,"
							  "  dead_letter = NULL",
							  MOVED_ROW_NARGS + 2, argtypes, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write walstar.moved_rows");
	bookkeeping_end(&save);
	MemoryContextSwitchTo(cxt);
}

/*
 * Fill the unchanged TOAST values of a moved UPDATE c from its stash, in
 * the caller's transaction: MOVED_ROW_FILLED, or MOVED_ROW_NONE (no stash
 * yet), or MOVED_ROW_BAD with *error (the old row was not in the landing
 * table when its partition deleted it, or lacks a column).
 */
MovedRowResult
moved_row_fill(const char *schema, const char *relname, Change *c, char **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[MOVED_ROW_NARGS];
	Datum		args[MOVED_ROW_NARGS];
	BookkeepingUser save;
	Datum		names = (Datum) 0,
				vals = (Datum) 0;
	bool		found = false;
	bool		has_values = false;
	bool		dead = false;
	bool		discarded = false;
	int64		dead_letter = 0;
	Datum	   *nelems,
			   *velems;
	bool	   *nnulls,
			   *vnulls;
	int			nn,
				nv;
	size_t		i;

	position_args(args, argtypes, schema, relname, c->timeline, c->commit_lsn, c->position);
	bookkeeping_begin(&save);
	if (SPI_execute_with_args("SELECT m.column_names, m.old_values, m.dead_letter,"
							  " EXISTS (SELECT FROM walstar.dead_letters AS d"
							  "  WHERE d.id OPERATOR(pg_catalog.=) m.dead_letter)"
							  " FROM walstar.moved_rows AS m"
							  MOVED_ROW_WHERE, MOVED_ROW_NARGS, argtypes, args, NULL, false, 1) !=
		SPI_OK_SELECT)
		elog(ERROR, "could not read walstar.moved_rows");
	bookkeeping_end(&save);
	MemoryContextSwitchTo(cxt);
	if (SPI_processed == 1)
	{
		bool		isnull;

		found = true;
		names = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										&isnull), false, -1);
		vals = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		has_values = !isnull;
		if (has_values)
			vals = datumCopy(vals, false, -1);
		dead_letter = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 3, &isnull));
		dead = !isnull;
		discarded = dead && !DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
														SPI_tuptable->tupdesc, 4, &isnull));
	}
	if (!found)
		return MOVED_ROW_NONE;
	if (discarded)
	{
		*error = psprintf("the DELETE of this key-changing UPDATE's old key, in the old key's "
						  "partition, was dead letter " INT64_FORMAT ", which was discarded: "
						  "the UPDATE's unchanged TOAST values are lost with it; copy the "
						  "table again or discard this one too", dead_letter);
		return MOVED_ROW_BAD;
	}
	if (dead)
	{
		*error = psprintf("the DELETE of this key-changing UPDATE's old key, in the old key's "
						  "partition, is dead letter " INT64_FORMAT ": retry that one first "
						  "(walstar.retry_dead_letter), then this one", dead_letter);
		return MOVED_ROW_BAD;
	}
	if (!has_values)
	{
		*error = psprintf("the old row of this key-changing UPDATE was not in landing table \"%s\" "
						  "when its partition deleted it: its unchanged TOAST values are unknown",
						  relname);
		return MOVED_ROW_BAD;
	}
	deconstruct_array(DatumGetArrayTypeP(names), TEXTOID, -1, false, TYPALIGN_INT,
					  &nelems, &nnulls, &nn);
	deconstruct_array(DatumGetArrayTypeP(vals), TEXTOID, -1, false, TYPALIGN_INT,
					  &velems, &vnulls, &nv);
	for (i = 0; i < c->n_new_values && i < c->n_columns; i++)
	{
		Value	   *v = c->new_values[i];
		int			j;

		if (v->kind_case != WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST)
			continue;
		for (j = 0; j < nn && j < nv; j++)
			if (!nnulls[j] && strcmp(TextDatumGetCString(nelems[j]), c->columns[i]->name) == 0)
				break;
		if (j == nn || j == nv)
		{
			*error = psprintf("the stashed old row of this key-changing UPDATE has no column \"%s\"",
							  c->columns[i]->name);
			return MOVED_ROW_BAD;
		}
		if (vnulls[j])
		{
			v->kind_case = WALSTAR__V1__VALUE__KIND_IS_NULL;
			v->is_null = true;
		}
		else
		{
			v->kind_case = WALSTAR__V1__VALUE__KIND_TEXT_VALUE;
			v->text_value = TextDatumGetCString(velems[j]);
		}
	}
	return MOVED_ROW_FILLED;
}

/*
 * The stashing DELETE c became dead letter id: its UPDATE, parked or still
 * to come, would wait for ever for a stash that will not come. It finds
 * this mark instead and becomes a dead letter too (moved_row_fill), after
 * c's: retried in order, c stashes the row for real and the UPDATE takes
 * it.
 */
void
moved_row_mark_dead(const char *schema, const char *relname, const Change *c, int64 id)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[MOVED_ROW_NARGS + 1];
	Datum		args[MOVED_ROW_NARGS + 1];
	BookkeepingUser save;

	position_args(args, argtypes, schema, relname, c->timeline, c->commit_lsn, c->position);
	argtypes[MOVED_ROW_NARGS] = INT8OID;
	args[MOVED_ROW_NARGS] = Int64GetDatum(id);
	bookkeeping_begin(&save);
	if (SPI_execute_with_args("INSERT INTO walstar.moved_rows AS m (landing_schema, landing_table,"
							  "  timeline, commit_lsn, position, column_names, dead_letter)"
							  " VALUES ($1, $2, $3, $4, $5, '{}', $6)"
							  " ON CONFLICT (landing_schema, landing_table, timeline, commit_lsn,"
							  "  position) DO UPDATE SET dead_letter = excluded.dead_letter",
							  MOVED_ROW_NARGS + 1, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write walstar.moved_rows");
	bookkeeping_end(&save);
	MemoryContextSwitchTo(cxt);
}

/* The stash of a moved UPDATE c goes, with the UPDATE's apply. */
void
moved_row_forget(const char *schema, const char *relname, const Change *c)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[MOVED_ROW_NARGS];
	Datum		args[MOVED_ROW_NARGS];
	BookkeepingUser save;

	position_args(args, argtypes, schema, relname, c->timeline, c->commit_lsn, c->position);
	bookkeeping_begin(&save);
	if (SPI_execute_with_args("DELETE FROM walstar.moved_rows AS m" MOVED_ROW_WHERE,
							  MOVED_ROW_NARGS, argtypes, args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not write walstar.moved_rows");
	bookkeeping_end(&save);
	MemoryContextSwitchTo(cxt);
}

/* Whether a stashing DELETE and a moved UPDATE are the two records of one key change. */
bool
moved_row_pairs(const Change *del, const Change *upd)
{
	return strcmp(del->schema, upd->schema) == 0 && strcmp(del->table, upd->table) == 0 &&
		strcmp(del->source, upd->source) == 0 && del->system_id == upd->system_id &&
		del->timeline == upd->timeline && del->commit_lsn == upd->commit_lsn &&
		del->position == upd->position;
}

/*
 * A table batch whose one item is a moved UPDATE whose stash the batch's
 * earlier table batch writes (apply.c): fill it now, in its
 * subtransaction, and fold it in. No stash (its DELETE became a dead
 * letter) or one without the old row: an error, so a dead letter too.
 */
void
moved_row_fill_batch(const char *schema, TableBatch *tb)
{
	BatchItem  *item = linitial(tb->items);
	char	   *error = NULL;

	if (moved_row_fill(schema, tb->relname, item->change, &error) != MOVED_ROW_FILLED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s", error ? error :
						"the old row of this key-changing UPDATE was not stashed: "
						"the DELETE of its old key was not applied")));
	item->took_stash = true;
	tb->fill = false;
	table_batch_fold(tb, item);
}

/* Whether the stash at that position exists (a parked partition may go). */
bool
moved_row_stashed(const char *schema, const char *relname, uint32 timeline,
				  uint64 commit_lsn, uint32 position)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[MOVED_ROW_NARGS];
	Datum		args[MOVED_ROW_NARGS];
	BookkeepingUser save;
	bool		found;

	position_args(args, argtypes, schema, relname, timeline, commit_lsn, position);
	bookkeeping_begin(&save);
	if (SPI_execute_with_args("SELECT FROM walstar.moved_rows AS m" MOVED_ROW_WHERE,
							  MOVED_ROW_NARGS, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read walstar.moved_rows");
	found = SPI_processed > 0;
	bookkeeping_end(&save);
	MemoryContextSwitchTo(cxt);
	return found;
}
