/*-------------------------------------------------------------------------
 *
 * archiver.c
 *		The consume loop, the open object of each partition and the cut
 *		protocol (see archiver.h).
 *
 * One thread does the work: it polls the consumer, appends records to the
 * open object of their partition and stores objects synchronously, so at
 * most one cut per partition is ever in flight and a rebalance (served
 * inside the poll) never meets one.  An object is cut when the next
 * record belongs to another origin or hour, at object-max-records or
 * object-max-bytes, after object-max-age, and at shutdown.  A HEARTBEAT
 * (the sink's "nothing missing here") joins the open object whatever its
 * table, and an object of heartbeats alone waits for the next change, hour
 * or size limit (or shutdown) instead of object-max-age: an idle topic
 * adds an object an hour per partition, not one an age.  Its offsets are
 * committed when it is stored, as any object's.  While the
 * store is down the loop retries the same cut with backoff and consumes
 * nothing else (max.poll.interval.ms is an hour for that).
 *
 * Topics matching ndjson-topics get NDJSON objects: each record is rendered
 * (common/change_ndjson.c) when it is consumed, so the object's bytes are
 * ready at the cut like a raw object's frames.  Records that are not
 * walstar Changes stay raw under dead_letters/ in every topic.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "walstar.pb-c.h"

#include "archiver.h"
#include "change_peek.h"
#include "kafka.h"
#include "layout.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "object.h"
#include "s3.h"

/* The origin and hour a record belongs to. */
typedef struct Group
{
	bool	dead;		 /* not a walstar Change: dead_letters/ */
	bool	heartbeat;	 /* a HEARTBEAT record (no table) */
	char	source[256]; /* Change.source, or "dead_letters" */
	char	table[512];	 /* schema.table, "_<topic>", or the topic */
	int64_t hour;		 /* commit (or Kafka) time / 1 h */
	int64_t time_us;	 /* the time itself */
} Group;

typedef struct Part
{
	char		*topic;
	int32_t		 partition;
	ObjectBuffer buf;			/* the open object's frames */
	int64_t		 first;			/* first offset consumed since the last store,
							  * -1: nothing open */
	int64_t		 last;			/* last offset consumed */
	int64_t		 forced_cut;	/* a cut mark to honour, -1: none */
	bool		 forced_ndjson; /* the format of that cut mark */
	bool		 topic_ndjson;	/* ndjson-topics matches the topic */
	bool		 ndjson;		/* the open object is NDJSON */
	Group		 group;			/* of the open object's first record */
	bool		 has_group;		/* group is set (a record was appended) */
	bool		 beats_only;	/* the open object holds only HEARTBEATs */
	int64_t		 opened_ms;		/* when the object was opened */
} Part;

typedef struct Archiver
{
	Config				  *cfg;
	rd_kafka_t			  *rk;
	S3					  *s3;
	Part				  *parts;
	int					   nparts;
	volatile sig_atomic_t *stop;
	int64_t				   deadline_ms; /* shutdown: give up retrying then */
	regex_t				   ndjson_re;	/* ndjson-topics, compiled */
	bool				   have_ndjson; /* ndjson-topics is set */
} Archiver;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static Part *
find_part(Archiver *a, const char *topic, int32_t partition)
{
	int	  i;
	Part *p;

	for (i = 0; i < a->nparts; i++)
	{
		if (a->parts[i].partition == partition &&
			strcmp(a->parts[i].topic, topic) == 0)
			return &a->parts[i];
	}
	p = realloc(a->parts, sizeof(Part) * (a->nparts + 1));
	if (p == NULL)
		return NULL;
	a->parts = p;
	p = &a->parts[a->nparts];
	memset(p, 0, sizeof(*p));
	p->topic = strdup(topic);
	if (p->topic == NULL)
		return NULL;
	p->partition = partition;
	p->first = -1;
	p->forced_cut = -1;
	p->topic_ndjson =
		a->have_ndjson && regexec(&a->ndjson_re, topic, 0, NULL, 0) == 0;
	a->nparts++;
	return p;
}

