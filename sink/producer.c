/*-------------------------------------------------------------------------
 *
 * producer.c
 *		librdkafka producer for the sink.
 *
 * Settings forced on top of the user's [kafka] properties:
 *	enable.idempotence=true, acks=all	no loss, no reordering on retry
 *	message.timeout.ms=0 (default)		retry forever while Kafka is down;
 *										the queue fills and the sink stops
 *										reading from PostgreSQL
 *	log.queue=true						librdkafka's log lines are served by
 *										producer_poll on the main thread
 * With kafka-transactions the producer is transactional (standby.c runs
 * the transactions): transactional.id walstar-sink.<topic-prefix>.<slot>
 * unless the [kafka] section sets one, message.timeout.ms left to
 * librdkafka (at most transaction.timeout.ms, as transactions require),
 * and every message carries the header walstar.sink = <host>:<pid>, so
 * Kafka shows which sink process wrote what.
 * Delivery reports, errors and logs all go to the main queue, which
 * writes a byte to a pipe when it becomes non-empty: the main loop polls
 * that pipe next to the replication socket.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "producer.h"

/* Topic handle cache: open addressing, never shrinks (topics are few). */
typedef struct TopicSlot
{
	char			 *name;			 /* NULL: empty slot */
	rd_kafka_topic_t *rkt;			 /* handle, topic known to exist */
	int				  partition_cnt; /* from metadata, 0: not fetched yet */
	int64_t			  last_sent_ms;	 /* last message queued (monotonic) */
} TopicSlot;

struct Producer
{
	rd_kafka_t		  *rk;				 /* the handle */
	rd_kafka_queue_t  *mainq;			 /* its main queue */
	int				   pipefd[2];		 /* main queue wake-up pipe */
	const Config	  *cfg;				 /* settings (topic partitions, ...) */
	ProducerDeliveryFn on_delivery;		 /* delivery report consumer */
	void			  *arg;				 /* its argument */
	TopicSlot		  *topics;			 /* known topics */
	int				   ntopics_alloc;	 /* slots in topics, a power of two */
	int				   ntopics;			 /* used slots */
	char			   fatal[512];		 /* fatal error text, "" if none */
	char			   txn_failure[512]; /* the open transaction failed */
	bool			   destroying;		 /* purged messages: no more reports */
	bool			   quiet;		  /* startup check: no librdkafka lines */
	time_t			   last_down_log; /* rate limit of "all brokers down" */
	uint64_t		   sent;		  /* messages queued, ever */
	char			   instance[320]; /* walstar.sink header, "" if none */
};

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	Producer *p = opaque;

	if (!p->destroying)
		p->on_delivery(msg->_private, msg, p->arg);
}

/*
 * Statistics, only to learn whether some broker is up (librdkafka reports
 * ALL_BROKERS_DOWN but not the way back).  Each broker object has "source"
 * before "state"; the internal broker's source is "internal".
 */
static int
stats_cb(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
	const char *p = json;
	bool		up = false;

	while (!up && (p = strstr(p, "\"source\":\"")) != NULL)
	{
		const char *state = strstr(p, "\"state\":\"");

		p += strlen("\"source\":\"");
		up = strncmp(p, "internal\"", 9) != 0 && state != NULL &&
			 strncmp(state + strlen("\"state\":\""), "UP\"", 3) == 0;
	}
	metrics_set_connected(PEER_KAFKA, up);
	return 0;
}

static void
error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	Producer *p = opaque;

	if (err == RD_KAFKA_RESP_ERR__FATAL)
	{
		char buf[512];

		rd_kafka_fatal_error(rk, buf, sizeof(buf));
		snprintf(p->fatal, sizeof(p->fatal), "%s", buf);
		/* without transactions main.c starts a new producer */
		if (p->cfg->kafka_transactions)
			log_error("kafka", "msg=\"fatal producer error: %s\"", buf);
		else
			log_warning("kafka", "msg=\"fatal producer error: %s\"", buf);
		return;
	}
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		metrics_set_connected(PEER_KAFKA, false);
	if (p->quiet && err != RD_KAFKA_RESP_ERR__FATAL)
		return;
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
	{
		time_t now = time(NULL);

		if (now - p->last_down_log >= 10)
		{
			log_warning("kafka",
						"msg=\"all brokers are down; messages stay queued and "
						"are retried\" reason=%s",
						LOG_Q(reason));
			p->last_down_log = now;
		}
		return;
	}
	log_warning("kafka", "error=%s msg=%s", rd_kafka_err2name(err),
				LOG_Q(reason));
}

