/*
 * peek_fuzz.c
 *		libFuzzer target: walstar-sink's record peek and routing (the
 *		fields it reads straight from the wire, the wire-format checks it
 *		runs on them, the key's printable form, the DELETE it builds for a
 *		key-changing UPDATE, the unchanged-TOAST scan that marks it).
 *
 * The sink checks records without unpacking them; the extension unpacks
 * with protobuf-c and checks the result.  Both run proto/change_check.c's
 * rules, so whenever protobuf-c unpacks the bytes the two verdicts must
 * be the same, reason included: a difference aborts.  One difference is
 * allowed: the sink refuses as malformed some wire types protobuf-c lets
 * through (a bool sent length-delimited), which no decoder writes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "change_check.h"
#include "change_peek.h"
#include "walstar.pb-c.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static ChangeScan *scan;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	ChangePeek	c;
	char		buf[256];
	char		sink_buf[CHANGE_CHECK_REASON_MAX];
	char		ext_buf[CHANGE_CHECK_REASON_MAX];
	const char *sink_reason;
	Walstar__V1__Change *u;
	uint8_t    *rec = NULL;
	size_t		rec_len,
				key_off,
				key_len;

	if (scan == NULL && (scan = change_scan_create()) == NULL)
		abort();

	/*
	 * Twice: the second run takes the path where the columns are those of
	 * the record before, when it passed.
	 */
	sink_reason = change_peek_check(scan, data, len, sink_buf);
	if ((change_peek_check(scan, data, len, buf) == NULL) != (sink_reason == NULL))
		abort();
	u = walstar__v1__change__unpack(NULL, len, data);
	if (u != NULL)
	{
		const char *ext_reason = change_check(u, ext_buf);

		bool		stricter = sink_reason != NULL &&
			strncmp(sink_reason, "not a walstar.v1.Change", 23) == 0;

		if (!stricter &&
			((sink_reason == NULL) != (ext_reason == NULL) ||
			 (sink_reason != NULL && strcmp(sink_reason, ext_reason) != 0)))
		{
			fprintf(stderr, "sink: %s\nextension: %s\n",
					sink_reason ? sink_reason : "ok",
					ext_reason ? ext_reason : "ok");
			abort();
		}
		walstar__v1__change__free_unpacked(u, NULL);
	}

	if (!change_peek(data, len, &c))
		return 0;
	/* the scan the sink runs on every key-changing UPDATE (field 29) */
	(void) change_has_unchanged_toast(data, len);
	if (c.key)
		change_key_text(c.key, c.key_len, buf, sizeof(buf));
	if (change_old_key_delete(data, len, &c, &rec, &rec_len, &key_off, &key_len))
	{
		ChangePeek	d;

		/* what the sink produces must read back as a record */
		if (key_off + key_len > rec_len || !change_peek(rec, rec_len, &d))
			abort();
		change_key_text(rec + key_off, key_len, buf, sizeof(buf));
		free(rec);
	}
	return 0;
}
