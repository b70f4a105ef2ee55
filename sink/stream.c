/*-------------------------------------------------------------------------
 *
 * stream.c
 *		Routing of records to topics, and what delivery reports mean.
 *
 *	BEGIN, COMMIT (and other transaction markers)	<prefix>.transactions
 *												(one partition, no key)
 *	INSERT, UPDATE, DELETE, TRUNCATE, READ		<prefix>.<schema>.<table>,
 *												key = Change.key
 *	MESSAGE										<prefix>.messages
 *	DELETE with tombstones = true				also a null value, same key
 * Every message carries the headers walstar.lsn, walstar.xid, walstar.op;
 * the value is the record's bytes, unchanged.
 *
 * A message Kafka refuses as too large (locally: message.max.bytes, or
 * by the broker) is never skipped silently: oversize-policy = stop ends
 * the sink with an error naming table and key (nothing after it is
 * confirmed); dead-letter sends a JSON description (topic, size, LSN, xid,
 * op, key) to <prefix>.dead_letters in its place.  Any other delivery
 * failure stops the sink: with message.timeout.ms = 0 librdkafka only
 * gives up on errors that retrying cannot fix.
 *
 * Before its first message, every record is checked against the wire
 * format's invariants (proto/change_check.c, read from the bytes by
 * change_peek_check): one that breaks any stops the sink with the
 * invariant, table and LSN, and is never forwarded, so no consumer has to
 * survive it and nothing after it is confirmed.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "change_check.h"
#include "walstar.pb-c.h"

#include "change_peek.h"
#include "log.h"
#include "lsn.h"
#include "metrics.h"
#include "stream.h"

struct DeadLetter
{
	TrackedTxn *txn; /* the transaction the message belonged to */
	char	   *key; /* message key bytes (may be NULL) */
	size_t		key_len;
	char	   *json; /* description, the dead letter's value */
	DeadLetter *next;
};

static int64_t
now_us(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static void
txn_done(const TrackedTxn *txn, void *arg)
{
	if (txn->commit_time > 0)
	{
		int64_t lat = now_us() - txn->commit_time;

		metrics_observe(&metrics.commit_latency, lat > 0 ? (uint64_t)lat : 0);
		if (txn->commit_time > atomic_load(&metrics.last_commit_us))
			atomic_store(&metrics.last_commit_us, txn->commit_time);
	}
}

void
stream_init(Stream *s, const Config *cfg, Producer *producer,
			LsnTracker *tracker)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->producer = producer;
	s->tracker = tracker;
	tracker->on_done = txn_done;
	tracker->on_done_arg = s;
	s->scan = change_scan_create();
	if (s->scan == NULL)
	{
		log_error("stream", "msg=\"out of memory\"");
		exit(1);
	}
}

void
stream_cleanup(Stream *s)
{
	change_scan_destroy(s->scan);
	s->scan = NULL;
}

