/*-------------------------------------------------------------------------
 *
 * replay.c
 *		Read the archive back: replay into Kafka, and expire.
 *
 * Replay lists the objects under <prefix>/[<source>/[<schema.table>/]],
 * keeps those whose hour meets [from, to), orders them per (topic,
 * partition) by first offset and produces every record committed in
 * [from, to), byte for byte, to the same partition of its topic (or of
 * <replay-topic-prefix>.<schema>.<table>), keyed by Change.key as the sink
 * keys it.  Within a partition the records so keep their order, which the
 * apply worker's (commit LSN, position) rule needs; records it already
 * applied are skipped there, so a replay over live data changes nothing.
 * Dead letters are not replayed.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "change_peek.h"
#include "kafka.h"
#include "layout.h"
#include "log.h"
#include "object.h"
#include "replay.h"
#include "s3.h"

typedef struct Item
{
	char	  *key;	 /* object key */
	ObjectName name; /* what it says */
} Item;

static int
item_cmp(const void *x, const void *y)
{
	const Item *a = x, *b = y;
	int			c = strcmp(a->name.topic, b->name.topic);

	if (c != 0)
		return c;
	if (a->name.partition != b->name.partition)
		return a->name.partition < b->name.partition ? -1 : 1;
	if (a->name.first != b->name.first)
		return a->name.first < b->name.first ? -1 : 1;
	return 0;
}

static int64_t
hour_start_us(const ObjectName *n)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = n->year - 1900;
	tm.tm_mon = n->month - 1;
	tm.tm_mday = n->day;
	tm.tm_hour = n->hour;
	return (int64_t)timegm(&tm) * 1000000;
}

/* The topic records of an object go to. */
static void
target_topic(const Config *cfg, const char *topic, char *out, size_t outlen)
{
	const char *dot;

	if (cfg->replay_topic_prefix == NULL)
	{
		snprintf(out, outlen, "%s", topic);
		return;
	}
	dot = strchr(topic, '.');
	snprintf(out, outlen, "%s%s%s", cfg->replay_topic_prefix, dot ? "" : ".",
			 dot ? dot : topic);
}

static int delivery_failed;

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && delivery_failed++ == 0)
		log_error("kafka", "topic=%s partition=%" PRId32 " msg=%s",
				  LOG_V(rd_kafka_topic_name(m->rkt)), m->partition,
				  LOG_Q(rd_kafka_err2str(m->err)));
}

/*
 * Make topic exist with at least partitions partitions (created as the
 * sink creates them when missing).
 */
static bool
ensure_topic(rd_kafka_t *rk, const char *topic, int partitions, char *err,
			 size_t errlen)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t			   *rkt = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_resp_err_t				e;
	int								have = 0;
	int								attempt;

	for (attempt = 0; attempt < 60; attempt++)
	{
		e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
		have = 0;
		if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
			md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
			have = md->topics[0].partition_cnt;
		if (md != NULL)
			rd_kafka_metadata_destroy(md);
		md = NULL;
		if (have >= partitions)
			break;
		if (have == 0 && attempt == 0)
		{
			rd_kafka_NewTopic_t *nt;
			rd_kafka_queue_t	*q = rd_kafka_queue_new(rk);
			rd_kafka_event_t	*ev;
			char				 why[256];

			nt =
				rd_kafka_NewTopic_new(topic, partitions, -1, why, sizeof(why));
			rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
			ev = rd_kafka_queue_poll(q, 30000);
			if (ev != NULL)
				rd_kafka_event_destroy(ev);
			rd_kafka_NewTopic_destroy(nt);
			rd_kafka_queue_destroy(q);
		}
		else if (have > 0)
			break;
		usleep(500000);
	}
	rd_kafka_topic_destroy(rkt);
	if (have < partitions)
	{
		snprintf(err, errlen,
				 "topic %s has %d partitions; the archive holds records of "
				 "partition %d",
				 topic, have, partitions - 1);
		return false;
	}
	return true;
}

