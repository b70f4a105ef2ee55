/*-------------------------------------------------------------------------
 *
 * launcher.c
 *		Start apply workers: a launcher for the cluster, a manager per
 *		database.
 *
 * With shared_preload_libraries = 'walstar' the postmaster starts the
 * launcher. It connects to no database; every walstar.launcher_naptime it
 * lists the databases that accept connections and starts a manager for
 * each that has none. A manager leaves when its database has no walstar
 * extension; otherwise, every second, it starts the workers (workers => N:
 * numbers 0 .. N - 1) of each enabled subscription that are not running,
 * and restarts a worker that stopped with a backoff from 1 to 60 seconds
 * (reset once a worker ran for a minute). A worker whose number is no
 * longer below N leaves by itself and is not started again.
 *
 * DROP DATABASE waits for the sessions of the database to end; with the
 * library preloaded, a utility hook asks walstar's processes in that
 * database to leave first.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/utility.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "walstar.h"

#define MANAGER_TYPE "walstar manager"
#define APPLY_TYPE "walstar apply"

/* What a watched process is: a database's manager or a subscription's worker. */
typedef struct WatchedKey
{
	Oid			id;				/* database or subscription id */
	int32		number;			/* worker number (0 for a manager) */
} WatchedKey;

/* A started process we watch. */
typedef struct Watched
{
	WatchedKey	key;			/* hash key */
	BackgroundWorkerHandle *handle; /* NULL when none runs */
	TimestampTz started_at;		/* when it was started */
	TimestampTz next_start;		/* not before (backoff) */
	int			backoff_ms;		/* next delay after an early stop */
} Watched;

static ProcessUtility_hook_type prev_utility_hook = NULL;

static HTAB *
watched_create(const char *name)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(WatchedKey);
	ctl.entrysize = sizeof(Watched);
	ctl.hcxt = TopMemoryContext;
	return hash_create(name, 32, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * Whether w's process is gone; schedules the next start with backoff the
 * first time it is seen gone.
 */
static bool
watched_stopped(Watched *w, TimestampTz now)
{
	pid_t		pid;

	if (w->handle == NULL)
		return true;
	if (GetBackgroundWorkerPid(w->handle, &pid) != BGWH_STOPPED)
		return false;
	pfree(w->handle);
	w->handle = NULL;
	if (now - w->started_at >= 60 * USECS_PER_SEC)
		w->backoff_ms = 1000;
	w->next_start = now + (int64) w->backoff_ms * 1000;
	w->backoff_ms = Min(w->backoff_ms * 2, 60000);
	return true;
}

/* handle: allocated in TopMemoryContext (see the callers) */
static void
watched_started(Watched *w, BackgroundWorkerHandle *handle, TimestampTz now)
{
	w->handle = handle;
	w->started_at = now;
}

void
launcher_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "walstar");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "walstar_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "walstar launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "walstar launcher");
	RegisterBackgroundWorker(&worker);
}

static BackgroundWorkerHandle *
start_manager(Oid dboid, const char *dbname)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "walstar");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "walstar_manager_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "walstar manager for database %s", dbname);
	snprintf(worker.bgw_type, BGW_MAXLEN, MANAGER_TYPE);
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return NULL;
	return handle;
}

void
walstar_launcher_main(Datum arg)
{
	HTAB	   *managers = watched_create("walstar managers");

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	for (;;)
	{
		Relation	rel;
		TableScanDesc scan;
		HeapTuple	tup;
		List	   *dbs = NIL;
		List	   *names = NIL;
		ListCell   *lc,
				   *ln;
		TimestampTz now;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		rel = table_open(DatabaseRelationId, AccessShareLock);
		scan = table_beginscan_catalog(rel, 0, NULL);
		while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
		{
			Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
			MemoryContext old;

			if (!db->datallowconn || db->datistemplate)
				continue;
			old = MemoryContextSwitchTo(TopMemoryContext);
			dbs = lappend_oid(dbs, db->oid);
			names = lappend(names, pstrdup(NameStr(db->datname)));
			MemoryContextSwitchTo(old);
		}
		table_endscan(scan);
		table_close(rel, AccessShareLock);
		PopActiveSnapshot();
		CommitTransactionCommand();

		now = GetCurrentTimestamp();
		forboth(lc, dbs, ln, names)
		{
			WatchedKey	key = {lfirst_oid(lc), 0};
			Oid			dboid = key.id;
			bool		found;
			Watched    *w = hash_search(managers, &key, HASH_ENTER, &found);

			if (!found)
			{
				w->handle = NULL;
				w->backoff_ms = walstar_launcher_naptime * 1000;
				w->next_start = 0;
			}
			/* a manager that finds no extension leaves: try again next round */
			w->backoff_ms = walstar_launcher_naptime * 1000;
			if (watched_stopped(w, now) && now >= w->next_start)
			{
				MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

				watched_started(w, start_manager(dboid, lfirst(ln)), now);
				MemoryContextSwitchTo(old);
			}
		}
		list_free(dbs);
		list_free_deep(names);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 walstar_launcher_naptime * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}
}

