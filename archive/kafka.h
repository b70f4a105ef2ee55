/*-------------------------------------------------------------------------
 *
 * kafka.h
 *		librdkafka handles of walstar-archive: created with every signal
 *		blocked, logs through a queue served by the main thread.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ARCHIVE_KAFKA_H
#define ARCHIVE_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "config.h"

/*
 * A consumer (group.id, manual commits) or an idempotent producer with
 * the [kafka] properties applied over our defaults; group.id, the commit
 * and offset-store settings, auto.offset.reset, isolation.level, and the
 * producer's idempotence and acks are set after them and win (the
 * exactly-once protocol depends on them).  rebalance and opaque:
 * the consumer's rebalance callback and its argument, or NULL;
 * delivery: the producer's delivery report callback, or NULL.
 */
extern rd_kafka_t *kafka_create(
	const Config *cfg, rd_kafka_type_t type,
	void (*rebalance)(rd_kafka_t *, rd_kafka_resp_err_t,
					  rd_kafka_topic_partition_list_t *, void *),
	void (*delivery)(rd_kafka_t *, const rd_kafka_message_t *, void *),
	void *opaque, char *err, size_t errlen);

#endif
