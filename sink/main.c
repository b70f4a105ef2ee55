/*-------------------------------------------------------------------------
 *
 * main.c
 *		walstar-sink: arguments, lifecycle and the poll loop.
 *
 * One thread does everything that matters: it reads the replication
 * stream, hands records to the producer, serves librdkafka's delivery
 * reports (which move the flush position) and sends standby status
 * updates by deadline.  Signal handlers only set flags.  librdkafka's and
 * libmicrohttpd's threads are created with every signal blocked.
 *
 * While the producer queue is full the loop stops reading from the source
 * (the walsender then blocks on its socket) and only serves Kafka, so
 * memory stays bounded by the queue limits.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ddl_capture.h"
#include "failover.h"
#include "heartbeat.h"
#include "log.h"
#include "lsn.h"
#include "lsn_tracker.h"
#include "metrics.h"
#include "notify.h"
#include "prefix_check.h"
#include "producer.h"
#include "replication.h"
#include "slot_wait.h"
#include "snapshot.h"
#include "snapshot_chunk.h"
#include "snapshot_chunk_state.h"
#include "snapshot_request.h"
#include "standby.h"
#include "stream.h"

/* Records handled per loop turn before Kafka is served again. */
#define READ_BATCH 2000

/* Smallest gap between two status updates that only report progress. */
#define STATUS_MIN_GAP_MS 1000

static volatile sig_atomic_t stop_requested = 0;
static volatile sig_atomic_t reload_requested = 0;

typedef struct Sink
{
	Config			   cfg;		  /* settings */
	Replication		   repl;	  /* source connection (conn NULL: down) */
	Producer		  *producer;  /* Kafka */
	LsnTracker		   tracker;	  /* what may be confirmed */
	Stream			   stream;	  /* record routing */
	Standby			   standby;	  /* Kafka transactions (kafka-transactions) */
	Heartbeat		   heartbeat; /* HEARTBEAT records to idle topics */
	bool			   blocked;	  /* a record waits for room in the queue */
	ReplicationMessage pending;	  /* that record (in repl.copybuf) */
	uint64_t		   last_sent; /* flush position last reported */
	int64_t			   last_status_ms;	/* when */
	int				   backoff_s;		/* next reconnect delay */
	int64_t			   reconnect_at_ms; /* when to try again */
	int64_t			   requests_at_ms;	/* next look for copy requests */
	ChunkCopy		  *chunks;			/* the chunked copy of keyed tables */
} Sink;

static void
handle_stop(int sig)
{
	stop_requested = 1;
}