static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	/* syslog levels: 0-3 errors, 4 warning, 5-6 notice/info, 7 debug */
	LogLevel l = level <= 3	  ? LEVEL_ERROR
				 : level == 4 ? LEVEL_WARNING
				 : level <= 6 ? LEVEL_INFO
							  : LEVEL_DEBUG;

	Producer *p = rd_kafka_opaque(rk);

	/* broker connection failures are warnings for us, not errors */
	if (l == LEVEL_ERROR)
		l = LEVEL_WARNING;
	if (l < log_get_level() || (p != NULL && p->quiet && l < LEVEL_ERROR))
		return;
	log_event(l, "kafka", "facility=%s msg=%s", LOG_V(fac), LOG_Q(buf));
}

static bool
conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err,
		 size_t errlen)
{
	char errstr[512];

	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) !=
		RD_KAFKA_CONF_OK)
	{
		snprintf(err, errlen, "Kafka property '%s': %s", name, errstr);
		return false;
	}
	return true;
}

Producer *
producer_create(const Config *cfg, ProducerDeliveryFn on_delivery, void *arg,
				char *err, size_t errlen)
{
	Producer		*p = calloc(1, sizeof(Producer));
	rd_kafka_conf_t *conf = NULL;
	char			 errstr[512];
	sigset_t		 all, old;
	int				 i;

	if (p == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->pipefd[0] = p->pipefd[1] = -1;
	p->cfg = cfg;
	p->on_delivery = on_delivery;
	p->arg = arg;
	p->ntopics_alloc = 64;
	p->topics = calloc(p->ntopics_alloc, sizeof(TopicSlot));
	if (p->topics == NULL || pipe(p->pipefd) != 0)
	{
		snprintf(err, errlen, "cannot set up the producer: %s",
				 strerror(errno));
		goto fail;
	}
	fcntl(p->pipefd[0], F_SETFL, O_NONBLOCK);
	fcntl(p->pipefd[1], F_SETFL, O_NONBLOCK);

	conf = rd_kafka_conf_new();
	/* our defaults; the [kafka] section may override them */
	if (!conf_set(conf, "client.id", "walstar-sink", err, errlen) ||
		!conf_set(conf, "linger.ms", "20", err, errlen) ||
		(!cfg->kafka_transactions &&
		 !conf_set(conf, "message.timeout.ms", "0", err, errlen)) ||
		!conf_set(conf, "partitioner", "murmur2_random", err, errlen) ||
		!conf_set(conf, "queue.buffering.max.messages", "100000", err,
				  errlen) ||
		!conf_set(conf, "queue.buffering.max.kbytes", "262144", err, errlen) ||
		!conf_set(conf, "statistics.interval.ms", "5000", err, errlen))
		goto fail;
	if (cfg->brokers != NULL &&
		!conf_set(conf, "bootstrap.servers", cfg->brokers, err, errlen))
		goto fail;
	if (cfg->kafka_transactions)
	{
		char txnid[512];
		char host[256];

		snprintf(txnid, sizeof(txnid), "walstar-sink.%s.%s", cfg->topic_prefix,
				 cfg->slot);
		if (!conf_set(conf, "transactional.id", txnid, err, errlen))
			goto fail;
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "unknown");
		host[sizeof(host) - 1] = '\0';
		snprintf(p->instance, sizeof(p->instance), "%s:%d", host,
				 (int)getpid());
	}
	for (i = 0; i < cfg->nkafka; i++)
	{
		const KafkaProperty *kp = &cfg->kafka[i];

		if ((strcmp(kp->name, "enable.idempotence") == 0 &&
			 strcmp(kp->value, "true") != 0) ||
			(strcmp(kp->name, "acks") == 0 && strcmp(kp->value, "all") != 0 &&
			 strcmp(kp->value, "-1") != 0))
		{
			snprintf(err, errlen,
					 "Kafka property '%s' cannot be changed: the sink "
					 "needs enable.idempotence=true and acks=all",
					 kp->name);
			goto fail;
		}
		if (strcmp(kp->name, "transactional.id") == 0 &&
			!cfg->kafka_transactions)
		{
			snprintf(err, errlen,
					 "Kafka property 'transactional.id' needs "
					 "kafka-transactions = true");
			goto fail;
		}
		if (!conf_set(conf, kp->name, kp->value, err, errlen))
			goto fail;
	}
	if (!conf_set(conf, "enable.idempotence", "true", err, errlen) ||
		!conf_set(conf, "acks", "all", err, errlen) ||
		!conf_set(conf, "log.queue", "true", err, errlen))
		goto fail;
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_stats_cb(conf, stats_cb);
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rd_kafka_conf_set_opaque(conf, p);

	/* librdkafka's threads inherit this mask: they never get our signals */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (p->rk == NULL)
	{
		snprintf(err, errlen, "cannot create the Kafka producer: %s", errstr);
		goto fail;
	}
	conf = NULL; /* owned by the handle now */

	rd_kafka_set_log_queue(p->rk, NULL);
	p->mainq = rd_kafka_queue_get_main(p->rk);
	rd_kafka_queue_io_event_enable(p->mainq, p->pipefd[1], "1", 1);
	return p;

fail:
	if (conf != NULL)
		rd_kafka_conf_destroy(conf);
	producer_destroy(p);
	return NULL;
}

