/*-------------------------------------------------------------------------
 *
 * log.h
 *		One line per event on stderr: "level component key=value ...".
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_LOG_H
#define SINK_LOG_H

#include <stddef.h>

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
 * Write one event.  fmt holds the key=value pairs; values that are not
 * fixed words or numbers go through LOG_Q or LOG_V.  Line breaks left in
 * the result become spaces so one event stays one line.  Never pass
 * passwords or salts.
 */
extern void log_event(LogLevel level, const char *component, const char *fmt,
					  ...) __attribute__((format(printf, 3, 4)));

/* Room for one quoted value; longer values are cut (still quoted). */
#define LOG_VALUE_MAX 1024

/*
 * A logfmt value of s (NULL as ""), written into buf: in double quotes
 * with '"', '\\', newlines, tabs and other control characters escaped
 * ("\\"", "\\\\", "\\n", "\\r", "\\t", "\\u00XX"); without quotes when
 * always_quote is false and s needs none (non-empty, no blank, '=', '"',
 * '\\' or control character).  Returns buf.
 */
extern const char *log_quote(char *buf, size_t buflen, const char *s,
							 int always_quote);

/* A quoted value for a "key=%s" pair, in a buffer living to the block's end. */
#define LOG_Q(s) log_quote((char[LOG_VALUE_MAX]){0}, LOG_VALUE_MAX, (s), 1)
/* The same, quoted only when it has to be (names). */
#define LOG_V(s) log_quote((char[LOG_VALUE_MAX]){0}, LOG_VALUE_MAX, (s), 0)

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
