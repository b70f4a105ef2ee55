/*-------------------------------------------------------------------------
 *
 * apply_worker.c
 *		The background worker that applies one subscription.
 *
 * A subscription has workers => N of them, numbered 0 .. N - 1, each
 * applying the partitions subscription_partition_worker() gives it (a
 * session advisory lock on (subscription, number) makes sure that each
 * number runs once), started by the launcher or by walstar.start_worker().
 * Its loop:
 *
 *		WaitLatchOrSocket (latch, librdkafka's wake-up pipe, batch deadline)
 *		-> ResetLatch -> CHECK_FOR_INTERRUPTS -> reload on SIGHUP
 *		-> take ready messages -> apply a full or timed-out batch
 *		-> every second, look at the subscription's config_version.
 *
 * A batch is applied in one transaction that first locks the subscription
 * row FOR SHARE and checks config_version: a concurrent rewind or alter
 * (which update that row) therefore either sees the batch committed or
 * makes the worker drop the batch and reload. The same makes a change of
 * N safe: every worker of the old N either commits before the change does
 * or drops its batch, and every worker reloads the stored offsets of its
 * new partitions after the change committed, so a partition moving to
 * another worker is never applied by two. A worker whose number is N or
 * more leaves. A deadlock with another worker (two workers adding the same
 * new column to a landing table, a key change crossing partitions) aborts
 * the batch, which is fetched and applied again from the stored offsets.
 * SIGTERM (die) ends the
 * worker through the usual FATAL path; before_shmem_exit destroys the
 * librdkafka handle on every exit path.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "walstar.h"

PG_FUNCTION_INFO_V1(walstar_start_worker);

/* advisory lock class (first key) of "subscription has a worker" */
#define WORKER_LOCK_CLASS 0x57A5

static Consumer *consumer = NULL;
static int	worker_index = 0;	/* which of the subscription's workers */
static bool rebuild = false;	/* reload offsets and consumer: batch lost */
static MemoryContext worker_cxt = NULL;
static MemoryContext batch_cxt = NULL;
static Size batch_keep = 0;		/* batch_cxt's first block, kept by resets */
static Subscription *sub = NULL;
static HTAB *parts = NULL;
static KafkaMessage *msgs = NULL;
static int	msgs_cap = 0;

static void
worker_shmem_exit(int code, Datum arg)
{
	consumer_destroy(consumer);
	consumer = NULL;
}

/* A batch's memory is kept up to this much between batches. */
#define BATCH_KEEP_MAX ((Size) 128 * 1024 * 1024)

/*
 * The batch context, whose first block (keep bytes) survives its resets.
 * Blocks beyond it are large enough for malloc to map them afresh, so a
 * reset hands them back to the kernel and the next batch faults them in
 * again page by page: up to 18 % of the worker's CPU in bench/apply,
 * depending on what malloc happened to keep.
 */
static void
batch_context_create(Size keep)
{
	batch_keep = keep;
	batch_cxt = AllocSetContextCreate(worker_cxt, "walstar apply batch",
									  0, keep, Max(keep, 64 * 1024 * 1024));
}

/*
 * Empty the batch context; grow its kept block to the blocks this batch
 * used (its own: hash tables' contexts and chunks over 8 kB are malloc'd
 * apart anyway).
 */
static void
batch_context_reset(void)
{
	Size		used = MemoryContextMemAllocated(batch_cxt, false);

	if (used <= batch_keep || batch_keep >= BATCH_KEEP_MAX)
	{
		MemoryContextReset(batch_cxt);
		return;
	}
	MemoryContextDelete(batch_cxt);
	batch_context_create(Min(used, BATCH_KEEP_MAX));
}

/* walstar's tables as the extension's owner, see bookkeeping_begin */
static BookkeepingUser bookkeeping;

static void
begin_tx(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	bookkeeping_begin(&bookkeeping);
}

static void
end_tx(bool commit)
{
	bookkeeping_end(&bookkeeping);
	SPI_finish();
	PopActiveSnapshot();
	if (commit)
		CommitTransactionCommand();
	else
		AbortCurrentTransaction();
	pgstat_report_activity(STATE_IDLE, NULL);
}

static bool
extension_present(void)
{
	return OidIsValid(get_extension_oid("walstar", true));
}

/* Clean exit: the state is recorded when the subscription still exists. */
static void
worker_exit(const char *state, const char *why)
{
	if (why)
		ereport(LOG,
				(errmsg("walstar apply worker for subscription %d is exiting",
						sub ? sub->id : -1),
				 errdetail("%s", why)));
	if (sub && state)
	{
		begin_tx();
		if (extension_present())
			subscription_set_worker_state(sub->id, worker_index, state, NULL);
		end_tx(true);
	}
	proc_exit(0);
}

