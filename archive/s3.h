/*-------------------------------------------------------------------------
 *
 * s3.h
 *		A small S3 client over libcurl: PUT (Content-MD5, ETag checked),
 *		GET, DELETE and ListObjectsV2, signed by libcurl's own AWS SigV4
 *		(CURLOPT_AWS_SIGV4).
 *
 *-------------------------------------------------------------------------
 */
#ifndef ARCHIVE_S3_H
#define ARCHIVE_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef struct S3 S3;

/* One object of a listing. */
typedef struct S3Object
{
	char   *key;  /* object key */
	int64_t size; /* bytes */
} S3Object;

typedef struct S3List
{
	S3Object *objects; /* in the store's (lexicographic) order */
	size_t	  count;
} S3List;

/* Metadata of a PUT (x-amz-meta-<name>: value), NULL-terminated pairs. */
typedef struct S3Meta
{
	const char *name;
	const char *value;
} S3Meta;

extern S3  *s3_create(const Config *cfg, char *err, size_t errlen);
extern void s3_destroy(S3 *s3);

/*
 * The bucket answers a signed request (credentials and reachability, the
 * startup check).
 */
extern bool s3_check_bucket(S3 *s3, char *err, size_t errlen);

/*
 * Store body under key; true only when the store answered 2xx with an
 * ETag equal to the body's MD5 (the store also checked Content-MD5).
 */
extern bool s3_put(S3 *s3, const char *key, const void *body, size_t len,
				   const char *content_type, const S3Meta *meta, size_t nmeta,
				   char *err, size_t errlen);

/* The object's bytes into a malloc'ed *body (caller frees). */
extern bool s3_get(S3 *s3, const char *key, uint8_t **body, size_t *len,
				   char *err, size_t errlen);

extern bool s3_delete(S3 *s3, const char *key, char *err, size_t errlen);

/* Every object under prefix (all pages). */
extern bool s3_list(S3 *s3, const char *prefix, S3List *out, char *err,
					size_t errlen);
extern void s3_list_free(S3List *list);

/* The request timeout (seconds), reloadable. */
extern void s3_set_timeout(S3 *s3, int seconds);

/* Counters for the metrics endpoint. */
extern uint64_t s3_requests_total(void);

/*
 * Keys of a ListObjectsV2 XML page appended to out; *next set to a
 * malloc'ed continuation token (or NULL).  External bytes: fuzzed.
 */
extern bool s3_parse_list(const char *xml, size_t len, S3List *out,
						  char **next);

#endif
