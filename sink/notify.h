/*-------------------------------------------------------------------------
 *
 * notify.h
 *		systemd service notifications (Type=notify): readiness, reloads,
 *		stopping, and the watchdog.
 *
 * Built on libsystemd's sd_notify when the build found it (HAVE_LIBSYSTEMD);
 * otherwise, and when not started by systemd, every call does nothing.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_NOTIFY_H
#define SINK_NOTIFY_H

#include <stdint.h>

/* READY=1 with a STATUS= line: the slot and Kafka are up, streaming runs. */
extern void notify_ready(const char *status);

/* RELOADING=1 before re-reading the configuration; notify_ready after. */
extern void notify_reloading(void);

/* STOPPING=1 when the shutdown starts. */
extern void notify_stopping(void);

/*
 * WATCHDOG=1 at half WatchdogSec; call from the main loop with the
 * monotonic time in milliseconds.
 */
extern void notify_watchdog(int64_t now_ms);

#endif
