/*
 * ndjson_fuzz.c
 *		libFuzzer target: walstar-archive's NDJSON rendering of a record
 *		(common/change_ndjson.c).  Whatever the bytes, the output must be
 *		exactly one line holding one valid JSON object (RFC 8259, checked
 *		by the strict validator below, UTF-8 included), and every string
 *		escape must read back.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "change_ndjson.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

typedef struct Parser
{
	const unsigned char *s;
	size_t		len;
	size_t		pos;
} Parser;

static bool value(Parser *p, int depth);

static void
ws(Parser *p)
{
	while (p->pos < p->len &&
		   (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
			p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

static bool
lit(Parser *p, const char *w)
{
	size_t		n = strlen(w);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, w, n) != 0)
		return false;
	p->pos += n;
	return true;
}

static bool
hex4(Parser *p, unsigned *cp)
{
	unsigned	v = 0;
	int			i;

	for (i = 0; i < 4; i++)
	{
		unsigned char c;

		if (p->pos >= p->len)
			return false;
		c = p->s[p->pos++];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return false;
	}
	*cp = v;
	return true;
}

/* A string: escapes as RFC 8259 lists them, raw bytes strict UTF-8. */
static bool
string(Parser *p)
{
	if (!lit(p, "\""))
		return false;
	while (p->pos < p->len)
	{
		unsigned char c = p->s[p->pos];

		if (c == '"')
		{
			p->pos++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\')
		{
			unsigned	cp;

			p->pos++;
			if (p->pos >= p->len)
				return false;
			c = p->s[p->pos++];
			if (c == 'u')
			{
				if (!hex4(p, &cp))
					return false;
				/* a lone surrogate is not a character */
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return false;
				if (cp >= 0xd800 && cp <= 0xdbff &&
					(!lit(p, "\\u") || !hex4(p, &cp) || cp < 0xdc00 || cp > 0xdfff))
					return false;
			}
			else if (strchr("\"\\/bfnrt", c) == NULL || c == '\0')
				return false;
			continue;
		}
		if (c < 0x80)
		{
			p->pos++;
			continue;
		}
		{
			size_t		n,
						i;
			unsigned	cp;

			if (c >= 0xc2 && c <= 0xdf)
				n = 2, cp = c & 0x1f;
			else if (c >= 0xe0 && c <= 0xef)
				n = 3, cp = c & 0x0f;
			else if (c >= 0xf0 && c <= 0xf4)
				n = 4, cp = c & 0x07;
			else
				return false;
			if (p->len - p->pos < n)
				return false;
			for (i = 1; i < n; i++)
			{
				if ((p->s[p->pos + i] & 0xc0) != 0x80)
					return false;
				cp = (cp << 6) | (p->s[p->pos + i] & 0x3f);
			}
			if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
				(cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
				return false;
			p->pos += n;
		}
	}
	return false;
}

static bool
digits(Parser *p)
{
	size_t		start = p->pos;

	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
		p->pos++;
	return p->pos > start;
}

static bool
number(Parser *p)
{
	lit(p, "-");
	if (lit(p, "0"))
		;
	else if (p->pos < p->len && p->s[p->pos] >= '1' && p->s[p->pos] <= '9')
		digits(p);
	else
		return false;
	if (lit(p, ".") && !digits(p))
		return false;
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E'))
	{
		p->pos++;
		if (!lit(p, "+"))
			lit(p, "-");
		if (!digits(p))
			return false;
	}
	return true;
}

static bool
members(Parser *p, int depth, bool object)
{
	ws(p);
	if (lit(p, object ? "}" : "]"))
		return true;
	for (;;)
	{
		if (object)
		{
			if (!string(p))
				return false;
			ws(p);
			if (!lit(p, ":"))
				return false;
		}
		if (!value(p, depth + 1))
			return false;
		ws(p);
		if (lit(p, ","))
		{
			ws(p);
			continue;
		}
		return lit(p, object ? "}" : "]");
	}
}

static bool
value(Parser *p, int depth)
{
	if (depth > 64)
		return false;
	ws(p);
	if (p->pos >= p->len)
		return false;
	switch (p->s[p->pos])
	{
		case '{':
			p->pos++;
			return members(p, depth, true);
		case '[':
			p->pos++;
			return members(p, depth, false);
		case '"':
			return string(p);
		case 't':
			return lit(p, "true");
		case 'f':
			return lit(p, "false");
		case 'n':
			return lit(p, "null");
		default:
			return number(p);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	JsonBuf		b = {0};
	Parser		p;

	if (!change_ndjson_append(&b, data, len, (int64_t) len))
		abort();
	/* one line: the newline only at the end */
	if (b.len < 3 || b.data[b.len - 1] != '\n' ||
		memchr(b.data, '\n', b.len - 1) != NULL || b.data[0] != '{')
		abort();
	p.s = (const unsigned char *) b.data;
	p.len = b.len - 1;
	p.pos = 0;
	if (!value(&p, 0))
		abort();
	ws(&p);
	if (p.pos != p.len)
		abort();
	json_buf_free(&b);

	/* strings: any bytes in, a valid JSON string out */
	json_buf_string(&b, (const char *) data, len);
	p.s = (const unsigned char *) b.data;
	p.len = b.len;
	p.pos = 0;
	if (!string(&p) || p.pos != p.len)
		abort();
	json_buf_free(&b);
	return 0;
}
