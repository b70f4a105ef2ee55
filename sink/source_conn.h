/*-------------------------------------------------------------------------
 *
 * source_conn.h
 *		Connections to the source database, all with the same fixed
 *		session settings.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_SOURCE_CONN_H
#define SINK_SOURCE_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

/*
 * Settings of every connection the sink opens, in the startup packet's
 * options (after the user's own, so ours win).  The decoder forces the
 * same ones for its output functions (decoder/output_settings.c); the
 * initial copy's COPY text is read under them.
 */
#define SOURCE_SESSION_OPTIONS                                                \
	"-c DateStyle=ISO,MDY -c IntervalStyle=postgres -c TimeZone=UTC "         \
	"-c extra_float_digits=3 -c bytea_output=hex -c lc_monetary=C "           \
	"-c search_path=pg_catalog"

/*
 * Connect to conninfo (replication=database when replication) with
 * client_encoding UTF8 and SOURCE_SESSION_OPTIONS, and check from the
 * parameters the server reports that they were taken.  NULL on failure,
 * with libpq's message (never a password) in err.
 */
extern PGconn *source_connect(const char *conninfo, bool replication,
							  const char *application_name, char *err,
							  size_t errlen);

#endif
