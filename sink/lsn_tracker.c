/*-------------------------------------------------------------------------
 *
 * lsn_tracker.c
 *		In-flight transactions, oldest first.
 *
 * Transactions arrive in commit order (the decoder sends whole
 * transactions), so a FIFO list suffices: the head is popped once it is
 * closed and has no outstanding message, and its end LSN becomes the
 * flush position.  Memory is bounded by the producer's queue: every
 * listed transaction has at least one message in it, or is the one being
 * received.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>

#include "lsn_tracker.h"

void
lsn_tracker_init(LsnTracker *t, uint64_t start)
{
	t->head = t->tail = NULL;
	t->ntxns = 0;
	t->outstanding = 0;
	t->flushed = start;
	t->server_pos = start;
	t->on_done = NULL;
	t->on_done_arg = NULL;
}

TrackedTxn *
lsn_tracker_begin(LsnTracker *t, uint64_t commit_lsn, int64_t commit_time)
{
	TrackedTxn *txn = calloc(1, sizeof(TrackedTxn));

	if (txn == NULL)
	{
		fprintf(stderr, "error lsn_tracker msg=\"out of memory\"\n");
		exit(1);
	}
	txn->commit_lsn = commit_lsn;
	txn->commit_time = commit_time;
	if (t->tail != NULL)
		t->tail->next = txn;
	else
		t->head = txn;
	t->tail = txn;
	t->ntxns++;
	return txn;
}

void
lsn_tracker_add(LsnTracker *t, TrackedTxn *txn)
{
	txn->outstanding++;
	t->outstanding++;
}

/* Pop every finished transaction at the head. */
static void
advance(LsnTracker *t)
{
	while (t->head != NULL && t->head->closed && t->head->outstanding == 0)
	{
		TrackedTxn *done = t->head;

		if (done->end_lsn > t->flushed)
			t->flushed = done->end_lsn;
		if (done->end_lsn != 0 && t->on_done != NULL)
			t->on_done(done, t->on_done_arg);
		t->head = done->next;
		if (t->head == NULL)
			t->tail = NULL;
		t->ntxns--;
		free(done);
	}
}

void
lsn_tracker_close(LsnTracker *t, TrackedTxn *txn, uint64_t end_lsn)
{
	txn->end_lsn = end_lsn;
	txn->closed = true;
	advance(t);
}

void
lsn_tracker_ack(LsnTracker *t, TrackedTxn *txn)
{
	txn->outstanding--;
	t->outstanding--;
	if (txn == t->head && txn->outstanding == 0)
		advance(t);
}

void
lsn_tracker_server_position(LsnTracker *t, uint64_t pos)
{
	if (pos > t->server_pos)
		t->server_pos = pos;
}

uint64_t
lsn_tracker_flush_lsn(const LsnTracker *t)
{
	/*
	 * With nothing in flight, everything the server sent before its last
	 * report has been received and acknowledged: its position is safe.
	 */
	if (t->head == NULL && t->server_pos > t->flushed)
		return t->server_pos;
	return t->flushed;
}

void
lsn_tracker_rewind(LsnTracker *t, uint64_t pos)
{
	t->flushed = pos;
	t->server_pos = pos;
}

void
lsn_tracker_reset(LsnTracker *t)
{
	while (t->head != NULL)
	{
		TrackedTxn *next = t->head->next;

		free(t->head);
		t->head = next;
	}
	t->tail = NULL;
	t->ntxns = 0;
	t->outstanding = 0;
}
