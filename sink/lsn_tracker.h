/*-------------------------------------------------------------------------
 *
 * lsn_tracker.h
 *		Which slot position may be confirmed: transactions in flight with
 *		their outstanding Kafka messages.
 *
 * The flush position moves only when Kafka acknowledged every message of
 * a transaction and of all transactions before it.  When nothing is in
 * flight, the server's latest reported position is confirmed, so an idle
 * or filtered slot does not retain WAL.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_LSN_TRACKER_H
#define SINK_LSN_TRACKER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct TrackedTxn
{
	uint64_t end_lsn;		 /* position to confirm when done; 0: none */
	uint64_t commit_lsn;	 /* commit record LSN (for logs) */
	int64_t	 commit_time;	 /* microseconds since the Unix epoch, 0 unknown */
	int64_t	 outstanding;	 /* messages produced and not yet acknowledged */
	bool	 closed;		 /* no more messages will be added */
	struct TrackedTxn *next; /* next younger transaction */
} TrackedTxn;

typedef struct LsnTracker
{
	TrackedTxn *head;		 /* oldest transaction in flight */
	TrackedTxn *tail;		 /* youngest */
	int64_t		ntxns;		 /* transactions in the list */
	int64_t		outstanding; /* messages in flight, all transactions */
	uint64_t	flushed;	 /* every transaction up to here is in Kafka */
	uint64_t	server_pos;	 /* latest position the server reported */
	/* called when a transaction with a commit time is fully acknowledged */
	void (*on_done)(const TrackedTxn *txn, void *arg);
	void *on_done_arg;
} LsnTracker;

extern void lsn_tracker_init(LsnTracker *t, uint64_t start);

/* A new transaction (or standalone record), appended in stream order. */
extern TrackedTxn *lsn_tracker_begin(LsnTracker *t, uint64_t commit_lsn,
									 int64_t commit_time);

/* One more message of txn handed to the producer. */
extern void lsn_tracker_add(LsnTracker *t, TrackedTxn *txn);

/*
 * No more messages for txn; end_lsn is the position it allows to confirm
 * (0 for a transaction cut off by a lost connection: it is resent).
 */
extern void lsn_tracker_close(LsnTracker *t, TrackedTxn *txn,
							  uint64_t end_lsn);

/* Kafka acknowledged one message of txn. */
extern void lsn_tracker_ack(LsnTracker *t, TrackedTxn *txn);

/* The server said it has sent everything up to pos (keepalive walEnd). */
extern void lsn_tracker_server_position(LsnTracker *t, uint64_t pos);

/* The position that may be reported as flushed now. */
extern uint64_t lsn_tracker_flush_lsn(const LsnTracker *t);

/*
 * Report nothing above pos until transactions added later are done: the
 * markers of a copy made while streaming paused end at the copy's
 * consistent point, ahead of where the stream stopped.
 */
extern void lsn_tracker_rewind(LsnTracker *t, uint64_t pos);

/* Forget every transaction (shutdown). */
extern void lsn_tracker_reset(LsnTracker *t);

#endif
