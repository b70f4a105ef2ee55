/*-------------------------------------------------------------------------
 *
 * stream_position.c
 *		Where a partition stands in its source's change stream, and whether
 *		a change is new, a resend, or not believable.
 *
 * Exactly once rests on one rule: a partition's changes come from one
 * source in (timeline, commit LSN, position) order, so a change at or below
 * the last applied one is a resend and is skipped. The timeline comes first
 * because a promoted standby continues the WAL from where it forked from its
 * old primary, on a new timeline, and reuses the LSNs the old primary wrote
 * after that point (transactions the standby never received): by LSN alone
 * the new primary's transactions would pass for resends of those. The rule
 * is only as good as its premises, and a change that breaks them must not
 * pass as a resend or move the high-water mark:
 *
 * - Another source. Commit LSNs of two servers are not comparable: two
 *   services writing one topic (the default topic prefix) would have the
 *   second one's changes skipped as resends. A partition belongs to the
 *   source (Change.source, Change.system_id) of its first applied change;
 *   a change of any other source is refused with a reason, until
 *   walstar.forget_source() says the new source is meant.
 * - A commit LSN no server could have reached. One record with commit LSN
 *   FFFFFFFF/FFFFFFF0 would make every later real change look like a
 *   resend. A change may be ahead of the last applied one by at most what a
 *   server can write between their commit times (MAX_WAL_RATE, plus
 *   LSN_SLACK), and its commit time may not be in the future (beyond
 *   CLOCK_SLACK). A partition that has applied nothing yet is measured
 *   against the subscription's other partitions of the same source.
 * - A timeline no failover could have reached: timeline FFFFFFFF would make
 *   every later change look like a resend. A change may be at most
 *   MAX_TIMELINE_STEP timelines ahead of the last applied one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"

#include "walstar.h"

/* More WAL per second than any server writes (sustained). */
#define MAX_WAL_RATE (UINT64CONST(4) << 30)
/* Always allowed ahead of the last applied change. */
#define LSN_SLACK (UINT64CONST(64) << 30)
/* How far a source's clock may run ahead of ours. */
#define CLOCK_SLACK_USECS (INT64CONST(300) * USECS_PER_SEC)
/* More promotions than a source goes through between two changes. */
#define MAX_TIMELINE_STEP 64

/*
 * The order of two positions (timeline, commit LSN, position): <0, 0, >0.
 * Every position of a newer timeline is after every position of an older
 * one.  Timeline 0 is a record (or a stored position) from before records
 * carried it: it equals any timeline, so (commit LSN, position) alone
 * orders it, as it did then, and a change applied from such a record and
 * resent with its timeline is still one change.
 */
int
stream_position_cmp(uint32 timeline_a, uint64 lsn_a, uint32 position_a,
					uint32 timeline_b, uint64 lsn_b, uint32 position_b)
{
	if (timeline_a != 0 && timeline_b != 0 && timeline_a != timeline_b)
		return timeline_a < timeline_b ? -1 : 1;
	if (lsn_a != lsn_b)
		return lsn_a < lsn_b ? -1 : 1;
	if (position_a != position_b)
		return position_a < position_b ? -1 : 1;
	return 0;
}

/*
 * walstar._position_cmp(timeline, commit LSN, position, ...): the same
 * order for the SQL that compares stored positions.
 */
PG_FUNCTION_INFO_V1(walstar_position_cmp);

Datum
walstar_position_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(stream_position_cmp((uint32) PG_GETARG_INT64(0), PG_GETARG_LSN(1),
										(uint32) PG_GETARG_INT64(2),
										(uint32) PG_GETARG_INT64(3), PG_GETARG_LSN(4),
										(uint32) PG_GETARG_INT64(5)));
}

static bool
same_source(const PartitionState *ps, const Change *c)
{
	return ps->system_id == c->system_id && strcmp(ps->source, c->source) == 0;
}

static char *
describe_source(const char *source, uint64 system_id)
{
	return psprintf("source \"%s\" (system identifier " INT64_FORMAT ")",
					source, (int64) system_id);
}

static char *
lsn_text(uint64 lsn)
{
	return psprintf("%X/%X", LSN_FORMAT_ARGS(lsn));
}