static void
part_reset(Part *p)
{
	atomic_fetch_sub(&metrics.open_records, (int64_t)p->buf.records);
	object_reset(&p->buf);
	p->first = -1;
	p->has_group = false;
	p->beats_only = false;
}

static void
classify(const rd_kafka_message_t *m, Group *g)
{
	ChangePeek c;
	int64_t	   ts = rd_kafka_message_timestamp(m, NULL) * 1000;

	memset(g, 0, sizeof(*g));
	if (m->payload != NULL && change_peek(m->payload, m->len, &c) &&
		c.source_len > 0 && c.source_len < sizeof(g->source) &&
		c.schema_len + c.table_len + 2 < sizeof(g->table))
	{
		memcpy(g->source, c.source, c.source_len);
		if (c.table_len > 0)
			snprintf(g->table, sizeof(g->table), "%.*s.%.*s",
					 (int)c.schema_len, c.schema, (int)c.table_len, c.table);
		else
			snprintf(g->table, sizeof(g->table), "_%s",
					 rd_kafka_topic_name(m->rkt));
		g->time_us = c.commit_time != 0 ? c.commit_time : ts;
		g->heartbeat = c.op == WALSTAR__V1__OP__HEARTBEAT;
		if (strchr(g->source, '/') == NULL && strchr(g->table, '/') == NULL &&
			strcmp(g->source, LAYOUT_DEAD_LETTERS) != 0 &&
			g->source[0] != '.' && g->table[0] != '.')
		{
			g->hour = g->time_us >= 0
						  ? g->time_us / 3600000000LL
						  : (g->time_us - 3599999999LL) / 3600000000LL;
			return;
		}
	}
	memset(g, 0, sizeof(*g));
	g->dead = true;
	strcpy(g->source, LAYOUT_DEAD_LETTERS);
	snprintf(g->table, sizeof(g->table), "%s", rd_kafka_topic_name(m->rkt));
	g->time_us = ts;
	g->hour = ts >= 0 ? ts / 3600000000LL : (ts - 3599999999LL) / 3600000000LL;
}

static bool
same_group(const Group *a, const Group *b)
{
	return a->dead == b->dead && a->hour == b->hour &&
		   strcmp(a->source, b->source) == 0 &&
		   strcmp(a->table, b->table) == 0;
}

/*
 * A heartbeat says only that nothing is missing before it: it does not
 * split the object of a table (or of the transactions topic) it falls in.
 */
static bool
joins(const Part *p, const Group *g)
{
	return g->heartbeat && !p->group.dead && !p->beats_only;
}

static bool
stopping_now(Archiver *a)
{
	return *a->stop && (a->deadline_ms == 0 || now_ms() > a->deadline_ms);
}

/* Commit offset with metadata (NULL: none), synchronously. */
static bool
commit(Archiver *a, Part *p, int64_t offset, const char *metadata)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_t		*tp;
	rd_kafka_resp_err_t				 e;

	tp = rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
	tp->offset = offset;
	if (metadata != NULL)
	{
		tp->metadata = strdup(metadata);
		tp->metadata_size = strlen(metadata);
	}
	e = rd_kafka_commit(a->rk, l, 0);
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR &&
		tp->err != RD_KAFKA_RESP_ERR_NO_ERROR)
		e = tp->err;
	rd_kafka_topic_partition_list_destroy(l);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		atomic_fetch_add(&metrics.commit_errors_total, 1);
		log_error("kafka",
				  "topic=%s partition=%" PRId32 " offset=%" PRId64 " msg=%s",
				  LOG_V(p->topic), p->partition, offset,
				  LOG_Q(rd_kafka_err2str(e)));
		return false;
	}
	return true;
}

/* Sleep ms, or less when asked to stop. */
static void
backoff(Archiver *a, int ms)
{
	int64_t end = now_ms() + ms;

	/*
	 * No rd_kafka_poll here: the consumer's main queue is forwarded to the
	 * consumer queue, which only rd_kafka_consumer_poll may serve.
	 */
	while (!stopping_now(a) && now_ms() < end)
	{
		notify_watchdog(now_ms());
		usleep(50000);
	}
}

