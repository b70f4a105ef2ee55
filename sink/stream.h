/*-------------------------------------------------------------------------
 *
 * stream.h
 *		One record of the slot (or of the snapshot) -> Kafka messages,
 *		accounted in the LSN tracker; delivery reports back into it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_STREAM_H
#define SINK_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "change_peek.h"
#include "config.h"
#include "lsn_tracker.h"
#include "producer.h"

typedef struct DeadLetter DeadLetter;

typedef struct Stream
{
	const Config *cfg;			 /* topic prefix, policies */
	Producer	 *producer;		 /* where messages go */
	LsnTracker	 *tracker;		 /* what may be confirmed */
	TrackedTxn	 *open;			 /* transaction being received, or NULL */
	TrackedTxn	 *standalone;	 /* entry of the current record outside a
								 * transaction */
	int			  step;			 /* messages of the current record queued */
	bool		  started;		 /* current record's tracker work done */
	DeadLetter	 *dead_letters;	 /* rejected by the broker, to describe */
	ChangeScan	 *scan;			 /* scratch of the wire-format checks */
	bool		  failed;		 /* a delivery failed for good: stop */
	char		  failure[1024]; /* why */
	/* topic of the last row change, reused while the table does not change */
	char last_schema[128];
	char last_table[128];
	char last_topic[512];
} Stream;

typedef enum StreamResult
{
	STREAM_DONE,	/* every message of the record is queued */
	STREAM_BLOCKED, /* producer pushed back: call again later
								 * with the same record */
	STREAM_FAILED	/* err says why; stop */
} StreamResult;

extern void stream_init(Stream *s, const Config *cfg, Producer *producer,
						LsnTracker *tracker);

/* Free what stream_init allocated. */
extern void stream_cleanup(Stream *s);

/*
 * Route one serialized Change (after change_peek_check: one that breaks
 * the wire format's invariants is STREAM_FAILED, never sent).  wal_start: its XLogData position (the
 * commit's end LSN for COMMIT records).
 */
extern StreamResult stream_record(Stream *s, const uint8_t *data, size_t len,
								  uint64_t wal_start, char *err,
								  size_t errlen);

/*
 * The replication connection was lost: the transaction being received
 * will be resent from its start; it must not move the flush position.
 */
extern void stream_connection_lost(Stream *s);

/* Produce the dead letters queued by delivery reports; false if blocked. */
extern bool stream_service(Stream *s);

/* The delivery report handler to give producer_create. */
extern void stream_on_delivery(void *opaque, const rd_kafka_message_t *msg,
							   void *arg);

/* Topic of a table: <prefix>.<schema>.<table>, sanitised for Kafka. */
extern void stream_table_topic(const Config *cfg, const char *schema,
							   size_t schema_len, const char *table,
							   size_t table_len, char *buf, size_t buflen);

#endif