/*
 * The position a change is measured against: the partition's own last
 * applied change, or, while it has none, the latest of the subscription's
 * partitions of the same source.
 */
static const PartitionState *
reference_of(HTAB *parts, const PartitionState *ps, const Change *c)
{
	const PartitionState *best = NULL;
	PartitionState *other;
	HASH_SEQ_STATUS seq;

	if (ps->last_commit_lsn != 0)
		return ps;
	hash_seq_init(&seq, parts);
	while ((other = hash_seq_search(&seq)) != NULL)
	{
		if (!other->source_known || !same_source(other, c) ||
			other->last_commit_lsn == 0)
			continue;
		if (best == NULL ||
			stream_position_cmp(other->last_timeline, other->last_commit_lsn, 0,
								best->last_timeline, best->last_commit_lsn, 0) > 0)
			best = other;
	}
	return best;
}

StreamVerdict
stream_position_check(HTAB *parts, const PartitionState *ps, const Change *c,
					  char **reason)
{
	const PartitionState *ref;
	int64		now = GetCurrentTimestamp() + WALSTAR_PG_EPOCH_USECS;

	*reason = NULL;
	if (ps->source_known && !same_source(ps, c))
	{
		*reason = psprintf("this change comes from %s, but the partition carries the changes of %s: "
						   "commit LSNs of two sources cannot be compared",
						   describe_source(c->source, c->system_id),
						   describe_source(ps->source, ps->system_id));
		return STREAM_REFUSED;
	}
	if (c->commit_lsn == 0)
		return STREAM_NEW;		/* no position to compare (streamed chunk) */
	if (c->commit_time > now + CLOCK_SLACK_USECS)
	{
		*reason = psprintf("commit time of commit LSN %s is %s, in the future",
						   lsn_text(c->commit_lsn),
						   timestamptz_to_str(c->commit_time - WALSTAR_PG_EPOCH_USECS));
		return STREAM_REFUSED;
	}
	/* 0/0: nothing applied (or forgotten by a rewind), whatever the timeline */
	if (ps->last_commit_lsn != 0 &&
		stream_position_cmp(c->timeline, c->commit_lsn, c->position,
							ps->last_timeline, ps->last_commit_lsn, ps->last_position) <= 0)
		return STREAM_RESEND;

	ref = reference_of(parts, ps, c);
	if (ref != NULL && ref->last_timeline != 0 &&
		c->timeline > ref->last_timeline + MAX_TIMELINE_STEP)
	{
		*reason = psprintf("timeline %u is more than %d timelines ahead of the last applied change of %s (timeline %u)",
						   c->timeline, MAX_TIMELINE_STEP,
						   ref == ps ? "this partition" : "another partition of the same source",
						   ref->last_timeline);
		return STREAM_REFUSED;
	}
	/* without the reference's commit time there is nothing to measure by */
	if (ref != NULL && ref->last_commit_time != 0 &&
		c->commit_lsn > ref->last_commit_lsn)
	{
		int64		since = (c->commit_time != 0 ? c->commit_time : now) -
			ref->last_commit_time;
		uint64		allowed = LSN_SLACK;

		if (since > 0)
			allowed += (uint64) ((double) since / USECS_PER_SEC * MAX_WAL_RATE);
		if (c->commit_lsn - ref->last_commit_lsn > allowed)
		{
			*reason = psprintf("commit LSN %s is " UINT64_FORMAT " bytes ahead of the last applied change of %s (%s), "
							   "more WAL than a server writes between their commit times",
							   lsn_text(c->commit_lsn),
							   c->commit_lsn - ref->last_commit_lsn,
							   ref == ps ? "this partition" : "another partition of the same source",
							   lsn_text(ref->last_commit_lsn));
			return STREAM_REFUSED;
		}
	}
	return STREAM_NEW;
}

void
stream_position_advance(PartitionState *ps, const Change *c)
{
	if (!ps->source_known)
	{
		strlcpy(ps->source, c->source, sizeof(ps->source));
		ps->system_id = c->system_id;
		ps->source_known = true;
	}
	if (c->commit_lsn != 0)
	{
		ps->last_timeline = c->timeline;
		ps->last_commit_lsn = c->commit_lsn;
		ps->last_position = c->position;
	}
	if (c->commit_time != 0)
		ps->last_commit_time = c->commit_time;
}