/*
 * Store the open object of p: cut mark, PUT (verified), commit.  Retries
 * until it succeeds; false only when asked to stop meanwhile (then the
 * cut mark, if committed, makes the next run rewrite the same object).
 */
static bool
cut(Archiver *a, Part *p)
{
	Config	   *cfg = a->cfg;
	char		key[2048];
	char		mark[64];
	char		err[1024];
	uint8_t	   *body = NULL;
	size_t		bodylen = 0;
	int			delay = 250;
	bool		reported = false;
	const char *ext = object_extension(p->ndjson, cfg->compression);

	if (p->first < 0)
		return true;
	if (!p->has_group)
	{
		/* only tombstones: nothing to keep, the offsets are done */
		while (!commit(a, p, p->last + 1, NULL))
		{
			if (stopping_now(a))
				return false;
			backoff(a, 1000);
		}
		part_reset(p);
		p->forced_cut = -1;
		return true;
	}
	if (!layout_key(key, sizeof(key), cfg->prefix, p->group.source,
					p->group.table, p->group.time_us, p->topic, p->partition,
					p->first, p->last, ext))
	{
		log_error("archive", "topic=%s partition=%" PRId32 " msg=%s",
				  LOG_V(p->topic), p->partition, LOG_Q("object key too long"));
		return false;
	}
	layout_cut_metadata(mark, sizeof(mark), p->last, p->ndjson);
	while (!commit(a, p, p->first, mark))
	{
		if (stopping_now(a))
			return false;
		backoff(a, 1000);
	}
	if (!object_compress(&p->buf, cfg->compression, cfg->compression_level,
						 &body, &bodylen, err, sizeof(err)))
	{
		log_error("archive", "key=%s msg=%s", LOG_Q(key), LOG_Q(err));
		return false;
	}
	for (;;)
	{
		char	   records[32], first[32], last[32], part[16];
		const bool dead = p->group.dead;
		S3Meta	   meta[] = {
				{"walstar-format", dead ? "kafka-values-length-delimited"
								   : p->ndjson
									   ? "walstar.v1.Change-ndjson"
									   : "walstar.v1.Change-length-delimited"},
				{"walstar-compression",
			 cfg->compression == COMPRESSION_GZIP ? "gzip" : "zstd"},
				{"walstar-records", records},
				{"walstar-topic", p->topic},
				{"walstar-partition", part},
				{"walstar-first-offset", first},
				{"walstar-last-offset", last},
		};

		snprintf(records, sizeof(records), "%" PRIu64, p->buf.records);
		snprintf(first, sizeof(first), "%" PRId64, p->first);
		snprintf(last, sizeof(last), "%" PRId64, p->last);
		snprintf(part, sizeof(part), "%" PRId32, p->partition);
		if (s3_put(a->s3, key, body, bodylen,
				   cfg->compression == COMPRESSION_GZIP ? "application/gzip"
														: "application/zstd",
				   meta, sizeof(meta) / sizeof(meta[0]), err, sizeof(err)))
			break;
		atomic_fetch_add(&metrics.store_errors_total, 1);
		atomic_store(&metrics.store_up, 0);
		if (!reported || log_get_level() <= LEVEL_DEBUG)
			log_error("s3", "key=%s msg=%s retry=true", LOG_Q(key),
					  LOG_Q(err));
		reported = true;
		if (stopping_now(a))
		{
			free(body);
			return false;
		}
		backoff(a, delay);
		delay = delay < 16000 ? delay * 2 : 30000;
	}
	if (reported)
		log_info("s3", "msg=\"object store answers again\"");
	atomic_store(&metrics.store_up, 1);
	while (!commit(a, p, p->last + 1, NULL))
	{
		if (stopping_now(a))
		{
			free(body);
			return false;
		}
		backoff(a, 1000);
	}
	atomic_fetch_add(&metrics.objects_total, 1);
	atomic_fetch_add(&metrics.object_bytes_total, bodylen);
	if (p->group.dead)
		atomic_fetch_add(&metrics.dead_letters_total, p->buf.records);
	else if (p->group.time_us > atomic_load(&metrics.last_commit_us))
		atomic_store(&metrics.last_commit_us, p->group.time_us);
	log_info("archive",
			 "key=%s records=%" PRIu64 " bytes=%zu compressed=%zu "
			 "msg=\"object stored\"",
			 LOG_Q(key), p->buf.records, p->buf.len, bodylen);
	free(body);
	part_reset(p);
	p->forced_cut = -1;
	return true;
}

