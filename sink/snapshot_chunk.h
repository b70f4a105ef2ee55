/*-------------------------------------------------------------------------
 *
 * snapshot_chunk.h
 *		Chunked copy of keyed tables while streaming, between watermarks
 *		written through the WAL (snapshot_chunk.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_SNAPSHOT_CHUNK_H
#define SINK_SNAPSHOT_CHUNK_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "stream.h"

/* Prefix of the watermark messages; the sink forwards none of them. */
#define CHUNK_WATERMARK_PREFIX "walstar.watermark"

typedef struct ChunkCopy ChunkCopy;

typedef enum ChunkObserve
{
	CHUNK_PASS,		/* forward the record as usual */
	CHUNK_CONSUMED, /* a watermark: not forwarded */
	CHUNK_FAILED	/* err says why */
} ChunkObserve;

/*
 * source: Change.source of the READ records; system_id: the cluster's;
 * timeline: the stream's, read at each chunk (it moves on a failover).
 */
extern ChunkCopy *chunk_copy_create(const Config *cfg, Stream *stream,
									const char *source, const char *system_id,
									const uint32_t *timeline);
extern void		  chunk_copy_destroy(ChunkCopy *cc);

/*
 * A new copy (new random epoch) of the selected tables (only: of those of
 * the selected that match these patterns, or NULL) that can be copied in
 * chunks, recorded in the state directory before it returns; *keyless:
 * how many others matched.  False with err.
 */
extern bool chunk_copy_plan(ChunkCopy *cc, const char *only, int *keyless,
							char *err, size_t errlen);

/* Take up a copy recorded in the state directory, if any. */
extern void chunk_copy_resume(ChunkCopy *cc);

/* A copy is under way. */
extern bool chunk_copy_active(const ChunkCopy *cc);

/*
 * Work while streaming: record an acknowledged chunk (flush: the position
 * every transaction up to which is in Kafka), start the next one (low
 * watermark, the chunk's SELECT, high watermark).  False with err on a
 * failure that stops the sink.
 */
extern bool chunk_copy_service(ChunkCopy *cc, uint64_t flush, char *err,
							   size_t errlen);

/*
 * Every record of the stream, before it is routed: watermarks open and
 * close a chunk's window (at the high one the chunk's remaining rows go
 * out as READ records), changes inside the window drop their rows from the
 * chunk.
 */
extern ChunkObserve chunk_copy_observe(ChunkCopy *cc, const uint8_t *data,
									   size_t len, volatile sig_atomic_t *stop,
									   char *err, size_t errlen);

/* The replication connection was lost: a chunk in flight is redone. */
extern void chunk_copy_stream_lost(ChunkCopy *cc);

#endif
