/*-------------------------------------------------------------------------
 *
 * notify.c
 *		systemd notifications through sd_notify(3).
 *
 * The watchdog is pinged from the poll loop, so a sink stuck anywhere in it
 * (a hung connection call, a livelock) is restarted by systemd.
 *
 *-------------------------------------------------------------------------
 */
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "notify.h"

#ifdef HAVE_LIBSYSTEMD

static int64_t watchdog_ms = -1; /* ping interval; 0 off, -1 not asked */
static int64_t last_ping_ms;

void
notify_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void
notify_reloading(void)
{
	sd_notify(0, "RELOADING=1");
}

void
notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void
notify_watchdog(int64_t now_ms)
{
	uint64_t usec = 0;

	if (watchdog_ms < 0)
		watchdog_ms =
			sd_watchdog_enabled(0, &usec) > 0 ? (int64_t)(usec / 2000) : 0;
	if (watchdog_ms == 0 || now_ms - last_ping_ms < watchdog_ms)
		return;
	sd_notify(0, "WATCHDOG=1");
	last_ping_ms = now_ms;
}

#else

void
notify_ready(const char *status)
{
	(void)status;
}

void
notify_reloading(void)
{
}

void
notify_stopping(void)
{
}

void
notify_watchdog(int64_t now_ms)
{
	(void)now_ms;
}

#endif