bool
producer_check_cluster(Producer *p, int timeout_ms, char *err, size_t errlen)
{
	struct timespec		start, now;
	rd_kafka_resp_err_t rc = RD_KAFKA_RESP_ERR_NO_ERROR;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;)
	{
		const struct rd_kafka_metadata *md = NULL;
		long							elapsed;

		rc = rd_kafka_metadata(p->rk, 0, NULL, &md, 2000);
		if (rc == RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			int nbrokers = md->broker_cnt;

			rd_kafka_metadata_destroy(md);
			if (nbrokers > 0)
				return true;
		}
		producer_poll(p, 0);
		clock_gettime(CLOCK_MONOTONIC, &now);
		elapsed = (now.tv_sec - start.tv_sec) * 1000 +
				  (now.tv_nsec - start.tv_nsec) / 1000000;
		if (elapsed >= timeout_ms)
			break;
		usleep(200 * 1000);
	}
	snprintf(err, errlen, "cannot reach Kafka at %s within %d s: %s",
			 p->cfg->brokers ? p->cfg->brokers : "(bootstrap.servers)",
			 timeout_ms / 1000, rd_kafka_err2str(rc));
	return false;
}

static uint32_t
hash_name(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static TopicSlot *
topic_lookup(Producer *p, const char *name)
{
	uint32_t mask = (uint32_t)p->ntopics_alloc - 1;
	uint32_t i = hash_name(name) & mask;

	while (p->topics[i].name != NULL && strcmp(p->topics[i].name, name) != 0)
		i = (i + 1) & mask;
	return &p->topics[i];
}

static void
topic_grow(Producer *p)
{
	TopicSlot *old = p->topics;
	int		   nold = p->ntopics_alloc;
	int		   i;

	p->ntopics_alloc *= 2;
	p->topics = calloc(p->ntopics_alloc, sizeof(TopicSlot));
	if (p->topics == NULL)
	{
		log_error("kafka", "msg=\"out of memory\"");
		exit(1);
	}
	for (i = 0; i < nold; i++)
	{
		if (old[i].name != NULL)
			*topic_lookup(p, old[i].name) = old[i];
	}
	free(old);
}

/* Create topic (if missing) through the Admin API, synchronously. */
static bool
create_topic(Producer *p, const char *name, int partitions, bool *created,
			 char *err, size_t errlen)
{
	char					 errstr[512];
	rd_kafka_NewTopic_t		*nt;
	rd_kafka_AdminOptions_t *opts = NULL;
	rd_kafka_queue_t		*q = NULL;
	rd_kafka_event_t		*ev = NULL;
	bool					 ok = false;

	nt = rd_kafka_NewTopic_new(name, partitions, p->cfg->topic_replication,
							   errstr, sizeof(errstr));
	if (nt == NULL)
	{
		snprintf(err, errlen, "invalid topic %s: %s", name, errstr);
		return false;
	}
	opts = rd_kafka_AdminOptions_new(p->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_AdminOptions_set_operation_timeout(opts, 10000, errstr,
												sizeof(errstr));
	rd_kafka_AdminOptions_set_request_timeout(opts, 10000, errstr,
											  sizeof(errstr));
	q = rd_kafka_queue_new(p->rk);
	rd_kafka_CreateTopics(p->rk, &nt, 1, opts, q);
	ev = rd_kafka_queue_poll(q, 15000);
	if (ev == NULL)
	{
		snprintf(err, errlen, "no answer creating topic %s", name);
		goto done;
	}
	if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		snprintf(err, errlen, "cannot create topic %s: %s", name,
				 rd_kafka_event_error_string(ev));
		goto done;
	}
	else
	{
		const rd_kafka_CreateTopics_result_t *res =
			rd_kafka_event_CreateTopics_result(ev);
		size_t							n;
		const rd_kafka_topic_result_t **tr =
			rd_kafka_CreateTopics_result_topics(res, &n);
		rd_kafka_resp_err_t e = n == 1 ? rd_kafka_topic_result_error(tr[0])
									   : RD_KAFKA_RESP_ERR_UNKNOWN;

		if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			log_info("kafka", "topic=%s partitions=%d msg=\"topic created\"",
					 name, partitions);
			*created = true;
		}
		else if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
		{
			snprintf(err, errlen, "cannot create topic %s: %s", name,
					 n == 1 && rd_kafka_topic_result_error_string(tr[0])
						 ? rd_kafka_topic_result_error_string(tr[0])
						 : rd_kafka_err2str(e));
			goto done;
		}
	}
	ok = true;
done:
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	if (q != NULL)
		rd_kafka_queue_destroy(q);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_NewTopic_destroy(nt);
	return ok;
}