static void
load_subscription(int32 id)
{
	MemoryContext old = MemoryContextSwitchTo(worker_cxt);
	Subscription *s = subscription_load(id, true);

	MemoryContextSwitchTo(old);
	sub = s;
	if (sub && sub->batch_size > msgs_cap)
	{
		if (msgs)
			pfree(msgs);
		msgs_cap = sub->batch_size;
		msgs = MemoryContextAllocHuge(worker_cxt, sizeof(KafkaMessage) * msgs_cap);
	}
}

/*
 * Re-read the subscription (in a transaction of our own); exits when it is
 * gone or disabled. Reassigns partitions from the stored offsets when the
 * configuration changed.
 */
static void
reload(int32 id)
{
	int64		old_version = sub ? sub->config_version : -1;
	bool		rewound = false;

	begin_tx();
	if (!extension_present())
	{
		end_tx(false);
		sub = NULL;
		worker_exit(NULL, "extension walstar was dropped");
	}
	load_subscription(id);
	if (sub == NULL)
	{
		end_tx(false);
		worker_exit(NULL, "subscription was dropped");
	}
	if (!sub->enabled)
	{
		end_tx(false);
		worker_exit("stopped", "subscription was disabled");
	}
	if (worker_index >= sub->workers)
	{
		char	   *why = psprintf("The subscription has %d workers now.", sub->workers);

		subscription_forget_worker(sub->id, worker_index);
		end_tx(true);
		sub = NULL;
		worker_exit(NULL, why);
	}
	if (rebuild)
	{
		old_version = -2;		/* everything from the stored progress again */
		rebuild = false;
	}
	if (sub->config_version != old_version)
	{
		hash_destroy(parts);
		parts = partition_table_create(worker_cxt);
		partition_table_load(parts, sub->id);
	}
	end_tx(true);

	if (sub->config_version == old_version)
		return;
	/* brokers or librdkafka properties may have changed: a fresh handle */
	consumer_destroy(consumer);
	consumer = NULL;
	consumer = consumer_create(sub);
	consumer_refresh_assignment(consumer, sub, worker_index, parts, true);
	if (sub->rewind_pending)
	{
		HASH_SEQ_STATUS seq;
		PartitionState *ps;
		Oid			sub_argtypes[2] = {INT4OID, INT8OID};
		Datum		sub_args[2] = {Int32GetDatum(sub->id), Int64GetDatum(sub->config_version)};

		consumer_rewind_to_time(consumer, parts, sub->rewind_time);
		begin_tx();

		/*
		 * Resolved once for every worker's partitions: by the worker whose
		 * update of the still unchanged row goes first. The others find the
		 * version moved on, write nothing, and reload what it stored.
		 */
		SPI_execute_with_args("UPDATE walstar.subscriptions"
							  " SET rewind_time = NULL, config_version = config_version + 1"
							  " WHERE id = $1 AND config_version = $2 AND rewind_time IS NOT NULL"
							  " RETURNING config_version",
							  2, sub_argtypes, sub_args, NULL, false, 0);
		rewound = SPI_processed == 1;
		if (rewound)
		{
			bool		isnull;

			sub->config_version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
															  SPI_tuptable->tupdesc, 1, &isnull));
		}
		hash_seq_init(&seq, parts);
		while (rewound && (ps = hash_seq_search(&seq)) != NULL)
		{
			Oid			argtypes[4] = {INT4OID, TEXTOID, INT4OID, INT8OID};
			Datum		args[4];

			if (!ps->assigned && !ps->elsewhere)
				continue;
			args[0] = Int32GetDatum(sub->id);
			args[1] = CStringGetTextDatum(ps->key.topic);
			args[2] = Int32GetDatum(ps->key.partition);
			args[3] = Int64GetDatum(ps->next_offset);
			SPI_execute_with_args("INSERT INTO walstar.subscription_offsets AS o"
								  " (subscription_id, topic, partition, next_offset)"
								  " VALUES ($1, $2, $3, $4)"
								  " ON CONFLICT (subscription_id, topic, partition) DO UPDATE"
								  " SET next_offset = excluded.next_offset,"
								  "  last_commit_lsn = '0/0', last_position = 0",
								  4, argtypes, args, NULL, false, 0);
			ps->dirty = false;
			ps->stored = true;
		}
		if (!rewound)
			hash_seq_term(&seq);
		end_tx(true);
		sub->rewind_pending = false;
		if (!rewound)
			rebuild = true;		/* the offsets another worker stored, next second */
		consumer_refresh_assignment(consumer, sub, worker_index, parts, true);
	}
	ereport(LOG,
			(errmsg("walstar apply worker %d of %d for subscription \"%s\" %s",
					worker_index, sub->workers, sub->name,
					old_version == -1 ? "started" : rewound ? "rewound" : "reloaded"),
			 errdetail("Configuration version " INT64_FORMAT ".", sub->config_version)));
}

