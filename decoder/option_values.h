/*-------------------------------------------------------------------------
 *
 * option_values.h
 *		The text of walstar_decoder's option values: name patterns and
 *		their matching, formats, salt fingerprints.
 *
 * Plain C without the server (no palloc, no ereport), so that a fuzz
 * target links it alone: results go to memory the caller provides, errors
 * are returned for options.c to report.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OPTION_VALUES_H
#define OPTION_VALUES_H

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
	int			n;				/* entries of patterns; 0: the option was not given */
	NamePattern *patterns;		/* parsed patterns */
} NamePatternList;

typedef enum OptionValueError
{
	OPTION_VALUE_OK,
	OPTION_VALUE_EMPTY_PATTERN, /* ",," or a blank list */
	OPTION_VALUE_BAD_PATTERN	/* wrong number of parts, or an empty part */
} OptionValueError;

/* Hex digits of a salt fingerprint (option hash-salt-id). */
#define OPTION_SALT_ID_LEN 16

/* Most patterns a list of this text can hold (for the caller's array). */
extern int	option_values_max_patterns(const char *text);

/*
 * Parse a pattern list of nparts-part patterns.  text is split in place
 * (NULs where separators were); the parts point into it.  out->patterns
 * needs option_values_max_patterns(text) entries.  On an error, the
 * offending pattern is text's bytes [*bad_start, *bad_start + *bad_len) as
 * given (read them from a copy: text is modified).
 */
extern OptionValueError option_values_patterns(char *text, int nparts,
											   NamePatternList *out,
											   size_t *bad_start,
											   size_t *bad_len);

/*
 * Does any pattern of the list match schema.table (column NULL) or
 * schema.table.column?
 */
extern bool option_values_match_any(const NamePatternList *list,
									const char *schema, const char *table,
									const char *column);

/* One name part against one pattern part: '*' any run, '\' escapes. */
extern bool option_values_part_match(const char *pattern, const char *name);

/* "protobuf" -> false, "json" -> true; false when neither. */
extern bool option_values_format(const char *text, bool *json);

/* Whether text is a salt fingerprint: OPTION_SALT_ID_LEN lower-case hex. */
extern bool option_values_salt_id(const char *text);

#endif							/* OPTION_VALUES_H */
