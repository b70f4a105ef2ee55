/*-------------------------------------------------------------------------
 *
 * standby.h
 *		Kafka transactions for standby sinks: taking the slot over fences
 *		the sink before, and only committed positions are confirmed.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_STANDBY_H
#define SINK_STANDBY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "lsn_tracker.h"
#include "producer.h"

typedef struct Standby
{
	const Config *cfg;			 /* kafka_transactions, transaction_interval */
	Producer	 *producer;		 /* its transactional handle */
	LsnTracker	 *tracker;		 /* what Kafka acknowledged */
	bool		  initialized;	 /* init_transactions done: we own the id */
	bool		  open;			 /* a Kafka transaction is open */
	uint64_t	  sent_at_begin; /* producer_sent when it began */
	int64_t		  began_ms;		 /* when it began (monotonic) */
	uint64_t	  committed;	 /* flush position covered by commits */
	uint64_t	  sent_committed;	 /* producer_sent covered by commits */
	bool		  failed;			 /* a commit failed: confirm no further */
	bool		  standing_by;		 /* the slot is active elsewhere: logged */
	int64_t		  wait_since_ms;	 /* when standing by began */
	uint64_t	  commits;			 /* transactions committed */
	int			  walsender_pid;	 /* of our last START_REPLICATION */
	bool		  committing;		 /* a commit is in progress */
	int64_t		  commit_started_ms; /* when it began (monotonic) */
	uint64_t	  commit_sent;		 /* producer_sent when it began */
	int			  rewinds;			 /* aborts since the last commit */
} Standby;

extern void standby_init(Standby *sb, const Config *cfg, Producer *producer,
						 LsnTracker *tracker);

/* Whether the sink runs Kafka transactions (kafka-transactions). */
extern bool standby_enabled(const Standby *sb);

/*
 * The slot is ours now (START_REPLICATION succeeded): the first time,
 * init_transactions, which fences every producer with our transactional.id
 * (a sink that had the slot before) and aborts its open transaction; then
 * open a transaction.  false with err: give the slot back and retry.
 */
extern bool standby_take_over(Standby *sb, int walsender_pid, char *err,
							  size_t errlen);

/*
 * START_REPLICATION failed with err: the delay before the next attempt in
 * ms, or -1 for the usual backoff.  A transactional sink whose slot is
 * active elsewhere stands by, trying every second (also when it streamed
 * before and its own old walsender still holds the slot); -2 if it had
 * streamed before and another process has the slot (another sink took
 * it over and fenced this one: it must stop).
 */
extern int standby_retry_ms(Standby *sb, const char *err);

/*
 * Commit the open transaction when transaction-interval has passed and it
 * has messages (in steps of at most 100 ms, see standby_busy), and open the
 * next.  false with err when the sink must stop (a fatal transaction
 * error, or a commit not done within 60 s); a commit that needs an abort
 * sets producer_txn_failure instead.
 */
extern bool standby_service(Standby *sb, int64_t now_ms, char *err,
							size_t errlen);

/*
 * The open transaction failed (producer_txn_failure): abort it, waiting
 * up to 60 s for the coordinator, and serve the purged messages' delivery
 * reports.  The caller then streams again from the last commit (the
 * position standby_confirmable gave).  false with err when the sink must
 * stop: the abort failed, or too many transactions failed in a row.
 */
extern bool standby_abort(Standby *sb, char *err, size_t errlen);

/*
 * A commit is in progress: nothing may be produced (the loop neither reads
 * the stream nor retries a held record) until standby_service finished it.
 */
extern bool standby_busy(const Standby *sb);

/* Commit what is open (shutdown), waiting up to timeout_ms. */
extern bool standby_finish(Standby *sb, int timeout_ms, char *err,
						   size_t errlen);

/* The position that may be confirmed to the slot now. */
extern uint64_t standby_confirmable(const Standby *sb);

#endif
