/*-------------------------------------------------------------------------
 *
 * ddl_capture.c
 *		Install or remove DDL capture on the source database.
 *
 * DDL capture is an event trigger on ddl_command_end for ALTER TABLE whose
 * function lives in walstar_decoder.so (decoder/ddl_capture.c): it writes
 * each column change into the WAL at its place in the transaction, and the
 * decoder sends it as a DDL record before the rows that follow it.  Event
 * triggers and C functions need a superuser; the objects live in a schema
 * of their own, walstar_ddl, usable by nobody else.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "ddl_capture.h"
#include "log.h"
#include "source_conn.h"

static const char install_sql[] =
	"BEGIN;"
	"CREATE SCHEMA IF NOT EXISTS walstar_ddl;"
	"REVOKE ALL ON SCHEMA walstar_ddl FROM PUBLIC;"
	"COMMENT ON SCHEMA walstar_ddl IS 'walstar DDL capture (walstar-sink "
	"--install-ddl-capture)';"
	"CREATE OR REPLACE FUNCTION walstar_ddl.capture() RETURNS event_trigger"
	" LANGUAGE c AS 'walstar_decoder', 'walstar_ddl_capture';"
	"REVOKE ALL ON FUNCTION walstar_ddl.capture() FROM PUBLIC;"
	"DROP EVENT TRIGGER IF EXISTS walstar_ddl_capture;"
	"CREATE EVENT TRIGGER walstar_ddl_capture ON ddl_command_end"
	" WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION walstar_ddl.capture();"
	"COMMIT;";

static const char remove_sql[] =
	"BEGIN;"
	"DROP EVENT TRIGGER IF EXISTS walstar_ddl_capture;"
	"DROP FUNCTION IF EXISTS walstar_ddl.capture();"
	"DROP SCHEMA IF EXISTS walstar_ddl;"
	"COMMIT;";

/* DROP ... IF EXISTS notices are not news */
static void
quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int
ddl_capture_run(const Config *cfg, bool install)
{
	char	  err[512];
	PGconn	 *conn;
	PGresult *res;
	int		  status = 0;

	conn =
		source_connect(cfg->conninfo, false, "walstar-sink", err, sizeof(err));
	if (conn == NULL)
	{
		log_error("ddl-capture", "msg=%s", LOG_Q(err));
		return 1;
	}
	PQsetNoticeProcessor(conn, quiet_notice, NULL);
	res = PQexec(conn, install ? install_sql : remove_sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		char		msg[512];
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(res));
		msg[strcspn(msg, "\n")] = '\0';
		if (state != NULL && strcmp(state, "42501") == 0)
			log_error("ddl-capture", "msg=%s hint=%s", LOG_Q(msg),
					  LOG_Q("event triggers and C functions need a "
							"superuser: give conninfo of one for this "
							"command"));
		else
			log_error("ddl-capture", "msg=%s", LOG_Q(msg));
		status = 1;
	}
	else if (install)
		printf("walstar-sink: DDL capture installed (event trigger "
			   "walstar_ddl_capture, function walstar_ddl.capture())\n");
	else
		printf("walstar-sink: DDL capture removed\n");
	PQclear(res);
	PQfinish(conn);
	return status;
}
