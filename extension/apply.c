/*-------------------------------------------------------------------------
 *
 * apply.c
 *		Apply one batch of Kafka messages into the landing tables: the
 *		driver (subtransactions, dead letters, progress).
 *
 * The caller runs a batch in one transaction; here every message is
 * decoded, resends are skipped by their (commit LSN, position)
 * (stream_position.c), and the row changes are grouped per landing table
 * into table batches (batch.c: key collapse, and rounds for tables with
 * triggers, which landing_table.c looks up once per table and batch under
 * a ROW EXCLUSIVE lock kept to the end of the transaction).
 *
 * Each table batch's statements (apply_sql.c, all its rounds) run in one
 * subtransaction, as the subscription's owner. When they fail, its changes
 * are applied one by one, each in its own subtransaction, and those that
 * still fail go to walstar.dead_letters with the error (or stop the
 * subscription, by its error policy): reject() is that one decision. Then
 * the partitions' progress is written, still in the caller's transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/resowner.h"

#include "batch.h"
#include "model_source.h"
#include "subxact.h"

/* A landing table's entry in a batch. */
typedef struct TableEntry
{
	char	   *relname;		/* hash key: landing table name */
	TableBatch *tb;				/* the table batch its next change joins */
	bool		triggers;		/* it has triggers that see every row
								 * version: one round per repeated key */
	char	   *history;		/* a model source's version history, or NULL */
	LandingHolder *holder;		/* the source table it holds */
} TableEntry;

/* Partitions past their SNAPSHOT_BEGIN of a table's open copy epoch. */
typedef struct EpochEntry
{
	char	   *relname;		/* hash key: landing table name */
	List	   *begun;			/* int partitions (copy_epoch_begun) */
	char	   *epoch;			/* that epoch (hex) */
} EpochEntry;

static EpochEntry *
epoch_entry(HTAB *epochs, const char *schema, char *relname)
{
	bool		found;
	EpochEntry *e = hash_search(epochs, &relname, HASH_ENTER, &found);

	if (!found)
	{
		e->relname = relname;
		e->begun = copy_epoch_begun(schema, relname, &e->epoch);
	}
	return e;
}

/* Where an error happened, for the error context. */
typedef struct ApplyErrorContext
{
	const char *relname;		/* landing table, or NULL */
	const KafkaMessage *msg;	/* the message, or NULL for a table batch */
	int			nchanges;		/* size of the table batch, all rounds */
	int			nrounds;		/* its rounds */
	int			round;			/* the round being applied, from 1 */
} ApplyErrorContext;

static void apply_error_callback(void *arg);
static char *try_table_batch(const char *schema, Oid as_user, TableBatch *tb,
							 ApplyErrorContext *ectx);

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

/* What run_table_batch needs. */
typedef struct TableBatchRun
{
	const char *schema;
	Oid			as_user;
	TableBatch *tb;
	ApplyErrorContext *ectx;
} TableBatchRun;

/* The rounds of a table batch, as the subscription's owner. */
static void
run_table_batch(void *arg)
{
	TableBatchRun *run = arg;
	ErrorContextCallback errcb;
	Oid			saved_user;
	int			saved_sec;
	TableBatch *round;

	/* on error, the subtransaction's abort restores the user */
	GetUserIdAndSecContext(&saved_user, &saved_sec);
	SetUserIdAndSecContext(run->as_user, saved_sec | SECURITY_LOCAL_USERID_CHANGE);
	errcb.callback = apply_error_callback;
	errcb.arg = run->ectx;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	run->ectx->round = 0;
	for (round = run->tb; round != NULL; round = round->next_round)
	{
		run->ectx->round++;
		apply_sql_table_batch(run->schema, round);
	}
	error_context_stack = errcb.previous;
	SetUserIdAndSecContext(saved_user, saved_sec);
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
	TableBatchRun run = {schema, as_user, tb, ectx};

	return subxact_try(run_table_batch, &run);
}

/*
 * A change reached its landing table: its partition's newest applied
 * change moves (retry_dead_letter compares a letter with it).
 */
static void
mark_applied(const BatchItem *item)
{
	PartitionState *ps = item->partition;
	const Change *c = item->change;

	if (ps == NULL || c->commit_lsn == 0)
		return;
	if (ps->applied_commit_lsn == 0 ||
		stream_position_cmp(c->timeline, c->commit_lsn, c->position, ps->applied_timeline,
							ps->applied_commit_lsn, ps->applied_position) > 0)
	{
		ps->applied_timeline = c->timeline;
		ps->applied_commit_lsn = c->commit_lsn;
		ps->applied_position = c->position;
	}
}