int
replay_run(Config *cfg, volatile sig_atomic_t *stop)
{
	char		err[1024];
	char		prefix[1024];
	int64_t		from, to;
	S3		   *s3 = NULL;
	S3List		list = {0};
	Item	   *items = NULL;
	size_t		nitems = 0, i;
	rd_kafka_t *rk = NULL;
	uint64_t	produced = 0, objects = 0;
	int			rc = 1;

	if (!layout_parse_time(cfg->replay_from, &from) ||
		!layout_parse_time(cfg->replay_to, &to))
	{
		log_error(
			"replay", "msg=%s",
			LOG_Q("--from and --to take YYYY-MM-DD[THH[:MM[:SS]]] (UTC)"));
		return 1;
	}
	s3 = s3_create(cfg, err, sizeof(err));
	if (s3 == NULL)
		goto fail;
	snprintf(prefix, sizeof(prefix), "%s/%s%s%s%s", cfg->prefix,
			 cfg->replay_source ? cfg->replay_source : "",
			 cfg->replay_source ? "/" : "",
			 cfg->replay_source && cfg->replay_table ? cfg->replay_table : "",
			 cfg->replay_source && cfg->replay_table ? "/" : "");
	if (!s3_list(s3, prefix, &list, err, sizeof(err)))
		goto fail;
	items = calloc(list.count ? list.count : 1, sizeof(Item));
	if (items == NULL)
		goto fail;
	for (i = 0; i < list.count; i++)
	{
		Item it;

		it.key = list.objects[i].key;
		if (!layout_parse(it.key, cfg->prefix, &it.name))
		{
			log_warning("replay",
						"key=%s msg=\"not an archive object name, "
						"skipped\"",
						LOG_Q(it.key));
			continue;
		}
		if (strcmp(it.name.source, LAYOUT_DEAD_LETTERS) == 0 ||
			(cfg->replay_source &&
			 strcmp(it.name.source, cfg->replay_source) != 0) ||
			(cfg->replay_table &&
			 strcmp(it.name.table, cfg->replay_table) != 0))
			continue;
		if (hour_start_us(&it.name) + 3600000000LL <= from ||
			hour_start_us(&it.name) >= to)
			continue;
		items[nitems++] = it;
	}
	qsort(items, nitems, sizeof(Item), item_cmp);
	log_info("replay", "objects=%zu msg=\"replaying\"", nitems);

	rk = kafka_create(cfg, RD_KAFKA_PRODUCER, NULL, on_delivery, NULL, err,
					  sizeof(err));
	if (rk == NULL)
		goto fail;
	for (i = 0; i < nitems && !*stop;)
	{
		size_t	j;
		int32_t maxp = -1;
		char	topic[512];

		/* every object of one original topic, and its partition count */
		for (j = i; j < nitems &&
					strcmp(items[j].name.topic, items[i].name.topic) == 0;
			 j++)
			if (items[j].name.partition > maxp)
				maxp = items[j].name.partition;
		target_topic(cfg, items[i].name.topic, topic, sizeof(topic));
		if (!ensure_topic(rk, topic, maxp + 1, err, sizeof(err)))
			goto fail;
		for (; i < j && !*stop; i++)
		{
			uint8_t		  *body = NULL, *plain = NULL;
			size_t		   len, plen, pos = 0;
			const uint8_t *v;
			size_t		   vlen;
			int			   r;

			if (!s3_get(s3, items[i].key, &body, &len, err, sizeof(err)))
				goto fail;
			if (!object_decompress(body, len, &plain, &plen, err, sizeof(err)))
			{
				free(body);
				log_error("replay", "key=%s msg=%s", LOG_Q(items[i].key),
						  LOG_Q(err));
				goto fail;
			}
			free(body);
			while ((r = object_next(plain, plen, &pos, &v, &vlen)) == 1)
			{
				ChangePeek c;

				if (!change_peek(v, vlen, &c))
				{
					r = -1;
					break;
				}
				if (c.commit_time != 0 &&
					(c.commit_time < from || c.commit_time >= to))
					continue;
				while (
					rd_kafka_producev(
						rk, RD_KAFKA_V_TOPIC(topic),
						RD_KAFKA_V_PARTITION(items[i].name.partition),
						RD_KAFKA_V_KEY((void *)c.key, c.key ? c.key_len : 0),
						RD_KAFKA_V_VALUE((void *)v, vlen),
						RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
						RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
					rd_kafka_poll(rk, 100);
				produced++;
				rd_kafka_poll(rk, 0);
			}
			free(plain);
			if (r < 0)
			{
				log_error("replay", "key=%s msg=%s", LOG_Q(items[i].key),
						  LOG_Q("malformed record in the object"));
				goto fail;
			}
			objects++;
		}
	}
	while (rd_kafka_outq_len(rk) > 0 && !delivery_failed)
		rd_kafka_poll(rk, 100);
	if (delivery_failed)
		goto fail;
	if (*stop)
	{
		log_warning("replay", "msg=\"stopped before the end\"");
		goto done;
	}
	log_info("replay",
			 "objects=%" PRIu64 " records=%" PRIu64 " msg=\"replayed\"",
			 objects, produced);
	rc = 0;
	goto done;
fail:
	if (!delivery_failed)
		log_error("replay", "msg=%s", LOG_Q(err));
done:
	if (rk != NULL)
	{
		rd_kafka_flush(rk, 30000);
		rd_kafka_destroy(rk);
	}
	free(items);
	s3_list_free(&list);
	s3_destroy(s3);
	return rc;
}

int
expire_run(Config *cfg)
{
	char	 err[1024];
	char	 prefix[1024];
	S3		*s3;
	S3List	 list = {0};
	size_t	 i;
	int64_t	 now = (int64_t)time(NULL) * 1000000;
	int		 rc = 0;
	uint64_t deleted = 0, kept = 0;

	if (cfg->retention == NULL)
	{
		log_error("expire", "msg=%s",
				  LOG_Q("no retention set (retention = source:days,...)"));
		return 1;
	}
	s3 = s3_create(cfg, err, sizeof(err));
	if (s3 == NULL)
	{
		log_error("s3", "msg=%s", LOG_Q(err));
		return 1;
	}
	snprintf(prefix, sizeof(prefix), "%s/", cfg->prefix);
	if (!s3_list(s3, prefix, &list, err, sizeof(err)))
	{
		log_error("s3", "msg=%s", LOG_Q(err));
		s3_destroy(s3);
		return 1;
	}
	for (i = 0; i < list.count; i++)
	{
		ObjectName n;
		int		   days;

		if (!layout_parse(list.objects[i].key, cfg->prefix, &n))
			continue;
		days = config_retention_days(cfg->retention, n.source);
		if (days < 0 || hour_start_us(&n) + 3600000000LL >
							now - (int64_t)days * 86400000000LL)
		{
			kept++;
			continue;
		}
		if (cfg->dry_run)
			printf("would delete %s\n", list.objects[i].key);
		else if (!s3_delete(s3, list.objects[i].key, err, sizeof(err)))
		{
			log_error("s3", "msg=%s", LOG_Q(err));
			rc = 1;
			break;
		}
		else
			log_info("expire", "key=%s source=%s days=%d msg=\"deleted\"",
					 LOG_Q(list.objects[i].key), LOG_V(n.source), days);
		deleted++;
	}
	log_info("expire", "deleted=%" PRIu64 " kept=%" PRIu64 "%s", deleted, kept,
			 cfg->dry_run ? " dry_run=true" : "");
	s3_list_free(&list);
	s3_destroy(s3);
	return rc;
}