void
stream_table_topic(const Config *cfg, const char *schema, size_t schema_len,
				   const char *table, size_t table_len, char *buf,
				   size_t buflen)
{
	size_t i;

	snprintf(buf, buflen, "%s.%.*s.%.*s", cfg->topic_prefix, (int)schema_len,
			 schema, (int)table_len, table);
	/* Kafka topic names allow [a-zA-Z0-9._-] only */
	for (i = strlen(cfg->topic_prefix) + 1; buf[i]; i++)
	{
		char c = buf[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			buf[i] = '_';
	}
	/* at most 249 characters */
	if (strlen(buf) > 249)
		buf[249] = '\0';
}

/* "%X/%X" without printf: this runs for every message. */
static void
format_lsn(char *buf, uint64_t lsn)
{
	static const char hex[] = "0123456789ABCDEF";
	uint32_t		  parts[2] = {(uint32_t)(lsn >> 32), (uint32_t)lsn};
	int				  p, i, pos = 0;

	for (p = 0; p < 2; p++)
	{
		bool started = false;

		for (i = 28; i >= 0; i -= 4)
		{
			int d = (parts[p] >> i) & 15;

			if (d != 0 || started || i == 0)
			{
				buf[pos++] = hex[d];
				started = true;
			}
		}
		if (p == 0)
			buf[pos++] = '/';
	}
	buf[pos] = '\0';
}

static void
format_u32(char *buf, uint32_t v)
{
	char tmp[11];
	int	 n = 0, i;

	do
	{
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
}

static bool
is_row_op(int op)
{
	return op == WALSTAR__V1__OP__INSERT || op == WALSTAR__V1__OP__UPDATE ||
		   op == WALSTAR__V1__OP__DELETE || op == WALSTAR__V1__OP__TRUNCATE ||
		   op == WALSTAR__V1__OP__READ;
}

/*
 * Records every partition of the table's topic gets, so that each
 * partition's consumer meets them in place: a schema change, the start
 * and end of a chunked copy of the table.
 */
static bool
every_partition(int op)
{
	return op == WALSTAR__V1__OP__DDL ||
		   op == WALSTAR__V1__OP__SNAPSHOT_BEGIN ||
		   op == WALSTAR__V1__OP__SNAPSHOT_END;
}

/* JSON description of a refused message (no values: they may be PII). */
static char *
describe(const char *topic, size_t size, const char *lsn, const char *xid,
		 const char *op, const uint8_t *key, size_t key_len,
		 const char *reason)
{
	char   keytext[512];
	char  *out;
	size_t i, j = 0;
	char   esc[1024];

	/* JSON string: quotes, backslashes and control characters escaped */
	change_key_text(key, key_len, keytext, sizeof(keytext));
	for (i = 0; keytext[i] && j + 7 < sizeof(esc); i++)
	{
		unsigned char ch = (unsigned char)keytext[i];

		if (ch == '"' || ch == '\\')
		{
			esc[j++] = '\\';
			esc[j++] = (char)ch;
		}
		else if (ch < 0x20)
			j += (size_t)snprintf(esc + j, sizeof(esc) - j, "\\u%04x", ch);
		else
			esc[j++] = (char)ch;
	}
	esc[j] = '\0';
	if (asprintf(&out,
				 "{\"error\":\"%s\",\"topic\":\"%s\",\"size\":%zu,"
				 "\"lsn\":\"%s\",\"xid\":%s,\"op\":\"%s\",\"key\":\"%s\"}",
				 reason, topic, size, lsn ? lsn : "", xid ? xid : "0",
				 op ? op : "", esc) < 0)
	{
		log_error("stream", "msg=\"out of memory\"");
		exit(1);
	}
	return out;
}

static ProduceResult
send_dead_letter(Stream *s, TrackedTxn *txn, const char *key, size_t key_len,
				 const char *json)
{
	char		   topic[512];
	char		   err[512];
	ProduceHeaders h = {0};
	ProduceResult  r;

	snprintf(topic, sizeof(topic), "%s.dead_letters", s->cfg->topic_prefix);
	h.error = "message too large";
	r = producer_send(s->producer, topic, 0, key, key_len, json, strlen(json),
					  &h, txn, err, sizeof(err));
	if (r == PRODUCE_OK)
		atomic_fetch_add(&metrics.dead_letters_total, 1);
	else if (r != PRODUCE_QUEUE_FULL && r != PRODUCE_RETRY)
	{
		snprintf(s->failure, sizeof(s->failure),
				 "cannot send a dead letter to %s: %s", topic, err);
		s->failed = true;
	}
	return r;
}

StreamResult
stream_record(Stream *s, const uint8_t *data, size_t len, uint64_t wal_start,
			  char *err, size_t errlen)
{
	ChangePeek	   c;
	char		   topic[512];
	char		   lsnbuf[LSN_TEXT_LEN];
	char		   xidbuf[16];
	ProduceHeaders h = {0};
	TrackedTxn	  *txn;
	int			   nmsgs = 1;
	int			   partitions = 0;
	bool		   is_commit = false;
	uint8_t		  *del = NULL; /* DELETE of the old key, or NULL */
	size_t		   del_len = 0, del_key_off = 0, del_key_len = 0;
	int32_t		   del_partition = RD_KAFKA_PARTITION_UA;
	uint8_t *upd = NULL; /* the UPDATE marked old_key_elsewhere, or NULL */
	const uint8_t *value = data; /* the record's own message */
	size_t		   value_len = len;
	int			   first = 0; /* step of the record's own message */
	StreamResult   res = STREAM_DONE;

	if (!change_peek(data, len, &c))
	{
		snprintf(err, errlen,
				 "record at %s is not a walstar Change (is the slot's plugin "
				 "walstar_decoder with format protobuf?)",
				 LSN(wal_start));
		return STREAM_FAILED;
	}

	if (!s->started)
	{
		char		reason[CHANGE_CHECK_REASON_MAX];
		const char *problem = change_peek_check(s->scan, data, len, reason);

		if (problem != NULL)
		{
			char *q;

			/* the reason quotes names; the log line quotes msg */
			for (q = reason; *q; q++)
				if (*q == '"')
					*q = '\'';
			metrics_error(ERROR_KIND_WIRE_FORMAT);
			snprintf(err, errlen,
					 "record breaks the wire format, not forwarded: %s: "
					 "table=%.*s%s%.*s lsn=%s",
					 problem == reason ? reason : problem, (int)c.schema_len,
					 c.schema, c.schema_len ? "." : "", (int)c.table_len,
					 c.table, LSN(c.lsn != 0 ? c.lsn : wal_start));
			return STREAM_FAILED;
		}
		s->started = true;
		atomic_fetch_add_explicit(&metrics.records_total, 1,
								  memory_order_relaxed);
		atomic_fetch_add_explicit(&metrics.bytes_total, len,
								  memory_order_relaxed);
		if (c.op == WALSTAR__V1__OP__BEGIN)
		{
			if (s->open != NULL)
			{
				/* cannot happen with the decoder; never confirm past it */
				log_warning("stream",
							"lsn=%s msg=\"BEGIN inside a transaction\"",
							LSN(wal_start));
				lsn_tracker_close(s->tracker, s->open, 0);
			}
			s->open =
				lsn_tracker_begin(s->tracker, c.commit_lsn, c.commit_time);
		}
		else if (s->open == NULL)
			s->standalone = lsn_tracker_begin(s->tracker, c.commit_lsn, 0);
		if (is_row_op(c.op) || c.op == WALSTAR__V1__OP__MESSAGE)
			atomic_fetch_add_explicit(&metrics.changes_total, 1,
									  memory_order_relaxed);
	}
	txn = s->open != NULL ? s->open : s->standalone;

	if (is_row_op(c.op) || every_partition(c.op))
	{
		/* consecutive changes mostly hit one table: skip the formatting */
		if (c.schema_len >= sizeof(s->last_schema) ||
			c.table_len >= sizeof(s->last_table) ||
			strlen(s->last_schema) != c.schema_len ||
			strlen(s->last_table) != c.table_len ||
			memcmp(s->last_schema, c.schema, c.schema_len) != 0 ||
			memcmp(s->last_table, c.table, c.table_len) != 0)
		{
			stream_table_topic(s->cfg, c.schema, c.schema_len, c.table,
							   c.table_len, s->last_topic,
							   sizeof(s->last_topic));
			s->last_schema[0] = s->last_table[0] = '\0';
			if (c.schema_len < sizeof(s->last_schema) &&
				c.table_len < sizeof(s->last_table))
			{
				memcpy(s->last_schema, c.schema, c.schema_len);
				s->last_schema[c.schema_len] = '\0';
				memcpy(s->last_table, c.table, c.table_len);
				s->last_table[c.table_len] = '\0';
			}
		}
		memcpy(topic, s->last_topic, strlen(s->last_topic) + 1);
	}
	else if (c.op == WALSTAR__V1__OP__MESSAGE)
		snprintf(topic, sizeof(topic), "%s.messages", s->cfg->topic_prefix);
	else
	{
		snprintf(topic, sizeof(topic), "%s.transactions",
				 s->cfg->topic_prefix);
		partitions = 1;
		c.key = NULL;
		c.key_len = 0;
	}
	is_commit = c.op == WALSTAR__V1__OP__COMMIT;
	if (c.op == WALSTAR__V1__OP__DELETE && s->cfg->tombstones && c.key != NULL)
		nmsgs = 2;

	if (every_partition(c.op))
	{
		ProduceResult r =
			producer_partition_count(s->producer, topic, &nmsgs, err, errlen);

		if (r != PRODUCE_OK)
		{
			char m[LOG_VALUE_MAX];

			snprintf(m, sizeof(m), "%s; retrying", err);
			log_warning("kafka", "msg=%s", LOG_Q(m));
			res = STREAM_BLOCKED;
			goto out;
		}
		c.key = NULL;
		c.key_len = 0;
	}

	/*
	 * An UPDATE that changes the key goes with the new key, so it may land
	 * in another partition than the old key's earlier changes, and a
	 * consumer applying partitions independently could apply it first: the
	 * old row would come back.  A DELETE of the old key (same position) goes
	 * first to the old key's partition, behind that history.  Not when both
	 * keys share a partition: the UPDATE follows the history there, and a
	 * second record with its position would be taken for a resend.
	 */
	if (c.op == WALSTAR__V1__OP__UPDATE && c.key != NULL &&
		change_old_key_delete(data, len, &c, &del, &del_len, &del_key_off,
							  &del_key_len))
	{
		int32_t		  new_partition = RD_KAFKA_PARTITION_UA;
		ProduceResult r;

		r = producer_key_partition(s->producer, topic, c.key, c.key_len,
								   &new_partition, err, errlen);
		if (r == PRODUCE_OK)
			r = producer_key_partition(s->producer, topic, del + del_key_off,
									   del_key_len, &del_partition, err,
									   errlen);
		if (r != PRODUCE_OK)
		{
			{
				char m[LOG_VALUE_MAX];

				snprintf(m, sizeof(m), "%s; retrying", err);
				log_warning("kafka", "msg=%s", LOG_Q(m));
			}
			res = STREAM_BLOCKED;
			goto out;
		}
		if (new_partition != del_partition)
		{
			/* field 27 (old_key_elsewhere), varint 1 */
			static const uint8_t flag[] = {0xd8, 0x01, 0x01};

			/* and its tombstone, like every DELETE */
			first = s->cfg->tombstones ? 2 : 1;
			nmsgs += first;

			/*
			 * The UPDATE then must leave the old row to that DELETE: applied
			 * from its own partition it may run after the old key's later
			 * history (a new row under the old key) and would delete that.
			 * Appending field 27 (old_key_elsewhere = true) to the decoder's
			 * bytes sets it: protobuf merges a field appended to a message.
			 */
			upd = malloc(len + sizeof(flag));
			if (upd == NULL)
			{
				snprintf(err, errlen, "out of memory");
				res = STREAM_FAILED;
				goto out;
			}
			memcpy(upd, data, len);
			memcpy(upd + len, flag, sizeof(flag));
			value = upd;
			value_len = len + sizeof(flag);

			/*
			 * Unchanged TOAST values are the old row's at this position,
			 * and the old row's history is the other partition's: field 29
			 * (old_row_stashed = true) on the DELETE has the consumer stash
			 * the old row as it deletes it, on the UPDATE take the values
			 * from that stash (extension/README.md, Limits).
			 */
			if (change_has_unchanged_toast(data, len))
			{
				static const uint8_t stashed[] = {0xe8, 0x01, 0x01};
				uint8_t				*marked_upd =
					realloc(upd, value_len + sizeof(stashed));
				uint8_t *marked_del;

				if (marked_upd != NULL)
					upd = marked_upd;
				marked_del = marked_upd != NULL
								 ? realloc(del, del_len + sizeof(stashed))
								 : NULL;
				if (marked_del == NULL)
				{
					snprintf(err, errlen, "out of memory");
					res = STREAM_FAILED;
					goto out;
				}
				del = marked_del;
				memcpy(upd + value_len, stashed, sizeof(stashed));
				memcpy(del + del_len, stashed, sizeof(stashed));
				value = upd;
				value_len += sizeof(stashed);
				del_len += sizeof(stashed);
			}
		}
	}

	format_lsn(lsnbuf, is_commit && c.end_lsn ? c.end_lsn : c.lsn);
	format_u32(xidbuf, c.xid);
	h.lsn = lsnbuf;
	h.xid = xidbuf;
	h.op = change_op_name(c.op);

	while (s->step < nmsgs)
	{
		bool		  tombstone = s->step == first + 1;
		ProduceResult r;

		if (s->step < first)
		{
			ProduceHeaders dh = h;

			dh.op = change_op_name(WALSTAR__V1__OP__DELETE);
			r = producer_send_to(
				s->producer, topic, partitions, del_partition,
				del + del_key_off, del_key_len, s->step == 0 ? del : NULL,
				s->step == 0 ? del_len : 0, &dh, txn, err, errlen);
		}
		else if (every_partition(c.op))
			r = producer_send_to(s->producer, topic, partitions, s->step, NULL,
								 0, data, len, &h, txn, err, errlen);
		else
			r = producer_send(s->producer, topic, partitions, c.key, c.key_len,
							  tombstone ? NULL : value,
							  tombstone ? 0 : value_len, &h, txn, err, errlen);
		if (r == PRODUCE_TOO_LARGE)
		{
			char keytext[512];

			change_key_text(c.key, c.key_len, keytext, sizeof(keytext));
			metrics_error(ERROR_KIND_OVERSIZE);
			if (s->cfg->oversize_policy == OVERSIZE_STOP)
			{
				snprintf(err, errlen,
						 "message of %zu bytes for topic %s is larger than "
						 "Kafka accepts (message.max.bytes): table=%.*s.%.*s "
						 "key=%s lsn=%s; oversize-policy = stop",
						 len, topic, (int)c.schema_len, c.schema,
						 (int)c.table_len, c.table, keytext, lsnbuf);
				res = STREAM_FAILED;
				goto out;
			}
			{
				char name[2 * 256 + 2];

				snprintf(name, sizeof(name), "%.*s.%.*s", (int)c.schema_len,
						 c.schema, (int)c.table_len, c.table);
				log_error("stream",
						  "table=%s key=%s lsn=%s size=%zu "
						  "msg=\"message too large for Kafka; sent to the "
						  "dead-letter topic\"",
						  LOG_V(name), LOG_Q(keytext), lsnbuf, len);
			}
			{
				char *json = describe(topic, len, lsnbuf, xidbuf, h.op, c.key,
									  c.key_len, "message too large");

				r = send_dead_letter(s, txn, (const char *)c.key, c.key_len,
									 json);
				free(json);
				if (s->failed)
				{
					snprintf(err, errlen, "%s", s->failure);
					res = STREAM_FAILED;
					goto out;
				}
			}
		}
		if (r == PRODUCE_QUEUE_FULL || r == PRODUCE_RETRY)
		{
			if (r == PRODUCE_QUEUE_FULL)
				atomic_fetch_add(&metrics.backpressure_total, 1);
			else
			{
				char m[LOG_VALUE_MAX];

				snprintf(m, sizeof(m), "%s; retrying", err);
				log_warning("kafka", "msg=%s", LOG_Q(m));
			}
			res = STREAM_BLOCKED;
			goto out;
		}
		if (r == PRODUCE_FAILED)
		{
			char e2[512];

			snprintf(e2, sizeof(e2), "%s", err);
			snprintf(err, errlen, "cannot produce to %s: %s", topic, e2);
			res = STREAM_FAILED;
			goto out;
		}
		lsn_tracker_add(s->tracker, txn);
		s->step++;
	}

	if (is_commit)
	{
		/* the commit's XLogData position is its end LSN */
		lsn_tracker_close(s->tracker, s->open,
						  c.end_lsn != 0 ? c.end_lsn : wal_start);
		s->open = NULL;
	}
	else if (s->standalone != NULL)
	{
		/* a record outside a transaction confirms nothing by itself */
		lsn_tracker_close(s->tracker, s->standalone, 0);
		s->standalone = NULL;
	}
	s->step = 0;
	s->started = false;
out:
	free(del);
	free(upd);
	return res;
}

void
stream_connection_lost(Stream *s)
{
	if (s->open != NULL)
		lsn_tracker_close(s->tracker, s->open, 0);
	if (s->standalone != NULL)
		lsn_tracker_close(s->tracker, s->standalone, 0);
	s->open = NULL;
	s->standalone = NULL;
	s->step = 0;
	s->started = false;
}

bool
stream_service(Stream *s)
{
	while (s->dead_letters != NULL)
	{
		DeadLetter	 *dl = s->dead_letters;
		ProduceResult r =
			send_dead_letter(s, dl->txn, dl->key, dl->key_len, dl->json);

		if (r != PRODUCE_OK)
			return false;
		s->dead_letters = dl->next;
		free(dl->key);
		free(dl->json);
		free(dl);
	}
	return true;
}

void
stream_on_delivery(void *opaque, const rd_kafka_message_t *msg, void *arg)
{
	Stream	   *s = arg;
	TrackedTxn *txn = opaque;
	int64_t		lat = rd_kafka_message_latency(msg);

	if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		atomic_fetch_add_explicit(&metrics.acked_total, 1,
								  memory_order_relaxed);
		if (lat >= 0)
			metrics_observe(&metrics.delivery_latency, (uint64_t)lat);
		lsn_tracker_ack(s->tracker, txn);
		return;
	}

	metrics_error(msg->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE
					  ? ERROR_KIND_OVERSIZE
					  : ERROR_KIND_DELIVERY);
	{
		const char *topic = rd_kafka_topic_name(msg->rkt);
		char		keytext[512];
		ChangePeek	c;
		bool		peeked =
			msg->payload != NULL && change_peek(msg->payload, msg->len, &c);

		change_key_text(msg->key, msg->key_len, keytext, sizeof(keytext));
		if (msg->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE &&
			s->cfg->oversize_policy == OVERSIZE_DEAD_LETTER)
		{
			DeadLetter	*dl = calloc(1, sizeof(DeadLetter));
			DeadLetter **tail = &s->dead_letters;
			char		 lsnbuf[LSN_TEXT_LEN];
			char		 xidbuf[16];

			snprintf(lsnbuf, sizeof(lsnbuf), "%s", peeked ? LSN(c.lsn) : "");
			snprintf(xidbuf, sizeof(xidbuf), "%" PRIu32, peeked ? c.xid : 0);
			log_error("stream",
					  "topic=%s key=%s lsn=%s size=%zu msg=\"broker "
					  "refused the message as too large; sent to the "
					  "dead-letter topic\"",
					  LOG_V(topic), LOG_Q(keytext), lsnbuf, msg->len);
			if (dl == NULL)
				abort();
			dl->txn = txn;
			if (msg->key_len > 0)
			{
				dl->key = malloc(msg->key_len);
				if (dl->key == NULL)
					abort();
				memcpy(dl->key, msg->key, msg->key_len);
				dl->key_len = msg->key_len;
			}
			dl->json = describe(topic, msg->len, lsnbuf, xidbuf,
								peeked ? change_op_name(c.op) : "", msg->key,
								msg->key_len, "message too large");
			while (*tail != NULL)
				tail = &(*tail)->next;
			*tail = dl;
			/* txn keeps this message outstanding until the letter is acked */
			return;
		}
		/*
		 * A failed message fails its Kafka transaction, which is aborted
		 * and streamed again (main.c); not one too large, which would fail
		 * again
		 */
		if (s->cfg->kafka_transactions &&
			msg->err != RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
		{
			char why[600];

			snprintf(why, sizeof(why),
					 "a message of the Kafka transaction failed (topic %s, "
					 "key %s): %s",
					 topic, keytext, rd_kafka_err2str(msg->err));
			producer_set_txn_failure(s->producer, why);
			return;
		}
		if (!s->failed)
		{
			snprintf(s->failure, sizeof(s->failure),
					 "Kafka refused a message for topic %s (key %s, %zu "
					 "bytes): %s%s",
					 topic, keytext, msg->len, rd_kafka_err2str(msg->err),
					 msg->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE
						 ? "; oversize-policy = stop"
						 : "");
			s->failed = true;
		}
	}
}
