/*-------------------------------------------------------------------------
 *
 * consumer.c
 *		The librdkafka consumer of one apply worker.
 *
 * Partitions are assigned by us (rd_kafka_assign), never by a consumer
 * group: the topics are listed from the cluster metadata, matched against
 * the subscription's topic list or ^pattern here in the main thread, and
 * every partition starts at the offset stored in walstar's own table. No
 * group coordinator is involved, so a restarted worker resumes at once.
 * With several workers (workers => N) each assigns only the partitions
 * subscription_partition_worker() gives it: the same function in every
 * worker, so no two workers of one configuration share a partition, and a
 * change of N is a change of configuration, which no batch of the old one
 * survives (apply_worker.c).
 *
 * librdkafka runs its own threads. They never call into PostgreSQL: the
 * handle is created with every signal blocked (its threads inherit the
 * mask), its logs go to a queue that the main thread forwards to the
 * server log, and a pipe written by librdkafka when messages arrive wakes
 * the worker's WaitLatchOrSocket.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>

#include "catalog/pg_collation.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "walstar.h"

struct Consumer
{
	rd_kafka_t *rk;				/* the handle */
	rd_kafka_queue_t *logq;		/* librdkafka's log lines */
	rd_kafka_queue_t *cq;		/* the consumer queue */
	int			wake[2];		/* pipe written when cq becomes non-empty */
	bool		have_assignment;	/* rd_kafka_assign was called */
	bool		error_new;		/* error_* not yet taken */
	bool		error_lasting;	/* it needs a configuration change */
	char		error_kind[32]; /* kind of the last client error */
	char		error_text[512];	/* its librdkafka text */
};

/*
 * The kind an analyst's status view shows for a librdkafka error, and
 * whether it lasts until someone fixes the configuration (error) or may
 * pass by itself (retrying).
 */
static const char *
error_kind(rd_kafka_resp_err_t err, bool *lasting)
{
	*lasting = false;
	switch (err)
	{
		case RD_KAFKA_RESP_ERR__AUTHENTICATION:
		case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
		case RD_KAFKA_RESP_ERR_ILLEGAL_SASL_STATE:
		case RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM:
		case RD_KAFKA_RESP_ERR__SSL:
			*lasting = true;
			return "authentication";
		case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
		case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
		case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
			*lasting = true;
			return "authorization";
		case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
		case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
		case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
			return "unknown topic";
		case RD_KAFKA_RESP_ERR__TRANSPORT:
		case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
		case RD_KAFKA_RESP_ERR__RESOLVE:
		case RD_KAFKA_RESP_ERR__TIMED_OUT:
			return "broker down";
		default:
			return "kafka";
	}
}

/*
 * The error code a librdkafka error log line stands for. Connection and
 * authentication failures reach the application only as log lines (and
 * as error events, which the consumer poll turns into more log lines), so
 * their text is all there is.
 */
static rd_kafka_resp_err_t
error_code_of_log(const char *line)
{
	if (strstr(line, "SASL") || strstr(line, "uthenticat"))
		return RD_KAFKA_RESP_ERR__AUTHENTICATION;
	if (strstr(line, "uthoriz"))
		return RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
	if (strstr(line, "nknown topic"))
		return RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
	if (strstr(line, "Connect to") || strstr(line, "brokers are down") ||
		strstr(line, "Connection refused") || strstr(line, "resolve"))
		return RD_KAFKA_RESP_ERR__TRANSPORT;
	return RD_KAFKA_RESP_ERR_UNKNOWN;
}

static void
remember_error(Consumer *c, rd_kafka_resp_err_t err, const char *text)
{
	snprintf(c->error_kind, sizeof(c->error_kind), "%s", error_kind(err, &c->error_lasting));
	snprintf(c->error_text, sizeof(c->error_text), "%s", text ? text : rd_kafka_err2str(err));
	c->error_new = true;
}

/*
 * librdkafka's error callback. It runs in the thread that polls, which is
 * ours (rd_kafka_poll_set_consumer routes it to rd_kafka_consumer_poll), but
 * it only copies: the worker reports it after the poll.
 */
static void
on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	remember_error((Consumer *) opaque, (rd_kafka_resp_err_t) err, reason);
}

/*
 * The client error seen since the last call, as "kind: text" (palloc'd),
 * or NULL; *lasting: it needs a configuration change (authentication,
 * authorization) rather than time.
 */
char *
consumer_take_error(Consumer *c, bool *lasting)
{
	if (c == NULL || !c->error_new)
		return NULL;
	c->error_new = false;
	*lasting = c->error_lasting;
	return psprintf("%s: %s", c->error_kind, c->error_text);
}

