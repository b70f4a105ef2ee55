/*-------------------------------------------------------------------------
 *
 * name_pattern.h
 *		Table and column name patterns ("schema.table", "schema.table.column"),
 *		shared by the decoder's options and the sink's initial copy.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALSTAR_NAME_PATTERN_H
#define WALSTAR_NAME_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A compiled name pattern: "schema.table" or "schema.table.column", split at
 * unescaped dots; each part may hold '*' (any run of characters) and
 * backslash escapes, kept as written.
 */
typedef struct NamePattern
{
	int			nparts;			/* 2 or 3 */
	const char *parts[3];		/* schema, table[, column] */
} NamePattern;

/* A comma-separated list of patterns. */
typedef struct NamePatternList
{
	int			n;				/* entries of patterns; 0: no list given */
	NamePattern *patterns;		/* parsed patterns */
} NamePatternList;

typedef enum NamePatternError
{
	NAME_PATTERN_OK,
	NAME_PATTERN_EMPTY,			/* ",," or a blank list */
	NAME_PATTERN_BAD			/* wrong number of parts, or an empty part */
} NamePatternError;

/* Most patterns a list of this text can hold (for the caller's array). */
extern int	name_pattern_max_count(const char *text);

/*
 * Parse a pattern list of nparts-part patterns.  text is split in place
 * (NULs where separators were); the parts point into it.  out->patterns
 * needs name_pattern_max_count(text) entries.  On an error, the offending
 * pattern is text's bytes [*bad_start, *bad_start + *bad_len) as given
 * (read them from a copy: text is modified).
 */
extern NamePatternError name_pattern_parse_list(char *text, int nparts,
												NamePatternList *out,
												size_t *bad_start,
												size_t *bad_len);

/*
 * Does any pattern of the list match schema.table (column NULL) or
 * schema.table.column?
 */
extern bool name_pattern_match_any(const NamePatternList *list,
								   const char *schema, const char *table,
								   const char *column);

/* One name part against one pattern part: '*' any run, '\' escapes. */
extern bool name_pattern_part_match(const char *pattern, const char *name);

#endif							/* WALSTAR_NAME_PATTERN_H */
