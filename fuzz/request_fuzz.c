/*
 * request_fuzz.c
 *		libFuzzer target: the on-demand copy request files the running sink
 *		reads from its state directory (sink/snapshot_request.c, with
 *		common/name_pattern.c for the table patterns).
 *
 * Input: a request file's bytes.  Besides surviving any input under
 * ASan/UBSan, the target checks what a broken parser would get wrong:
 *	- an accepted request is the input without its final newline, shorter
 *	  than SNAPSHOT_REQUEST_MAX, with no control character;
 *	- an accepted request is accepted again (what the sink queues, it takes).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot_request.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char		out[SNAPSHOT_REQUEST_MAX];
	char		again[SNAPSHOT_REQUEST_MAX];
	char		err[256];
	size_t		n, i;

	if (!snapshot_request_parse((const char *) data, len, out, err, sizeof(err)))
		return 0;
	n = strlen(out);
	if (n >= SNAPSHOT_REQUEST_MAX || n == 0)
		abort();
	if (n != len && !(n + 1 == len && data[n] == '\n'))
		abort();
	if (memcmp(out, data, n) != 0)
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned char) out[i] < 0x20 || out[i] == 0x7f)
			abort();
	if (!snapshot_request_parse(out, n, again, err, sizeof(err)) ||
		strcmp(out, again) != 0)
		abort();
	return 0;
}
