/*-------------------------------------------------------------------------
 *
 * layout.c
 *		Object names, cut marks and times.
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "layout.h"

static bool
safe_part(const char *s)
{
	return s[0] != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
		   strcmp(s, "..") != 0;
}

bool
layout_key(char *buf, size_t buflen, const char *prefix, const char *source,
		   const char *table, int64_t time_us, const char *topic,
		   int32_t partition, int64_t first, int64_t last, const char *ext)
{
	time_t	  secs = (time_t)(time_us >= 0 ? time_us / 1000000
										   : (time_us - 999999) / 1000000);
	struct tm tm;
	int		  n;

	if (!safe_part(source) || !safe_part(table) || !safe_part(topic) ||
		gmtime_r(&secs, &tm) == NULL)
		return false;
	n = snprintf(buf, buflen,
				 "%s/%s/%s/date=%04d-%02d-%02d/hour=%02d/%s+%" PRId32
				 "+%" PRId64 "-%" PRId64 ".%s",
				 prefix, source, table, tm.tm_year + 1900, tm.tm_mon + 1,
				 tm.tm_mday, tm.tm_hour, topic, partition, first, last, ext);
	return n > 0 && (size_t)n < buflen;
}

/* Copy the segment up to '/' into out; advance *p past the '/'. */
static bool
segment(const char **p, char *out, size_t outlen)
{
	const char *slash = strchr(*p, '/');
	size_t		n;

	if (slash == NULL)
		return false;
	n = (size_t)(slash - *p);
	if (n == 0 || n >= outlen)
		return false;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p = slash + 1;
	return true;
}

/* s matches shape exactly, '#' standing for a digit. */
static bool
digits_at(const char *s, const char *shape)
{
	for (; *shape; s++, shape++)
	{
		if (*shape == '#' ? !isdigit((unsigned char)*s) : *s != *shape)
			return false;
	}
	return *s == '\0';
}

static bool
number(const char **p, int64_t *out, int maxdigits)
{
	const char *s = *p;
	int64_t		v = 0;
	int			d = 0;

	while (isdigit((unsigned char)*s) && d < maxdigits)
	{
		v = v * 10 + (*s - '0');
		s++;
		d++;
	}
	if (d == 0)
		return false;
	*out = v;
	*p = s;
	return true;
}

bool
layout_parse(const char *key, const char *prefix, ObjectName *out)
{
	size_t		plen = strlen(prefix);
	const char *p = key;
	char		part[64];
	const char *plus2;
	const char *plus1;
	const char *dot;
	const char *file;
	int64_t		v;
	size_t		n;

	memset(out, 0, sizeof(*out));
	if (strncmp(key, prefix, plen) != 0 || key[plen] != '/')
		return false;
	p = key + plen + 1;
	if (!segment(&p, out->source, sizeof(out->source)) ||
		!segment(&p, out->table, sizeof(out->table)))
		return false;
	if (!segment(&p, part, sizeof(part)) ||
		!digits_at(part, "date=####-##-##"))
		return false;
	out->year = atoi(part + 5);
	out->month = atoi(part + 10);
	out->day = atoi(part + 13);
	if (!segment(&p, part, sizeof(part)) || !digits_at(part, "hour=##"))
		return false;
	out->hour = atoi(part + 5);
	if (out->month < 1 || out->month > 12 || out->day < 1 || out->day > 31 ||
		out->hour < 0 || out->hour > 23)
		return false;
	file = p;
	if (strchr(file, '/') != NULL)
		return false;
	/* <topic>+<partition>+<first>-<last>.<ext>: topics hold no '+' */
	plus1 = strchr(file, '+');
	if (plus1 == NULL)
		return false;
	n = (size_t)(plus1 - file);
	if (n == 0 || n >= sizeof(out->topic))
		return false;
	memcpy(out->topic, file, n);
	out->topic[n] = '\0';
	p = plus1 + 1;
	if (!number(&p, &v, 10) || v > INT32_MAX || *p != '+')
		return false;
	out->partition = (int32_t)v;
	plus2 = p;
	p = plus2 + 1;
	if (!number(&p, &out->first, 18) || *p != '-')
		return false;
	p++;
	if (!number(&p, &out->last, 18) || *p != '.' || out->last < out->first)
		return false;
	dot = p + 1;
	if (strlen(dot) == 0 || strlen(dot) >= sizeof(out->ext))
		return false;
	strcpy(out->ext, dot);
	return true;
}

void
layout_cut_metadata(char *buf, size_t buflen, int64_t last, bool ndjson)
{
	snprintf(buf, buflen, "cut=%" PRId64 "%s", last, ndjson ? ",ndjson" : "");
}

int64_t
layout_parse_cut(const void *metadata, size_t len, bool *ndjson)
{
	const char *m = metadata;
	int64_t		v = 0;
	size_t		i;
	bool		json = false;

	if (metadata != NULL && len > 7 && memcmp(m + len - 7, ",ndjson", 7) == 0)
	{
		json = true;
		len -= 7;
	}
	if (ndjson != NULL)
		*ndjson = json;
	if (metadata == NULL || len < 5 || len > 23 || memcmp(m, "cut=", 4) != 0)
		return -1;
	for (i = 4; i < len; i++)
	{
		if (!isdigit((unsigned char)m[i]) || v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (m[i] - '0');
	}
	return v;
}

bool
layout_parse_time(const char *s, int64_t *us)
{
	struct tm tm;
	int		  y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
	int		  n = 0;
	time_t	  t;

	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
		return false;
	s += n;
	if (*s == 'T' || *s == ' ')
	{
		if (sscanf(s + 1, "%2d%n", &h, &n) != 1)
			return false;
		s += 1 + n;
		if (*s == ':')
		{
			if (sscanf(s + 1, "%2d%n", &mi, &n) != 1)
				return false;
			s += 1 + n;
			if (*s == ':')
			{
				if (sscanf(s + 1, "%2d%n", &sec, &n) != 1)
					return false;
				s += 1 + n;
			}
		}
	}
	if (*s == 'Z')
		s++;
	if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
		mi > 59 || sec > 60)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*us = (int64_t)t * 1000000;
	return true;
}
