/*-------------------------------------------------------------------------
 *
 * producer.h
 *		The librdkafka producer: idempotent, acks=all, topics created on
 *		first use, delivery reports and librdkafka's log lines served by
 *		the main loop.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_PRODUCER_H
#define SINK_PRODUCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "config.h"

/*
 * Called from producer_poll (main thread) for every delivery report.
 * opaque: what producer_send got.
 */
typedef void (*ProducerDeliveryFn)(void *opaque, const rd_kafka_message_t *msg,
								   void *arg);

typedef enum ProduceResult
{
	PRODUCE_OK,			/* queued; a delivery report will follow */
	PRODUCE_QUEUE_FULL, /* local queue full: poll, then retry */
	PRODUCE_RETRY,		/* topic could not be created yet: retry */
	PRODUCE_TOO_LARGE,	/* larger than message.max.bytes */
	PRODUCE_FAILED		/* anything else: see err */
} ProduceResult;

/* Header values of one message; NULL values are left out. */
typedef struct ProduceHeaders
{
	const char *lsn;   /* walstar.lsn, "X/X" */
	const char *xid;   /* walstar.xid, decimal */
	const char *op;	   /* walstar.op, e.g. "INSERT" */
	const char *error; /* walstar.error (dead letters) */
	const char *topic; /* walstar.topic (dead letters) */
} ProduceHeaders;

typedef struct Producer Producer;

/*
 * Create the handle (with every signal blocked, so that librdkafka's
 * threads never receive them).  NULL and err on a bad property.
 */
extern Producer *producer_create(const Config	   *cfg,
								 ProducerDeliveryFn on_delivery, void *arg,
								 char *err, size_t errlen);

/* Wait up to timeout_ms for the cluster to answer a metadata request. */
extern bool producer_check_cluster(Producer *p, int timeout_ms, char *err,
								   size_t errlen);

/*
 * Queue one message.  value NULL: a tombstone.  partitions: partitions of
 * the topic if the sink creates it (0: the configured number).
 */
extern ProduceResult producer_send(Producer *p, const char *topic,
								   int partitions, const void *key,
								   size_t key_len, const void *value,
								   size_t				 value_len,
								   const ProduceHeaders *headers, void *opaque,
								   char *err, size_t errlen);

/* producer_send to an explicit partition (RD_KAFKA_PARTITION_UA: as it). */
extern ProduceResult producer_send_to(Producer *p, const char *topic,
									  int partitions, int32_t partition,
									  const void *key, size_t key_len,
									  const void *value, size_t value_len,
									  const ProduceHeaders *headers,
									  void *opaque, char *err, size_t errlen);

/*
 * The partition the producer's partitioner (murmur2_random) puts key into,
 * from the topic's partition count (fetched once per topic); opens or
 * creates the topic like producer_send.  PRODUCE_OK or PRODUCE_RETRY.
 */
extern ProduceResult producer_key_partition(Producer *p, const char *topic,
											const void *key, size_t key_len,
											int32_t *partition, char *err,
											size_t errlen);

/*
 * The number of partitions of a topic (fetched once per topic), opening or
 * creating it like producer_send.  PRODUCE_OK or PRODUCE_RETRY.
 */
extern ProduceResult producer_partition_count(Producer *p, const char *topic,
											  int *count, char *err,
											  size_t errlen);

/*
 * The known topics (opened or created since the start), one per call from
 * *cursor = 0 until NULL, with when a message was last queued to each
 * (CLOCK_MONOTONIC ms, 0: never).  Valid until a new topic is opened.
 */
extern const char *producer_next_topic(const Producer *p, int *cursor,
									   int64_t *last_sent_ms);

/*
 * Leave out librdkafka's own log lines (startup checks: one error line of
 * ours if they fail).
 */
extern void producer_set_quiet(Producer *p, bool quiet);

/* Serve delivery reports, errors and log lines; wait up to timeout_ms. */
extern void producer_poll(Producer *p, int timeout_ms);

/* A file descriptor that becomes readable when producer_poll has work. */
extern int producer_fd(const Producer *p);

/* Messages queued or in flight. */
extern int producer_queue_len(const Producer *p);

/* Wait up to timeout_ms for every message to be acknowledged. */
extern bool producer_flush(Producer *p, int timeout_ms);

/* Messages queued since the start (producer_send* that returned OK). */
extern uint64_t producer_sent(const Producer *p);

/* The librdkafka handle (standby.c runs its transactions on it). */
extern rd_kafka_t *producer_handle(Producer *p);

/*
 * kafka-transactions: the open transaction failed (one of its messages
 * failed, librdkafka refused to produce into it, or its commit needs an
 * abort); its text, NULL if not.  main.c aborts it and streams again from
 * the last commit (rewind_transaction).
 */
extern const char *producer_txn_failure(const Producer *p);
extern void		   producer_set_txn_failure(Producer *p, const char *why);
extern void		   producer_clear_txn_failure(Producer *p);

/* A fatal (non-retriable) producer error happened; its text. */
extern const char *producer_fatal_error(Producer *p);

extern void producer_destroy(Producer *p);

#endif
