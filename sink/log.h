/*-------------------------------------------------------------------------
 *
 * log.h
 *		One line per event on stderr: "level component key=value ...".
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_LOG_H
#define SINK_LOG_H

typedef enum LogLevel
{
	LEVEL_DEBUG,
	LEVEL_INFO,
	LEVEL_WARNING,
	LEVEL_ERROR
} LogLevel;

/* Only events at or above level are written. */
extern void		log_set_level(LogLevel level);
extern LogLevel log_get_level(void);

/* Prefix every line with an ISO 8601 UTC time (off under systemd). */
extern void log_set_timestamps(int on);

/*
 * Write one event.  fmt holds the key=value pairs; line breaks in the
 * result (e.g. from libpq messages) become spaces so one event stays one
 * line.  Never pass passwords or salts.
 */
extern void log_event(LogLevel level, const char *component, const char *fmt,
					  ...) __attribute__((format(printf, 3, 4)));

#define log_debug(c, ...)                                                     \
	do                                                                        \
	{                                                                         \
		if (log_get_level() <= LEVEL_DEBUG)                                   \
			log_event(LEVEL_DEBUG, c, __VA_ARGS__);                           \
	} while (0)
#define log_info(c, ...) log_event(LEVEL_INFO, c, __VA_ARGS__)
#define log_warning(c, ...) log_event(LEVEL_WARNING, c, __VA_ARGS__)
#define log_error(c, ...) log_event(LEVEL_ERROR, c, __VA_ARGS__)

#endif