/* Add one consumed message; false when a cut gave up (stopping). */
static bool
add(Archiver *a, const rd_kafka_message_t *m)
{
	Config *cfg = a->cfg;
	Part   *p = find_part(a, rd_kafka_topic_name(m->rkt), m->partition);
	Group	g;
	bool	forced;

	if (p == NULL)
	{
		log_error("archive", "msg=\"out of memory\"");
		return false;
	}
	atomic_fetch_add(&metrics.records_total, 1);
	atomic_fetch_add(&metrics.bytes_total, m->len);
	if (p->forced_cut >= 0 && m->offset > p->forced_cut)
	{
		/* the marked range ended early (records gone): close it there */
		if (p->first >= 0 && !cut(a, p))
			return false;
		p->forced_cut = -1;
	}
	forced = p->forced_cut >= 0;
	if (m->payload != NULL)
	{
		classify(m, &g);
		if (!forced && p->has_group && !same_group(&p->group, &g) &&
			!joins(p, &g) && !cut(a, p))
			return false;
	}
	if (p->first < 0)
	{
		p->first = m->offset;
		p->opened_ms = now_ms();
	}
	p->last = m->offset;
	if (m->payload != NULL)
	{
		if (!p->has_group)
		{
			p->group = g;
			p->has_group = true;
			p->beats_only = g.heartbeat;
			p->ndjson =
				(forced ? p->forced_ndjson : p->topic_ndjson) && !g.dead;
		}
		else if (!g.heartbeat)
			p->beats_only = false;
		if (!(p->ndjson ? object_append_ndjson(&p->buf, m->payload, m->len,
											   m->offset)
						: object_append(&p->buf, m->payload, m->len)))
		{
			log_error("archive", "msg=\"out of memory\"");
			return false;
		}
		atomic_fetch_add(&metrics.open_records, 1);
	}
	if (forced ? m->offset >= p->forced_cut
			   : (p->buf.records >= (uint64_t)cfg->object_max_records ||
				  p->buf.len >= (size_t)cfg->object_max_bytes))
		return cut(a, p);
	return true;
}

static void
on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	Archiver *a = opaque;
	int		  i;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
	{
		rd_kafka_resp_err_t e = rd_kafka_committed(rk, parts, 30000);

		if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			/*
			 * Without the cut marks we could write a second object over a
			 * range: better not to archive until we know them.
			 */
			log_error("kafka", "msg=%s",
					  LOG_Q("cannot read the committed offsets and cut "
							"marks; exiting"));
			*a->stop = 1;
			a->deadline_ms = 1;
			rd_kafka_assign(rk, NULL);
			return;
		}
		for (i = 0; i < parts->cnt; i++)
		{
			rd_kafka_topic_partition_t *tp = &parts->elems[i];
			Part *p = find_part(a, tp->topic, tp->partition);

			if (p == NULL)
				continue;
			part_reset(p);
			p->forced_cut = layout_parse_cut(tp->metadata, tp->metadata_size,
											 &p->forced_ndjson);
			log_info("kafka",
					 "topic=%s partition=%" PRId32 " committed=%" PRId64
					 " cut=%" PRId64 " msg=\"assigned\"",
					 LOG_V(tp->topic), tp->partition, tp->offset,
					 p->forced_cut);
		}
		rd_kafka_assign(rk, parts);
	}
	else
	{
		for (i = 0; i < parts->cnt; i++)
		{
			Part *p =
				find_part(a, parts->elems[i].topic, parts->elems[i].partition);

			/* not stored, not committed: the next owner reads it again */
			if (p != NULL)
			{
				part_reset(p);
				p->forced_cut = -1;
			}
		}
		rd_kafka_assign(rk, NULL);
	}
}

