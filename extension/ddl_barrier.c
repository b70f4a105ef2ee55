/*-------------------------------------------------------------------------
 *
 * ddl_barrier.c
 *		A captured DDL record is applied only once every partition of its
 *		topic has reached it.
 *
 * The sink sends a DDL record to every partition of the table's topic, at
 * the same (commit LSN, position). Partitions are consumed independently,
 * so a lagging partition may still hold changes from before the schema
 * change, in the old layout, when another partition meets the DDL record:
 * applied then, a retyped column would receive unconverted values. So the
 * first partitions to meet the record park at it (this batch skips it and
 * their later messages, next_offset stays on it, consumer_apply_barriers
 * pauses them), and the partition that meets it last applies it and
 * releases the others, which fetch again from their copy of the record
 * (skipped as applied, landing_ddl.c). A partition has reached the record
 * when it is parked at it or has applied a change at or after it. Parking
 * is kept in memory only: after a restart every partition starts again at
 * its stored next_offset, which is its copy of the record.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "walstar.h"

static bool
at_or_after(uint64 lsn, uint32 position, const Change *c)
{
	return lsn > c->commit_lsn || (lsn == c->commit_lsn && position >= c->position);
}

static bool
parked_at(const PartitionState *ps, const Change *c)
{
	return ps->parked && ps->park_lsn == c->commit_lsn && ps->park_position == c->position;
}

/*
 * Whether the DDL record c of partition ps may be applied now; when not,
 * ps is parked at it.
 */
bool
ddl_barrier_pass(HTAB *parts, PartitionState *ps, const Change *c)
{
	HASH_SEQ_STATUS seq;
	PartitionState *q;
	bool		all = true;

	hash_seq_init(&seq, parts);
	while ((q = hash_seq_search(&seq)) != NULL)
	{
		if (q == ps || !q->assigned || strcmp(q->key.topic, ps->key.topic) != 0)
			continue;
		if (!parked_at(q, c) && !at_or_after(q->last_commit_lsn, q->last_position, c))
			all = false;
	}
	if (!all)
	{
		ps->parked = true;
		ps->pause = true;
		ps->park_lsn = c->commit_lsn;
		ps->park_position = c->position;
		return false;
	}
	hash_seq_init(&seq, parts);
	while ((q = hash_seq_search(&seq)) != NULL)
	{
		if (q != ps && parked_at(q, c))
		{
			q->parked = false;
			q->pause = false;
			q->resume = true;
		}
	}
	return true;
}