/* Whether the subscription is unchanged; locks its row until commit. */
static bool
config_unchanged(void)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(sub->id)};
	bool		isnull;

	if (SPI_execute_with_args("SELECT config_version FROM walstar.subscriptions"
							  " WHERE id = $1 AND enabled FOR SHARE",
							  1, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read walstar.subscriptions");
	return SPI_processed == 1 &&
		DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
									&isnull)) == sub->config_version;
}

/* Apply msgs[0..n) in one transaction; false when the batch was dropped. */
static bool
apply_messages(int n)
{
	ApplyResult result;
	MemoryContext old;

	begin_tx();
	pgstat_report_activity(STATE_RUNNING, "walstar apply batch");
	if (!config_unchanged())
	{
		end_tx(false);
		return false;
	}
	/* librdkafka's cached high watermarks, fresh from every fetch: lag tells the truth while busy */
	consumer_update_watermarks(consumer, parts);
	old = MemoryContextSwitchTo(batch_cxt);
	PG_TRY();
	{
		apply_batch(sub, parts, msgs, n, &result);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(worker_cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_T_R_DEADLOCK_DETECTED)
		{
			FreeErrorData(edata);
			PG_RE_THROW();
		}
		FlushErrorState();
		AbortCurrentTransaction();
		pgstat_report_activity(STATE_IDLE, NULL);
		ereport(LOG,
				(errmsg("walstar apply worker %d of subscription \"%s\" applies its batch again",
						worker_index, sub->name),
				 errdetail("%s", edata->message)));
		FreeErrorData(edata);
		/* the batch advanced the partitions in memory: back to what is stored */
		rebuild = true;
		return false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	if (result.stop_error)
	{
		char	   *error = MemoryContextStrdup(worker_cxt, result.stop_error);

		end_tx(false);
		begin_tx();
		{
			Oid			argtypes[1] = {INT4OID};
			Datum		args[1] = {Int32GetDatum(sub->id)};

			SPI_execute_with_args("UPDATE walstar.subscriptions"
								  " SET enabled = false, config_version = config_version + 1"
								  " WHERE id = $1", 1, argtypes, args, NULL, false, 0);
		}
		subscription_set_worker_state(sub->id, worker_index, "stopped by error policy", error);
		end_tx(true);
		ereport(LOG,
				(errmsg("subscription \"%s\" stopped by its error policy", sub->name),
				 errdetail("%s", error)));
		proc_exit(0);
	}
	end_tx(true);
	consumer_apply_barriers(consumer, parts);
	if (result.dead > 0 || result.skipped > 0)
		elog(DEBUG1, "batch of %d: %d applied, %d skipped, %d dead letters",
			 n, result.applied, result.skipped, result.dead);
	return true;
}

/* High watermarks and rates to the status table while idle. */
static void
store_watermarks(void)
{
	HASH_SEQ_STATUS seq;
	PartitionState *ps;

	consumer_update_watermarks(consumer, parts);
	begin_tx();
	hash_seq_init(&seq, parts);
	while ((ps = hash_seq_search(&seq)) != NULL)
	{
		Oid			argtypes[4] = {INT4OID, TEXTOID, INT4OID, INT8OID};
		Datum		args[4];

		if (!ps->stored || ps->high_watermark < 0)
			continue;
		args[0] = Int32GetDatum(sub->id);
		args[1] = CStringGetTextDatum(ps->key.topic);
		args[2] = Int32GetDatum(ps->key.partition);
		args[3] = Int64GetDatum(ps->high_watermark);
		SPI_execute_with_args("UPDATE walstar.subscription_offsets"
							  " SET high_watermark = $4,"
							  "  messages_per_second = CASE WHEN next_offset >= $4 THEN 0"
							  "   ELSE messages_per_second END"
							  " WHERE subscription_id = $1 AND topic = $2 AND partition = $3"
							  " AND high_watermark IS DISTINCT FROM $4",
							  4, argtypes, args, NULL, false, 0);
	}
	end_tx(true);
}

/*
 * librdkafka errors (authentication, authorization, unknown topic, broker
 * down) go to the status view with their kind, the state error (it needs a
 * configuration change) or retrying (librdkafka keeps trying). Messages
 * arriving again, or a minute without a new error (librdkafka repeats a
 * lasting one at least every reconnect.backoff.max.ms), make the worker
 * running again. At most one write a second.
 */
static void
report_client_error(bool flowing)
{
	static bool in_error = false;
	static TimestampTz last_report = 0;
	static TimestampTz last_error = 0;
	TimestampTz now = GetCurrentTimestamp();
	bool		lasting = false;
	char	   *error;

	if (in_error && (flowing || now - last_error >= 60 * 1000000L))
	{
		in_error = false;
		begin_tx();
		subscription_set_worker_state(sub->id, worker_index, "running", NULL);
		end_tx(true);
	}
	if (now - last_report < 1000000L)
		return;
	error = consumer_take_error(consumer, &lasting);
	if (error == NULL)
		return;
	last_report = last_error = now;
	in_error = true;
	begin_tx();
	subscription_set_worker_state(sub->id, worker_index, lasting ? "error" : "retrying", error);
	end_tx(true);
	pfree(error);
}

static void
worker_loop(int32 id)
{
	int			n = 0;
	bool		more = false;
	TimestampTz batch_start = 0;
	TimestampTz last_check = GetCurrentTimestamp();
	TimestampTz last_meta = last_check;
	TimestampTz last_marks = last_check;
	TimestampTz last_barrier = last_check;

	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		long		timeout = 100;
		int			got;

		if (more)
			timeout = 0;
		else if (n > 0)
			timeout = Max(0, Min(timeout,
								 (batch_start + sub->batch_time_ms * 1000L - now) / 1000));
		(void) WaitLatchOrSocket(MyLatch,
								 WL_LATCH_SET | WL_SOCKET_READABLE | WL_TIMEOUT |
								 WL_EXIT_ON_PM_DEATH,
								 consumer_wait_fd(consumer), timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			last_check = 0;
		}
		consumer_forward_logs(consumer);

		got = consumer_poll(consumer, parts, msgs + n, sub->batch_size - n, batch_cxt);
		report_client_error(got > 0);
		more = (got > 0 && n + got >= sub->batch_size);
		now = GetCurrentTimestamp();
		if (got > 0 && n == 0)
			batch_start = now;
		n += got;
		if (n > 0 && (n >= sub->batch_size ||
					  now >= batch_start + sub->batch_time_ms * 1000L))
		{
			if (!apply_messages(n))
				last_check = 0; /* configuration changed: reload now */
			n = 0;
			batch_context_reset();
			/* the batch may have stashed the old row a parked UPDATE waits for */
			last_barrier = 0;
		}
		if (n > 0)
			continue;
		/* partitions parked at a DDL record: have the other workers' arrived? */
		if (now - last_barrier >= 200000L && ddl_barrier_parked(parts))
		{
			bool		released;

			begin_tx();
			released = ddl_barrier_poll(parts);
			end_tx(true);
			if (released)
				consumer_apply_barriers(consumer, parts);
			last_barrier = GetCurrentTimestamp();
		}
		if (now - last_check >= 1000000L)
		{
			reload(id);
			last_check = GetCurrentTimestamp();
		}
		if (now - last_meta >= 2000000L)
		{
			consumer_refresh_assignment(consumer, sub, worker_index, parts, false);
			last_meta = GetCurrentTimestamp();
		}
		if (!more && now - last_marks >= 2000000L)
		{
			store_watermarks();
			last_marks = GetCurrentTimestamp();
		}
	}
}

