/*
 * archive_fuzz.c
 *		libFuzzer target: what walstar-archive reads from outside: objects
 *		(decompression and framing, as replay reads them), object names
 *		(replay and expire list them), the cut marks in Kafka's commit
 *		metadata, ListObjectsV2 answers, and the --from/--to and retention
 *		settings.
 *
 * The first byte picks the reader; the rest is its input.  Round trips
 * must hold: frames read from an object compress and read back the same,
 * and a name that parses is rebuilt byte for byte from its parts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "layout.h"
#include "object.h"
#include "s3.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static void
check_object(const uint8_t *data, size_t len)
{
	uint8_t		  *plain = NULL;
	size_t		   plen, pos = 0;
	char		   err[256];
	const uint8_t *v;
	size_t		   vlen;
	ObjectBuffer   b = {0};
	int			   r;

	if (!object_decompress(data, len, &plain, &plen, err, sizeof(err)))
		return;
	while ((r = object_next(plain, plen, &pos, &v, &vlen)) == 1)
		object_append(&b, v, vlen);
	if (r == 0)
	{
		int c;

		/* well-formed frames: compressed again, they read back the same */
		if (b.len != plen || (plen && memcmp(b.data, plain, plen) != 0))
			abort();
		for (c = COMPRESSION_ZSTD; c <= COMPRESSION_GZIP; c++)
		{
			uint8_t *z = NULL, *back = NULL;
			size_t	 zlen, blen;

			if (!object_compress(&b, c, 1, &z, &zlen, err, sizeof(err)) ||
				!object_decompress(z, zlen, &back, &blen, err, sizeof(err)) ||
				blen != plen || (plen && memcmp(back, plain, plen) != 0))
				abort();
			free(z);
			free(back);
		}
	}
	object_free(&b);
	free(plain);
}

static void
check_name(const char *s)
{
	ObjectName n;
	char	   again[4096];
	struct tm  tm;

	if (!layout_parse(s, "walstar", &n))
		return;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = n.year - 1900;
	tm.tm_mon = n.month - 1;
	tm.tm_mday = n.day;
	tm.tm_hour = n.hour;
	/* a day that does not exist (Feb 31) normalizes: no round trip */
	if (timegm(&tm) == -1 || tm.tm_mday != n.day || tm.tm_mon != n.month - 1)
		return;
	if (layout_key(again, sizeof(again), "walstar", n.source, n.table,
				   (int64_t)timegm(&tm) * 1000000, n.topic, n.partition,
				   n.first, n.last, n.ext) &&
		strcmp(again, s) != 0)
	{
		/* leading zeros in numbers are the only other spelling */
		if (strstr(s, "+0") == NULL && strstr(s, "-0") == NULL)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *s;

	if (len < 1)
		return 0;
	s = malloc(len);
	memcpy(s, data + 1, len - 1);
	s[len - 1] = '\0';
	switch (data[0] % 5)
	{
		case 0:
			check_object(data + 1, len - 1);
			break;
		case 1:
			check_name(s);
			break;
		case 2:
		{
			bool	json, json2;
			int64_t cut = layout_parse_cut(data + 1, len - 1, &json);
			char	mark[64];

			if (cut >= 0)
			{
				layout_cut_metadata(mark, sizeof(mark), cut, json);
				if (layout_parse_cut(mark, strlen(mark), &json2) != cut ||
					json2 != json)
					abort();
			}
			break;
		}
		case 3:
		{
			S3List list = {0};
			char  *next = NULL;

			s3_parse_list((const char *)data + 1, len - 1, &list, &next);
			free(next);
			s3_list_free(&list);
			break;
		}
		case 4:
		{
			int64_t us;

			layout_parse_time(s, &us);
			config_retention_days(s, "crm");
			break;
		}
	}
	free(s);
	return 0;
}
