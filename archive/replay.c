/*-------------------------------------------------------------------------
 *
 * replay.c
 *		Read the archive back: replay into Kafka, and expire.
 *
 * Replay lists the objects under <prefix>/[<source>/[<schema.table>/]],
 * keeps those whose hour meets [from, to), orders them per (topic,
 * partition) by first offset and produces every record committed in
 * [from, to), byte for byte, to the same partition of its topic (or of
 * <replay-topic-prefix>.<topic>), keyed by Change.key as the sink
 * keys it.  Within a partition the records so keep their order, which the
 * apply worker's (commit LSN, position) rule needs; records it already
 * applied are skipped there, so a replay over live data changes nothing.
 * Across a topic's partitions the records are merged by (commit LSN,
 * position), holding one object per partition in memory.
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

/*
 * The topic records of an object go to: the original, or
 * <replay-topic-prefix>.<original> (sources stay apart there too).
 */
static void
target_topic(const Config *cfg, const char *topic, char *out, size_t outlen)
{
	if (cfg->replay_topic_prefix == NULL)
		snprintf(out, outlen, "%s", topic);
	else
		snprintf(out, outlen, "%s.%s", cfg->replay_topic_prefix, topic);
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

/* Partitions of topic (0: none or unknown), without creating it. */
static int
partition_count(rd_kafka_t *rk, const char *topic)
{
	const struct rd_kafka_metadata *md = NULL;
	int								n = 0;
	int								i;

	/* all topics: asking for one would let the broker auto-create it */
	if (rd_kafka_metadata(rk, 1, NULL, &md, 10000) !=
		RD_KAFKA_RESP_ERR_NO_ERROR)
		return 0;
	for (i = 0; i < md->topic_cnt; i++)
	{
		if (strcmp(md->topics[i].topic, topic) == 0 &&
			md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
			n = md->topics[i].partition_cnt;
	}
	rd_kafka_metadata_destroy(md);
	return n;
}

/* Run one admin request (CreateTopics or CreatePartitions) to its end. */
static void
admin_wait(rd_kafka_queue_t *q)
{
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);

	if (ev != NULL)
		rd_kafka_event_destroy(ev);
}

/*
 * Make topic exist with at least partitions partitions: created (broker
 * defaults otherwise) or grown before anything is produced, so records
 * keep their original partition.
 */
static bool
ensure_topic(rd_kafka_t *rk, const char *topic, int partitions, char *err,
			 size_t errlen)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	char			  why[256];
	int				  have = partition_count(rk, topic);
	int				  attempt;

	if (have == 0)
	{
		rd_kafka_NewTopic_t *nt =
			rd_kafka_NewTopic_new(topic, partitions, -1, why, sizeof(why));

		rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
		admin_wait(q);
		rd_kafka_NewTopic_destroy(nt);
	}
	else if (have < partitions)
	{
		rd_kafka_NewPartitions_t *np = rd_kafka_NewPartitions_new(
			topic, (size_t)partitions, why, sizeof(why));

		rd_kafka_CreatePartitions(rk, &np, 1, NULL, q);
		admin_wait(q);
		rd_kafka_NewPartitions_destroy(np);
	}
	rd_kafka_queue_destroy(q);
	for (attempt = 0; attempt < 60; attempt++)
	{
		have = partition_count(rk, topic);
		if (have >= partitions)
			return true;
		usleep(500000);
	}
	snprintf(err, errlen,
			 "topic %s has %d partitions; the archive holds records of "
			 "partition %d",
			 topic, have, partitions - 1);
	return false;
}

/* One partition's place in the merge: its objects and the next record. */
typedef struct Cursor
{
	Item		  *items; /* this partition's objects, by first offset */
	size_t		   nitems;
	size_t		   next;  /* next object to load */
	uint8_t		  *plain; /* the loaded object's frames */
	size_t		   plen;
	size_t		   pos;
	const uint8_t *v; /* the head record (NULL: partition done) */
	size_t		   vlen;
	ChangePeek	   c; /* its fields */
} Cursor;