void
walstar_manager_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	HTAB	   *workers = watched_create("walstar workers");

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);

	for (;;)
	{
		List	   *ids = NIL;
		List	   *names = NIL;
		List	   *owners = NIL;
		List	   *counts = NIL;
		ListCell   *lc,
				   *ln,
				   *lo,
				   *lw;
		TimestampTz now;
		uint64		i;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		if (!OidIsValid(get_extension_oid("walstar", true)))
		{
			CommitTransactionCommand();
			proc_exit(0);
		}
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (SPI_execute("SELECT id, name, owner, workers FROM walstar.subscriptions"
						" WHERE enabled ORDER BY id",
						true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read walstar.subscriptions");
		for (i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			ids = lappend_oid(ids, (Oid) DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
																	  SPI_tuptable->tupdesc, 1, &isnull)));
			names = lappend(names, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
			owners = lappend_oid(owners, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																		 SPI_tuptable->tupdesc, 3, &isnull)));
			counts = lappend_int(counts, DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
																	 SPI_tuptable->tupdesc, 4, &isnull)));
			MemoryContextSwitchTo(old);
		}
		PopActiveSnapshot();
		SPI_finish();
		CommitTransactionCommand();

		now = GetCurrentTimestamp();
		forfour(lc, ids, ln, names, lo, owners, lw, counts)
		{
			int			number;

			for (number = 0; number < lfirst_int(lw); number++)
			{
				WatchedKey	key = {lfirst_oid(lc), number};
				bool		found;
				Watched    *w = hash_search(workers, &key, HASH_ENTER, &found);

				if (!found)
				{
					w->handle = NULL;
					w->backoff_ms = 1000;
					w->next_start = 0;
				}
				if (watched_stopped(w, now) && now >= w->next_start)
				{
					MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

					watched_started(w, apply_worker_register((int32) key.id, lfirst(ln),
															 lfirst_oid(lo), number), now);
					MemoryContextSwitchTo(old);
				}
			}
		}
		list_free(ids);
		list_free(owners);
		list_free(counts);
		list_free_deep(names);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}
}

/* Ask walstar's processes connected to a database to leave. */
static void
terminate_database_workers(Oid dboid)
{
	int			n = pgstat_fetch_stat_numbackends();
	int			i;

	for (i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *local = LOCAL_BACKEND_STATUS(i);
		PgBackendStatus *be;
		const char *type;

		if (local == NULL)
			continue;
		be = &local->backendStatus;
		if (be->st_databaseid != dboid || be->st_backendType != B_BG_WORKER)
			continue;
		type = GetBackgroundWorkerTypeByPid(be->st_procpid);
		if (type && (strcmp(type, APPLY_TYPE) == 0 || strcmp(type, MANAGER_TYPE) == 0))
			kill(be->st_procpid, SIGTERM);
	}
}

static void
walstar_utility_hook(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					 ProcessUtilityContext context, ParamListInfo params,
					 QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (IsA(parsetree, DropdbStmt))
	{
		Oid			dboid = get_database_oid(((DropdbStmt *) parsetree)->dbname, true);

		if (OidIsValid(dboid))
			terminate_database_workers(dboid);
	}
	if (prev_utility_hook)
		prev_utility_hook(pstmt, queryString, readOnlyTree, context, params,
						  queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

void
launcher_drop_database_hook_install(void)
{
	prev_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = walstar_utility_hook;
}
