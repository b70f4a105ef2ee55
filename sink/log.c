/*-------------------------------------------------------------------------
 *
 * log.c
 *		Structured log lines on stderr.
 *
 * Each event is formatted into one buffer and written with a single
 * write(2), so lines from librdkafka's log queue (forwarded by the main
 * thread) and ours never interleave.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static LogLevel min_level = LEVEL_INFO;
static int		with_timestamps = 1;

static const char *const level_names[] = {"debug", "info", "warning", "error"};

void
log_set_level(LogLevel level)
{
	min_level = level;
}

LogLevel
log_get_level(void)
{
	return min_level;
}

void
log_set_timestamps(int on)
{
	with_timestamps = on;
}

const char *
log_quote(char *buf, size_t buflen, const char *s, int always_quote)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char *p;
	size_t				 n = 0;
	int					 plain = 1;

	if (s == NULL)
		s = "";
	for (p = (const unsigned char *)s; *p; p++)
	{
		if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p == 0x7f)
			plain = 0;
	}
	if (!always_quote && plain && s[0] != '\0' && strlen(s) < buflen)
	{
		memcpy(buf, s, strlen(s) + 1);
		return buf;
	}
	/* room for the closing quote and the NUL: buflen - 2 */
	buf[n++] = '"';
	for (p = (const unsigned char *)s; *p; p++)
	{
		char   esc[7];
		size_t elen = 0;

		switch (*p)
		{
			case '"':
			case '\\':
				esc[elen++] = '\\';
				esc[elen++] = (char)*p;
				break;
			case '\n':
				esc[elen++] = '\\';
				esc[elen++] = 'n';
				break;
			case '\r':
				esc[elen++] = '\\';
				esc[elen++] = 'r';
				break;
			case '\t':
				esc[elen++] = '\\';
				esc[elen++] = 't';
				break;
			default:
				if (*p < ' ' || *p == 0x7f)
				{
					memcpy(esc, "\\u00", 4);
					elen = 4;
					esc[elen++] = hex[*p >> 4];
					esc[elen++] = hex[*p & 15];
				}
				else
					esc[elen++] = (char)*p;
				break;
		}
		if (n + elen > buflen - 2)
			break;
		memcpy(buf + n, esc, elen);
		n += elen;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return buf;
}

void
log_event(LogLevel level, const char *component, const char *fmt, ...)
{
	char	line[4096];
	size_t	len = 0;
	va_list ap;
	int		n;
	size_t	i;

	if (level < min_level)
		return;

	if (with_timestamps)
	{
		struct timeval tv;
		struct tm	   tm;

		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line + len, sizeof(line) - len, ".%03dZ ",
					 (int)(tv.tv_usec / 1000));
		if (n > 0)
			len += n;
	}
	n = snprintf(line + len, sizeof(line) - len, "%s %s ", level_names[level],
				 component);
	if (n > 0)
		len += n;
	va_start(ap, fmt);
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	va_end(ap);
	if (n > 0)
		len += n;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;

	/* one event, one line */
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	for (i = 0; i < len; i++)
	{
		if (line[i] == '\n' || line[i] == '\r' || line[i] == '\t')
			line[i] = ' ';
	}
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, len) < 0)
	{
		/* nowhere left to report it */
	}
}
