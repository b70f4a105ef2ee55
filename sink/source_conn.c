/*-------------------------------------------------------------------------
 *
 * source_conn.c
 *		Connections to the source with fixed session settings.
 *
 * Values that leave the source as text -- the decoder's output-function
 * text, the initial copy's COPY text -- depend on DateStyle, IntervalStyle,
 * TimeZone, extra_float_digits, bytea_output, lc_monetary and search_path,
 * which the source may set in postgresql.conf, ALTER DATABASE or ALTER
 * ROLE.  Every connection of the sink (the replication connection, the
 * copy's, the one that reports what slot creation waits for) therefore
 * sets them in its startup packet, where they beat the server's and the
 * database's and role's defaults.  They are appended to the user's own
 * options (from the conninfo, else PGOPTIONS), which libpq would otherwise
 * drop for ours.  The server reports DateStyle, IntervalStyle and TimeZone
 * back; a connection that did not take them (a pooler that drops options)
 * is refused rather than read wrong.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source_conn.h"

/* The user's startup options: the conninfo's, else PGOPTIONS. */
static char *
user_options(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	PQconninfoOption *o;
	char			 *found = NULL;

	for (o = opts; o != NULL && o->keyword != NULL; o++)
	{
		if (strcmp(o->keyword, "options") == 0 && o->val != NULL &&
			o->val[0] != '\0')
			found = strdup(o->val);
	}
	if (opts != NULL)
		PQconninfoFree(opts);
	if (found == NULL && getenv("PGOPTIONS") != NULL)
		found = strdup(getenv("PGOPTIONS"));
	return found;
}

static bool
reported(PGconn *conn, const char *name, const char *want, char *err,
		 size_t errlen)
{
	const char *v = PQparameterStatus(conn, name);

	if (v != NULL && strcmp(v, want) == 0)
		return true;
	snprintf(err, errlen,
			 "the source connection did not take the session settings of "
			 "walstar-sink: %s is %s, not %s",
			 name, v != NULL ? v : "unknown", want);
	return false;
}

PGconn *
source_connect(const char *conninfo, bool replication,
			   const char *application_name, char *err, size_t errlen)
{
	const char *keys[6];
	const char *vals[6];
	char	   *mine = user_options(conninfo);
	char	   *options;
	PGconn	   *conn = NULL;
	int			n = 0;

	options = malloc((mine != NULL ? strlen(mine) : 0) +
					 sizeof(SOURCE_SESSION_OPTIONS) + 2);
	if (options == NULL)
	{
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	sprintf(options, "%s%s%s", mine != NULL ? mine : "",
			mine != NULL ? " " : "", SOURCE_SESSION_OPTIONS);

	keys[n] = "dbname";
	vals[n++] = conninfo;
	if (replication)
	{
		keys[n] = "replication";
		vals[n++] = "database";
	}
	keys[n] = "fallback_application_name";
	vals[n++] = application_name;
	keys[n] = "client_encoding";
	vals[n++] = "UTF8";
	keys[n] = "options";
	vals[n++] = options;
	keys[n] = NULL;
	vals[n] = NULL;

	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
	{
		const char *msg =
			conn != NULL ? PQerrorMessage(conn) : "out of memory";

		snprintf(err, errlen, "%s", msg);
		err[strcspn(err, "\n")] = '\0';
		PQfinish(conn);
		conn = NULL;
		goto done;
	}
	if (!reported(conn, "DateStyle", "ISO, MDY", err, errlen) ||
		!reported(conn, "IntervalStyle", "postgres", err, errlen) ||
		!reported(conn, "TimeZone", "UTC", err, errlen))
	{
		PQfinish(conn);
		conn = NULL;
	}
done:
	free(options);
	free(mine);
	return conn;
}
