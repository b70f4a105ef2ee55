/*-------------------------------------------------------------------------
 *
 * ddl_barrier.c
 *		A captured DDL record is applied only once every partition of its
 *		topic has reached it.
 *
 * The sink sends a DDL record to every partition of the table's topic, at
 * the same (timeline, commit LSN, position). Partitions are consumed
 * independently, so a lagging partition may still hold changes from before
 * the schema change, in the old layout, when another partition meets the
 * DDL record: applied then, a retyped column would receive unconverted
 * values. So the first partitions to meet the record park at it (this batch skips it and
 * their later messages, next_offset stays on it, consumer_apply_barriers
 * pauses them), and the partition that meets it last applies it and
 * releases the others, which fetch again from their copy of the record
 * (skipped as applied, landing_ddl.c). A partition has reached the record
 * when it is parked at it or has applied a change at or after it. Parking
 * is kept in memory only: after a restart every partition starts again at
 * its stored next_offset, which is its copy of the record.
 *
 * With several workers (workers => N) the topic's partitions are spread
 * over them, and the barrier spans the workers through two tables: a
 * partition of another worker has reached the record when its stored
 * progress (subscription_offsets) is at or after it, or when it is parked
 * at it (ddl_barrier_arrivals, written in the transaction that parks it,
 * so only with everything before the record committed). A parked
 * partition cannot be released by another worker's partition, so each
 * worker looks again every few hundred milliseconds (ddl_barrier_poll)
 * and, once all have reached the record, fetches it again: it then
 * passes. Passing takes a transaction lock on (subscription, topic), so
 * two workers that pass at once apply the record one after the other; the
 * second finds it applied (landing_tables.ddl_commit_lsn) and skips it.
 *
 * A moved UPDATE that waits for its old row's stash (moved_row.c) parks
 * its partition the same way (park_moved), and the same poll releases it
 * once the stash exists.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"

#include "batch.h"

/* advisory lock class (first key) of "a DDL record of this topic passes" */
#define BARRIER_LOCK_CLASS 0x57A6

/* the subscription whose partitions the barrier looks at (0: none yet) */
static int32 barrier_subscription = 0;

void
ddl_barrier_init(int32 subscription_id)
{
	barrier_subscription = subscription_id;
}

/* Positions are the DDL record c's (timeline, commit LSN, position). */
static bool
parked_at(const PartitionState *ps, const Change *c)
{
	return ps->parked && !ps->park_moved &&
		stream_position_cmp(ps->park_timeline, ps->park_lsn, ps->park_position,
							c->timeline, c->commit_lsn, c->position) == 0;
}

/* The position of the DDL record ps is parked at, as a Change. */
static const Change *
parked_record(const PartitionState *ps, Change *at)
{
	memset(at, 0, sizeof(*at));
	at->timeline = ps->park_timeline;
	at->commit_lsn = ps->park_lsn;
	at->position = ps->park_position;
	return at;
}

/* Whether another worker's partition q has reached c. */
static bool
reached_elsewhere(const PartitionState *q, const Change *c)
{
	Oid			argtypes[6] = {INT4OID, TEXTOID, INT4OID, PG_LSNOID, INT8OID, INT8OID};
	Datum		args[6];
	BookkeepingUser save;
	bool		isnull;
	bool		reached;

	args[0] = Int32GetDatum(barrier_subscription);
	args[1] = CStringGetTextDatum(q->key.topic);
	args[2] = Int32GetDatum(q->key.partition);
	args[3] = LSNGetDatum(c->commit_lsn);
	args[4] = Int64GetDatum((int64) c->position);
	args[5] = Int64GetDatum((int64) c->timeline);
	bookkeeping_begin(&save);
	if (SPI_execute_with_args("SELECT EXISTS (SELECT FROM walstar.subscription_offsets o"
							  "  WHERE o.subscription_id = $1 AND o.topic = $2 AND o.partition = $3"
							  "  AND walstar._position_cmp(o.last_timeline, o.last_commit_lsn,"
							  "   o.last_position, $6, $4, $5) >= 0)"
							  " OR EXISTS (SELECT FROM walstar.ddl_barrier_arrivals a"
							  "  WHERE a.subscription_id = $1 AND a.topic = $2 AND a.partition = $3"
							  "  AND walstar._position_cmp(a.timeline, a.commit_lsn, a.position,"
							  "   $6, $4, $5) = 0)",
							  6, argtypes, args, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not read walstar.subscription_offsets");
	reached = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										 &isnull));
	bookkeeping_end(&save);
	return reached;
}

