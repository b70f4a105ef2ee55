/*-------------------------------------------------------------------------
 *
 * batch.h
 *		Table batches: the row changes of one landing table within a batch
 *		of messages, collapsed per key and split into rounds (batch.c),
 *		and the statements that apply them (apply_sql.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALSTAR_BATCH_H
#define WALSTAR_BATCH_H

#include "walstar.h"

/* One decoded message of a table batch. */
typedef struct BatchItem
{
	const KafkaMessage *msg;	/* where it came from */
	Change	   *change;			/* the decoded record */
	PartitionState *partition;	/* its partition, whose applied position
								 * moves when it applied (NULL: a retry) */
	bool		copy_start;		/* first READ of a newer copy: the landing
								 * table is emptied before it */
	const char *track;			/* after its partition's SNAPSHOT_BEGIN of an
								 * open copy epoch: that epoch (hex), whose
								 * kept keys get this item's; else NULL */
	bool		took_stash;		/* a moved UPDATE whose unchanged TOAST values
								 * came from walstar.moved_rows: that row goes
								 * with its apply (moved_row.c) */
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
	bool		copy_start;		/* empty the table (DELETE) before the rows:
								 * a newer initial copy starts */
	const Change *ddl;			/* a DDL record: the batch's only item */
	bool		drop_columns;	/* its dropped columns go (dropped_columns) */
	char	   *bad;			/* why a change cannot be applied, or NULL */
	HTAB	   *rows;			/* key -> RowState (tables with a key) */
	List	   *items;			/* BatchItem *, in message order */
	struct TableBatch *next_round;	/* the next versions of its keys (a
									 * table with triggers), or NULL */
	char	   *history;		/* its version history table (a model source
								 * that keeps versions), or NULL */
	const Change *stash;		/* a DELETE that stashes the old row for a
								 * moved UPDATE (moved_row.c): the batch's
								 * only item, or NULL */
	bool		fill;			/* its only item is a moved UPDATE whose old
								 * row a DELETE earlier in the batch stashes:
								 * filled from the stash and folded in when
								 * the batch runs (moved_row_fill_batch) */
} TableBatch;

/* batch.c */
extern HTAB *batch_string_table(const char *name, long nelem, Size entrysize);
extern TableBatch *table_batch_new(const char *relname, const Change *c);
extern bool table_batch_same_columns(const TableBatch *tb, const Change *c);
extern void table_batch_add(TableBatch *tb, BatchItem *item);
extern void table_batch_fold(TableBatch *tb, BatchItem *item);
extern bool table_batch_repeats(TableBatch *tb, const Change *c);
extern void table_batch_key_values(TableBatch *tb, const char *key, char **out);
extern char *table_batch_row_key(TableBatch *tb, Value **values);

/* copy_epoch.c: the keys a table batch writes while a copy epoch is open */
extern void copy_epoch_track(const char *schema, TableBatch *tb);

/* moved_row.c: unchanged TOAST values of key changes across partitions */
typedef enum MovedRowResult
{
	MOVED_ROW_FILLED,			/* the values came from the stash */
	MOVED_ROW_NONE,				/* no stash (yet) */
	MOVED_ROW_BAD				/* a stash, but without the values */
} MovedRowResult;
extern bool moved_row_is_stash(const Change *c);
extern bool moved_row_needs_stash(const Change *c);
extern void moved_row_stash(const char *schema, const char *qualified, TableBatch *tb,
							char **types);
extern MovedRowResult moved_row_fill(const char *schema, const char *relname, Change *c,
									 char **error);
extern void moved_row_forget(const char *schema, const char *relname, const Change *c);
extern void moved_row_mark_dead(const char *schema, const char *relname, const Change *c,
								int64 id);
extern bool moved_row_stashed(const char *schema, const char *relname, uint32 timeline,
							  uint64 commit_lsn, uint32 position);
extern bool moved_row_pairs(const Change *del, const Change *upd);
extern void moved_row_fill_batch(const char *schema, TableBatch *tb);

/* apply_sql.c */
extern void apply_sql_table_batch(const char *schema, TableBatch *tb);
extern Datum apply_sql_text_array(char **vals, int n);
extern Datum apply_sql_bool_array(bool *vals, int n);
extern void apply_sql_run(const char *sql, int nargs, Oid *argtypes,
						  Datum *args, const char *nulls);

#endif							/* WALSTAR_BATCH_H */