static void
set_conf(rd_kafka_conf_t *conf, const char *name, const char *value, bool secret)
{
	char		errstr[512];

	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
	{
		rd_kafka_conf_destroy(conf);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid librdkafka property \"%s\"", name),
				 errdetail("%s", secret ? "The value was rejected." : errstr)));
	}
}

Consumer *
consumer_create(const Subscription *sub)
{
	Consumer   *c = palloc0(sizeof(Consumer));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char		errstr[512];
	char	   *group;
	ListCell   *ln,
			   *lv;
	sigset_t	all,
				old;

	c->wake[0] = c->wake[1] = -1;
	set_conf(conf, "bootstrap.servers", sub->brokers, false);
	group = psprintf("walstar.%u.%s", MyDatabaseId, sub->name);
	set_conf(conf, "group.id", group, false);
	set_conf(conf, "client.id", group, false);
	set_conf(conf, "enable.auto.commit", "false", false);
	set_conf(conf, "enable.auto.offset.store", "false", false);
	set_conf(conf, "enable.partition.eof", "false", false);
	set_conf(conf, "auto.offset.reset", "earliest", false);
	set_conf(conf, "log.queue", "true", false);
	set_conf(conf, "fetch.wait.max.ms", "100", false);
	set_conf(conf, "topic.metadata.refresh.interval.ms", "10000", false);
	/*
	 * Bounded prefetch: what librdkafka holds beyond the batch in progress.
	 * A message larger than the fetch sizes still comes through whole
	 * (brokers return the first batch of a partition regardless), and must:
	 * it goes to dead_letters instead of stalling the partition.
	 */
	set_conf(conf, "queued.max.messages.kbytes", "16384", false);
	set_conf(conf, "receive.message.max.bytes", "134217728", false);
	forboth(ln, sub->property_names, lv, sub->property_values)
	{
		const char *name = lfirst(ln);

		set_conf(conf, name, lfirst(lv),
				 strstr(name, "password") != NULL || strstr(name, "secret") != NULL ||
				 strstr(name, "key") != NULL);
	}

	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_opaque(conf, c);

	/* librdkafka's threads inherit this mask: signals stay ours. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (c->rk == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not create the Kafka consumer of subscription \"%s\"",
						sub->name),
				 errdetail("%s", errstr)));
	/* From here on the handle owns conf. */

	c->logq = rd_kafka_queue_new(c->rk);
	rd_kafka_set_log_queue(c->rk, c->logq);
	rd_kafka_poll_set_consumer(c->rk);
	c->cq = rd_kafka_queue_get_consumer(c->rk);
	if (pipe(c->wake) != 0)
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not create pipe: %m")));
	fcntl(c->wake[0], F_SETFL, O_NONBLOCK);
	fcntl(c->wake[1], F_SETFL, O_NONBLOCK);
	rd_kafka_queue_io_event_enable(c->cq, c->wake[1], "w", 1);
	return c;
}

/* Safe to call more than once and on a half-built consumer. */
void
consumer_destroy(Consumer *c)
{
	if (c == NULL)
		return;
	if (c->cq)
	{
		rd_kafka_queue_io_event_enable(c->cq, -1, NULL, 0);
		rd_kafka_queue_destroy(c->cq);
		c->cq = NULL;
	}
	if (c->rk)
	{
		if (c->have_assignment)
			rd_kafka_assign(c->rk, NULL);
		rd_kafka_consumer_close(c->rk);
	}
	if (c->logq)
	{
		rd_kafka_queue_destroy(c->logq);
		c->logq = NULL;
	}
	if (c->rk)
	{
		rd_kafka_destroy(c->rk);
		c->rk = NULL;
	}
	if (c->wake[0] >= 0)
		close(c->wake[0]);
	if (c->wake[1] >= 0)
		close(c->wake[1]);
	c->wake[0] = c->wake[1] = -1;
}

int
consumer_wait_fd(Consumer *c)
{
	char		buf[64];

	/* Drained here; librdkafka writes again when the queue fills up. */
	while (read(c->wake[0], buf, sizeof(buf)) > 0)
		;
	return c->wake[0];
}

static bool
topic_wanted(const Subscription *sub, const char *topic)
{
	ListCell   *lc;

	if (sub->topic_pattern)
	{
		if (topic[0] == '_' && topic[1] == '_')
			return false;		/* Kafka's internal topics */
		return DatumGetBool(DirectFunctionCall2Coll(textregexeq, C_COLLATION_OID,
													CStringGetTextDatum(topic),
													CStringGetTextDatum(sub->topic_pattern)));
	}
	foreach(lc, sub->topics)
	{
		if (strcmp(lfirst(lc), topic) == 0)
			return true;
	}
	return false;
}

/*
 * List the subscribed topics' partitions from the cluster metadata and,
 * when the set changed (or force), assign those of this worker at their
 * stored offsets; the others are marked elsewhere (the DDL barrier waits
 * for them too). Returns true when a new assignment was made.
 */
