/*-------------------------------------------------------------------------
 *
 * change_ndjson.h
 *		A walstar.v1.Change as one line of newline-delimited JSON, from the
 *		record's bytes alone: plain C, no PostgreSQL server code, so a client
 *		(walstar-archive) renders what DuckDB's read_json_auto or Spark reads.
 *
 * The field-by-field mapping is in archive/README.md ("NDJSON objects").
 * Every value is rendered exactly: integers as JSON numbers, numeric as its
 * decimal text, floats in the shortest form that reads back to the same
 * double, times in UTC with microseconds, bytea base64.  Invalid UTF-8 in a
 * string becomes U+FFFD: the output is always valid JSON.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALSTAR_CHANGE_NDJSON_H
#define WALSTAR_CHANGE_NDJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growing byte buffer; oom is set (and sticks) when an allocation failed. */
typedef struct JsonBuf
{
	char	   *data;			/* malloc'ed, not NUL-terminated */
	size_t		len;			/* bytes used */
	size_t		cap;			/* bytes allocated */
	bool		oom;			/* an append was lost: the buffer is unusable */
} JsonBuf;

extern void json_buf_append(JsonBuf *b, const void *data, size_t len);
extern void json_buf_free(JsonBuf *b);

/* s (len bytes, any bytes) as a JSON string, quotes included. */
extern void json_buf_string(JsonBuf *b, const char *s, size_t len);

/*
 * Append the record (a Kafka value) as one JSON object and a newline.
 * offset >= 0 adds "offset" (the record's Kafka offset).  Bytes that are not
 * a Change give {"offset":...,"undecodable":"<base64 of the bytes>"}.
 * Returns false only when memory ran out (b->oom).
 */
extern bool change_ndjson_append(JsonBuf *b, const uint8_t *record,
								 size_t len, int64_t offset);

#endif							/* WALSTAR_CHANGE_NDJSON_H */