static bool
subscribe(Archiver *a, char *err, size_t errlen)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
	rd_kafka_resp_err_t				 e;

	if (a->cfg->topic_pattern != NULL)
	{
		char pat[1024];

		/* librdkafka takes a topic starting with '^' as a regex */
		snprintf(pat, sizeof(pat), "%s%s",
				 a->cfg->topic_pattern[0] == '^' ? "" : "^.*",
				 a->cfg->topic_pattern);
		rd_kafka_topic_partition_list_add(l, pat, RD_KAFKA_PARTITION_UA);
	}
	else
	{
		char *list = strdup(a->cfg->topics);
		char *save = NULL;
		char *t;

		for (t = strtok_r(list, ", ", &save); t != NULL;
			 t = strtok_r(NULL, ", ", &save))
			rd_kafka_topic_partition_list_add(l, t, RD_KAFKA_PARTITION_UA);
		free(list);
	}
	e = rd_kafka_subscribe(a->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		snprintf(err, errlen, "cannot subscribe: %s", rd_kafka_err2str(e));
		return false;
	}
	return true;
}

int
archiver_run(Config *cfg, volatile sig_atomic_t *stop,
			 volatile sig_atomic_t *reload)
{
	Archiver a;
	char	 err[1024];
	int		 rc = 0;
	int		 i;
	int64_t	 last_tick = 0;

	memset(&a, 0, sizeof(a));
	a.cfg = cfg;
	a.stop = stop;
	if (cfg->ndjson_topics != NULL)
	{
		/* config_load checked it */
		if (regcomp(&a.ndjson_re, cfg->ndjson_topics,
					REG_EXTENDED | REG_NOSUB) != 0)
			return 1;
		a.have_ndjson = true;
	}
	a.s3 = s3_create(cfg, err, sizeof(err));
	if (a.s3 == NULL)
	{
		log_error("s3", "msg=%s", LOG_Q(err));
		return 1;
	}
	/*
	 * Wrong credentials or an unreachable store: one clear line and exit,
	 * before anything is consumed or committed.
	 */
	if (!s3_check_bucket(a.s3, err, sizeof(err)))
	{
		log_error("s3", "endpoint=%s bucket=%s msg=%s",
				  LOG_Q(cfg->s3_endpoint), LOG_V(cfg->s3_bucket), LOG_Q(err));
		s3_destroy(a.s3);
		return 1;
	}
	atomic_store(&metrics.store_up, 1);
	a.rk = kafka_create(cfg, RD_KAFKA_CONSUMER, on_rebalance, NULL, &a, err,
						sizeof(err));
	if (a.rk == NULL)
	{
		log_error("kafka", "msg=%s", LOG_Q(err));
		s3_destroy(a.s3);
		return 1;
	}
	rd_kafka_poll_set_consumer(a.rk);
	if (!subscribe(&a, err, sizeof(err)))
	{
		log_error("kafka", "msg=%s", LOG_Q(err));
		rd_kafka_destroy(a.rk);
		s3_destroy(a.s3);
		return 1;
	}
	log_info("archive", "bucket=%s prefix=%s msg=\"archiving\"",
			 LOG_V(cfg->s3_bucket), LOG_V(cfg->prefix));
	notify_ready("archiving");

	while (!*stop)
	{
		rd_kafka_message_t *m = rd_kafka_consumer_poll(a.rk, 100);
		int64_t				now = now_ms();

		if (m != NULL)
		{
			if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
			{
				if (!add(&a, m))
				{
					rd_kafka_message_destroy(m);
					break;
				}
			}
			else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				log_warning("kafka", "msg=%s",
							LOG_Q(rd_kafka_message_errstr(m)));
			rd_kafka_message_destroy(m);
		}
		if (now - last_tick >= 200)
		{
			last_tick = now;
			notify_watchdog(now);
			for (i = 0; i < a.nparts && !*stop; i++)
			{
				Part *p = &a.parts[i];

				/* heartbeats alone wait for a change, an hour or a limit */
				if (p->first >= 0 && p->forced_cut < 0 && !p->beats_only &&
					now - p->opened_ms >= (int64_t)cfg->object_max_age * 1000)
					cut(&a, p);
			}
		}
		if (*reload)
		{
			*reload = 0;
			notify_reloading();
			if (!config_reload(cfg, err, sizeof(err)))
				log_error("config", "msg=%s", LOG_Q(err));
			else
			{
				log_set_level((LogLevel)cfg->log_level);
				log_set_timestamps(cfg->log_timestamps);
				s3_set_timeout(a.s3, cfg->s3_timeout);
			}
			notify_ready("archiving");
		}
	}

	/* drain: store what is open, within shutdown-timeout */
	notify_stopping();
	a.deadline_ms = now_ms() + (int64_t)cfg->shutdown_timeout * 1000;
	for (i = 0; i < a.nparts; i++)
	{
		if (a.parts[i].first >= 0 && !cut(&a, &a.parts[i]))
		{
			log_error("archive",
					  "topic=%s partition=%" PRId32
					  " msg=\"open object not stored before the shutdown "
					  "timeout; it is archived again at the next start\"",
					  LOG_V(a.parts[i].topic), a.parts[i].partition);
			rc = 1;
		}
	}
	rd_kafka_consumer_close(a.rk);
	rd_kafka_destroy(a.rk);
	s3_destroy(a.s3);
	for (i = 0; i < a.nparts; i++)
	{
		object_free(&a.parts[i].buf);
		free(a.parts[i].topic);
	}
	free(a.parts);
	if (a.have_ndjson)
		regfree(&a.ndjson_re);
	log_info("archive", "msg=\"stopped\"");
	return rc;
}