bool
consumer_refresh_assignment(Consumer *c, const Subscription *sub, int worker,
							HTAB *parts, bool force)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t err;
	rd_kafka_topic_partition_list_t *list;
	HASH_SEQ_STATUS seq;
	PartitionState *ps;
	bool		changed = force;
	int			i,
				j;

	err = rd_kafka_metadata(c->rk, 1, NULL, &md, 2000);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		ereport(LOG,
				(errcode(ERRCODE_CONNECTION_EXCEPTION),
				 errmsg("could not list the Kafka topics of subscription \"%s\": %s",
						sub->name, rd_kafka_err2str(err))));
		return false;
	}

	/* Mark what the cluster has now. */
	hash_seq_init(&seq, parts);
	while ((ps = hash_seq_search(&seq)) != NULL)
	{
		ps->dirty = ps->assigned;	/* "was assigned" while we look */
		ps->elsewhere = false;
	}
	for (i = 0; i < md->topic_cnt; i++)
	{
		const struct rd_kafka_metadata_topic *t = &md->topics[i];

		if (t->err != RD_KAFKA_RESP_ERR_NO_ERROR ||
			strlen(t->topic) > WALSTAR_TOPIC_MAX || !topic_wanted(sub, t->topic))
			continue;
		for (j = 0; j < t->partition_cnt; j++)
		{
			int32		p = t->partitions[j].id;

			ps = partition_state_get(parts, t->topic, p, true);
			if (subscription_partition_worker(t->topic, p, sub->workers) != worker)
			{
				ps->elsewhere = true;
				continue;		/* dirty stays "was assigned": unassigned below */
			}
			if (!ps->assigned)
				changed = true;
			ps->assigned = true;
			ps->elsewhere = false;
			ps->dirty = false;
		}
	}
	rd_kafka_metadata_destroy(md);
	/* Partitions that went away (topic deleted, no longer matched). */
	hash_seq_init(&seq, parts);
	while ((ps = hash_seq_search(&seq)) != NULL)
	{
		if (ps->dirty)
		{
			ps->assigned = false;
			changed = true;
		}
		ps->dirty = false;
	}
	if (!changed)
		return false;

	list = rd_kafka_topic_partition_list_new(16);
	hash_seq_init(&seq, parts);
	while ((ps = hash_seq_search(&seq)) != NULL)
	{
		if (ps->assigned)
			rd_kafka_topic_partition_list_add(list, ps->key.topic,
											  ps->key.partition)->offset = ps->next_offset;
	}
	err = rd_kafka_assign(c->rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_EXCEPTION),
				 errmsg("could not assign Kafka partitions for subscription \"%s\": %s",
						sub->name, rd_kafka_err2str(err))));
	c->have_assignment = true;
	elog(DEBUG1, "partitions assigned to subscription \"%s\"", sub->name);
	return true;
}

/*
 * Take up to max messages that are ready, without waiting. Payloads are
 * copied into cxt; librdkafka's messages are released at once.
 */
int
consumer_poll(Consumer *c, HTAB *parts, KafkaMessage *out, int max, MemoryContext cxt)
{
	int			n = 0;
	rd_kafka_topic_t *last_rkt = NULL;
	int32		last_partition = -1;
	PartitionState *ps = NULL;

	while (n < max)
	{
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 0);

		if (m == NULL)
			break;
		if (m->err)
		{
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			{
				ereport(LOG,
						(errcode(ERRCODE_CONNECTION_EXCEPTION),
						 errmsg("kafka: %s%s%s",
								m->rkt ? rd_kafka_topic_name(m->rkt) : "",
								m->rkt ? ": " : "", rd_kafka_message_errstr(m))));
				remember_error(c, m->err, rd_kafka_message_errstr(m));
			}
			rd_kafka_message_destroy(m);
			continue;
		}
		/* messages come in runs of one partition: look it up once per run */
		if (m->rkt != last_rkt || m->partition != last_partition)
		{
			ps = partition_state_get(parts, rd_kafka_topic_name(m->rkt), m->partition, false);
			last_rkt = m->rkt;
			last_partition = m->partition;
		}
		if (ps == NULL || !ps->assigned || ps->parked ||
			(ps->next_offset >= 0 && m->offset < ps->next_offset))
		{
			/*
			 * left over from an earlier assignment, already applied, or
			 * behind a DDL barrier (fetched again when it is released)
			 */
			rd_kafka_message_destroy(m);
			continue;
		}
		out[n].topic = ps->key.topic;
		out[n].partition = m->partition;
		out[n].offset = m->offset;
		out[n].len = m->len;
		out[n].payload = NULL;
		out[n].ps = ps;
		if (m->payload)
		{
			out[n].payload = MemoryContextAllocExtended(cxt, Max(m->len, 1), MCXT_ALLOC_HUGE);
			memcpy(out[n].payload, m->payload, m->len);
		}
		rd_kafka_message_destroy(m);
		n++;
	}
	return n;
}

