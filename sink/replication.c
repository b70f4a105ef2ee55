/*-------------------------------------------------------------------------
 *
 * replication.c
 *		libpq replication protocol: one logical replication connection.
 *
 * Stream messages (inside CopyData):
 *	'w' XLogData:	walStart(8) walEnd(8) sendTime(8) payload
 *	'k' keepalive:	walEnd(8) sendTime(8) replyRequested(1)
 * Our standby status update:
 *	'r' written(8) flushed(8) applied(8) sendTime(8) replyRequested(1)
 * All integers big-endian; times in microseconds since 2000-01-01.
 *
 * We report written = flushed = applied = the tracker's flush position.
 * Reporting a larger "written" would make the walsender believe we are
 * caught up and stop sending the keepalives that tell an idle sink how far
 * the server got.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "epoch.h"
#include "lsn.h"
#include "replication.h"
#include "salt_hmac.h"
#include "source_conn.h"

static void
put_u64(char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--)
	{
		p[i] = (char)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t
get_u64(const char *p)
{
	uint64_t v = 0;
	int		 i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | (uint8_t)p[i];
	return v;
}

static int64_t
pg_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return ((int64_t)tv.tv_sec - WALSTAR_PG_EPOCH_SECS) * 1000000 + tv.tv_usec;
}

static void
set_pq_err(char *err, size_t errlen, const char *what, PGconn *conn,
		   PGresult *res)
{
	const char *msg = res != NULL ? PQresultErrorMessage(res) : "";

	if (msg == NULL || msg[0] == '\0')
		msg = PQerrorMessage(conn);
	if (strncmp(msg, "ERROR:  ", 8) == 0)
		msg += 8;
	snprintf(err, errlen, "%s: %s", what, msg);
	/* libpq messages end with a newline */
	err[strcspn(err, "\n")] = '\0';
}

bool
replication_connect(Replication *r, const char *conninfo, char *err,
					size_t errlen)
{
	char why[512];

	memset(r, 0, sizeof(*r));
	r->conn = source_connect(conninfo, true, "walstar-sink", why, sizeof(why));
	if (r->conn == NULL)
	{
		snprintf(err, errlen, "cannot connect to the source: %s", why);
		return false;
	}
	snprintf(r->dbname, sizeof(r->dbname), "%s", PQdb(r->conn));
	{
		PGresult *res = PQexec(r->conn, "IDENTIFY_SYSTEM");

		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		{
			set_pq_err(err, errlen, "IDENTIFY_SYSTEM failed", r->conn, res);
			PQclear(res);
			replication_close(r);
			return false;
		}
		snprintf(r->system_id, sizeof(r->system_id), "%s",
				 PQgetvalue(res, 0, 0));
		r->timeline = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
		PQclear(res);
	}
	return true;
}

void
replication_close(Replication *r)
{
	if (r->copybuf != NULL)
		PQfreemem(r->copybuf);
	r->copybuf = NULL;
	if (r->conn != NULL)
		PQfinish(r->conn);
	r->conn = NULL;
	r->streaming = false;
}

bool
replication_slot_info(Replication *r, const char *slot, SlotInfo *info,
					  char *err, size_t errlen)
{
	char	  query[512];
	char	 *lit;
	PGresult *res;
	bool	  ok = false;

	memset(info, 0, sizeof(*info));
	lit = PQescapeLiteral(r->conn, slot, strlen(slot));
	if (lit == NULL)
	{
		set_pq_err(err, errlen, "cannot quote the slot name", r->conn, NULL);
		return false;
	}
	snprintf(query, sizeof(query),
			 "SELECT plugin, coalesce(database, ''), active, "
			 "coalesce(confirmed_flush_lsn::text, '0/0') "
			 "FROM pg_catalog.pg_replication_slots WHERE slot_name = %s",
			 lit);
	PQfreemem(lit);
	res = PQexec(r->conn, query);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		set_pq_err(err, errlen, "cannot read pg_replication_slots", r->conn,
				   res);
		goto done;
	}
	if (PQntuples(res) == 1)
	{
		info->exists = true;
		snprintf(info->plugin, sizeof(info->plugin), "%s",
				 PQgetvalue(res, 0, 0));
		snprintf(info->database, sizeof(info->database), "%s",
				 PQgetvalue(res, 0, 1));
		info->active = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
		lsn_parse(PQgetvalue(res, 0, 3), &info->confirmed_flush);
		info->ours = strcmp(info->plugin, "walstar_decoder") == 0;
	}
	ok = true;
done:
	PQclear(res);
	return ok;
}

