/*-------------------------------------------------------------------------
 *
 * replay.h
 *		walstar-archive replay and expire: read the archive back.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ARCHIVE_REPLAY_H
#define ARCHIVE_REPLAY_H

#include <signal.h>

#include "config.h"

/*
 * Produce the archived records committed in [from, to) (optionally of one
 * source and table), unchanged, into their original topics and partitions
 * (or the replay-topic-prefix's), partition by partition in offset order.
 */
extern int replay_run(Config *cfg, volatile sig_atomic_t *stop);

/* Delete the objects older than their source's retention. */
extern int expire_run(Config *cfg);

#endif