static int64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * After creating a topic, wait (up to TOPIC_READY_MS) until the metadata
 * shows every partition with a leader, before the first message goes to
 * it. Records produced while a new partition had no leader yet went
 * missing from it once in a while (086: the first READ records of one of
 * three partitions, acknowledged, not in the topic), so the sink does not
 * produce into a partition that is still being created.
 */
#define TOPIC_READY_MS 10000

static void
wait_topic_ready(Producer *p, rd_kafka_topic_t *rkt, const char *name,
				 int partitions)
{
	int64_t start = monotonic_ms();

	for (;;)
	{
		const struct rd_kafka_metadata *md = NULL;
		bool							ready = false;

		if (rd_kafka_metadata(p->rk, 0, rkt, &md, 2000) ==
				RD_KAFKA_RESP_ERR_NO_ERROR &&
			md->topic_cnt == 1 &&
			md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
			md->topics[0].partition_cnt >= partitions)
		{
			ready = true;
			for (int i = 0; i < md->topics[0].partition_cnt; i++)
				if (md->topics[0].partitions[i].leader < 0 ||
					md->topics[0].partitions[i].err !=
						RD_KAFKA_RESP_ERR_NO_ERROR)
					ready = false;
		}
		if (md != NULL)
			rd_kafka_metadata_destroy(md);
		if (ready)
			return;
		if (monotonic_ms() - start > TOPIC_READY_MS)
		{
			log_warning("kafka",
						"topic=%s msg=\"a partition of the new topic has no "
						"leader after %d s; producing anyway\"",
						name, TOPIC_READY_MS / 1000);
			return;
		}
		usleep(50 * 1000);
	}
}

static rd_kafka_topic_t *
topic_handle(Producer *p, const char *name, int partitions, char *err,
			 size_t errlen)
{
	TopicSlot *slot = topic_lookup(p, name);
	bool	   created = false;
	int		   want = partitions > 0 ? partitions : p->cfg->topic_partitions;

	if (slot->name != NULL)
		return slot->rkt;
	if (!create_topic(p, name, want, &created, err, errlen))
		return NULL;
	slot->rkt = rd_kafka_topic_new(p->rk, name, NULL);
	if (slot->rkt == NULL)
	{
		snprintf(err, errlen, "cannot open topic %s: %s", name,
				 rd_kafka_err2str(rd_kafka_last_error()));
		return NULL;
	}
	if (created)
		wait_topic_ready(p, slot->rkt, name, want);
	slot->name = strdup(name);
	if (slot->name == NULL)
	{
		log_error("kafka", "msg=\"out of memory\"");
		exit(1);
	}
	if (++p->ntopics * 2 > p->ntopics_alloc)
		topic_grow(p);
	return topic_lookup(p, name)->rkt;
}

