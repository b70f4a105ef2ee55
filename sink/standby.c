/*-------------------------------------------------------------------------
 *
 * standby.c
 *		Kafka transactions for standby sinks.
 *
 * Two sinks may be configured for one slot (two hosts, one unit each):
 * the one whose START_REPLICATION succeeds streams, the other finds the
 * slot active and stands by, trying every second.  The slot lets one
 * walsender stream at a time, but that alone does not keep two sinks from
 * producing at once: a sink that lost its source connection (or hangs)
 * may still hold messages that librdkafka delivers after its walsender
 * has gone and the standby has taken the slot.
 *
 * So with kafka-transactions both produce in Kafka transactions with one
 * transactional.id (derived from topic prefix and slot).  The sink that
 * takes the slot calls init_transactions only then -- never while it
 * stands by, which would fence the sink that streams -- and the
 * transaction coordinator bumps the producer epoch: the sink before is
 * fenced (whatever it still sends or commits is refused, and it stops
 * with a fatal error) and its open transaction is aborted, invisible to
 * read_committed consumers (librdkafka's default, the apply worker's).
 * What the two wrote is therefore two runs, one after the other, in every
 * partition.
 *
 * A transaction is committed every transaction-interval once it holds
 * messages.  The slot is confirmed only up to what the last commit
 * covered (every message produced before it was acknowledged when the
 * commit returned), so the new sink resends from there and the apply
 * side's (commit LSN, position) rule drops what it already has.
 *
 * A transaction that fails without fencing (a message of it failed, or
 * its commit needs an abort, as when the transaction coordinator's node
 * is lost) is aborted and the same process streams again from the last
 * commit (standby_abort, main.c's rewind_transaction); after
 * MAX_REWINDS such aborts without a commit between them the sink stops.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "lsn.h"
#include "metrics.h"
#include "notify.h"
#include "standby.h"

/* How long one init_transactions or commit call may block the loop. */
#define TXN_CALL_TIMEOUT_MS 10000

/* How long retriable errors of one commit are retried before giving up. */
#define COMMIT_GIVE_UP_MS 60000

/* How long one step of a commit may block the loop. */
#define COMMIT_STEP_MS 100

/* A commit that took this long is logged when it succeeds. */
#define SLOW_COMMIT_MS 2000

/* Aborted transactions in a row (no commit between) before the sink stops. */
#define MAX_REWINDS 3

/* Delay between two attempts to take an active slot. */
#define STANDBY_RETRY_MS 1000

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
standby_init(Standby *sb, const Config *cfg, Producer *producer,
			 LsnTracker *tracker)
{
	memset(sb, 0, sizeof(*sb));
	sb->cfg = cfg;
	sb->producer = producer;
	sb->tracker = tracker;
}

bool
standby_enabled(const Standby *sb)
{
	return sb->cfg->kafka_transactions;
}

