/*
 * peek_fuzz.c
 *		libFuzzer target: walstar-sink's record peek and routing (the
 *		fields it reads straight from the wire, the key's printable form,
 *		the DELETE it builds for a key-changing UPDATE).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "change_peek.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	ChangePeek	c;
	char		buf[256];
	uint8_t    *rec = NULL;
	size_t		rec_len,
				key_off,
				key_len;

	if (!change_peek(data, len, &c))
		return 0;
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
