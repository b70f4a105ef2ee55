/*-------------------------------------------------------------------------
 *
 * batch.c
 *		Row changes of one landing table grouped into table batches: key
 *		collapse and rounds.
 *
 * A table batch holds the changes of one landing table with one column
 * layout (a new one when the layout changes, so the order is kept).
 * Within it the changes of one key collapse to the key's last state in
 * message order (deleted, or present with its newest values, unchanged
 * TOAST columns taken from an earlier change of the batch when it had
 * them), so that apply_sql.c applies it with at most four set-based
 * statements.
 *
 * A landing table with triggers must see every row version: a change
 * whose key is already in the current table batch, or a TRUNCATE after
 * rows, starts the table batch's next round (table_batch_repeats), applied
 * right after it.  Every key appears once per round, so each version gets
 * its own statements, in message order; a later round finds its unchanged
 * TOAST values in the row an earlier round stored.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "utils/hsearch.h"

#include "batch.h"

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

/*
 * A hash in the current memory context keyed by a string pointer (the
 * entry's first field, char *): row keys, landing table names, statement
 * texts (apply_sql.c's plan cache).
 */
HTAB *
batch_string_table(const char *name, long nelem, Size entrysize)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(char *);
	ctl.entrysize = entrysize;
	ctl.hash = string_ptr_hash;
	ctl.match = string_ptr_match;
	ctl.hcxt = CurrentMemoryContext;
	return hash_create(name, nelem, &ctl,
					   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

/* Whether a row change has exactly the batch's columns (names, types, key). */
bool
table_batch_same_columns(const TableBatch *tb, const Change *c)
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

TableBatch *
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
		tb->rows = batch_string_table("walstar rows", 256, sizeof(RowState));
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

/* The key of a row's values as batch.c hashes it (NULL: a key value missing). */
char *
table_batch_row_key(TableBatch *tb, Value **values)
{
	return row_key(tb, values);
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

/* Add one change to its table batch and fold it in. */
void
table_batch_add(TableBatch *tb, BatchItem *item)
{
	tb->items = lappend(tb->items, item);
	table_batch_fold(tb, item);
}

/*
 * Fold one change of the batch's items into its key's state (or nothing
 * but the items, for tables without a key).
 */
void
table_batch_fold(TableBatch *tb, BatchItem *item)
{
	Change	   *c = item->change;
	char	   *newkey = NULL;
	char	   *oldkey = NULL;
	RowState   *row;
	int			i;

	if (c->op == WALSTAR__V1__OP__DDL)
	{
		tb->ddl = c;
		return;
	}
	if (c->op == WALSTAR__V1__OP__TRUNCATE || item->copy_start)
	{
		if (item->copy_start)
			tb->copy_start = true;
		else
			tb->truncate = true;
		if (tb->rows)
		{
			hash_destroy(tb->rows);
			tb->rows = batch_string_table("walstar rows", 256, sizeof(RowState));
		}
		if (!item->copy_start)
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
		if (moved_row_is_stash(c))
			tb->stash = c;
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

		/* read from the old key, but its row is the DELETE's over there */
		if (c->old_key_elsewhere)
			moved = false;

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
bool
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
	if (c->old_key_elsewhere)
		return false;			/* it reads the old key, never writes it */
	if (c->n_old_values == 0 || (oldkey = row_key(tb, c->old_values)) == NULL ||
		(old = hash_search(tb->rows, &oldkey, HASH_FIND, NULL)) == NULL)
		return false;
	if (c->op == WALSTAR__V1__OP__UPDATE && old->deleted && old->values == NULL &&
		newkey != NULL && strcmp(oldkey, newkey) != 0)
		return false;
	return true;
}

/* The key values encoded in a row key string (see row_key). */
void
table_batch_key_values(TableBatch *tb, const char *key, char **out)
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