bool
replication_create_slot_send(Replication *r, const char *slot, bool temporary,
							 bool export_snapshot, char *err, size_t errlen)
{
	char query[512];

	/* the slot name was checked to be [a-z0-9_]+ by config.c */
	snprintf(query, sizeof(query),
			 "CREATE_REPLICATION_SLOT %s %sLOGICAL walstar_decoder %s", slot,
			 temporary ? "TEMPORARY " : "",
			 export_snapshot ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
	if (!PQsendQuery(r->conn, query))
	{
		set_pq_err(err, errlen, "cannot create the replication slot", r->conn,
				   NULL);
		return false;
	}
	return true;
}

int
replication_create_slot_result(Replication *r, int timeout_ms, char *snapshot,
							   uint64_t *consistent_point, char *err,
							   size_t errlen)
{
	PGresult *res;
	PGresult *extra;
	int		  ok = -1;

	if (PQisBusy(r->conn))
	{
		struct pollfd pfd = {.fd = PQsocket(r->conn), .events = POLLIN};

		/* a signal ends the wait early: the caller looks at its flags */
		if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR)
		{
			snprintf(err, errlen, "poll failed: %s", strerror(errno));
			return -1;
		}
		if (!PQconsumeInput(r->conn))
		{
			set_pq_err(err, errlen, "cannot create the replication slot",
					   r->conn, NULL);
			return -1;
		}
		if (PQisBusy(r->conn))
			return 0;
	}
	res = PQgetResult(r->conn);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		set_pq_err(err, errlen, "cannot create the replication slot", r->conn,
				   res);
		goto done;
	}
	if (PQntuples(res) != 1 || PQnfields(res) < 3 ||
		!lsn_parse(PQgetvalue(res, 0, 1), consistent_point))
	{
		snprintf(err, errlen, "unexpected CREATE_REPLICATION_SLOT result");
		goto done;
	}
	if (snapshot != NULL)
		snprintf(snapshot, 64, "%s", PQgetvalue(res, 0, 2));
	ok = 1;
done:
	PQclear(res);
	while ((extra = PQgetResult(r->conn)) != NULL)
		PQclear(extra);
	return ok;
}

void
replication_cancel(Replication *r)
{
	PGcancel *cancel = PQgetCancel(r->conn);
	char	  buf[256];

	if (cancel == NULL)
		return;
	PQcancel(cancel, buf, sizeof(buf));
	PQfreeCancel(cancel);
}

bool
replication_drop_slot(Replication *r, const char *slot, char *err,
					  size_t errlen)
{
	char	  query[256];
	PGresult *res;
	bool	  ok;

	snprintf(query, sizeof(query), "DROP_REPLICATION_SLOT %s WAIT", slot);
	res = PQexec(r->conn, query);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		set_pq_err(err, errlen, "cannot drop the replication slot", r->conn,
				   res);
	PQclear(res);
	return ok;
}

/* Append ("name" 'value') to buf, doubling quotes in the value. */
static void
append_option(char *buf, size_t buflen, bool *first, const char *name,
			  const char *value)
{
	size_t		pos = strlen(buf);
	const char *p;

	if (value == NULL)
		return;
	pos += snprintf(buf + pos, pos < buflen ? buflen - pos : 0, "%s\"%s\" '",
					*first ? "" : ", ", name);
	for (p = value; *p && pos + 3 < buflen; p++)
	{
		if (*p == '\'')
			buf[pos++] = '\'';
		buf[pos++] = *p;
	}
	if (pos + 2 < buflen)
	{
		buf[pos++] = '\'';
		buf[pos] = '\0';
	}
	*first = false;
}

bool
replication_start(Replication *r, const Config *cfg, uint64_t start_lsn,
				  char *err, size_t errlen)
{
	size_t	  qlen = 8192;
	char	 *query = NULL;
	bool	  first = true;
	PGresult *res = NULL;
	bool	  ok = false;
	int		  n;
	char	  salt_id[SALT_ID_LEN + 1];

	/*
	 * The decoder reads the salt on the server; it gets only the salt's
	 * fingerprint, to refuse streaming hashes that disagree with ours.
	 */
	salt_id[0] = '\0';
	if (cfg->hash_columns != NULL && cfg->hash_salt != NULL)
		salt_hmac_id(cfg->hash_salt, salt_id);

	for (;;)
	{
		free(query);
		query = malloc(qlen);
		if (query == NULL)
		{
			snprintf(err, errlen, "out of memory");
			return false;
		}
		n = snprintf(query, qlen, "START_REPLICATION SLOT %s LOGICAL %s (",
					 cfg->slot, LSN(start_lsn));
		first = true;
		append_option(query, qlen, &first, "format", "protobuf");
		append_option(query, qlen, &first, "include-tables",
					  cfg->include_tables);
		append_option(query, qlen, &first, "exclude-tables",
					  cfg->exclude_tables);
		append_option(query, qlen, &first, "mask-columns", cfg->mask_columns);
		append_option(query, qlen, &first, "hash-columns", cfg->hash_columns);
		append_option(query, qlen, &first, "hash-salt-id",
					  salt_id[0] != '\0' ? salt_id : NULL);
		append_option(query, qlen, &first, "source-id", cfg->source_id);
		n = (int)strlen(query);
		if ((size_t)n + 4 < qlen)
			break;
		qlen *= 4;
	}
	strcat(query, ")");

	res = PQexec(r->conn, query);
	if (PQresultStatus(res) != PGRES_COPY_BOTH)
	{
		set_pq_err(err, errlen, "cannot start replication", r->conn, res);
		goto done;
	}
	r->streaming = true;
	ok = true;
done:
	PQclear(res);
	free(query);
	return ok;
}

