/*-------------------------------------------------------------------------
 *
 * kafka.c
 *		librdkafka configuration shared by the archive and replay.
 *
 *-------------------------------------------------------------------------
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "kafka.h"
#include "log.h"

static void
on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	LogLevel l = level <= 3	  ? LEVEL_ERROR
				 : level <= 4 ? LEVEL_WARNING
				 : level <= 6 ? LEVEL_INFO
							  : LEVEL_DEBUG;

	if (l == LEVEL_DEBUG && log_get_level() > LEVEL_DEBUG)
		return;
	log_event(l, "kafka", "facility=%s msg=%s", LOG_V(fac), LOG_Q(buf));
}

static bool
set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err,
	size_t errlen)
{
	char why[512];

	if (rd_kafka_conf_set(conf, name, value, why, sizeof(why)) !=
		RD_KAFKA_CONF_OK)
	{
		/* the value may be a secret: name the property only */
		snprintf(err, errlen, "kafka property '%s': %s", name, why);
		return false;
	}
	return true;
}

rd_kafka_t *
kafka_create(const Config *cfg, rd_kafka_type_t type,
			 void (*rebalance)(rd_kafka_t *, rd_kafka_resp_err_t,
							   rd_kafka_topic_partition_list_t *, void *),
			 void (*delivery)(rd_kafka_t *, const rd_kafka_message_t *,
							  void *),
			 void *opaque, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t		*rk;
	char			 why[512];
	sigset_t		 all, old;
	int				 i;
	bool			 ok = true;

	if (type == RD_KAFKA_CONSUMER)
	{
		/*
		 * A cut retried while the store is down holds the loop: an hour
		 * before the group counts the archive as gone.  A killed archive's
		 * partitions come back after session.timeout.ms.
		 */
		ok = set(conf, "max.poll.interval.ms", "3600000", err, errlen) &&
			 set(conf, "session.timeout.ms", "10000", err, errlen) &&
			 set(conf, "heartbeat.interval.ms", "1000", err, errlen) &&
			 set(conf, "fetch.max.bytes", "67108864", err, errlen) &&
			 set(conf, "queued.max.messages.kbytes", "262144", err, errlen);
	}
	else
	{
		ok = set(conf, "linger.ms", "20", err, errlen) &&
			 set(conf, "batch.num.messages", "10000", err, errlen) &&
			 set(conf, "queue.buffering.max.messages", "500000", err, errlen);
	}
	for (i = 0; ok && i < cfg->nkafka; i++)
		ok = set(conf, cfg->kafka[i].name, cfg->kafka[i].value, err, errlen);
	if (ok && cfg->brokers != NULL)
		ok = set(conf, "bootstrap.servers", cfg->brokers, err, errlen);
	if (ok && type == RD_KAFKA_CONSUMER)
	{
		/* the exactly-once protocol: offsets move only after a store */
		ok = set(conf, "group.id", cfg->group_id, err, errlen) &&
			 set(conf, "enable.auto.commit", "false", err, errlen) &&
			 set(conf, "enable.auto.offset.store", "false", err, errlen) &&
			 set(conf, "auto.offset.reset", "earliest", err, errlen) &&
			 set(conf, "isolation.level", "read_committed", err, errlen);
	}
	else if (ok)
		ok = set(conf, "enable.idempotence", "true", err, errlen) &&
			 set(conf, "acks", "all", err, errlen);
	if (ok)
		ok = set(conf, "log.queue", "true", err, errlen);
	if (!ok)
	{
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_log_cb(conf, on_log);
	if (rebalance != NULL)
		rd_kafka_conf_set_rebalance_cb(conf, rebalance);
	if (delivery != NULL)
		rd_kafka_conf_set_dr_msg_cb(conf, delivery);
	rd_kafka_conf_set_opaque(conf, opaque);

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rk = rd_kafka_new(type, conf, why, sizeof(why));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rk == NULL)
	{
		rd_kafka_conf_destroy(conf);
		snprintf(err, errlen, "cannot create the Kafka client: %s", why);
		return NULL;
	}
	/* logs come out of rd_kafka_poll/consumer_poll, in the main thread */
	rd_kafka_set_log_queue(rk, NULL);
	return rk;
}
