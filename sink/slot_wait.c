/*-------------------------------------------------------------------------
 *
 * slot_wait.c
 *		Creating the replication slot, logging what the creation waits for.
 *
 * CREATE_REPLICATION_SLOT answers only once the server has a consistent
 * starting point for decoding: the transactions that held an xid when it
 * began (and, in a second round, those running at the next snapshot of
 * running transactions) must all have ended, in every database of the
 * cluster.  A forgotten prepared transaction or a session idle in a
 * transaction holds it up for as long as it lives, and the command itself
 * says nothing meanwhile.
 *
 * So the command is sent asynchronously and, every status-interval while
 * it waits, a second, normal connection reads what it waits for: the xid
 * whose lock the walsender waits on (pg_locks) and the transactions that
 * hold an xid (pg_prepared_xacts, pg_stat_activity.backend_xid; seeing
 * other roles' sessions needs pg_read_all_stats), logged as one warning
 * line.  SIGTERM cancels the command; the server drops the unfinished
 * slot.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "slot_wait.h"
#include "source_conn.h"

/* Longest sleep between two looks at the stop flag. */
#define STOP_CHECK_MS 500

/* How long a cancelled creation may take to answer. */
#define CANCEL_WAIT_MS 5000

/* Transactions named per line (the count says how many there are). */
#define MAX_NAMED "10"

static const char *const blockers_sql =
	"WITH p AS (SELECT format('prepared gid=%s xid=%s owner=%s database=%s "
	"prepared_at=%s', gid, transaction, owner, database, prepared) AS d, "
	"prepared AS t FROM pg_catalog.pg_prepared_xacts), "
	"s AS (SELECT format('pid=%s xid=%s user=%s database=%s application=%s "
	"state=%s xact_start=%s', pid, backend_xid, usename, datname, "
	"application_name, state, xact_start), xact_start "
	"FROM pg_catalog.pg_stat_activity WHERE backend_xid IS NOT NULL "
	"AND pid <> pg_catalog.pg_backend_pid()), "
	"a AS (SELECT * FROM p UNION ALL SELECT * FROM s) "
	"SELECT coalesce((SELECT string_agg(l.transactionid::text, ',') "
	"FROM pg_catalog.pg_locks l WHERE l.pid = $1::int AND NOT l.granted "
	"AND l.locktype = 'transactionid'), 'none'), "
	"(SELECT count(*) FROM a), "
	"coalesce((SELECT string_agg(d, '; ') FROM (SELECT d FROM a "
	"ORDER BY t LIMIT " MAX_NAMED ") x), '')";

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line about what slot creation waits for. */
static void
report(PGconn **monitor, const Config *cfg, const char *slot,
	   int walsender_pid, int64_t waited_ms)
{
	char		why[512];
	char		pid[16];
	const char *params[1] = {pid};
	char		named[4096];
	PGresult   *res;

	if (*monitor == NULL)
		*monitor = source_connect(cfg->conninfo, false, "walstar-sink monitor",
								  why, sizeof(why));
	if (*monitor == NULL)
	{
		snprintf(named, sizeof(named),
				 "creating the slot waits for transactions to end; cannot "
				 "see which: %s",
				 why);
		log_warning("replication", "slot=%s waited_s=%" PRId64 " msg=%s", slot,
					waited_ms / 1000, LOG_Q(named));
		return;
	}
	snprintf(pid, sizeof(pid), "%d", walsender_pid);
	res = PQexecParams(*monitor, blockers_sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		snprintf(named, sizeof(named),
				 "creating the slot waits for transactions to end; cannot "
				 "see which: %s",
				 PQerrorMessage(*monitor));
		log_warning("replication", "slot=%s waited_s=%" PRId64 " msg=%s", slot,
					waited_ms / 1000, LOG_Q(named));
		PQclear(res);
		PQfinish(*monitor);
		*monitor = NULL;
		return;
	}
	log_warning("replication",
				"slot=%s waited_s=%" PRId64 " waiting_for_xid=%s "
				"transactions=%s named=%s msg=\"creating the slot waits "
				"for these transactions to end: commit or roll them back "
				"(COMMIT PREPARED or ROLLBACK PREPARED for prepared ones)\"",
				slot, waited_ms / 1000, PQgetvalue(res, 0, 0),
				PQgetvalue(res, 0, 1), LOG_Q(PQgetvalue(res, 0, 2)));
	PQclear(res);
}

bool
slot_wait_create(Replication *r, const Config *cfg, const char *slot,
				 bool temporary, char *snapshot, uint64_t *consistent_point,
				 volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	PGconn *monitor = NULL;
	int64_t start = mono_ms();
	int64_t next_report = start + (int64_t)cfg->status_interval * 1000;
	int		walsender_pid = PQbackendPID(r->conn);
	int		rc;

	if (!replication_create_slot_send(r, slot, temporary, snapshot != NULL,
									  err, errlen))
		return false;
	for (;;)
	{
		int64_t now = mono_ms();
		int64_t wait = next_report - now;

		if (wait > STOP_CHECK_MS)
			wait = STOP_CHECK_MS;
		if (wait < 0)
			wait = 0;
		rc = replication_create_slot_result(r, (int)wait, snapshot,
											consistent_point, err, errlen);
		if (rc != 0)
			break;
		if (*stop)
		{
			int64_t give_up = mono_ms() + CANCEL_WAIT_MS;

			replication_cancel(r);
			while (rc == 0 && mono_ms() < give_up)
				rc = replication_create_slot_result(
					r, STOP_CHECK_MS, snapshot, consistent_point, err, errlen);
			snprintf(err, errlen, "stopped while creating the slot");
			rc = -1;
			break;
		}
		now = mono_ms();
		if (now >= next_report)
		{
			report(&monitor, cfg, slot, walsender_pid, now - start);
			next_report = now + (int64_t)cfg->status_interval * 1000;
		}
	}
	PQfinish(monitor);
	return rc > 0;
}