void
consumer_forward_logs(Consumer *c)
{
	rd_kafka_event_t *ev;

	while ((ev = rd_kafka_queue_poll(c->logq, 0)) != NULL)
	{
		const char *fac;
		const char *str;
		int			level;

		if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_LOG &&
			rd_kafka_event_log(ev, &fac, &str, &level) == 0)
		{
			ereport(level <= 4 ? LOG : DEBUG1,
					(errmsg_internal("kafka %s: %s", fac, str)));
			/* errors librdkafka only logs (it retries them itself) */
			if (level <= 3)
				remember_error(c, error_code_of_log(str), str);
		}
		rd_kafka_event_destroy(ev);
	}
}

/*
 * After a batch: stop fetching the partitions it parked at a DDL record,
 * and fetch the released ones again from their next offset (their DDL
 * record, applied by now, is then skipped as seen).
 */
void
consumer_apply_barriers(Consumer *c, HTAB *parts)
{
	HASH_SEQ_STATUS seq;
	PartitionState *ps;

	hash_seq_init(&seq, parts);
	while ((ps = hash_seq_search(&seq)) != NULL)
	{
		rd_kafka_topic_partition_list_t *list;
		rd_kafka_error_t *error = NULL;

		if (!ps->pause && !ps->resume)
			continue;
		list = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(list, ps->key.topic, ps->key.partition)->offset =
			ps->next_offset;
		if (ps->pause)
			(void) rd_kafka_pause_partitions(c->rk, list);
		if (ps->resume)
		{
			error = rd_kafka_seek_partitions(c->rk, list, 5000);
			(void) rd_kafka_resume_partitions(c->rk, list);
		}
		if (error != NULL)
		{
			ereport(LOG,
					(errcode(ERRCODE_CONNECTION_EXCEPTION),
					 errmsg("walstar: could not seek %s [%d] to offset " INT64_FORMAT ": %s",
							ps->key.topic, ps->key.partition, ps->next_offset,
							rd_kafka_error_string(error))));
			rd_kafka_error_destroy(error);
		}
		rd_kafka_topic_partition_list_destroy(list);
		ps->pause = ps->resume = false;
	}
}

/* Refresh the partitions' high watermarks from librdkafka's cache. */
void
consumer_update_watermarks(Consumer *c, HTAB *parts)
{
	HASH_SEQ_STATUS seq;
	PartitionState *ps;

	hash_seq_init(&seq, parts);
	while ((ps = hash_seq_search(&seq)) != NULL)
	{
		int64_t		low,
					high;

		if (ps->assigned &&
			rd_kafka_get_watermark_offsets(c->rk, ps->key.topic, ps->key.partition,
										   &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR &&
			high >= 0)
			ps->high_watermark = high;
	}
}

/*
 * Set every assigned partition's next offset to its first message at or
 * after a time (the broker's time index), or to its end when there is none.
 */
void
consumer_rewind_to_time(Consumer *c, HTAB *parts, TimestampTz when)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(16);
	HASH_SEQ_STATUS seq;
	PartitionState *ps;
	rd_kafka_resp_err_t err;
	int64		ms = when / 1000 + WALSTAR_PG_EPOCH_USECS / 1000;
	int			i;

	/* every worker's partitions: the first worker to see the rewind does it */
	hash_seq_init(&seq, parts);
	while ((ps = hash_seq_search(&seq)) != NULL)
	{
		if (ps->assigned || ps->elsewhere)
			rd_kafka_topic_partition_list_add(list, ps->key.topic,
											  ps->key.partition)->offset = ms;
	}
	err = rd_kafka_offsets_for_times(c->rk, list, 10000);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		rd_kafka_topic_partition_list_destroy(list);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_EXCEPTION),
				 errmsg("could not look up Kafka offsets by time: %s",
						rd_kafka_err2str(err)),
				 errhint("The brokers of the subscription must be reachable to rewind it by time.")));
	}
	for (i = 0; i < list->cnt; i++)
	{
		rd_kafka_topic_partition_t *tp = &list->elems[i];
		int64_t		low,
					high;

		ps = partition_state_get(parts, tp->topic, tp->partition, true);
		if (tp->err == RD_KAFKA_RESP_ERR_NO_ERROR && tp->offset >= 0)
			ps->next_offset = tp->offset;
		else if (rd_kafka_query_watermark_offsets(c->rk, tp->topic, tp->partition,
												  &low, &high, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
			ps->next_offset = high;
		ps->last_commit_lsn = 0;
		ps->last_position = 0;
		ps->dirty = true;
	}
	rd_kafka_topic_partition_list_destroy(list);
}
