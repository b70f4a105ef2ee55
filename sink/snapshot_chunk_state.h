/*-------------------------------------------------------------------------
 *
 * snapshot_chunk_state.h
 *		Progress of a chunked copy in <state-dir>/<slot>.chunks
 *		(snapshot_chunk_state.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_SNAPSHOT_CHUNK_STATE_H
#define SINK_SNAPSHOT_CHUNK_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define CHUNK_EPOCH_LEN 16

/* One table of the copy. */
typedef struct ChunkTable
{
	char	*schema;
	char	*table;
	bool	 done;	 /* every chunk acknowledged by Kafka */
	uint64_t chunks; /* chunks acknowledged */
	uint64_t rows;	 /* READ records of those chunks */
	int		 nkeys;	 /* 0: no chunk yet, else the upper key's columns */
	char   **upper;	 /* the last acknowledged chunk's upper key, as text */
} ChunkTable;

typedef struct ChunkState
{
	uint8_t		epoch[CHUNK_EPOCH_LEN]; /* random id of the copy */
	ChunkTable *tables;
	int			ntables;
} ChunkState;

/* Read the state; false when there is none (or it is unreadable: logged). */
extern bool chunk_state_load(const Config *cfg, ChunkState *st);

/* Write it (temporary file, fsync'ed, renamed); false with err. */
extern bool chunk_state_save(const Config *cfg, const ChunkState *st,
							 char *err, size_t errlen);

/* Remove the file (the copy is complete, or a new slot starts over). */
extern void chunk_state_forget(const Config *cfg);

extern void chunk_state_free(ChunkState *st);

#endif