void
walstar_apply_main(Datum main_arg)
{
	int32		id = DatumGetInt32(main_arg);
	Oid			dboid;
	Oid			owner;

	memcpy(&dboid, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	memcpy(&owner, MyBgworkerEntry->bgw_extra + sizeof(Oid), sizeof(Oid));
	memcpy(&worker_index, MyBgworkerEntry->bgw_extra + 2 * sizeof(Oid), sizeof(int));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	/* as the subscription's owner: its rights, never more */
	BackgroundWorkerInitializeConnectionByOid(dboid, owner, 0);
	/*
	 * Every name the worker's statements leave unqualified resolves in
	 * pg_catalog only: nobody's public.unnest() or schema named after our
	 * role is ever called. Session level, so functions' own SET clauses
	 * (model triggers) still apply inside them.
	 */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION);

	/*
	 * Values arrive as text in the decoder's fixed formats (ISO dates,
	 * postgres intervals, shortest exact floats); read them the same way
	 * whatever the database or role says: with IntervalStyle sql_standard,
	 * "-1 days +02:00:00" would read as minus 1 day 2 hours.
	 */
	SetConfigOption("DateStyle", "ISO, YMD", PGC_USERSET, PGC_S_SESSION);
	SetConfigOption("IntervalStyle", "postgres", PGC_USERSET, PGC_S_SESSION);
	SetConfigOption("extra_float_digits", "3", PGC_USERSET, PGC_S_SESSION);

	worker_cxt = AllocSetContextCreate(TopMemoryContext, "walstar apply worker",
									   ALLOCSET_DEFAULT_SIZES);
	batch_context_create(16 * 1024 * 1024);
	parts = partition_table_create(worker_cxt);
	before_shmem_exit(worker_shmem_exit, (Datum) 0);

	/* One worker per (subscription, number): the second one leaves at once. */
	begin_tx();
	if (!extension_present())
	{
		end_tx(false);
		proc_exit(0);
	}
	if (!DatumGetBool(DirectFunctionCall2(pg_try_advisory_lock_int4,
										  Int32GetDatum(WORKER_LOCK_CLASS | (worker_index << 16)),
										  Int32GetDatum(id))))
	{
		end_tx(false);
		ereport(LOG, (errmsg("subscription %d already has apply worker %d", id, worker_index)));
		proc_exit(0);
	}
	end_tx(true);
	ddl_barrier_init(id);

	PG_TRY();
	{
		reload(id);
		pgstat_report_appname(worker_index == 0 ? psprintf("walstar apply %s", sub->name) :
							  psprintf("walstar apply %s/%d", sub->name, worker_index));
		begin_tx();
		subscription_set_worker_state(sub->id, worker_index, "running", NULL);
		end_tx(true);
		worker_loop(id);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_INTERRUPTS();
		EmitErrorReport();
		MemoryContextSwitchTo(worker_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		consumer_destroy(consumer);
		consumer = NULL;
		/* Tell the status view why; best effort. */
		if (sub && edata->sqlerrcode != ERRCODE_ADMIN_SHUTDOWN)
		{
			PG_TRY();
			{
				begin_tx();
				if (extension_present())
					subscription_set_worker_state(sub->id, worker_index, "error", edata->message);
				end_tx(true);
			}
			PG_CATCH();
			{
				EmitErrorReport();
				FlushErrorState();
				AbortOutOfAnyTransaction();
			}
			PG_END_TRY();
		}
		proc_exit(edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN ? 0 : 1);
	}
	PG_END_TRY();
}

/* Register dynamic apply worker number worker of a subscription of this database. */
BackgroundWorkerHandle *
apply_worker_register(int32 id, const char *name, Oid owner, int number)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "walstar");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "walstar_apply_main");
	if (number == 0)
		snprintf(worker.bgw_name, BGW_MAXLEN, "walstar apply worker for subscription %s", name);
	else
		snprintf(worker.bgw_name, BGW_MAXLEN, "walstar apply worker %d for subscription %s",
				 number, name);
	snprintf(worker.bgw_type, BGW_MAXLEN, "walstar apply");
	worker.bgw_main_arg = Int32GetDatum(id);
	memcpy(worker.bgw_extra, &MyDatabaseId, sizeof(Oid));
	memcpy(worker.bgw_extra + sizeof(Oid), &owner, sizeof(Oid));
	memcpy(worker.bgw_extra + 2 * sizeof(Oid), &number, sizeof(int));
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return NULL;
	return handle;
}

/* walstar.start_worker(subscription) returns the worker's pid */
Datum
walstar_start_worker(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(name)};
	bool		isnull;
	int32		id;
	bool		enabled;
	Oid			owner;
	int			workers;
	int			i;
	pid_t		first_pid = 0;

	SPI_connect();
	if (SPI_execute_with_args("SELECT id, enabled, owner, workers FROM walstar.subscriptions WHERE name = $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read walstar.subscriptions");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("subscription \"%s\" does not exist", name)));
	id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	enabled = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	workers = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
	SPI_finish();
	if (!enabled)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("subscription \"%s\" is not enabled", name),
				 errhint("Use walstar.start_subscription('%s').", name)));

	/* all of them; a number that runs already leaves at once */
	for (i = 0; i < workers; i++)
	{
		BackgroundWorkerHandle *handle = apply_worker_register(id, name, owner, i);
		pid_t		pid;

		if (handle == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("could not start apply worker %d of subscription \"%s\"", i, name),
					 errhint("Raise max_worker_processes.")));
		if (WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("apply worker %d of subscription \"%s\" did not start", i, name)));
		if (i == 0)
			first_pid = pid;
	}
	PG_RETURN_INT32(first_pid);
}
