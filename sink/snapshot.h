/*-------------------------------------------------------------------------
 *
 * snapshot.h
 *		Initial copy of the selected tables under the slot's exported
 *		snapshot, as op READ records, and the record of its completion.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_SNAPSHOT_H
#define SINK_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>

#include "config.h"
#include "stream.h"

/*
 * Is the initial snapshot of cfg->slot on this server (system identifier)
 * and database recorded as complete in cfg->state_dir?
 */
extern bool snapshot_is_done(const Config *cfg, const char *system_id,
							 const char *dbname);

/* Record completion (written to a temporary file, fsync'ed, renamed). */
extern bool snapshot_mark_done(const Config *cfg, const char *system_id,
							   const char *dbname, uint64_t consistent_point,
							   char *err, size_t errlen);

/* Forget a completion record (a new slot needs a new snapshot). */
extern void snapshot_forget(const Config *cfg);

/*
 * Copy every selected table (keyless_only: those snap_row_chunkable
 * refuses; the others are copied in chunks while streaming) under
 * snapshot_name (exported by the slot's
 * creation) through the stream, then wait until Kafka acknowledged every
 * READ record.  With hash-columns, the decoder first checks on slot that
 * the server's hash salt is ours (slot NULL: a temporary slot, in use by
 * the replication connection, cannot be checked).  False with err on error
 * or when stop becomes non-zero.
 */
extern bool snapshot_run(const Config *cfg, const char *snapshot_name,
						 const char *slot, uint64_t consistent_point,
						 const char *dbname, const char *system_id,
						 uint32_t timeline, bool keyless_only, Stream *stream,
						 volatile sig_atomic_t *stop, char *err,
						 size_t errlen);

#endif