/*
 * Whether every partition of ps's topic but ps has reached c; *spans: some
 * of them belong to other workers.
 */
static bool
all_reached(HTAB *parts, const PartitionState *ps, const Change *c, bool *spans)
{
	HASH_SEQ_STATUS seq;
	PartitionState *q;
	bool		all = true;

	*spans = false;
	hash_seq_init(&seq, parts);
	while ((q = hash_seq_search(&seq)) != NULL)
	{
		if (q == ps || strcmp(q->key.topic, ps->key.topic) != 0)
			continue;
		if (q->elsewhere)
			*spans = true;
		if (!all)
			continue;
		if (q->assigned)
		{
			if (!parked_at(q, c) &&
				stream_position_cmp(q->last_timeline, q->last_commit_lsn, q->last_position,
									c->timeline, c->commit_lsn, c->position) < 0)
				all = false;
		}
		else if (q->elsewhere && barrier_subscription != 0)
		{
			if (!reached_elsewhere(q, c))
				all = false;
		}
	}
	return all;
}

/* Write or remove ps's arrival row, in the batch's transaction. */
static void
store_arrival(const PartitionState *ps, const Change *c, bool arrived)
{
	Oid			argtypes[6] = {INT4OID, TEXTOID, INT4OID, PG_LSNOID, INT8OID, INT8OID};
	Datum		args[6];
	BookkeepingUser save;
	int			ret;

	args[0] = Int32GetDatum(barrier_subscription);
	args[1] = CStringGetTextDatum(ps->key.topic);
	args[2] = Int32GetDatum(ps->key.partition);
	args[3] = LSNGetDatum(c->commit_lsn);
	args[4] = Int64GetDatum((int64) c->position);
	args[5] = Int64GetDatum((int64) c->timeline);
	bookkeeping_begin(&save);
	if (arrived)
		ret = SPI_execute_with_args("INSERT INTO walstar.ddl_barrier_arrivals AS a"
									" (subscription_id, topic, partition, commit_lsn, position,"
									"  timeline)"
									" VALUES ($1, $2, $3, $4, $5, $6)"
									" ON CONFLICT (subscription_id, topic, partition) DO UPDATE"
									" SET commit_lsn = excluded.commit_lsn,"
									"  position = excluded.position, timeline = excluded.timeline",
									6, argtypes, args, NULL, false, 0) == SPI_OK_INSERT;
	else
		ret = SPI_execute_with_args("DELETE FROM walstar.ddl_barrier_arrivals"
									" WHERE subscription_id = $1 AND topic = $2 AND partition = $3",
									3, argtypes, args, NULL, false, 0) == SPI_OK_DELETE;
	if (!ret)
		elog(ERROR, "could not write walstar.ddl_barrier_arrivals");
	bookkeeping_end(&save);
}

/* One DDL record of a topic passes at a time, across workers. */
static void
lock_topic(const char *topic)
{
	uint32		h = 2166136261u;
	const char *s;

	for (s = topic; *s; s++)
	{
		h ^= (unsigned char) *s;
		h *= 16777619u;
	}
	DirectFunctionCall2(pg_advisory_xact_lock_int4,
						Int32GetDatum(BARRIER_LOCK_CLASS),
						Int32GetDatum((int32) (h ^ (uint32) barrier_subscription)));
}

/* Release ps's own partitions parked at c. */
static void
release(HTAB *parts, const PartitionState *ps, const Change *c)
{
	HASH_SEQ_STATUS seq;
	PartitionState *q;

	hash_seq_init(&seq, parts);
	while ((q = hash_seq_search(&seq)) != NULL)
	{
		if (q != ps && strcmp(q->key.topic, ps->key.topic) == 0 &&
			parked_at(q, c))
		{
			q->parked = false;
			q->pause = false;
			q->resume = true;
		}
	}
}

/*
 * Whether the DDL record c of partition ps may be applied now; when not,
 * ps is parked at it. Runs in the batch's transaction (SPI connected).
 */