ProduceResult
producer_partition_count(Producer *p, const char *topic, int *count, char *err,
						 size_t errlen)
{
	rd_kafka_topic_t *rkt = topic_handle(p, topic, 0, err, errlen);
	TopicSlot		 *slot;

	if (rkt == NULL)
		return PRODUCE_RETRY;
	slot = topic_lookup(p, topic);
	if (slot->partition_cnt <= 0)
	{
		const struct rd_kafka_metadata *md = NULL;
		rd_kafka_resp_err_t				rc;

		rc = rd_kafka_metadata(p->rk, 0, rkt, &md, 5000);
		if (rc != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			snprintf(err, errlen, "no metadata for topic %s: %s", topic,
					 rd_kafka_err2str(rc));
			return PRODUCE_RETRY;
		}
		if (md->topic_cnt == 1 && md->topics[0].err == 0)
			slot->partition_cnt = md->topics[0].partition_cnt;
		rd_kafka_metadata_destroy(md);
		if (slot->partition_cnt <= 0)
		{
			snprintf(err, errlen, "no partitions known for topic %s", topic);
			return PRODUCE_RETRY;
		}
	}
	*count = slot->partition_cnt;
	return PRODUCE_OK;
}

ProduceResult
producer_key_partition(Producer *p, const char *topic, const void *key,
					   size_t key_len, int32_t *partition, char *err,
					   size_t errlen)
{
	int			  count;
	ProduceResult r = producer_partition_count(p, topic, &count, err, errlen);

	if (r != PRODUCE_OK)
		return r;
	*partition = rd_kafka_msg_partitioner_murmur2_random(
		topic_lookup(p, topic)->rkt, key, key_len, count, NULL, NULL);
	return PRODUCE_OK;
}

ProduceResult
producer_send(Producer *p, const char *topic, int partitions, const void *key,
			  size_t key_len, const void *value, size_t value_len,
			  const ProduceHeaders *headers, void *opaque, char *err,
			  size_t errlen)
{
	return producer_send_to(p, topic, partitions, RD_KAFKA_PARTITION_UA, key,
							key_len, value, value_len, headers, opaque, err,
							errlen);
}

