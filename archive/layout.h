/*-------------------------------------------------------------------------
 *
 * layout.h
 *		Object names and the cut marks in Kafka's commit metadata.
 *
 *	<prefix>/<source>/<schema>.<table>/date=YYYY-MM-DD/hour=HH/
 *		<topic>+<partition>+<first offset>-<last offset>.<ext>
 *	<prefix>/dead_letters/<topic>/date=YYYY-MM-DD/hour=HH/<same file name>
 *
 * The date and hour are the first record's commit time (UTC); records
 * that are not walstar Changes (the sink's dead letters, anything that does
 * not parse) go under dead_letters with their Kafka timestamp.  An object
 * holds one offset range of one partition, so the name alone says which
 * offsets it covers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ARCHIVE_LAYOUT_H
#define ARCHIVE_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LAYOUT_DEAD_LETTERS "dead_letters"

/* What an object name says. */
typedef struct ObjectName
{
	char	source[256]; /* "dead_letters" for dead letters */
	char	table[512];	 /* schema.table, or the topic for dead letters */
	int		year, month, day, hour;
	char	topic[256];
	int32_t partition;
	int64_t first; /* first offset */
	int64_t last;  /* last offset */
	char	ext[16];
} ObjectName;

/*
 * Build the key into buf; false when it does not fit or a part holds '/'
 * (a source or table name cannot make a key of another place).
 */
extern bool layout_key(char *buf, size_t buflen, const char *prefix,
					   const char *source, const char *table, int64_t time_us,
					   const char *topic, int32_t partition, int64_t first,
					   int64_t last, const char *ext);

/* Parse a key made by layout_key under prefix.  External bytes: fuzzed. */
extern bool layout_parse(const char *key, const char *prefix, ObjectName *out);

/*
 * Kafka commit metadata "cut=<last offset>" of an object being stored,
 * "cut=<last offset>,ndjson" for an NDJSON object: the restarted archive
 * rewrites the range in the format it was cut in, whatever the setting
 * says by then, so one range never gets two names.
 */
extern void layout_cut_metadata(char *buf, size_t buflen, int64_t last,
								bool ndjson);

/*
 * The last offset of a cut mark (and *ndjson, if not NULL), or -1 when
 * metadata is empty or not a cut mark (other tools' metadata is ignored).
 * External bytes: fuzzed.
 */
extern int64_t layout_parse_cut(const void *metadata, size_t len,
								bool *ndjson);

/*
 * Unix microseconds of "YYYY-MM-DD[THH[:MM[:SS]]][Z]" (UTC), or false.
 */
extern bool layout_parse_time(const char *s, int64_t *us);

#endif