int
archiver_status(Config *cfg)
{
	char							 err[1024];
	rd_kafka_t						*rk;
	const struct rd_kafka_metadata	*md = NULL;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
	rd_kafka_resp_err_t				 e;
	regex_t							 re;
	bool							 have_re = false;
	int								 i, j, rc = 0;

	rk = kafka_create(cfg, RD_KAFKA_CONSUMER, NULL, NULL, NULL, err,
					  sizeof(err));
	if (rk == NULL)
	{
		log_error("kafka", "msg=%s", LOG_Q(err));
		return 1;
	}
	if (cfg->topic_pattern != NULL)
	{
		if (regcomp(&re, cfg->topic_pattern, REG_EXTENDED | REG_NOSUB) != 0)
		{
			log_error(
				"config", "msg=%s",
				LOG_Q("topic-pattern is not a valid regular expression"));
			rc = 1;
			goto done;
		}
		have_re = true;
	}
	e = rd_kafka_metadata(rk, 1, NULL, &md, 30000);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		log_error("kafka", "msg=%s", LOG_Q(rd_kafka_err2str(e)));
		rc = 1;
		goto done;
	}
	for (i = 0; i < md->topic_cnt; i++)
	{
		const char *t = md->topics[i].topic;
		bool		wanted = false;

		if (have_re)
			wanted = regexec(&re, t, 0, NULL, 0) == 0;
		else
		{
			char *list = strdup(cfg->topics);
			char *save = NULL;
			char *w;

			for (w = strtok_r(list, ", ", &save); w != NULL;
				 w = strtok_r(NULL, ", ", &save))
				wanted |= strcmp(w, t) == 0;
			free(list);
		}
		if (!wanted)
			continue;
		for (j = 0; j < md->topics[i].partition_cnt; j++)
			rd_kafka_topic_partition_list_add(l, t,
											  md->topics[i].partitions[j].id);
	}
	e = rd_kafka_committed(rk, l, 30000);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		log_error("kafka", "msg=%s", LOG_Q(rd_kafka_err2str(e)));
		rc = 1;
		goto done;
	}
	for (i = 0; i < l->cnt; i++)
	{
		rd_kafka_topic_partition_t *tp = &l->elems[i];

		printf("topic=%s partition=%" PRId32 " committed=%" PRId64
			   " cut=%" PRId64 "\n",
			   tp->topic, tp->partition, tp->offset,
			   layout_parse_cut(tp->metadata, tp->metadata_size, NULL));
	}
done:
	if (have_re)
		regfree(&re);
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(rk);
	return rc;
}
