/*-------------------------------------------------------------------------
 *
 * prefix_check.c
 *		Warn at startup when the default topic prefix is already written by
 *		another source.
 *
 * Two services whose sinks keep the default prefix write the same topics
 * (walstar.public.users from both); walstar's apply side refuses the
 * second source's changes in a partition rather than comparing LSNs of two
 * servers, so the mistake is loud there, but it is made here. Every sink
 * writes its transaction markers to <prefix>.transactions: the last
 * records of that topic say who else writes under the prefix.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "change_peek.h"
#include "log.h"
#include "prefix_check.h"

#define DEFAULT_PREFIX "walstar"
#define RECORDS_READ 50 /* per partition, from its end */
#define WAIT_MS 5000

/* Connection and security properties a consumer shares with the producer. */
static bool
shared_property(const char *name)
{
	static const char *const prefixes[] = {
		"security.", "sasl.", "ssl.", "socket.", "broker.", "client.", NULL};
	int i;

	for (i = 0; prefixes[i]; i++)
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

static rd_kafka_t *
consumer_new(const Config *cfg)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char			 errstr[512];
	rd_kafka_t		*rk;
	sigset_t		 all, old;
	int				 i;

	if (rd_kafka_conf_set(conf, "group.id", "walstar-sink-prefix-check",
						  errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
		rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr,
						  sizeof(errstr)) != RD_KAFKA_CONF_OK ||
		rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr)) !=
			RD_KAFKA_CONF_OK ||
		(cfg->brokers != NULL &&
		 rd_kafka_conf_set(conf, "bootstrap.servers", cfg->brokers, errstr,
						   sizeof(errstr)) != RD_KAFKA_CONF_OK))
	{
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	for (i = 0; i < cfg->nkafka; i++)
		if (shared_property(cfg->kafka[i].name) &&
			rd_kafka_conf_set(conf, cfg->kafka[i].name, cfg->kafka[i].value,
							  errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		{
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rk == NULL)
		rd_kafka_conf_destroy(conf);
	return rk;
}

void
prefix_check_warn(const Config *cfg, const char *source, const char *system_id)
{
	char							 topic[256];
	rd_kafka_t						*rk;
	rd_kafka_topic_t				*rkt = NULL;
	const struct rd_kafka_metadata	*md = NULL;
	rd_kafka_topic_partition_list_t *parts = NULL;
	uint64_t						 own = strtoull(system_id, NULL, 10);
	int								 expected = 0, seen = 0, i;

	if (strcmp(cfg->topic_prefix, DEFAULT_PREFIX) != 0)
		return;
	snprintf(topic, sizeof(topic), "%s.transactions", cfg->topic_prefix);
	rk = consumer_new(cfg);
	if (rk == NULL)
		return;
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (rkt == NULL ||
		rd_kafka_metadata(rk, 0, rkt, &md, WAIT_MS) !=
			RD_KAFKA_RESP_ERR_NO_ERROR ||
		md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR)
		goto done;
	parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
	for (i = 0; i < md->topics[0].partition_cnt; i++)
	{
		int32_t p = md->topics[0].partitions[i].id;
		int64_t low, high;

		if (rd_kafka_query_watermark_offsets(rk, topic, p, &low, &high,
											 WAIT_MS) !=
				RD_KAFKA_RESP_ERR_NO_ERROR ||
			high <= low)
			continue;
		rd_kafka_topic_partition_list_add(parts, topic, p)->offset =
			high - RECORDS_READ > low ? high - RECORDS_READ : low;
		expected +=
			(int)(high - RECORDS_READ > low ? RECORDS_READ : high - low);
	}
	if (parts->cnt == 0 ||
		rd_kafka_assign(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
		goto done;
	while (seen < expected)
	{
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, WAIT_MS);
		ChangePeek			c;

		if (m == NULL)
			break;
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			seen++;
			if (change_peek(m->payload, m->len, &c) &&
				(c.system_id != own || c.source_len != strlen(source) ||
				 memcmp(c.source, source, c.source_len) != 0))
			{
				log_warning(
					"startup",
					"topic=%s other_source=\"%.*s\" other_system_id=%" PRIu64
					" msg=\"another source writes under the default topic "
					"prefix: walstar's apply side refuses a second source "
					"in a partition; give each sink its own topic-prefix\"",
					topic, (int)(c.source_len > 200 ? 200 : c.source_len),
					c.source, c.system_id);
				rd_kafka_message_destroy(m);
				break;
			}
		}
		rd_kafka_message_destroy(m);
	}
done:
	if (parts != NULL)
		rd_kafka_topic_partition_list_destroy(parts);
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	if (rkt != NULL)
		rd_kafka_topic_destroy(rkt);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
}
