/*-------------------------------------------------------------------------
 *
 * object.c
 *		Framing and compression of archived objects.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>
#include <zstd.h>

#include "change_ndjson.h"
#include "object.h"

static bool
reserve(ObjectBuffer *b, size_t more)
{
	if (b->len + more > b->cap)
	{
		size_t	 cap = b->cap ? b->cap : 1 << 16;
		uint8_t *d;

		while (cap < b->len + more)
			cap *= 2;
		d = realloc(b->data, cap);
		if (d == NULL)
			return false;
		b->data = d;
		b->cap = cap;
	}
	return true;
}

bool
object_append(ObjectBuffer *b, const void *value, size_t len)
{
	uint64_t v = len;

	if (!reserve(b, len + 10))
		return false;
	do
	{
		uint8_t byte = v & 0x7f;

		v >>= 7;
		b->data[b->len++] = byte | (v ? 0x80 : 0);
	} while (v);
	if (len > 0)
		memcpy(b->data + b->len, value, len);
	b->len += len;
	b->records++;
	return true;
}

bool
object_append_line(ObjectBuffer *b, const char *line, size_t len)
{
	if (!reserve(b, len + 1))
		return false;
	memcpy(b->data + b->len, line, len);
	b->len += len;
	b->data[b->len++] = '\n';
	b->records++;
	return true;
}

bool
object_append_ndjson(ObjectBuffer *b, const void *value, size_t len,
					 int64_t offset)
{
	JsonBuf j = {(char *)b->data, b->len, b->cap, false};

	/* the renderer grows the same memory */
	if (!change_ndjson_append(&j, value, len, offset))
	{
		b->data = (uint8_t *)j.data;
		b->cap = j.cap;
		return false;
	}
	b->data = (uint8_t *)j.data;
	b->len = j.len;
	b->cap = j.cap;
	b->records++;
	return true;
}

void
object_reset(ObjectBuffer *b)
{
	b->len = 0;
	b->records = 0;
}

void
object_free(ObjectBuffer *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

const char *
object_extension(bool ndjson, int compression)
{
	if (ndjson)
		return compression == COMPRESSION_GZIP ? "ndjson.gz" : "ndjson.zst";
	return compression == COMPRESSION_GZIP ? "pb.gz" : "pb.zst";
}

bool
object_is_ndjson(const char *ext)
{
	return strncmp(ext, "ndjson.", 7) == 0;
}

bool
object_compress(const ObjectBuffer *b, int compression, int level,
				uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
	*out = NULL;
	if (compression == COMPRESSION_ZSTD)
	{
		size_t bound = ZSTD_compressBound(b->len);
		size_t n;

		*out = malloc(bound ? bound : 1);
		if (*out == NULL)
			goto oom;
		n = ZSTD_compress(*out, bound, b->data ? b->data : (uint8_t *)"",
						  b->len, level);
		if (ZSTD_isError(n))
		{
			snprintf(err, errlen, "zstd: %s", ZSTD_getErrorName(n));
			free(*out);
			*out = NULL;
			return false;
		}
		*outlen = n;
		return true;
	}
	else
	{
		z_stream zs;
		size_t	 bound;
		int		 rc;

		memset(&zs, 0, sizeof(zs));
		/* 15 + 16: a gzip wrapper, which gunzip and every reader take */
		if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8,
						 Z_DEFAULT_STRATEGY) != Z_OK)
			goto oom;
		bound = deflateBound(&zs, b->len) + 32;
		*out = malloc(bound);
		if (*out == NULL)
		{
			deflateEnd(&zs);
			goto oom;
		}
		zs.next_in = b->data ? b->data : (uint8_t *)"";
		zs.avail_in = (uInt)b->len;
		zs.next_out = *out;
		zs.avail_out = (uInt)bound;
		rc = deflate(&zs, Z_FINISH);
		*outlen = zs.total_out;
		deflateEnd(&zs);
		if (rc != Z_STREAM_END)
		{
			snprintf(err, errlen, "gzip: deflate failed (%d)", rc);
			free(*out);
			*out = NULL;
			return false;
		}
		return true;
	}
oom:
	snprintf(err, errlen, "out of memory compressing an object");
	return false;
}

