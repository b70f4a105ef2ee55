/*-------------------------------------------------------------------------
 *
 * heartbeat.c
 *		HEARTBEAT records to the partitions of idle topics.
 *
 * A topic is idle when nothing was queued to it for heartbeat-interval:
 * the whole source is idle when every topic is, a quiet table of a busy
 * source only its own.  The sink then asks the walsender for a keepalive
 * (status update with reply requested); the keepalive's walEnd is the
 * walsender's sent position, everything committed before it already sent
 * and, since the keepalive is read in stream order, queued here before the
 * heartbeat.  So a HEARTBEAT with lsn = walEnd and commit_time = the
 * keepalive's send time says, in each partition: "as of that time on the
 * source's clock, nothing committed before lsn is missing here".  It goes
 * to every partition of each idle data topic the sink wrote since it
 * started and to <prefix>.transactions, never to the dead-letter or
 * message topics.
 *
 * Its tracker entry has no end position: a heartbeat confirms nothing;
 * the slot keeps moving by the tracker's idle rule (the server position
 * once nothing, heartbeats included, is unacknowledged).  It is produced
 * like any record, so in a Kafka transaction with kafka-transactions, and
 * only by the sink that streams the slot.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "walstar.pb-c.h"

#include "change_op.h"
#include "heartbeat.h"
#include "log.h"
#include "lsn.h"

/* Topics a round may cover; more wait for the next round. */
#define HEARTBEAT_TOPICS_MAX 4096

void
heartbeat_init(Heartbeat *hb, const Config *cfg, int64_t now_ms)
{
	memset(hb, 0, sizeof(*hb));
	hb->cfg = cfg;
	hb->started_ms = now_ms;
}

/* Data topics and <prefix>.transactions; not dead letters nor messages. */
static bool
wanted(const Config *cfg, const char *topic)
{
	size_t n = strlen(cfg->topic_prefix);

	return strncmp(topic, cfg->topic_prefix, n) == 0 && topic[n] == '.' &&
		   strcmp(topic + n + 1, "dead_letters") != 0 &&
		   strcmp(topic + n + 1, "messages") != 0;
}

static bool
idle(const Heartbeat *hb, int64_t last_sent_ms, int64_t now_ms)
{
	return now_ms - last_sent_ms >=
		   (int64_t)hb->cfg->heartbeat_interval * 1000;
}

/*
 * The idle topics, strdup'd into names (up to max; NULL names: count
 * only).  <prefix>.transactions counts as written at the start until the
 * sink writes to it.
 */
static int
due_topics(const Heartbeat *hb, const Producer *producer, int64_t now_ms,
		   char **names, int max)
{
	char		txtopic[512];
	int			n = 0, cursor = 0;
	int64_t		last;
	const char *topic;
	bool		tx_known = false;

	snprintf(txtopic, sizeof(txtopic), "%s.transactions",
			 hb->cfg->topic_prefix);
	while ((topic = producer_next_topic(producer, &cursor, &last)) != NULL &&
		   n < max)
	{
		if (strcmp(topic, txtopic) == 0)
			tx_known = true;
		if (!wanted(hb->cfg, topic) || !idle(hb, last, now_ms))
			continue;
		if (names != NULL && (names[n] = strdup(topic)) == NULL)
			break;
		n++;
	}
	if (!tx_known && n < max && idle(hb, hb->started_ms, now_ms) &&
		(names == NULL || (names[n] = strdup(txtopic)) != NULL))
		n++;
	return n;
}

/*
 * The earliest time a topic is idle (now_ms or before: one is now).  A
 * topic's last send only moves later and a topic written from now on is
 * idle an interval from now at the earliest, so until then no topic can
 * be: the main loop need not look at the topics before (on a busy source,
 * once per interval rather than on every pass).
 */
static int64_t
next_due(const Heartbeat *hb, const Producer *producer, int64_t now_ms)
{
	char		txtopic[512];
	int64_t		gap = (int64_t)hb->cfg->heartbeat_interval * 1000;
	int64_t		due = now_ms + gap, last;
	int			cursor = 0;
	const char *topic;
	bool		tx_known = false;

	snprintf(txtopic, sizeof(txtopic), "%s.transactions",
			 hb->cfg->topic_prefix);
	while ((topic = producer_next_topic(producer, &cursor, &last)) != NULL)
	{
		if (strcmp(topic, txtopic) == 0)
			tx_known = true;
		if (wanted(hb->cfg, topic) && last + gap < due)
			due = last + gap;
	}
	if (!tx_known && hb->started_ms + gap < due)
		due = hb->started_ms + gap;
	return due;
}

