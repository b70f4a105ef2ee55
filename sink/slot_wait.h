/*-------------------------------------------------------------------------
 *
 * slot_wait.h
 *		Creating the replication slot, logging what the creation waits for.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_SLOT_WAIT_H
#define SINK_SLOT_WAIT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "replication.h"

/*
 * CREATE_REPLICATION_SLOT on r (exporting a snapshot, its name into
 * snapshot, when snapshot != NULL), logging every status-interval what it
 * waits for.  false with err on failure, and also when *stop became set
 * (the command is cancelled; the server drops the unfinished slot).
 */
extern bool slot_wait_create(Replication *r, const Config *cfg,
							 const char *slot, bool temporary, char *snapshot,
							 uint64_t			   *consistent_point,
							 volatile sig_atomic_t *stop, char *err,
							 size_t errlen);

#endif
