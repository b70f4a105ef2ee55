/*-------------------------------------------------------------------------
 *
 * heartbeat.h
 *		HEARTBEAT records to idle topics (heartbeat-interval), so that the
 *		analytics side tells an idle source from a stalled pipeline.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_HEARTBEAT_H
#define SINK_HEARTBEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream.h"

typedef struct Heartbeat
{
	const Config *cfg;			/* heartbeat_interval, topic_prefix */
	int64_t		  started_ms;	/* heartbeat_init (monotonic) */
	int64_t		  asked_ms;		/* a keepalive was requested then, 0: not */
	int64_t		  due_ms;		/* no topic can be idle before then */
	int			  due_interval; /* the heartbeat-interval due_ms is for */
	uint64_t	  sent;			/* heartbeat messages queued, ever */
} Heartbeat;

extern void heartbeat_init(Heartbeat *hb, const Config *cfg, int64_t now_ms);

/*
 * Whether to ask the walsender for a keepalive now (a status update with
 * reply requested): heartbeats are on, a topic has been idle for
 * heartbeat-interval, and no answer is awaited.  Notes the request.  The
 * topics are looked at only once one can have become idle.
 */
extern bool heartbeat_ask(Heartbeat *hb, const Producer *producer,
						  int64_t now_ms);

/*
 * A keepalive arrived at a transaction boundary, every record before it
 * queued: if one was asked for, send a HEARTBEAT (lsn: the position the
 * walsender had sent everything up to, on the server's timeline; time_us:
 * its clock then) to every partition of each idle topic, tracked so that it
 * confirms nothing.
 */
extern void heartbeat_keepalive(Heartbeat *hb, Stream *s, const char *source,
								uint64_t system_id, uint32_t timeline,
								uint64_t lsn, int64_t time_us, int64_t now_ms);

#endif
