/*-------------------------------------------------------------------------
 *
 * snapshot_request.h
 *		Requests for an on-demand copy of some tables while streaming:
 *		files in <state-dir>/<slot>.requests/, written by
 *		`walstar-sink snapshot --table ...`, taken by the running sink.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_SNAPSHOT_REQUEST_H
#define SINK_SNAPSHOT_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Longest request: a table pattern list of include-tables syntax. */
#define SNAPSHOT_REQUEST_MAX 4096

/*
 * Check a request's bytes: one line of schema.table patterns separated by
 * commas, at most SNAPSHOT_REQUEST_MAX - 1 bytes, no control characters; a
 * final newline is dropped.  Copies it into out (SNAPSHOT_REQUEST_MAX
 * bytes).  False with err when the bytes are not a request.
 */
extern bool snapshot_request_parse(const char *buf, size_t len, char *out,
								   char *err, size_t errlen);

/* Queue a request (temporary file, fsync'ed, renamed into the directory). */
extern bool snapshot_request_write(const Config *cfg, const char *tables,
								   char *err, size_t errlen);

/*
 * The oldest queued request: its file name into name (namelen bytes) and
 * its patterns into tables (SNAPSHOT_REQUEST_MAX bytes).  False when none
 * is queued; a file that is not a request is renamed to <name>.bad with
 * an error line and skipped.
 */
extern bool snapshot_request_next(const Config *cfg, char *name,
								  size_t namelen, char *tables);

/* Remove a request once its copy is acknowledged. */
extern void snapshot_request_done(const Config *cfg, const char *name);

#endif