bool
ddl_barrier_pass(HTAB *parts, PartitionState *ps, const Change *c)
{
	bool		spans = false;
	HASH_SEQ_STATUS seq;
	PartitionState *q;

	/* taken before looking, so that the look sees the last pass committed */
	hash_seq_init(&seq, parts);
	while ((q = hash_seq_search(&seq)) != NULL)
	{
		if (q->elsewhere && strcmp(q->key.topic, ps->key.topic) == 0)
			spans = true;
	}
	if (spans && barrier_subscription != 0)
		lock_topic(ps->key.topic);

	if (!all_reached(parts, ps, c, &spans))
	{
		ps->parked = true;
		ps->park_moved = false;
		ps->pause = true;
		ps->park_timeline = c->timeline;
		ps->park_lsn = c->commit_lsn;
		ps->park_position = c->position;
		if (spans && barrier_subscription != 0)
			store_arrival(ps, c, true);
		return false;
	}
	if (spans && barrier_subscription != 0)
		store_arrival(ps, c, false);
	release(parts, ps, c);
	return true;
}

/*
 * Park ps at the moved UPDATE c (moved_row.c): it waits, as at a DDL
 * record, until the old key's partition has stashed the old row in the
 * landing table schema.relname. The DDL barrier takes such a partition for
 * one that has not reached its DDL record yet, as it has not.
 */
void
ddl_barrier_park_moved(PartitionState *ps, const Change *c, const char *schema,
					   const char *relname)
{
	ps->parked = true;
	ps->park_moved = true;
	ps->pause = true;
	ps->park_timeline = c->timeline;
	ps->park_lsn = c->commit_lsn;
	ps->park_position = c->position;
	strlcpy(ps->park_schema, schema, sizeof(ps->park_schema));
	strlcpy(ps->park_relname, relname, sizeof(ps->park_relname));
	ereport(LOG,
			(errmsg("partition %d of topic \"%s\" waits for the old row of a moved key at %X/%X position %u",
					ps->key.partition, ps->key.topic, LSN_FORMAT_ARGS(c->commit_lsn),
					c->position),
			 errdetail("A key-changing UPDATE of \"%s\" left TOASTed values unchanged; "
					   "they are the old row's, which the old key's partition stashes when it applies "
					   "the DELETE of the old key.", relname)));
}

/* Whether any partition of this worker is parked. */
bool
ddl_barrier_parked(HTAB *parts)
{
	HASH_SEQ_STATUS seq;
	PartitionState *ps;

	hash_seq_init(&seq, parts);
	while ((ps = hash_seq_search(&seq)) != NULL)
	{
		if (ps->parked)
		{
			hash_seq_term(&seq);
			return true;
		}
	}
	return false;
}

/*
 * Between batches, in a transaction of the caller's: release the parked
 * partitions whose record every partition of the topic has reached by now
 * (other workers' partitions parked or past it). They fetch their record
 * again and pass. Returns true when some were released.
 */
bool
ddl_barrier_poll(HTAB *parts)
{
	HASH_SEQ_STATUS seq;
	PartitionState *ps;
	List	   *ready = NIL;
	ListCell   *lc;
	bool		spans;
	bool		any;
	Change		at;

	hash_seq_init(&seq, parts);
	while ((ps = hash_seq_search(&seq)) != NULL)
	{
		if (!ps->parked || ps->resume)
			continue;
		if (ps->park_moved ?
			moved_row_stashed(ps->park_schema, ps->park_relname, ps->park_timeline,
							  ps->park_lsn, ps->park_position) :
			all_reached(parts, ps, parked_record(ps, &at), &spans))
			ready = lappend(ready, ps);
	}
	foreach(lc, ready)
	{
		ps = lfirst(lc);
		if (!ps->parked)
			continue;			/* released with an earlier one */
		if (ps->park_moved)
		{
			/* it decides again when it meets the UPDATE again */
			ps->parked = ps->park_moved = ps->pause = false;
			ps->resume = true;
			continue;
		}
		ereport(LOG,
				(errmsg("partition %d of topic \"%s\" passes the DDL record at %X/%X",
						ps->key.partition, ps->key.topic, LSN_FORMAT_ARGS(ps->park_lsn)),
				 errdetail("Every partition of the topic has reached it, also those of other workers.")));
		release(parts, ps, parked_record(ps, &at));
		ps->parked = false;
		ps->pause = false;
		ps->resume = true;
	}
	any = ready != NIL;
	list_free(ready);
	return any;
}