/*
 * A HEARTBEAT: the source had nothing more for this partition before its
 * lsn as of its commit time. Kept per partition for subscription_status
 * (idle source or stalled pipeline); one of another source is ignored.
 */
static void
note_heartbeat(PartitionState *ps, const Change *c)
{
	if (ps->source_known &&
		(strcmp(ps->source, c->source) != 0 || ps->system_id != c->system_id))
		return;
	if (c->commit_time <= ps->heartbeat_time)
		return;

	/*
	 * Between two heartbeats with no change in between, the gap is the
	 * sink's heartbeat-interval.  Across changes it is the time the topic
	 * was busy (the sink sends none then), and a pipeline stalling right
	 * after would stay "idle" for three times that: the last gap is kept.
	 */
	if (ps->heartbeat_time != 0 &&
		stream_position_cmp(ps->heartbeat_timeline, ps->heartbeat_lsn, 0,
							ps->last_timeline, ps->last_commit_lsn, 0) > 0)
		ps->heartbeat_gap = c->commit_time - ps->heartbeat_time;
	ps->heartbeat_time = c->commit_time;
	/* its lsn is the walsender's on the sink's timeline: ordered as changes are */
	if (stream_position_cmp(c->timeline, c->lsn, 0,
							ps->heartbeat_timeline, ps->heartbeat_lsn, 0) > 0)
	{
		ps->heartbeat_timeline = c->timeline;
		ps->heartbeat_lsn = c->lsn;
	}
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
		Oid			argtypes[20] = {INT4OID, TEXTOID, INT4OID, INT8OID, PG_LSNOID,
			INT8OID, TIMESTAMPTZOID, INT8OID, FLOAT8OID, INT8OID, TEXTOID, INT8OID,
		PG_LSNOID, INT8OID, TIMESTAMPTZOID, PG_LSNOID, FLOAT8OID, INT8OID, INT8OID, INT8OID};
		Datum		args[20];
		char		nulls[21] = "                    ";

		if (!ps->dirty)
			continue;
		/* from batch end to batch end: a batch right behind another is not instant */
		if (ps->applied_at != 0 && now > ps->applied_at)
			ps->rate = (ps->applied_messages - ps->rate_base) * 1000000.0 /
				(double) (now - ps->applied_at);
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
		args[12] = LSNGetDatum(ps->applied_commit_lsn);
		args[13] = Int64GetDatum((int64) ps->applied_position);
		/* heartbeats: NULL keeps the stored ones (none in this batch) */
		args[14] = TimestampTzGetDatum(ps->heartbeat_time - WALSTAR_PG_EPOCH_USECS);
		args[15] = LSNGetDatum(ps->heartbeat_lsn);
		args[16] = Float8GetDatum(ps->heartbeat_gap / 1000000.0);
		if (ps->heartbeat_lsn == 0)
			nulls[14] = nulls[15] = 'n';
		if (ps->heartbeat_gap == 0)
			nulls[16] = 'n';
		args[17] = Int64GetDatum((int64) ps->last_timeline);
		args[18] = Int64GetDatum((int64) ps->heartbeat_timeline);
		if (ps->heartbeat_lsn == 0)
			nulls[18] = 'n';
		args[19] = Int64GetDatum((int64) ps->applied_timeline);
		/* the applied position: a retry may have stored a newer one */
		apply_sql_run("INSERT INTO walstar.subscription_offsets AS o"
					  " (subscription_id, topic, partition, next_offset, last_commit_lsn,"
					  "  last_position, last_commit_time, high_watermark,"
					  "  messages_per_second, applied_messages, applied_at, source,"
					  "  system_identifier, applied_commit_lsn, applied_position,"
					  "  last_heartbeat_time, last_heartbeat_lsn, heartbeat_gap, last_timeline,"
					  "  last_heartbeat_timeline, applied_timeline)"
					  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, pg_catalog.now(),"
					  "  $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
					  " ON CONFLICT (subscription_id, topic, partition) DO UPDATE"
					  " SET next_offset = excluded.next_offset,"
					  "  last_commit_lsn = excluded.last_commit_lsn,"
					  "  last_position = excluded.last_position,"
					  "  last_timeline = excluded.last_timeline,"
					  "  last_commit_time = coalesce(excluded.last_commit_time, o.last_commit_time),"
					  "  high_watermark = coalesce(excluded.high_watermark, o.high_watermark),"
					  "  messages_per_second = excluded.messages_per_second,"
					  "  applied_messages = excluded.applied_messages,"
					  "  applied_at = excluded.applied_at,"
					  "  source = excluded.source,"
					  "  system_identifier = excluded.system_identifier,"
					  "  (applied_timeline, applied_commit_lsn, applied_position) ="
					  "   (SELECT * FROM (VALUES (excluded.applied_timeline,"
					  "      excluded.applied_commit_lsn, excluded.applied_position),"
					  "     (o.applied_timeline, o.applied_commit_lsn, o.applied_position)) v(t, l, p)"
					  "    ORDER BY v.l OPERATOR(pg_catalog.<>) '0/0' DESC,"
					  "     walstar._position_cmp(v.t, v.l, v.p, o.applied_timeline,"
					  "      o.applied_commit_lsn, o.applied_position) DESC LIMIT 1),"
					  "  last_heartbeat_time = coalesce(excluded.last_heartbeat_time, o.last_heartbeat_time),"
					  "  last_heartbeat_lsn = coalesce(excluded.last_heartbeat_lsn, o.last_heartbeat_lsn),"
					  "  heartbeat_gap = coalesce(excluded.heartbeat_gap, o.heartbeat_gap),"
					  "  last_heartbeat_timeline ="
					  "   coalesce(excluded.last_heartbeat_timeline, o.last_heartbeat_timeline)",
					  20, argtypes, args, nulls);
		ps->stored = true;
		ps->dirty = false;
		ps->applied_at = now;
		ps->rate_base = ps->applied_messages;
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
reject(const Subscription *sub, const KafkaMessage *msg, const Change *c, const char *error,
	   ApplyResult *result)
{
	int64		id;

	if (sub->stop_on_error)
	{
		result->stop_error = stop_reason(msg, error);
		return true;
	}
	id = dead_letter_add(sub->name, msg, error);
	/* its moved UPDATE must not wait for the stash */
	if (c != NULL && moved_row_is_stash(c))
		moved_row_mark_dead(sub->landing_schema, landing_name_of(c), c, id);
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
	MemoryContext cxt = CurrentMemoryContext;	/* the caller's batch memory */
	HTAB	   *current;		/* "schema.table" -> current TableBatch */
	List	   *batches = NIL;
	HTAB	   *epochs;			/* "schema.table" -> EpochEntry */
	List	   *ends = NIL;		/* SNAPSHOT_END records, after the rows */
	List	   *end_parts = NIL;	/* their partitions */
	List	   *stashes = NIL;	/* DELETEs that stash an old row, so far */
	ListCell   *lc,
			   *ec;
	int			i;

	memset(result, 0, sizeof(*result));
	current = batch_string_table("walstar table batches", 64, sizeof(TableEntry));
	epochs = batch_string_table("walstar copy epochs", 16, sizeof(EpochEntry));

	for (i = 0; i < n; i++)
	{
		KafkaMessage *msg = &msgs[i];
		PartitionState *ps = msg->ps;
		Change	   *c;
		char	   *error = NULL;

		/*
		 * Every SPI call leaves SPI's procedure context current (freed, and
		 * so faulted in afresh, every transaction): back to the batch's.
		 */
		MemoryContextSwitchTo(cxt);
		if ((ps->next_offset >= 0 && msg->offset < ps->next_offset) ||
			ps->parked || ps->resume)
		{
			result->skipped++;	/* applied, or fetched again after a DDL barrier */
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
			if (reject(sub, msg, c, error, result))
				return;
			continue;
		}
		if (c->op == WALSTAR__V1__OP__HEARTBEAT)
		{
			note_heartbeat(ps, c);
			result->skipped++;	/* its offset is consumed with the batch */
			continue;
		}
		if (c->op == WALSTAR__V1__OP__SNAPSHOT_BEGIN || c->op == WALSTAR__V1__OP__SNAPSHOT_END)
		{
			/* the partition's next rows are tracked; END after the rows */
			if (c->op == WALSTAR__V1__OP__SNAPSHOT_BEGIN)
			{
				char	   *relname = landing_name_of(c);
				EpochEntry *e = epoch_entry(epochs, sub->landing_schema, relname);

				if (copy_epoch_begin(sub->landing_schema, relname, c, ps->key.partition))
					e->begun = copy_epoch_begun(sub->landing_schema, relname, &e->epoch);
				MemoryContextSwitchTo(cxt);
			}
			else
			{
				ends = lappend(ends, c);
				end_parts = lappend_int(end_parts, ps->key.partition);
			}
			result->skipped++;
			continue;
		}
		if (!change_is_row_change(c) && c->op != WALSTAR__V1__OP__TRUNCATE &&
			c->op != WALSTAR__V1__OP__DDL)
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
				if (reject(sub, msg, c, error, result))
					return;
				continue;
			case STREAM_NEW:
				break;
		}
		if (c->op == WALSTAR__V1__OP__DDL && !ddl_barrier_pass(parts, ps, c))
		{
			/* parked: this record and the partition's next ones wait */
			ps->next_offset = msg->offset;
			ps->applied_messages--;
			result->skipped++;
			continue;
		}

		{
			char	   *relname = landing_name_of(c);
			bool		found;
			TableEntry *entry;
			BatchItem  *item = palloc0(sizeof(BatchItem));
			bool		defer = false;	/* a moved UPDATE filled when applied */

			entry = hash_search(current, &relname, HASH_ENTER, &found);
			if (!found)
			{
				entry->relname = relname;
				entry->tb = NULL;
				entry->holder = landing_name_claim(sub->landing_schema, relname, c);
				/* a model source is applied in one round, its versions aside */
				entry->triggers =
					!model_source_lookup(sub->landing_schema, relname, &entry->history) &&
					landing_table_has_triggers(sub->landing_schema, relname);
			}
			if (!landing_name_holds(entry->holder, c))
			{
				error = landing_name_clash(sub->landing_schema, relname, entry->holder, c);
				if (reject(sub, msg, c, error, result))
					return;
				continue;
			}

			/*
			 * A moved UPDATE's unchanged TOAST values are the old row's, which
			 * the old key's partition stashes (moved_row.c): until it did,
			 * this partition waits, unless an earlier table batch of this
			 * batch is that DELETE. Not when a newer copy supersedes both.
			 */
			if (moved_row_needs_stash(c) &&
				!(c->commit_lsn != 0 && landing_name_copy_cmp(entry->holder, c) < 0))
			{
				MovedRowResult r = moved_row_fill(sub->landing_schema, relname, c, &error);
				ListCell   *sc;

				MemoryContextSwitchTo(cxt);
				/* stashed by an earlier table batch of this batch: filled then */
				if (r == MOVED_ROW_NONE)
				{
					foreach(sc, stashes)
						defer |= moved_row_pairs(lfirst(sc), c);
				}
				if (r == MOVED_ROW_NONE && !defer)
				{
					ddl_barrier_park_moved(ps, c, sub->landing_schema, relname);
					ps->next_offset = msg->offset;
					ps->applied_messages--;
					result->skipped++;
					continue;
				}
				if (r == MOVED_ROW_BAD)
				{
					if (reject(sub, msg, c, error, result))
						return;
					continue;
				}
				item->took_stash = !defer;
			}
			stream_position_advance(ps, c);

			/*
			 * A newer initial copy replaces the table: what an interrupted
			 * copy (or the stream before it) left is emptied first, and
			 * anything older than the copy is superseded by it. Its first
			 * READ record starts it, unless another worker's did meanwhile
			 * (landing_name_start_copy waits for that one and reads it
			 * again). A chunked copy's READ records merge (sink/README.md).
			 */
			item->copy_start = c->op == WALSTAR__V1__OP__READ &&
				c->snapshot_epoch.len == 0 &&
				landing_name_copy_cmp(entry->holder, c) > 0 &&
				landing_name_start_copy(sub->landing_schema, relname, entry->holder, c);
			if (c->commit_lsn != 0 && landing_name_copy_cmp(entry->holder, c) < 0)
			{
				result->skipped++;
				continue;
			}
			/* a DELETE that stashes the old row sees it as its partition left it */
			if (entry->tb == NULL || item->copy_start || c->op == WALSTAR__V1__OP__DDL ||
				entry->tb->ddl != NULL || moved_row_is_stash(c) || entry->tb->stash != NULL ||
				defer || entry->tb->fill ||
				(c->op != WALSTAR__V1__OP__TRUNCATE && !table_batch_same_columns(entry->tb, c)))
			{
				entry->tb = table_batch_new(relname, c);
				entry->tb->drop_columns = sub->drop_columns;
				entry->tb->history = entry->history;
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
			item->partition = ps;
			{
				EpochEntry *e = epoch_entry(epochs, sub->landing_schema, relname);

				/* tagged: another worker may begin a newer epoch meanwhile */
				item->track = list_member_int(e->begun, ps->key.partition) ? e->epoch : NULL;
			}
			MemoryContextSwitchTo(cxt);
			if (defer)
			{
				entry->tb->fill = true;
				entry->tb->items = lappend(entry->tb->items, item);
				continue;
			}
			table_batch_add(entry->tb, item);
			if (moved_row_is_stash(c))
				stashes = lappend(stashes, c);
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

		MemoryContextSwitchTo(cxt);
		for (round = tb; round != NULL; round = round->next_round)
		{
			items = tb->next_round ? list_concat(items, round->items) : tb->items;
			ectx.nrounds++;
		}
		ectx.nchanges = list_length(items);
		error = try_table_batch(sub->landing_schema, sub->owner, tb, &ectx);
		if (error == NULL)
		{
			foreach(ic, items)
				mark_applied(lfirst(ic));
			result->applied += list_length(items);
			continue;
		}
		if (list_length(items) == 1)
		{
			BatchItem  *item = linitial(items);

			if (reject(sub, item->msg, item->change, error, result))
				return;
			continue;
		}
		/* Find the poison: one change at a time, in order. */
		foreach(ic, items)
		{
			BatchItem  *item = lfirst(ic);
			TableBatch *one = table_batch_new(tb->relname, item->change);
			ApplyErrorContext ectx1 = {tb->relname, item->msg, 1, 1, 0};

			one->drop_columns = tb->drop_columns;
			one->history = tb->history;
			table_batch_add(one, item);
			error = try_table_batch(sub->landing_schema, sub->owner, one, &ectx1);
			if (error == NULL)
			{
				mark_applied(item);
				result->applied++;
				continue;
			}
			if (reject(sub, item->msg, item->change, error, result))
				return;
		}
	}

	forboth(lc, ends, ec, end_parts)
	{
		Change	   *c = lfirst(lc);

		copy_epoch_end(sub->landing_schema, landing_name_of(c), sub->owner, c, lfirst_int(ec));
	}
	store_progress(sub, parts);
}

/*
 * Apply one decoded change now, in the caller's transaction (retry of a
 * dead letter). Returns NULL when applied, else why not.
 */
char *
apply_one_change(const char *landing_schema, Oid owner, Change *c)
{
	TableBatch *tb;
	BatchItem  *item;
	char	   *relname;
	LandingHolder *holder;
	KafkaMessage msg = {"(dead letter)", 0, 0, NULL, 0, NULL};
	ApplyErrorContext ectx;

	if (!change_is_row_change(c) && c->op != WALSTAR__V1__OP__TRUNCATE &&
		c->op != WALSTAR__V1__OP__DDL)
		return NULL;
	relname = landing_name_of(c);
	holder = landing_name_claim(landing_schema, relname, c);
	if (!landing_name_holds(holder, c))
		return landing_name_clash(landing_schema, relname, holder, c);
	tb = table_batch_new(relname, c);
	(void) model_source_lookup(landing_schema, relname, &tb->history);
	item = palloc0(sizeof(BatchItem));
	item->msg = &msg;
	item->change = c;
	if (moved_row_needs_stash(c))
	{
		char	   *error = NULL;

		switch (moved_row_fill(landing_schema, relname, c, &error))
		{
			case MOVED_ROW_NONE:
				return pstrdup("the old row of this key-changing UPDATE is not stashed yet: "
							   "its old key's partition has not applied the DELETE of the old key");
			case MOVED_ROW_BAD:
				return error;
			case MOVED_ROW_FILLED:
				item->took_stash = true;
				break;
		}
	}
	table_batch_add(tb, item);
	ectx.relname = tb->relname;
	ectx.msg = NULL;
	ectx.nchanges = 1;
	ectx.nrounds = 1;
	return try_table_batch(landing_schema, owner, tb, &ectx);
}