static bool
begin(Standby *sb, char *err, size_t errlen)
{
	rd_kafka_error_t *e =
		rd_kafka_begin_transaction(producer_handle(sb->producer));

	if (e != NULL)
	{
		snprintf(err, errlen, "cannot begin a Kafka transaction: %s",
				 rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		return false;
	}
	sb->open = true;
	sb->sent_at_begin = producer_sent(sb->producer);
	sb->began_ms = mono_ms();
	return true;
}

bool
standby_take_over(Standby *sb, int walsender_pid, char *err, size_t errlen)
{
	rd_kafka_t *rk = producer_handle(sb->producer);

	if (!standby_enabled(sb))
		return true;
	sb->walsender_pid = walsender_pid;
	if (!sb->initialized)
	{
		int64_t			  start = mono_ms();
		rd_kafka_error_t *e =
			rd_kafka_init_transactions(rk, TXN_CALL_TIMEOUT_MS);

		if (e != NULL)
		{
			snprintf(err, errlen,
					 "cannot initialize Kafka transactions (fencing the "
					 "sink before): %s",
					 rd_kafka_error_string(e));
			rd_kafka_error_destroy(e);
			return false;
		}
		sb->initialized = true;
		log_info("kafka",
				 "slot=%s init_ms=%" PRId64 " standby_s=%" PRId64
				 " msg=\"took the slot over: Kafka transactions initialized, "
				 "any sink with this transactional.id before is fenced\"",
				 sb->cfg->slot, mono_ms() - start,
				 sb->standing_by ? (mono_ms() - sb->wait_since_ms) / 1000 : 0);
	}
	sb->standing_by = false;
	atomic_store(&metrics.standby, 0);
	if (!sb->open)
		return begin(sb, err, errlen);
	return true;
}

int
standby_retry_ms(Standby *sb, const char *err)
{
	if (!standby_enabled(sb) || strstr(err, "is active for PID") == NULL)
		return -1;
	/*
	 * We streamed before.  Our own walsender may still hold the slot after
	 * a lost connection, until it notices (wal_sender_timeout): wait for
	 * it.  Any other process means another sink has the slot now, and its
	 * init_transactions fenced our producer, which could never produce
	 * again.
	 */
	if (sb->initialized)
	{
		const char *pid = strstr(err, "is active for PID ");

		if (atoi(pid + strlen("is active for PID ")) == sb->walsender_pid)
			return STANDBY_RETRY_MS;
		return -2;
	}
	if (!sb->standing_by)
	{
		log_info("replication",
				 "slot=%s msg=\"the slot is active (another sink streams "
				 "it): standing by, trying to take it every second\"",
				 sb->cfg->slot);
		/* under systemd a standby is a started service too */
		notify_ready("standing by: the slot is active elsewhere");
		sb->standing_by = true;
		sb->wait_since_ms = mono_ms();
		atomic_store(&metrics.standby, 1);
	}
	return STANDBY_RETRY_MS;
}

/* Commit the open transaction, retrying retriable errors. */
static bool
commit(Standby *sb, int give_up_ms, char *err, size_t errlen)
{
	rd_kafka_t *rk = producer_handle(sb->producer);
	int64_t		start = mono_ms();
	uint64_t	sent = producer_sent(sb->producer);

	for (;;)
	{
		rd_kafka_error_t *e = rd_kafka_commit_transaction(
			rk, give_up_ms < TXN_CALL_TIMEOUT_MS ? give_up_ms
												 : TXN_CALL_TIMEOUT_MS);

		if (e == NULL)
			break;
		if (rd_kafka_error_is_retriable(e) && mono_ms() - start < give_up_ms)
		{
			log_warning("kafka",
						"msg=\"Kafka transaction commit: %s; "
						"retrying\"",
						rd_kafka_error_string(e));
			rd_kafka_error_destroy(e);
			continue;
		}
		snprintf(err, errlen,
				 "Kafka transaction commit failed: %s; nothing after the "
				 "last commit is confirmed, it is resent at the next start",
				 rd_kafka_error_string(e));
		if (rd_kafka_error_txn_requires_abort(e))
		{
			rd_kafka_error_t *a =
				rd_kafka_abort_transaction(rk, TXN_CALL_TIMEOUT_MS);

			if (a != NULL)
				rd_kafka_error_destroy(a);
		}
		rd_kafka_error_destroy(e);
		sb->committing = false;
		sb->open = false;
		sb->failed = true;
		return false;
	}
	sb->committing = false;
	/* every message produced before the commit has been acknowledged */
	sb->committed = lsn_tracker_flush_lsn(sb->tracker);
	sb->sent_committed = sent;
	sb->open = false;
	sb->commits++;
	sb->rewinds = 0;
	return true;
}

/*
 * One step of the commit in progress: librdkafka's transactional calls
 * resume after a timeout, so the loop keeps serving the replication
 * connection (status updates: the walsender ends a connection that stays
 * silent for wal_sender_timeout) while a commit waits, e.g. for a new
 * transaction coordinator after a broker's loss.  Nothing is produced
 * meanwhile (standby_busy).
 */
static bool
commit_step(Standby *sb, int64_t now_ms, char *err, size_t errlen)
{
	rd_kafka_t		 *rk = producer_handle(sb->producer);
	rd_kafka_error_t *e = rd_kafka_commit_transaction(rk, COMMIT_STEP_MS);

	if (e == NULL)
	{
		/* every message produced before the commit was acknowledged */
		sb->committed = lsn_tracker_flush_lsn(sb->tracker);
		sb->sent_committed = sb->commit_sent;
		sb->committing = false;
		sb->open = false;
		sb->commits++;
		sb->rewinds = 0;
		if (now_ms - sb->commit_started_ms >= SLOW_COMMIT_MS)
			log_info("kafka",
					 "slot=%s waited_ms=%" PRId64
					 " msg=\"Kafka transaction committed after a wait\"",
					 sb->cfg->slot, now_ms - sb->commit_started_ms);
		return begin(sb, err, errlen);
	}
	if (rd_kafka_error_is_retriable(e) &&
		now_ms - sb->commit_started_ms < COMMIT_GIVE_UP_MS)
	{
		if (rd_kafka_error_code(e) != RD_KAFKA_RESP_ERR__TIMED_OUT)
			log_warning("kafka",
						"msg=\"Kafka transaction commit: %s; retrying\"",
						rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		return true;
	}
	if (rd_kafka_error_txn_requires_abort(e))
	{
		char why[600];

		/* aborted and streamed again from the last commit (main.c) */
		snprintf(why, sizeof(why), "Kafka transaction commit failed: %s",
				 rd_kafka_error_string(e));
		producer_set_txn_failure(sb->producer, why);
		rd_kafka_error_destroy(e);
		sb->committing = false;
		return true;
	}
	snprintf(err, errlen,
			 "Kafka transaction commit failed: %s; nothing after the last "
			 "commit is confirmed, it is resent at the next start",
			 rd_kafka_error_string(e));
	rd_kafka_error_destroy(e);
	sb->committing = false;
	sb->open = false;
	sb->failed = true;
	return false;
}

bool
standby_abort(Standby *sb, char *err, size_t errlen)
{
	rd_kafka_t *rk = producer_handle(sb->producer);
	int64_t		start = mono_ms();

	if (++sb->rewinds > MAX_REWINDS)
	{
		snprintf(err, errlen,
				 "%d Kafka transactions in a row failed; nothing after the "
				 "last commit is confirmed, it is resent at the next start",
				 MAX_REWINDS + 1);
		sb->failed = true;
		return false;
	}
	while (sb->open)
	{
		rd_kafka_error_t *e =
			rd_kafka_abort_transaction(rk, TXN_CALL_TIMEOUT_MS);

		notify_watchdog(mono_ms());
		if (e == NULL)
			break;
		/* resumable; under systemd the loop's watchdog is fed meanwhile */
		if (rd_kafka_error_is_retriable(e) &&
			mono_ms() - start < COMMIT_GIVE_UP_MS)
		{
			log_warning("kafka",
						"msg=\"Kafka transaction abort: %s; retrying\"",
						rd_kafka_error_string(e));
			rd_kafka_error_destroy(e);
			continue;
		}
		snprintf(err, errlen,
				 "cannot abort the failed Kafka transaction: %s; nothing "
				 "after the last commit is confirmed, it is resent at the "
				 "next start",
				 rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		sb->failed = true;
		return false;
	}
	/* the purged messages' delivery reports come before the stream's state is reset */
	(void)producer_flush(sb->producer, TXN_CALL_TIMEOUT_MS);
	sb->open = false;
	sb->committing = false;
	return true;
}

bool
standby_service(Standby *sb, int64_t now_ms, char *err, size_t errlen)
{
	if (!standby_enabled(sb) || !sb->initialized)
		return true;
	if (sb->committing)
		return commit_step(sb, now_ms, err, errlen);
	if (!sb->open)
		return begin(sb, err, errlen);
	if (producer_sent(sb->producer) == sb->sent_at_begin ||
		now_ms - sb->began_ms < sb->cfg->transaction_interval)
		return true;
	sb->committing = true;
	sb->commit_started_ms = now_ms;
	sb->commit_sent = producer_sent(sb->producer);
	return commit_step(sb, now_ms, err, errlen);
}

bool
standby_busy(const Standby *sb)
{
	return sb->committing;
}

bool
standby_finish(Standby *sb, int timeout_ms, char *err, size_t errlen)
{
	if (!standby_enabled(sb) || !sb->initialized || !sb->open)
		return true;
	if (!sb->committing && producer_sent(sb->producer) == sb->sent_at_begin)
	{
		rd_kafka_error_t *a = rd_kafka_abort_transaction(
			producer_handle(sb->producer), TXN_CALL_TIMEOUT_MS);

		if (a != NULL)
			rd_kafka_error_destroy(a);
		sb->open = false;
		return true;
	}
	return commit(sb, timeout_ms > 0 ? timeout_ms : 1, err, errlen);
}

uint64_t
standby_confirmable(const Standby *sb)
{
	uint64_t flush = lsn_tracker_flush_lsn(sb->tracker);

	if (!standby_enabled(sb))
		return flush;
	/* nothing produced since the last commit: all of it is committed */
	if (!sb->failed && producer_sent(sb->producer) == sb->sent_committed)
		return flush > sb->committed ? flush : sb->committed;
	return sb->committed;
}
