/*-------------------------------------------------------------------------
 *
 * name_pattern.c
 *		Table and column name patterns: parsing and matching.
 *
 * One implementation for every part: the decoder's include-tables,
 * exclude-tables, mask-columns and hash-columns options, and the sink's
 * initial copy, which must select and protect exactly what the decoder
 * streams.
 *
 * Patterns: comma-separated, blanks around each trimmed; '.' separates the
 * parts; '\' escapes the next character ('\,', '\.', '\*', '\ '), and the
 * escape stays in the part for the matcher to honour.  The matcher is
 * linear in the name for each '*' (it backtracks only to the last star),
 * so a pattern like "a*a*a*a*b" cannot make decoding slow.
 *
 * Plain C without the server (no palloc, no ereport): results go to memory
 * the caller provides, errors are returned for the caller to report.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "name_pattern.h"

int
name_pattern_max_count(const char *text)
{
	int			n = 1;

	for (; *text; text++)
	{
		if (*text == '\\' && text[1] != '\0')
			text++;
		else if (*text == ',')
			n++;
	}
	return n;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Split one trimmed pattern [p, end) at unescaped dots, in place. */
static bool
split_pattern(char *p, char *end, int nparts, NamePattern *pat)
{
	char	   *part = p;

	pat->nparts = 0;
	for (;; p++)
	{
		if (p < end && *p == '\\' && p + 1 < end)
			p++;
		else if (p == end || *p == '.')
		{
			if (p == part || pat->nparts == nparts)
				return false;
			pat->parts[pat->nparts++] = part;
			if (p == end)
			{
				*p = '\0';
				break;
			}
			*p = '\0';
			part = p + 1;
		}
	}
	return pat->nparts == nparts;
}

NamePatternError
name_pattern_parse_list(char *text, int nparts, NamePatternList *out,
					   size_t *bad_start, size_t *bad_len)
{
	char	   *p = text;

	out->n = 0;
	for (;;)
	{
		char	   *start,
				   *end,
				   *last = NULL;	/* end of the last non-blank or escaped
									 * character */

		while (is_blank(*p))
			p++;
		start = p;
		for (; *p != '\0' && *p != ','; p++)
		{
			if (*p == '\\' && p[1] != '\0')
			{
				p++;
				last = p + 1;
			}
			else if (!is_blank(*p))
				last = p + 1;
		}
		end = last != NULL ? last : start;
		*bad_start = (size_t) (start - text);
		*bad_len = (size_t) (end - start);
		if (end == start)
			return NAME_PATTERN_EMPTY;
		{
			bool		at_end = *p == '\0';

			if (!split_pattern(start, end, nparts, &out->patterns[out->n]))
				return NAME_PATTERN_BAD;
			out->n++;
			if (at_end)
				return NAME_PATTERN_OK;
		}
		p++;
	}
}

bool
name_pattern_part_match(const char *pattern, const char *name)
{
	const char *star = NULL;	/* pattern just after the last '*' */
	const char *resume = NULL;	/* where that star's run ends so far */

	while (*name)
	{
		if (*pattern == '*')
		{
			while (*pattern == '*')
				pattern++;
			if (*pattern == '\0')
				return true;
			star = pattern;
			resume = name;
			continue;
		}
		if (*pattern != '\0')
		{
			const char *lit = pattern;

			if (*lit == '\\' && lit[1] != '\0')
				lit++;
			if (*lit == *name)
			{
				pattern = lit + 1;
				name++;
				continue;
			}
		}
		if (star == NULL)
			return false;
		/* let the last star take one more character */
		pattern = star;
		name = ++resume;
	}
	while (*pattern == '*')
		pattern++;
	return *pattern == '\0';
}

bool
name_pattern_match_any(const NamePatternList *list, const char *schema,
						const char *table, const char *column)
{
	int			i;

	for (i = 0; i < list->n; i++)
	{
		const NamePattern *pat = &list->patterns[i];

		if (name_pattern_part_match(pat->parts[0], schema) &&
			name_pattern_part_match(pat->parts[1], table) &&
			(column == NULL || name_pattern_part_match(pat->parts[2], column)))
			return true;
	}
	return false;
}