static bool
grow(uint8_t **buf, size_t *cap, size_t need)
{
	uint8_t *d;
	size_t	 c = *cap ? *cap : 1 << 16;

	while (c < need)
		c *= 2;
	if (c > OBJECT_MAX_PLAIN)
		c = OBJECT_MAX_PLAIN;
	if (c < need)
		return false;
	d = realloc(*buf, c);
	if (d == NULL)
		return false;
	*buf = d;
	*cap = c;
	return true;
}

bool
object_decompress(const uint8_t *data, size_t len, uint8_t **plain,
				  size_t *plainlen, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t	 cap = 0, n = 0;

	*plain = NULL;
	*plainlen = 0;
	if (len >= 4 && data[0] == 0x28 && data[1] == 0xb5 && data[2] == 0x2f &&
		data[3] == 0xfd)
	{
		ZSTD_DStream *ds = ZSTD_createDStream();
		ZSTD_inBuffer in = {data, len, 0};
		size_t		  rc = 1;

		if (ds == NULL)
			goto oom;
		ZSTD_initDStream(ds);
		while (in.pos < in.size || rc != 0)
		{
			ZSTD_outBuffer outb;

			if (n == cap && !grow(&buf, &cap, n + 1))
			{
				ZSTD_freeDStream(ds);
				free(buf);
				snprintf(err, errlen, "object larger than %zu bytes",
						 OBJECT_MAX_PLAIN);
				return false;
			}
			outb.dst = buf;
			outb.size = cap;
			outb.pos = n;
			rc = ZSTD_decompressStream(ds, &outb, &in);
			n = outb.pos;
			if (ZSTD_isError(rc))
			{
				ZSTD_freeDStream(ds);
				free(buf);
				snprintf(err, errlen, "zstd: %s", ZSTD_getErrorName(rc));
				return false;
			}
			if (in.pos == in.size && rc != 0 && outb.pos < outb.size)
			{
				ZSTD_freeDStream(ds);
				free(buf);
				snprintf(err, errlen, "zstd: truncated object");
				return false;
			}
			if (rc == 0 && in.pos == in.size)
				break;
		}
		ZSTD_freeDStream(ds);
	}
	else if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b)
	{
		z_stream zs;
		int		 rc = Z_OK;

		memset(&zs, 0, sizeof(zs));
		if (inflateInit2(&zs, 15 + 16) != Z_OK)
			goto oom;
		zs.next_in = (uint8_t *)data;
		zs.avail_in = (uInt)len;
		while (rc != Z_STREAM_END)
		{
			if (n == cap && !grow(&buf, &cap, n + 1))
			{
				inflateEnd(&zs);
				free(buf);
				snprintf(err, errlen, "object larger than %zu bytes",
						 OBJECT_MAX_PLAIN);
				return false;
			}
			zs.next_out = buf + n;
			zs.avail_out = (uInt)(cap - n);
			rc = inflate(&zs, Z_NO_FLUSH);
			n = cap - zs.avail_out;
			if (rc != Z_OK && rc != Z_STREAM_END)
			{
				inflateEnd(&zs);
				free(buf);
				snprintf(err, errlen, "gzip: %s",
						 rc == Z_BUF_ERROR ? "truncated object"
										   : (zs.msg ? zs.msg : "corrupt"));
				return false;
			}
		}
		inflateEnd(&zs);
	}
	else
	{
		snprintf(err, errlen, "object is neither zstd nor gzip");
		return false;
	}
	*plain = buf ? buf : calloc(1, 1);
	*plainlen = n;
	return *plain != NULL;
oom:
	snprintf(err, errlen, "out of memory decompressing an object");
	return false;
}

int
object_next(const uint8_t *plain, size_t len, size_t *pos,
			const uint8_t **value, size_t *vlen)
{
	uint64_t v = 0;
	int		 shift = 0;
	size_t	 p = *pos;

	if (p >= len)
		return 0;
	for (;;)
	{
		uint8_t byte;

		if (p >= len || shift > 63)
			return -1;
		byte = plain[p++];
		/* one spelling per length, as object_append writes it */
		if ((shift == 63 && byte > 1) || (shift > 0 && byte == 0))
			return -1;
		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80))
			break;
		shift += 7;
	}
	if (v > len - p)
		return -1;
	*value = plain + p;
	*vlen = (size_t)v;
	*pos = p + (size_t)v;
	return 1;
}