ProduceResult
producer_send_to(Producer *p, const char *topic, int partitions,
				 int32_t partition, const void *key, size_t key_len,
				 const void *value, size_t value_len,
				 const ProduceHeaders *headers, void *opaque, char *err,
				 size_t errlen)
{
	rd_kafka_topic_t   *rkt;
	rd_kafka_headers_t *hdrs = NULL;
	rd_kafka_resp_err_t rc;

	rkt = topic_handle(p, topic, partitions, err, errlen);
	if (rkt == NULL)
		return PRODUCE_RETRY;

	if (headers != NULL)
	{
		hdrs = rd_kafka_headers_new(3);
		if (headers->lsn)
			rd_kafka_header_add(hdrs, "walstar.lsn", -1, headers->lsn, -1);
		if (headers->xid)
			rd_kafka_header_add(hdrs, "walstar.xid", -1, headers->xid, -1);
		if (headers->op)
			rd_kafka_header_add(hdrs, "walstar.op", -1, headers->op, -1);
		if (headers->error)
			rd_kafka_header_add(hdrs, "walstar.error", -1, headers->error, -1);
		if (headers->topic)
			rd_kafka_header_add(hdrs, "walstar.topic", -1, headers->topic, -1);
		if (p->instance[0] != '\0')
			rd_kafka_header_add(hdrs, "walstar.sink", -1, p->instance, -1);
	}
	/*
	 * Rows without a key (REPLICA IDENTITY FULL without a primary key) all go
	 * to partition 0: the partitioner would scatter them, and their changes
	 * must stay in commit order.  An explicit partition wins.
	 */
	if (partition == RD_KAFKA_PARTITION_UA && key_len == 0)
		partition = 0;
	rc = rd_kafka_producev(
		p->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
		RD_KAFKA_V_KEY((void *)key, key_len),
		RD_KAFKA_V_VALUE((void *)value, value_len),
		RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
		RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
	if (rc == RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		p->sent++;
		topic_lookup(p, topic)->last_sent_ms = monotonic_ms();
		return PRODUCE_OK;
	}
	if (hdrs != NULL)
		rd_kafka_headers_destroy(hdrs);
	if (rc == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		return PRODUCE_QUEUE_FULL;
	snprintf(err, errlen, "%s", rd_kafka_err2str(rc));
	if (rc == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
		return PRODUCE_TOO_LARGE;
	/* the transaction is in an abortable error state */
	if (rc == RD_KAFKA_RESP_ERR__STATE && p->cfg->kafka_transactions)
	{
		char why[600];

		snprintf(why, sizeof(why),
				 "Kafka refused to produce into the transaction: %s", err);
		producer_set_txn_failure(p, why);
	}
	return PRODUCE_FAILED;
}

const char *
producer_txn_failure(const Producer *p)
{
	return p->txn_failure[0] != '\0' ? p->txn_failure : NULL;
}

void
producer_set_txn_failure(Producer *p, const char *why)
{
	if (p->txn_failure[0] == '\0')
		snprintf(p->txn_failure, sizeof(p->txn_failure), "%s", why);
}

void
producer_clear_txn_failure(Producer *p)
{
	p->txn_failure[0] = '\0';
}

const char *
producer_next_topic(const Producer *p, int *cursor, int64_t *last_sent_ms)
{
	while (*cursor < p->ntopics_alloc)
	{
		const TopicSlot *slot = &p->topics[(*cursor)++];

		if (slot->name != NULL)
		{
			*last_sent_ms = slot->last_sent_ms;
			return slot->name;
		}
	}
	return NULL;
}

void
producer_set_quiet(Producer *p, bool quiet)
{
	p->quiet = quiet;
}

void
producer_poll(Producer *p, int timeout_ms)
{
	char buf[64];

	while (read(p->pipefd[0], buf, sizeof(buf)) > 0)
		;
	rd_kafka_poll(p->rk, timeout_ms);
}

int
producer_fd(const Producer *p)
{
	return p->pipefd[0];
}

int
producer_queue_len(const Producer *p)
{
	return rd_kafka_outq_len(p->rk);
}

bool
producer_flush(Producer *p, int timeout_ms)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (rd_kafka_outq_len(p->rk) > 0 && p->fatal[0] == '\0')
	{
		long elapsed;

		producer_poll(p, 100);
		clock_gettime(CLOCK_MONOTONIC, &now);
		elapsed = (now.tv_sec - start.tv_sec) * 1000 +
				  (now.tv_nsec - start.tv_nsec) / 1000000;
		if (elapsed >= timeout_ms)
			break;
	}
	producer_poll(p, 0);
	return rd_kafka_outq_len(p->rk) == 0;
}

uint64_t
producer_sent(const Producer *p)
{
	return p->sent;
}

rd_kafka_t *
producer_handle(Producer *p)
{
	return p->rk;
}

const char *
producer_fatal_error(Producer *p)
{
	/* librdkafka knows before its error callback is served */
	if (p->fatal[0] == '\0' &&
		rd_kafka_fatal_error(p->rk, p->fatal, sizeof(p->fatal)) ==
			RD_KAFKA_RESP_ERR_NO_ERROR)
		p->fatal[0] = '\0';
	return p->fatal[0] != '\0' ? p->fatal : NULL;
}

void
producer_destroy(Producer *p)
{
	int i;

	if (p == NULL)
		return;
	if (p->topics != NULL)
	{
		for (i = 0; i < p->ntopics_alloc; i++)
		{
			if (p->topics[i].name != NULL)
			{
				rd_kafka_topic_destroy(p->topics[i].rkt);
				free(p->topics[i].name);
			}
		}
		free(p->topics);
	}
	p->destroying = true;
	if (p->mainq != NULL)
		rd_kafka_queue_destroy(p->mainq);
	if (p->rk != NULL)
		rd_kafka_destroy(p->rk);
	if (p->pipefd[0] >= 0)
		close(p->pipefd[0]);
	if (p->pipefd[1] >= 0)
		close(p->pipefd[1]);
	free(p);
}