int
replication_socket(const Replication *r)
{
	return r->conn != NULL ? PQsocket(r->conn) : -1;
}

ReplicationEvent
replication_read(Replication *r, ReplicationMessage *msg, char *err,
				 size_t errlen)
{
	int len;

	if (r->copybuf != NULL)
	{
		PQfreemem(r->copybuf);
		r->copybuf = NULL;
	}
	len = PQgetCopyData(r->conn, &r->copybuf, 1);
	if (len == 0)
	{
		if (PQconsumeInput(r->conn) == 0)
		{
			set_pq_err(err, errlen, "replication connection lost", r->conn,
					   NULL);
			return REPL_ERROR;
		}
		len = PQgetCopyData(r->conn, &r->copybuf, 1);
		if (len == 0)
			return REPL_NONE;
	}
	if (len == -1)
	{
		PGresult *res = PQgetResult(r->conn);

		if (res != NULL && PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			set_pq_err(err, errlen, "replication ended with an error", r->conn,
					   res);
			PQclear(res);
			return REPL_ERROR;
		}
		PQclear(res);
		r->streaming = false;
		return REPL_END;
	}
	if (len < 0)
	{
		set_pq_err(err, errlen, "replication connection lost", r->conn, NULL);
		return REPL_ERROR;
	}

	if (r->copybuf[0] == 'w' && len >= 25)
	{
		msg->wal_start = get_u64(r->copybuf + 1);
		msg->wal_end = get_u64(r->copybuf + 9);
		msg->data = (const uint8_t *)r->copybuf + 25;
		msg->len = (size_t)len - 25;
		msg->reply_requested = false;
		return REPL_DATA;
	}
	if (r->copybuf[0] == 'k' && len >= 18)
	{
		msg->wal_end = get_u64(r->copybuf + 1);
		/* sendTime counts from 2000-01-01 */
		msg->send_time =
			(int64_t)get_u64(r->copybuf + 9) + INT64_C(946684800000000);
		msg->reply_requested = r->copybuf[17] != 0;
		msg->data = NULL;
		msg->len = 0;
		return REPL_KEEPALIVE;
	}
	snprintf(err, errlen, "unexpected replication message type 0x%02x",
			 (unsigned)(uint8_t)r->copybuf[0]);
	return REPL_ERROR;
}

bool
replication_send_status(Replication *r, uint64_t flush, bool reply_requested,
						char *err, size_t errlen)
{
	char buf[1 + 8 * 4 + 1];

	buf[0] = 'r';
	put_u64(buf + 1, flush);
	put_u64(buf + 9, flush);
	put_u64(buf + 17, flush);
	put_u64(buf + 25, (uint64_t)pg_now());
	buf[33] = reply_requested ? 1 : 0;
	if (PQputCopyData(r->conn, buf, sizeof(buf)) <= 0 || PQflush(r->conn) < 0)
	{
		set_pq_err(err, errlen, "cannot send a status update", r->conn, NULL);
		return false;
	}
	return true;
}

void
replication_end(Replication *r)
{
	PGresult *res;

	if (r->conn == NULL || !r->streaming)
		return;
	if (PQputCopyEnd(r->conn, NULL) <= 0 || PQflush(r->conn) < 0)
		return;
	r->streaming = false;
	/* drain what the server still sends until it acknowledges the end */
	while ((res = PQgetResult(r->conn)) != NULL)
	{
		if (PQresultStatus(res) == PGRES_COPY_BOTH ||
			PQresultStatus(res) == PGRES_COPY_OUT)
		{
			char *buf;

			PQclear(res);
			while (PQgetCopyData(r->conn, &buf, 0) > 0)
				PQfreemem(buf);
			continue;
		}
		PQclear(res);
	}
}

bool
replication_plugin_not_allowed(const char *message)
{
	return message != NULL &&
		   (strstr(message, "may not be used as an output plugin") != NULL ||
			strstr(message, "output_plugin_libraries") != NULL);
}
