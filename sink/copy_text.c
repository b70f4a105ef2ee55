/*-------------------------------------------------------------------------
 *
 * copy_text.c
 *		Fields of COPY ... TO STDOUT text: escapes undone, hex and integers
 *		read (see copy_text.h).
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>

#include "copy_text.h"

size_t
copy_text_unescape(char *s, size_t len)
{
	size_t i = 0, j = 0;

	while (i < len)
	{
		char c = s[i++];

		if (c != '\\' || i >= len)
		{
			s[j++] = c;
			continue;
		}
		c = s[i++];
		switch (c)
		{
			case 'b':
				s[j++] = '\b';
				break;
			case 'f':
				s[j++] = '\f';
				break;
			case 'n':
				s[j++] = '\n';
				break;
			case 'r':
				s[j++] = '\r';
				break;
			case 't':
				s[j++] = '\t';
				break;
			case 'v':
				s[j++] = '\v';
				break;
			case 'x':
			{
				int v = 0, k;

				for (k = 0; k < 2 && i < len && isxdigit((unsigned char)s[i]);
					 k++, i++)
					v = v * 16 +
						(isdigit((unsigned char)s[i])
							 ? s[i] - '0'
							 : (tolower((unsigned char)s[i]) - 'a' + 10));
				s[j++] = (char)v;
				break;
			}
			default:
				if (c >= '0' && c <= '7')
				{
					int v = c - '0', k;

					for (k = 0; k < 2 && i < len && s[i] >= '0' && s[i] <= '7';
						 k++, i++)
						v = v * 8 + (s[i] - '0');
					s[j++] = (char)v;
				}
				else
					s[j++] = c;
				break;
		}
	}
	s[j] = '\0';
	return j;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

size_t
copy_text_decode_hex(const char *s, uint8_t *out)
{
	size_t n = 0;

	while (*s)
	{
		int hi, lo;

		if (*s == '-')
		{
			s++;
			continue;
		}
		hi = hexval(s[0]);
		lo = s[1] ? hexval(s[1]) : -1;
		if (hi < 0 || lo < 0)
			break;
		out[n++] = (uint8_t)(hi * 16 + lo);
		s += 2;
	}
	return n;
}

bool
copy_text_is_integer(const char *s)
{
	if (*s == '-')
		s++;
	if (!*s)
		return false;
	for (; *s; s++)
	{
		if (!isdigit((unsigned char)*s))
			return false;
	}
	return true;
}

void
copy_text_split(char *line, size_t len, char **fields, size_t *flens,
				int nfields)
{
	char *p = line;
	char *end = line + len;
	int	  f = 0;

	if (end > p && end[-1] == '\n')
		*--end = '\0';
	while (f < nfields)
	{
		char *q = p;

		while (q < end && *q != '\t')
			q++;
		*q = '\0';
		if (q - p == 2 && p[0] == '\\' && p[1] == 'N')
		{
			fields[f] = NULL;
			flens[f] = 0;
		}
		else
		{
			fields[f] = p;
			flens[f] = copy_text_unescape(p, (size_t)(q - p));
		}
		f++;
		p = q + 1;
		if (q >= end)
			break;
	}
	for (; f < nfields; f++)
	{
		fields[f] = NULL;
		flens[f] = 0;
	}
}
