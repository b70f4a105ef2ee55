/*
 * options_fuzz.c
 *		libFuzzer target: the decoder's option values (decoder/
 *		option_values.c, common/name_pattern.c): pattern lists, matching,
 *		formats, salt ids.
 *
 * Input: one byte choosing the kind of value, then the value's text, then
 * up to three names separated by NULs.  Besides surviving any input under
 * ASan/UBSan, the target checks what a broken parser or matcher would get
 * wrong:
 *	- every parsed pattern has the parts its option needs, none empty;
 *	- a pattern that escapes every character of the names matches them;
 *	- matching a part agrees with fnmatch(3) on the same glob.
 */
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "option_values.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* The glob of a pattern part in fnmatch's syntax (escapes kept). */
static void
to_fnmatch(const char *part, char *out)
{
	for (; *part; part++)
	{
		if (*part == '\\' && part[1] != '\0')
		{
			*out++ = '\\';
			*out++ = *++part;
		}
		else if (*part == '*')
			*out++ = '*';
		else
		{
			*out++ = '\\';
			*out++ = *part;
		}
	}
	*out = '\0';
}

static void
check_part(const char *part, const char *name)
{
	char		glob[2 * 64 + 1];
	bool		ours;

	ours = name_pattern_part_match(part, name);
	if (strlen(part) > 64 || strlen(name) > 64)
		return;
	to_fnmatch(part, glob);
	if (ours != (fnmatch(glob, name, 0) == 0))
	{
		fprintf(stderr, "part \"%s\" name \"%s\": ours %d, fnmatch %d\n",
				part, name, ours, !ours);
		abort();
	}
}

static void
check_patterns(char *text, int nparts, char **names, int nnames)
{
	NamePatternList list;
	size_t		bad_start,
				bad_len;
	int			max = name_pattern_max_count(text);
	size_t		text_len = strlen(text);
	int			i,
				k;

	list.patterns = calloc((size_t) max, sizeof(NamePattern));
	if (name_pattern_parse_list(text, nparts, &list, &bad_start, &bad_len) != NAME_PATTERN_OK)
	{
		if (bad_start + bad_len > text_len)
			abort();
		free(list.patterns);
		return;
	}
	if (list.n < 1 || list.n > max)
		abort();
	for (i = 0; i < list.n; i++)
	{
		if (list.patterns[i].nparts != nparts)
			abort();
		for (k = 0; k < nparts; k++)
		{
			if (list.patterns[i].parts[k][0] == '\0')
				abort();
			if (k < nnames)
				check_part(list.patterns[i].parts[k], names[k]);
		}
	}
	if (nnames >= nparts)
		(void) name_pattern_match_any(&list, names[0], names[1],
									   nparts == 3 ? names[2] : NULL);
	free(list.patterns);
}

/* A pattern that escapes every character of the names must match them. */
static void
check_literal(char **names, int nparts)
{
	size_t		total = 0;
	char	   *text,
			   *p;
	NamePatternList list;
	NamePattern pat;
	size_t		bad_start,
				bad_len;
	int			k;

	for (k = 0; k < nparts; k++)
	{
		if (names[k][0] == '\0')
			return;
		total += 2 * strlen(names[k]) + 1;
	}
	p = text = malloc(total + 1);
	for (k = 0; k < nparts; k++)
	{
		const char *c;

		if (k > 0)
			*p++ = '.';
		for (c = names[k]; *c; c++)
		{
			*p++ = '\\';
			*p++ = *c;
		}
	}
	*p = '\0';
	list.patterns = &pat;
	if (name_pattern_parse_list(text, nparts, &list, &bad_start, &bad_len) != NAME_PATTERN_OK ||
		list.n != 1 ||
		!name_pattern_match_any(&list, names[0], names[1], nparts == 3 ? names[2] : NULL))
	{
		fprintf(stderr, "escaped names do not match themselves\n");
		abort();
	}
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char	   *buf;
	char	   *names[3] = {"", "", ""};
	int			nnames = 0;
	char	   *p,
			   *end;
	bool		json;

	if (len < 1)
		return 0;
	buf = malloc(len + 1);
	memcpy(buf, data + 1, len - 1);
	buf[len - 1] = '\0';
	end = buf + len - 1;
	for (p = buf + strlen(buf); p < end && nnames < 3;)
	{
		names[nnames++] = ++p;
		p += strlen(p);
	}

	switch (data[0] % 4)
	{
		case 0:
		case 1:
			{
				int			nparts = data[0] % 4 == 0 ? 2 : 3;

				if (nnames >= nparts)
					check_literal(names, nparts);
				check_patterns(buf, nparts, names, nnames);
				break;
			}
		case 2:
			if (option_values_format(buf, &json) &&
				strcmp(buf, json ? "json" : "protobuf") != 0)
				abort();
			break;
		case 3:
			if (option_values_salt_id(buf) && strlen(buf) != SALT_ID_LEN)
				abort();
			break;
	}
	free(buf);
	return 0;
}