static void
handle_reload(int sig)
{
	reload_requested = 1;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = handle_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = handle_reload;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* One clear line, then exit non-zero (startup errors). */
static void __attribute__((noreturn))
die(Sink *s, const char *component, const char *msg)
{
	if (replication_plugin_not_allowed(msg))
		log_error(component, "slot=%s msg=%s hint=%s", s->cfg.slot, LOG_Q(msg),
				  LOG_Q(PLUGIN_HINT));
	else
		log_error(component, "slot=%s msg=%s", s->cfg.slot, LOG_Q(msg));
	metrics_stop();
	replication_close(&s->repl);
	producer_destroy(s->producer);
	exit(1);
}

static void
send_status(Sink *s, bool reply_requested)
{
	char	 err[512];
	uint64_t flush = standby_confirmable(&s->standby);

	if (s->repl.conn == NULL || !s->repl.streaming)
		return;
	if (!replication_send_status(&s->repl, flush, reply_requested, err,
								 sizeof(err)))
	{
		log_warning("replication", "slot=%s msg=%s", s->cfg.slot, LOG_Q(err));
		return;
	}
	if (flush != s->last_sent)
		log_debug("replication", "slot=%s confirmed=%s", s->cfg.slot,
				  LSN(flush));
	s->last_sent = flush;
	s->last_status_ms = now_ms();
	atomic_store(&metrics.confirmed_lsn, flush);
}

/* SIGTERM while creating a slot or copying: what is unfinished is redone. */
static void __attribute__((noreturn))
exit_stopped(Sink *s, const char *component, const char *slot,
			 const char *what)
{
	log_info(component, "slot=%s msg=\"%s\"", slot, what);
	replication_close(&s->repl);
	producer_destroy(s->producer);
	exit(0);
}

/* the server drops an unfinished slot */
#define STOPPED_CREATING                                                      \
	"stopped while creating the slot; it is created at the next start"

/*
 * Create the slot (exporting a snapshot unless snapshot = never) and copy
 * the tables.  temporary: for initial_only.
 */
static void
create_slot_and_copy(Sink *s, const char *slot, bool temporary)
{
	char	 err[1024];
	char	 snapname[64];
	uint64_t cp;
	bool	 copy = s->cfg.snapshot != SNAPSHOT_NEVER;
	bool	 chunked = copy && !temporary && s->cfg.snapshot_chunk_size > 0;
	int		 keyless;

	if (copy)
	{
		snapshot_forget(&s->cfg);
		chunk_state_forget(&s->cfg);
	}
	if (!slot_wait_create(&s->repl, &s->cfg, slot, temporary,
						  copy ? snapname : NULL, &cp, &stop_requested, err,
						  sizeof(err)))
	{
		if (stop_requested)
			exit_stopped(s, "replication", slot, STOPPED_CREATING);
		die(s, "replication", err);
	}
	producer_set_quiet(s->producer, false);
	log_info("replication", "slot=%s consistent_point=%s msg=\"slot created\"",
			 slot, LSN(cp));
	if (!copy)
		return;
	if (!snapshot_run(&s->cfg, snapname, temporary ? NULL : slot, cp,
					  s->repl.dbname, s->repl.system_id, s->repl.timeline,
					  chunked, &s->stream, &stop_requested, err, sizeof(err)))
	{
		if (stop_requested)
			exit_stopped(s, "snapshot", slot,
						 "stopped before the snapshot was complete; it is "
						 "redone at the next start");
		die(s, "snapshot", err);
	}
	/* the keyed tables' copy is recorded before the snapshot is done */
	if (chunked &&
		!chunk_copy_plan(s->chunks, NULL, &keyless, err, sizeof(err)))
		die(s, "snapshot", err);
	if (!temporary &&
		!snapshot_mark_done(&s->cfg, s->repl.system_id, s->repl.dbname, cp,
							err, sizeof(err)))
		die(s, "snapshot", err);
}

/*
 * The slot is missing on a promoted standby of the source (failover.c): the
 * changes committed between the slot's last confirmed position and the new
 * slot's consistent point are decoded nowhere, and those the old primary
 * sent past the fork may be in Kafka although the new primary never had
 * them.  on-failover = recopy: queue a copy of every captured table (the
 * on-demand path, taken once streaming runs), then create the slot and
 * stream from it; the copy's epoch, on the new timeline, replaces the
 * landing tables.  The request is queued first so that a crash in between
 * cannot leave a new slot without its copy.
 */
static void
recover_failover(Sink *s, uint32_t previous)
{
	char	 err[1024];
	uint64_t cp;

	if (s->cfg.on_failover == FAILOVER_STOP || standby_enabled(&s->standby) ||
		!s->cfg.create_slot)
	{
		snprintf(err, sizeof(err),
				 "slot %s is missing on a promoted standby of the source "
				 "(system %s, timeline %u, streamed on timeline %u): a source "
				 "failover; %s",
				 s->cfg.slot, s->repl.system_id, s->repl.timeline, previous,
				 s->cfg.on_failover == FAILOVER_STOP ? "on-failover = stop"
				 : !s->cfg.create_slot
					 ? "create-slot = false"
					 : "with kafka-transactions the copy cannot be made: "
					   "create the slot and copy the tables without them");
		die(s, "replication", err);
	}
	log_warning("replication",
				"slot=%s system=%s timeline=%u previous_timeline=%u "
				"msg=\"source failover: the slot is missing on a promoted "
				"standby; creating it and copying every captured table "
				"(what the old primary sent past the fork is replaced)\"",
				s->cfg.slot, s->repl.system_id, s->repl.timeline, previous);
	/* the old timeline's deliveries move the tracker: let them end first */
	if (!producer_flush(s->producer, s->cfg.shutdown_timeout * 1000))
		die(s, "kafka",
			"messages of the old primary still unacknowledged after "
			"shutdown-timeout; restart to recover from the failover");
	if (!snapshot_request_write(&s->cfg, "*.*", err, sizeof(err)) ||
		!slot_wait_create(&s->repl, &s->cfg, s->cfg.slot, false, NULL, &cp,
						  &stop_requested, err, sizeof(err)))
	{
		if (stop_requested)
			exit_stopped(s, "replication", s->cfg.slot, STOPPED_CREATING);
		die(s, "replication", err);
	}
	log_info("replication", "slot=%s consistent_point=%s msg=\"slot created\"",
			 s->cfg.slot, LSN(cp));
	/* positions of the old timeline mean nothing to the new slot */
	lsn_tracker_reset(&s->tracker);
	lsn_tracker_rewind(&s->tracker, cp);
	s->last_sent = cp;
	failover_note_source(&s->cfg, &s->repl);
	atomic_fetch_add(&metrics.failovers_total, 1);
}

/* Is the slot missing because the source failed over?  Then recover. */
static bool
slot_lost_by_failover(Sink *s, const SlotInfo *info)
{
	uint32_t previous;

	if (info->exists || !failover_detected(&s->cfg, &s->repl, &previous))
		return false;
	recover_failover(s, previous);
	return true;
}

/* Make sure the slot exists and its snapshot is complete. */
static void
prepare_slot(Sink *s)
{
	char	 err[1024];
	SlotInfo info;

	if (s->cfg.snapshot == SNAPSHOT_INITIAL_ONLY)
	{
		char tmpslot[64];

		snprintf(tmpslot, sizeof(tmpslot), "%.40s_initial_%d", s->cfg.slot,
				 (int)getpid());
		create_slot_and_copy(s, tmpslot, true);
		log_info("snapshot", "msg=\"initial_only: snapshot complete, "
							 "exiting\"");
		return;
	}

	if (!replication_slot_info(&s->repl, s->cfg.slot, &info, err, sizeof(err)))
		die(s, "replication", err);
	if (info.exists && !info.ours)
	{
		snprintf(err, sizeof(err),
				 "slot %s uses plugin %s, not walstar_decoder", s->cfg.slot,
				 info.plugin);
		die(s, "replication", err);
	}
	if (info.exists && strcmp(info.database, s->repl.dbname) != 0)
	{
		snprintf(err, sizeof(err), "slot %s belongs to database %s, not %s",
				 s->cfg.slot, info.database, s->repl.dbname);
		die(s, "replication", err);
	}
	if (info.exists && s->cfg.snapshot == SNAPSHOT_INITIAL &&
		!snapshot_is_done(&s->cfg, s->repl.system_id, s->repl.dbname))
	{
		/*
		 * A crash interrupted the snapshot (or the state directory is new):
		 * the exported snapshot is gone, so the only clean restart is a new
		 * slot and a new copy.  Kafka may then hold some rows twice, never
		 * miss one.
		 */
		log_warning(
			"snapshot",
			"slot=%s msg=\"slot exists but its initial snapshot is not "
			"recorded as complete in %s; dropping and recreating the "
			"slot to redo the snapshot\"",
			s->cfg.slot, s->cfg.state_dir);
		if (!replication_drop_slot(&s->repl, s->cfg.slot, err, sizeof(err)))
			die(s, "replication", err);
		info.exists = false;
	}
	if (slot_lost_by_failover(s, &info))
		return;
	if (!info.exists)
	{
		if (!s->cfg.create_slot)
		{
			snprintf(err, sizeof(err),
					 "slot %s does not exist and create-slot = false",
					 s->cfg.slot);
			die(s, "replication", err);
		}
		create_slot_and_copy(s, s->cfg.slot, false);
	}
	else
		chunk_copy_resume(s->chunks);
}

/*
 * An on-demand copy (snapshot_request.c) while streaming.  With
 * snapshot-chunk-size > 0 the requested tables with a key are copied in
 * chunks without stopping the stream (snapshot_chunk.c), after a chunked
 * copy under way, if any.  Otherwise, and for tables without a key, the
 * stream stops
 * (its cut transaction is resent later), a temporary slot exports a
 * snapshot, the requested tables are copied under it as READ records with
 * commit_lsn = its consistent point - 1, and streaming resumes from the
 * confirmed position.  Downstream this is the one-shot copy's rule: the
 * newer copy replaces the landing table, and the resent stream changes
 * committed before its consistent point are older than the copy and
 * skipped.  The copy's markers must not confirm the slot past where the
 * stream stopped, hence the rewind.
 */
static void
copy_on_demand(Sink *s, const char *request, const char *tables)
{
	char		err[1024];
	char		snapname[64];
	char		tmpslot[64];
	Replication tmp;
	Config		c = s->cfg;
	uint64_t	resume, cp;
	bool		ok = false;
	bool		chunked = false; /* keyed tables are copied in chunks */

	if (s->cfg.hash_columns != NULL && s->cfg.hash_salt == NULL)
	{
		log_error("snapshot",
				  "slot=%s request=%s msg=\"hash-columns needs hash-salt or "
				  "hash-salt-file to hash a copy; request dropped\"",
				  s->cfg.slot, LOG_V(request));
		snapshot_request_done(&s->cfg, request);
		return;
	}
	if (standby_enabled(&s->standby))
	{
		/* a copy's records are not produced in Kafka transactions */
		log_error("snapshot",
				  "slot=%s request=%s msg=\"copies are not made with "
				  "kafka-transactions = true (standby sinks), as the initial "
				  "copy is not; request dropped\"",
				  s->cfg.slot, LOG_V(request));
		snapshot_request_done(&s->cfg, request);
		return;
	}
	if (s->cfg.snapshot_chunk_size > 0)
	{
		int keyless;

		/* one chunked copy at a time: the request waits for the running one */
		if (chunk_copy_active(s->chunks))
			return;
		if (!chunk_copy_plan(s->chunks, tables, &keyless, err, sizeof(err)))
			die(s, "snapshot", err);
		/* recorded in <slot>.chunks: a restart resumes it */
		if (keyless == 0)
		{
			log_info("snapshot",
					 "slot=%s request=%s tables=%s msg=\"copy requested; it "
					 "runs in chunks while streaming\"",
					 s->cfg.slot, LOG_V(request), LOG_Q(tables));
			snapshot_request_done(&s->cfg, request);
			return;
		}
		chunked = true;
	}
	log_info("snapshot",
			 "slot=%s request=%s tables=%s msg=\"copy requested; streaming "
			 "pauses for it%s\"",
			 s->cfg.slot, LOG_V(request), LOG_Q(tables),
			 chunked ? " (the tables without a key; the others run in "
					   "chunks)"
					 : "");
	send_status(s, false);
	resume = lsn_tracker_flush_lsn(&s->tracker);
	stream_connection_lost(&s->stream);
	chunk_copy_stream_lost(s->chunks);
	replication_close(&s->repl);
	c.snapshot_tables = (char *)tables;
	snprintf(tmpslot, sizeof(tmpslot), "%.40s_copy_%d", s->cfg.slot,
			 (int)getpid());
	if (replication_connect(&tmp, c.conninfo, err, sizeof(err)))
	{
		ok = slot_wait_create(&tmp, &c, tmpslot, true, snapname, &cp,
							  &stop_requested, err, sizeof(err)) &&
			 snapshot_run(&c, snapname, NULL, cp, tmp.dbname, tmp.system_id,
						  tmp.timeline, chunked, &s->stream, &stop_requested,
						  err, sizeof(err));
		replication_close(&tmp);
	}
	lsn_tracker_rewind(&s->tracker, resume);
	s->reconnect_at_ms = 0;
	if (ok)
	{
		snapshot_request_done(&s->cfg, request);
		log_info("snapshot",
				 "slot=%s request=%s msg=\"copy complete and acknowledged; "
				 "streaming resumes\"",
				 s->cfg.slot, LOG_V(request));
		return;
	}
	if (stop_requested)
	{
		log_info("snapshot",
				 "slot=%s request=%s msg=\"stopped during the copy; the "
				 "request is taken again at the next start\"",
				 s->cfg.slot, LOG_V(request));
		return;
	}
	/* as in the initial copy; the request stays queued for the next start */
	die(s, "snapshot", err);
}

/* walstar-sink snapshot --table ...: queue a request for the running sink. */
static int
request_snapshot(const Config *cfg)
{
	char err[1024];

	if (!snapshot_request_write(cfg, cfg->snapshot_tables, err, sizeof(err)))
	{
		log_error("snapshot", "msg=%s", LOG_Q(err));
		return 1;
	}
	log_info("snapshot",
			 "slot=%s tables=%s msg=\"copy requested; the running sink "
			 "takes it within a second\"",
			 cfg->slot, LOG_Q(cfg->snapshot_tables));
	return 0;
}

/* (Re)connect and START_REPLICATION; false (logged) to retry later. */
static bool
start_streaming(Sink *s, bool first)
{
	char	 err[1024];
	SlotInfo info;

	if (s->repl.conn == NULL)
	{
		if (!replication_connect(&s->repl, s->cfg.conninfo, err, sizeof(err)))
			goto fail;
		/* back after a lost connection, maybe to a promoted standby */
		if (!replication_slot_info(&s->repl, s->cfg.slot, &info, err,
								   sizeof(err)))
			goto fail;
		slot_lost_by_failover(s, &info);
	}
	if (!replication_start(&s->repl, &s->cfg, 0, err, sizeof(err)))
		goto fail;
	failover_note_source(&s->cfg, &s->repl);
	if (!standby_take_over(&s->standby, PQbackendPID(s->repl.conn), err,
						   sizeof(err)))
		goto fail;
	log_info("replication", "slot=%s confirmed=%s msg=\"streaming\"",
			 s->cfg.slot, LSN(lsn_tracker_flush_lsn(&s->tracker)));
	metrics_set_connected(PEER_SOURCE, true);
	{
		char status[256];

		snprintf(status, sizeof(status), "streaming slot %s to Kafka",
				 s->cfg.slot);
		notify_ready(status);
	}
	s->backoff_s = 1;
	return true;

fail:
	/* errors the user must fix are fatal at startup */
	if (first && strstr(err, "is active for PID") == NULL)
		die(s, "replication", err);
	if (standby_retry_ms(&s->standby, err) == -2)
		die(s, "replication",
			"another sink took the slot over (its Kafka transactions fenced "
			"ours); stopping, a restart stands by");
	if (standby_retry_ms(&s->standby, err) >= 0)
	{
		/* a standby: the slot is another sink's (logged once) */
		replication_close(&s->repl);
		s->reconnect_at_ms = now_ms() + standby_retry_ms(&s->standby, err);
		return false;
	}
	metrics_error(ERROR_KIND_CONNECTION);
	if (replication_plugin_not_allowed(err))
		log_error("replication", "slot=%s msg=%s hint=%s retry_in_s=%d",
				  s->cfg.slot, LOG_Q(err), LOG_Q(PLUGIN_HINT), s->backoff_s);
	else
		log_warning("replication", "slot=%s msg=%s retry_in_s=%d", s->cfg.slot,
					LOG_Q(err), s->backoff_s);
	replication_close(&s->repl);
	s->reconnect_at_ms = now_ms() + s->backoff_s * 1000;
	s->backoff_s *= 2;
	if (s->backoff_s > s->cfg.reconnect_max_backoff)
		s->backoff_s = s->cfg.reconnect_max_backoff;
	return false;
}

static void
connection_lost(Sink *s, const char *why)
{
	log_warning("replication", "slot=%s msg=%s retry_in_s=%d", s->cfg.slot,
				LOG_Q(why), s->backoff_s);
	metrics_error(ERROR_KIND_CONNECTION);
	metrics_set_connected(PEER_SOURCE, false);
	atomic_fetch_add(&metrics.reconnects_total, 1);
	stream_connection_lost(&s->stream);
	chunk_copy_stream_lost(s->chunks);
	s->blocked = false;
	replication_close(&s->repl);
	s->reconnect_at_ms = now_ms() + s->backoff_s * 1000;
	s->backoff_s *= 2;
	if (s->backoff_s > s->cfg.reconnect_max_backoff)
		s->backoff_s = s->cfg.reconnect_max_backoff;
}

static bool
same_text(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/*
 * A new table selection goes to the decoder with START_REPLICATION: stop
 * the stream (the transaction in flight is resent) and start it again.
 */
static void
restart_stream(Sink *s)
{
	log_info("replication",
			 "slot=%s msg=\"table selection changed: streaming restarts "
			 "with it\"",
			 s->cfg.slot);
	send_status(s, false);
	stream_connection_lost(&s->stream);
	chunk_copy_stream_lost(s->chunks);
	s->blocked = false;
	replication_close(&s->repl);
	s->reconnect_at_ms = 0;
}

/*
 * A record failed because the producer is in a fatal state that
 * recreate_producer handles, or its Kafka transaction failed, which
 * rewind_transaction handles (both at the top of the loop): not a reason
 * to stop here.
 */
static bool
fatal_recoverable(Sink *s)
{
	return (producer_fatal_error(s->producer) != NULL &&
			!standby_enabled(&s->standby) && s->stream.dead_letters == NULL) ||
		   producer_txn_failure(s->producer) != NULL;
}

/*
 * kafka-transactions: the open transaction failed without fencing us (a
 * message of it failed, or its commit needs an abort: 076_sink_standby.pl
 * meets both when the transaction coordinator's node is killed).  Nothing
 * after the last commit was confirmed, so the transaction is aborted and
 * the stream starts again at the slot's confirmed position, in this
 * process with this producer; read_committed consumers never see the
 * aborted messages, and what the last commit already holds the apply
 * side drops by its (commit LSN, position) rule.  Not with dead letters
 * waiting, which refer to the transactions dropped here.  false with err:
 * stop.
 */
static bool
rewind_transaction(Sink *s, char *err, size_t errlen)
{
	char why[512];

	snprintf(why, sizeof(why), "%s", producer_txn_failure(s->producer));
	if (s->stream.dead_letters != NULL)
	{
		snprintf(err, errlen, "%s; dead letters of the transaction wait", why);
		return false;
	}
	{
		char m[LOG_VALUE_MAX];

		snprintf(m, sizeof(m),
				 "%s; the transaction is aborted and the stream restarts at "
				 "the last commit",
				 why);
		log_warning("kafka", "slot=%s confirmed=%s msg=%s", s->cfg.slot,
					LSN(s->standby.committed), LOG_Q(m));
	}
	stream_connection_lost(&s->stream);
	chunk_copy_stream_lost(s->chunks);
	s->blocked = false;
	replication_close(&s->repl);
	metrics_set_connected(PEER_SOURCE, false);
	if (!standby_abort(&s->standby, err, errlen))
		return false;
	/* what Kafka acknowledged of the aborted transaction counts for nothing */
	lsn_tracker_reset(&s->tracker);
	lsn_tracker_rewind(&s->tracker, s->standby.committed);
	s->stream.failed = false;
	s->stream.failure[0] = '\0';
	producer_clear_txn_failure(s->producer);
	atomic_fetch_add(&metrics.reconnects_total, 1);
	s->reconnect_at_ms = now_ms() + 1000;
	return true;
}

/*
 * The idempotent producer raised a fatal error.  librdkafka 2.0 does so
 * when a partition's leader changes with requests in flight and the new
 * leader then sees a gap in the producer's sequence ("sequence
 * desynchronization"; 075_kafka_broker_loss.pl meets it after a leader's
 * kill -9), although Kafka acknowledged nothing out of order.  Nothing
 * unacknowledged was confirmed, so a new producer and a stream restarted
 * at the slot's confirmed position lose nothing, and what Kafka then holds
 * twice the apply side drops by its (commit LSN, position) rule.  Not with
 * kafka-transactions, where a fatal error means fenced by another sink;
 * nor with dead letters waiting, which refer to the transactions dropped
 * here.  false: stop.
 */
static bool
recreate_producer(Sink *s)
{
	char	  err[1024];
	Producer *p;

	if (standby_enabled(&s->standby) || s->stream.dead_letters != NULL)
		return false;
	log_warning("kafka",
				"slot=%s confirmed=%s msg=\"new Kafka producer after a fatal "
				"producer error; the stream restarts at the confirmed "
				"position\"",
				s->cfg.slot, LSN(s->last_sent));
	stream_connection_lost(&s->stream);
	s->blocked = false;
	replication_close(&s->repl);
	metrics_set_connected(PEER_SOURCE, false);
	rd_kafka_purge(producer_handle(s->producer),
				   RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	producer_destroy(s->producer);
	lsn_tracker_reset(&s->tracker);
	/* the server's position covered records that are resent now */
	s->tracker.server_pos = s->tracker.flushed;
	s->stream.failed = false;
	s->stream.failure[0] = '\0';
	s->producer = p = producer_create(&s->cfg, stream_on_delivery, &s->stream,
									  err, sizeof(err));
	if (p == NULL)
		die(s, "kafka", err);
	s->stream.producer = p;
	standby_init(&s->standby, &s->cfg, p, &s->tracker);
	atomic_fetch_add(&metrics.reconnects_total, 1);
	s->reconnect_at_ms = now_ms() + 1000;
	return true;
}

static void
reload(Sink *s)
{
	char  err[1024];
	char *include =
		s->cfg.include_tables ? strdup(s->cfg.include_tables) : NULL;
	char *exclude =
		s->cfg.exclude_tables ? strdup(s->cfg.exclude_tables) : NULL;
	bool ok;

	reload_requested = 0;
	notify_reloading();
	ok = config_reload(&s->cfg, err, sizeof(err));
	if (ok && s->repl.conn != NULL &&
		(!same_text(include, s->cfg.include_tables) ||
		 !same_text(exclude, s->cfg.exclude_tables)))
		restart_stream(s);
	free(include);
	free(exclude);
	if (!ok)
	{
		log_error("config",
				  "msg=\"reload failed, keeping the running "
				  "configuration: %s\"",
				  err);
		notify_ready("reload failed, running configuration kept");
		return;
	}
	log_set_level((LogLevel)s->cfg.log_level);
	log_set_timestamps(s->cfg.log_timestamps);
	log_info("config", "msg=\"configuration reloaded\"");
	notify_ready("configuration reloaded");
}

/*
 * Handle buffered replication messages.  Returns true when more may be
 * waiting (batch limit reached).
 */
static bool
read_stream(Sink *s, int *exit_code)
{
	char err[1024];
	int	 i;

	for (i = 0; i < READ_BATCH; i++)
	{
		ReplicationMessage msg;
		StreamResult	   r;

		switch (replication_read(&s->repl, &msg, err, sizeof(err)))
		{
			case REPL_NONE:
				return false;
			case REPL_KEEPALIVE:
				lsn_tracker_server_position(&s->tracker, msg.wal_end);
				if (msg.wal_end > atomic_load(&metrics.received_lsn))
					atomic_store(&metrics.received_lsn, msg.wal_end);
				/* at a transaction boundary: everything before it queued */
				if (s->stream.open == NULL)
					heartbeat_keepalive(
						&s->heartbeat, &s->stream,
						s->cfg.source_id ? s->cfg.source_id : s->repl.dbname,
						strtoull(s->repl.system_id, NULL, 10),
						s->repl.timeline, s->tracker.server_pos, msg.send_time,
						now_ms());
				if (msg.reply_requested)
					send_status(s, false);
				continue;
			case REPL_DATA:
				if (msg.wal_start > atomic_load(&metrics.received_lsn))
					atomic_store(&metrics.received_lsn, msg.wal_start);
				switch (chunk_copy_observe(s->chunks, msg.data, msg.len,
										   &stop_requested, err, sizeof(err)))
				{
					case CHUNK_PASS:
						break;
					case CHUNK_CONSUMED:
						if (stop_requested)
							return false;
						continue;
					case CHUNK_FAILED:
						if (fatal_recoverable(s))
							return false;
						log_error("snapshot", "slot=%s msg=%s", s->cfg.slot,
								  LOG_Q(err));
						stop_requested = 1;
						*exit_code = 1;
						return false;
				}
				r = stream_record(&s->stream, msg.data, msg.len, msg.wal_start,
								  err, sizeof(err));
				if (r == STREAM_BLOCKED)
				{
					s->blocked = true;
					s->pending = msg;
					return false;
				}
				if (r == STREAM_FAILED && fatal_recoverable(s))
					return false;
				if (r == STREAM_FAILED)
				{
					log_error("stream", "slot=%s msg=%s", s->cfg.slot,
							  LOG_Q(err));
					stop_requested = 1;
					*exit_code = 1;
					return false;
				}
				continue;
			case REPL_END:
				connection_lost(s, "the server ended replication");
				return false;
			case REPL_ERROR:
				connection_lost(s, err);
				return false;
		}
	}
	return true;
}

static void
shutdown_sink(Sink *s)
{
	char summary[512];

	if (!producer_flush(s->producer, s->cfg.shutdown_timeout * 1000))
		log_warning("kafka",
					"queued=%d msg=\"messages still unacknowledged at "
					"shutdown; they are resent at the next start\"",
					producer_queue_len(s->producer));
	if (producer_fatal_error(s->producer) == NULL &&
		!standby_finish(&s->standby, s->cfg.shutdown_timeout * 1000, summary,
						sizeof(summary)))
		log_warning("kafka", "slot=%s msg=%s", s->cfg.slot, LOG_Q(summary));
	send_status(s, false);
	replication_end(&s->repl);
	replication_close(&s->repl);
	snprintf(summary, sizeof(summary),
			 "records=%" PRIu64 " changes=%" PRIu64 " acked=%" PRIu64
			 " commit_latency_p50_ms=%.1f commit_latency_p99_ms=%.1f",
			 atomic_load(&metrics.records_total),
			 atomic_load(&metrics.changes_total),
			 atomic_load(&metrics.acked_total),
			 metrics_quantile(&metrics.commit_latency, 0.5) / 1000.0,
			 metrics_quantile(&metrics.commit_latency, 0.99) / 1000.0);
	log_info("main", "slot=%s confirmed=%s %s msg=\"stopped\"", s->cfg.slot,
			 LSN(s->last_sent), summary);
	producer_destroy(s->producer);
	s->producer = NULL;
	chunk_copy_destroy(s->chunks);
	s->chunks = NULL;
	stream_cleanup(&s->stream);
	lsn_tracker_reset(&s->tracker);
	metrics_stop();
}

int
main(int argc, char **argv)
{
	static Sink sink;
	Sink	   *s = &sink;
	char		err[1024];
	int			exit_code = 0;
	int64_t		gauges_at = now_ms();

	switch (config_load(argc, argv, &s->cfg, err, sizeof(err)))
	{
		case CONFIG_EXIT:
			return 0;
		case CONFIG_ERROR:
			log_error("config", "msg=%s", LOG_Q(err));
			return 1;
		case CONFIG_OK:
			break;
	}
	log_set_level((LogLevel)s->cfg.log_level);
	log_set_timestamps(s->cfg.log_timestamps);
	if (s->cfg.ddl_capture != 0)
		return ddl_capture_run(&s->cfg, s->cfg.ddl_capture == 1);
	if (s->cfg.snapshot_command)
	{
		exit_code = request_snapshot(&s->cfg);
		config_free(&s->cfg);
		return exit_code;
	}
	install_signals();

	lsn_tracker_init(&s->tracker, 0);
	s->producer = producer_create(&s->cfg, stream_on_delivery, &s->stream, err,
								  sizeof(err));
	if (s->producer == NULL)
		die(s, "kafka", err);
	stream_init(&s->stream, &s->cfg, s->producer, &s->tracker);
	standby_init(&s->standby, &s->cfg, s->producer, &s->tracker);
	heartbeat_init(&s->heartbeat, &s->cfg, now_ms());

	/* until the slot is ready, a failure is one error line of ours */
	producer_set_quiet(s->producer, true);
	if (!replication_connect(&s->repl, s->cfg.conninfo, err, sizeof(err)))
		die(s, "replication", err);
	if (!producer_check_cluster(s->producer, s->cfg.startup_timeout * 1000,
								err, sizeof(err)))
		die(s, "kafka", err);
	metrics_set_connected(PEER_SOURCE, true);
	metrics_set_connected(PEER_KAFKA, true);
	metrics_set_info(SINK_VERSION, s->cfg.slot,
					 s->cfg.source_id ? s->cfg.source_id : s->repl.dbname);
	if (s->cfg.metrics_port > 0 &&
		!metrics_start(s->cfg.metrics_port, err, sizeof(err)))
		die(s, "metrics", err);
	prefix_check_warn(&s->cfg,
					  s->cfg.source_id ? s->cfg.source_id : s->repl.dbname,
					  s->repl.system_id);
	s->chunks =
		chunk_copy_create(&s->cfg, &s->stream,
						  s->cfg.source_id ? s->cfg.source_id : s->repl.dbname,
						  s->repl.system_id, &s->repl.timeline);
	prepare_slot(s);
	producer_set_quiet(s->producer, false);
	log_info("main", "version=%s slot=%s database=%s msg=\"started\"",
			 SINK_VERSION, s->cfg.slot, s->repl.dbname);
	if (s->cfg.snapshot == SNAPSHOT_INITIAL_ONLY)
	{
		shutdown_sink(s);
		config_free(&s->cfg);
		return 0;
	}

	s->backoff_s = 1;
	start_streaming(s, true);

	while (!stop_requested)
	{
		struct pollfd fds[2];
		int			  nfds = 0;
		int			  timeout = 100;
		bool		  more = false;
		int64_t		  now;
		uint64_t	  flush;

		if (reload_requested)
			reload(s);
		if (producer_fatal_error(s->producer) != NULL && recreate_producer(s))
			continue;
		if (producer_fatal_error(s->producer) != NULL)
		{
			log_error("kafka", "slot=%s msg=\"stopping: %s\"", s->cfg.slot,
					  producer_fatal_error(s->producer));
			exit_code = 1;
			break;
		}
		if (producer_txn_failure(s->producer) != NULL)
		{
			if (rewind_transaction(s, err, sizeof(err)))
				continue;
			log_error("kafka", "slot=%s msg=%s", s->cfg.slot, LOG_Q(err));
			exit_code = 1;
			break;
		}
		if (s->stream.failed)
		{
			log_error("kafka", "slot=%s msg=\"stopping: %s\"", s->cfg.slot,
					  s->stream.failure);
			exit_code = 1;
			break;
		}

		now = now_ms();
		notify_watchdog(now);
		if (s->repl.conn == NULL && now >= s->reconnect_at_ms)
			start_streaming(s, false);

		if (s->blocked && !standby_busy(&s->standby))
		{
			StreamResult r =
				stream_record(&s->stream, s->pending.data, s->pending.len,
							  s->pending.wal_start, err, sizeof(err));

			if (r == STREAM_DONE)
				s->blocked = false;
			else if (r == STREAM_FAILED && fatal_recoverable(s))
				continue;
			else if (r == STREAM_FAILED)
			{
				log_error("stream", "slot=%s msg=%s", s->cfg.slot, LOG_Q(err));
				exit_code = 1;
				break;
			}
		}
		if (!standby_busy(&s->standby))
			stream_service(&s->stream);
		if (!standby_service(&s->standby, now, err, sizeof(err)))
		{
			log_error("kafka", "slot=%s msg=%s", s->cfg.slot, LOG_Q(err));
			exit_code = 1;
			break;
		}
		if (s->repl.conn != NULL && s->repl.streaming && !s->blocked &&
			!standby_busy(&s->standby) && now >= s->requests_at_ms)
		{
			char request[256];
			char tables[SNAPSHOT_REQUEST_MAX];

			s->requests_at_ms = now + 1000;
			if (snapshot_request_next(&s->cfg, request, sizeof(request),
									  tables))
			{
				copy_on_demand(s, request, tables);
				continue;
			}
		}
		if (s->repl.conn != NULL && s->repl.streaming && !s->blocked &&
			!chunk_copy_service(s->chunks, lsn_tracker_flush_lsn(&s->tracker),
								err, sizeof(err)))
		{
			log_error("snapshot", "slot=%s msg=%s", s->cfg.slot, LOG_Q(err));
			exit_code = 1;
			break;
		}
		if (s->repl.conn != NULL && s->repl.streaming && !s->blocked &&
			!standby_busy(&s->standby))
			more = read_stream(s, &exit_code);
		if (stop_requested)
			break;

		producer_poll(s->producer, 0);

		now = now_ms();
		flush = standby_confirmable(&s->standby);
		if (s->repl.conn != NULL && s->repl.streaming && !s->blocked &&
			!standby_busy(&s->standby) && s->stream.open == NULL &&
			heartbeat_ask(&s->heartbeat, s->producer, now))
			send_status(s, true);
		else if (now - s->last_status_ms >= s->cfg.status_interval * 1000 ||
				 (flush != s->last_sent &&
				  now - s->last_status_ms >= STATUS_MIN_GAP_MS))
			send_status(s, false);

		if (now - gauges_at >= 1000)
		{
			gauges_at = now;
			atomic_store(&metrics.queue_depth,
						 producer_queue_len(s->producer));
			atomic_store(&metrics.txns_in_flight, s->tracker.ntxns);
		}

		if (more)
			continue;
		if (s->blocked || standby_busy(&s->standby))
			timeout = 10;
		fds[nfds].fd = producer_fd(s->producer);
		fds[nfds].events = POLLIN;
		nfds++;
		if (s->repl.conn != NULL && !s->blocked && !standby_busy(&s->standby))
		{
			fds[nfds].fd = replication_socket(&s->repl);
			fds[nfds].events = POLLIN;
			nfds++;
		}
		if (poll(fds, nfds, timeout) < 0 && errno != EINTR)
		{
			log_error("main", "msg=\"poll failed: %s\"", strerror(errno));
			exit_code = 1;
			break;
		}
	}

	if (exit_code == 0)
		log_info("main",
				 "slot=%s msg=\"stopping: flushing Kafka and "
				 "confirming\"",
				 s->cfg.slot);
	notify_stopping();
	shutdown_sink(s);
	config_free(&s->cfg);
	return exit_code;
}