/* Move cur to its next record, loading objects as needed. */
static bool
cursor_advance(Cursor *cur, S3 *s3, uint64_t *objects, char *err,
			   size_t errlen)
{
	for (;;)
	{
		int r = 0;

		if (cur->plain != NULL)
			r = object_next(cur->plain, cur->plen, &cur->pos, &cur->v,
							&cur->vlen);
		if (r == 1)
		{
			if (!change_peek(cur->v, cur->vlen, &cur->c))
				r = -1;
			else
				return true;
		}
		if (r < 0)
		{
			snprintf(err, errlen, "%s: malformed record in the object",
					 cur->items[cur->next - 1].key);
			return false;
		}
		free(cur->plain);
		cur->plain = NULL;
		cur->v = NULL;
		if (cur->next == cur->nitems)
			return true;
		{
			uint8_t *body = NULL;
			size_t	 len;
			char	 why[512];

			if (!s3_get(s3, cur->items[cur->next].key, &body, &len, err,
						errlen))
				return false;
			if (!object_decompress(body, len, &cur->plain, &cur->plen, why,
								   sizeof(why)))
			{
				free(body);
				snprintf(err, errlen, "%s: %s", cur->items[cur->next].key,
						 why);
				return false;
			}
			free(body);
			cur->pos = 0;
			cur->next++;
			(*objects)++;
		}
	}
}

/*
 * Produce the records of one topic's objects (items, sorted by partition
 * and first offset).  Each partition keeps its order; across partitions
 * the records are merged by (commit LSN, position), so a key-changing
 * UPDATE and the DELETE of its old key (same position, two partitions)
 * arrive together, as they did live, rather than one partition's history
 * long before the other's.
 */
static bool
replay_topic(rd_kafka_t *rk, S3 *s3, Item *items, size_t nitems,
			 const char *topic, int64_t from, int64_t to,
			 volatile sig_atomic_t *stop, uint64_t *produced,
			 uint64_t *objects, char *err, size_t errlen)
{
	Cursor *cur = calloc(nitems, sizeof(Cursor));
	size_t	ncur = 0, i;
	bool	ok = false;

	if (cur == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return false;
	}
	for (i = 0; i < nitems; i++)
	{
		if (ncur == 0 ||
			cur[ncur - 1].items[0].name.partition != items[i].name.partition)
			cur[ncur++].items = &items[i];
		cur[ncur - 1].nitems++;
	}
	for (i = 0; i < ncur; i++)
		if (!cursor_advance(&cur[i], s3, objects, err, errlen))
			goto done;
	while (!*stop)
	{
		Cursor *best = NULL;

		for (i = 0; i < ncur; i++)
		{
			Cursor *k = &cur[i];

			if (k->v != NULL &&
				(best == NULL || k->c.commit_lsn < best->c.commit_lsn ||
				 (k->c.commit_lsn == best->c.commit_lsn &&
				  k->c.position < best->c.position)))
				best = k;
		}
		if (best == NULL)
			break;
		if (best->c.commit_time == 0 ||
			(best->c.commit_time >= from && best->c.commit_time < to))
		{
			while (rd_kafka_producev(
					   rk, RD_KAFKA_V_TOPIC(topic),
					   RD_KAFKA_V_PARTITION(best->items[0].name.partition),
					   RD_KAFKA_V_KEY((void *)best->c.key,
									  best->c.key ? best->c.key_len : 0),
					   RD_KAFKA_V_VALUE((void *)best->v, best->vlen),
					   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
					   RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
				rd_kafka_poll(rk, 100);
			(*produced)++;
			rd_kafka_poll(rk, 0);
		}
		if (!cursor_advance(best, s3, objects, err, errlen))
			goto done;
	}
	ok = true;
done:
	for (i = 0; i < ncur; i++)
		free(cur[i].plain);
	free(cur);
	return ok;
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
	size_t		nndjson = 0;
	const char *first_ndjson = NULL;
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
		if (object_is_ndjson(it.name.ext))
		{
			/* a rendering for readers, not the records: cannot be replayed */
			if (nndjson++ == 0)
				first_ndjson = it.key;
			continue;
		}
		items[nitems++] = it;
	}
	if (nndjson > 0)
		log_warning("replay",
					"skipped=%zu first=%s msg=\"NDJSON objects skipped: "
					"replay reads raw objects only (topics archived as "
					"NDJSON alone cannot be replayed)\"",
					nndjson, LOG_Q(first_ndjson));
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
		if (!replay_topic(rk, s3, items + i, j - i, topic, from, to, stop,
						  &produced, &objects, err, sizeof(err)))
			goto fail;
		i = j;
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
