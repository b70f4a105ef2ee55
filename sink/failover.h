/*-------------------------------------------------------------------------
 *
 * failover.h
 *		Which server the sink streamed from (<state-dir>/<slot>.source), and
 *		whether a missing slot means that the source failed over to a
 *		promoted standby.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_FAILOVER_H
#define SINK_FAILOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "replication.h"

/*
 * Record that the sink streams from r's server (system identifier,
 * database, timeline), when the record says otherwise.  A failure is
 * logged: the next start of streaming tries again.
 */
extern void failover_note_source(const Config *cfg, const Replication *r);

/*
 * Is r's server a promoted standby of the one the sink streamed from: the
 * same system identifier and database, a newer timeline than recorded?
 * The recorded timeline into *previous (0 when nothing is recorded).
 */
extern bool failover_detected(const Config *cfg, const Replication *r,
							  uint32_t *previous);

#endif
