/*-------------------------------------------------------------------------
 *
 * object.h
 *		The bytes of an archived object: the Kafka values of one offset
 *		range, each as a varint length and the value (length-delimited
 *		walstar.v1.Change, as protobuf's writeDelimitedTo), or, in an NDJSON
 *		object, one JSON line per record (common/change_ndjson.c);
 *		compressed as a whole with zstd or gzip.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ARCHIVE_OBJECT_H
#define ARCHIVE_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Largest object we decompress (replay), a guard against hostile input. */
#define OBJECT_MAX_PLAIN ((size_t)2 << 30)

typedef struct ObjectBuffer
{
	uint8_t *data; /* the uncompressed frames (or NDJSON lines) */
	size_t	 len;
	size_t	 cap;
	uint64_t records; /* frames (lines) in data */
} ObjectBuffer;

/* Append one value as a frame. */
extern bool object_append(ObjectBuffer *b, const void *value, size_t len);

/* Append one line of text and a newline. */
extern bool object_append_line(ObjectBuffer *b, const char *line, size_t len);

/* Append one value as an NDJSON line (offset: its Kafka offset). */
extern bool object_append_ndjson(ObjectBuffer *b, const void *value,
								 size_t len, int64_t offset);
extern void object_reset(ObjectBuffer *b);
extern void object_free(ObjectBuffer *b);

/*
 * The file extension of a format and compression: "pb.zst", "pb.gz",
 * "ndjson.zst" or "ndjson.gz".
 */
extern const char *object_extension(bool ndjson, int compression);

/* Whether an object name's extension (ObjectName.ext) is NDJSON. */
extern bool object_is_ndjson(const char *ext);

/* Compress b into a malloc'ed *out. */
extern bool object_compress(const ObjectBuffer *b, int compression, int level,
							uint8_t **out, size_t *outlen, char *err,
							size_t errlen);

/*
 * Decompress an object (zstd or gzip, told by its magic bytes) into a
 * malloc'ed *plain.  External bytes: fuzzed.
 */
extern bool object_decompress(const uint8_t *data, size_t len, uint8_t **plain,
							  size_t *plainlen, char *err, size_t errlen);

/*
 * The next frame of plain at *pos: *value and *vlen point into plain.  Returns
 * 1 for a frame, 0 at the end, -1 when the frames are malformed.
 */
extern int object_next(const uint8_t *plain, size_t len, size_t *pos,
					   const uint8_t **value, size_t *vlen);

#endif