bool
heartbeat_ask(Heartbeat *hb, const Producer *producer, int64_t now_ms)
{
	if (hb->cfg->heartbeat_interval <= 0)
		return false;
	/* an unanswered request is repeated after an interval */
	if (hb->asked_ms != 0 &&
		now_ms - hb->asked_ms < (int64_t)hb->cfg->heartbeat_interval * 1000)
		return false;
	/* a reload may have changed the interval */
	if (hb->due_interval == hb->cfg->heartbeat_interval && now_ms < hb->due_ms)
		return false;
	hb->due_ms = next_due(hb, producer, now_ms);
	hb->due_interval = hb->cfg->heartbeat_interval;
	if (now_ms < hb->due_ms)
		return false;
	hb->asked_ms = now_ms;
	return true;
}

static uint8_t *
pack(const char *source, uint64_t system_id, uint32_t timeline, uint64_t lsn,
	 int64_t time_us, size_t *len)
{
	Walstar__V1__Change c;
	uint8_t			   *buf;

	walstar__v1__change__init(&c);
	c.version = 1;
	c.source = (char *)source;
	c.system_id = system_id;
	c.op = WALSTAR__V1__OP__HEARTBEAT;
	c.commit_lsn = lsn;
	c.lsn = lsn;
	c.timeline = timeline;
	c.commit_time = time_us;
	*len = walstar__v1__change__get_packed_size(&c);
	buf = malloc(*len + 1);
	if (buf == NULL)
	{
		log_error("heartbeat", "msg=\"out of memory\"");
		exit(1);
	}
	walstar__v1__change__pack(&c, buf);
	return buf;
}

void
heartbeat_keepalive(Heartbeat *hb, Stream *s, const char *source,
					uint64_t system_id, uint32_t timeline, uint64_t lsn,
					int64_t time_us, int64_t now_ms)
{
	char		  *topics[HEARTBEAT_TOPICS_MAX];
	int			   ntopics, i, p;
	char		   lsnbuf[LSN_TEXT_LEN];
	char		   err[512];
	ProduceHeaders h = {0};
	TrackedTxn	  *txn;
	uint8_t		  *buf;
	size_t		   len;
	bool		   blocked = false;

	if (hb->asked_ms == 0)
		return;
	hb->asked_ms = 0;
	ntopics =
		due_topics(hb, s->producer, now_ms, topics, HEARTBEAT_TOPICS_MAX);
	if (ntopics == 0)
		return;

	buf = pack(source, system_id, timeline, lsn, time_us, &len);
	snprintf(lsnbuf, sizeof(lsnbuf), "%s", LSN(lsn));
	h.lsn = lsnbuf;
	h.xid = "0";
	h.op = change_op_name(WALSTAR__V1__OP__HEARTBEAT);
	txn = lsn_tracker_begin(s->tracker, lsn, 0);
	for (i = 0; i < ntopics && !blocked; i++)
	{
		int count = 1;

		/* <prefix>.transactions has one partition (created so if new) */
		if (strcmp(topics[i] + strlen(hb->cfg->topic_prefix),
				   ".transactions") != 0 &&
			producer_partition_count(s->producer, topics[i], &count, err,
									 sizeof(err)) != PRODUCE_OK)
			continue;
		for (p = 0; p < count && !blocked; p++)
		{
			if (producer_send_to(s->producer, topics[i], 1, p, NULL, 0, buf,
								 len, &h, txn, err, sizeof(err)) != PRODUCE_OK)
			{
				/* best effort: the next round covers what is left */
				log_debug("heartbeat", "topic=%s partition=%d msg=%s",
						  LOG_V(topics[i]), p, LOG_Q(err));
				blocked = true;
				break;
			}
			lsn_tracker_add(s->tracker, txn);
			hb->sent++;
		}
	}
	/* confirms nothing by itself */
	lsn_tracker_close(s->tracker, txn, 0);
	log_debug("heartbeat", "lsn=%s topics=%d msg=\"heartbeats queued\"",
			  lsnbuf, ntopics);
	for (i = 0; i < ntopics; i++)
		free(topics[i]);
	free(buf);
}
