/*
 * change_fuzz.c
 *		libFuzzer target: the extension's decode + validate path, and every
 *		index its batch building takes once a record passed.
 *
 * apply.c reads new_values[k] and old_values[k] for every key column k and
 * each value by column; change_check promises those are in range. This
 * target walks the same accesses under AddressSanitizer, so a check that
 * lets through a record batch building would overrun is a crash here.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "change_check.h"
#include "walstar.pb-c.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static volatile size_t sink;

static void
touch(const Walstar__V1__Value *v)
{
	switch (v->kind_case)
	{
		case WALSTAR__V1__VALUE__KIND_TEXT_VALUE:
			sink += strlen(v->text_value);
			break;
		case WALSTAR__V1__VALUE__KIND_NUMERIC_VALUE:
			sink += strlen(v->numeric_value);
			break;
		case WALSTAR__V1__VALUE__KIND_BYTES_VALUE:
			if (v->bytes_value.len)
				sink += v->bytes_value.data[v->bytes_value.len - 1];
			break;
		case WALSTAR__V1__VALUE__KIND_UUID_VALUE:
			sink += v->uuid_value.data[15];
			break;
		case WALSTAR__V1__VALUE__KIND_INTERVAL_VALUE:
			sink += (size_t) v->interval_value->micros;
			break;
		default:
			sink += (size_t) v->kind_case;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	Walstar__V1__Change *c = walstar__v1__change__unpack(NULL, len, data);
	char		reason[CHANGE_CHECK_REASON_MAX];
	size_t		i;

	if (c == NULL)
		return 0;
	if (change_check(c, reason) == NULL && c->n_columns > 0)
	{
		for (i = 0; i < c->n_columns; i++)
		{
			const Walstar__V1__Column *col = c->columns[i];

			sink += strlen(col->name) + strlen(col->landing_type);
			/* the apply reads both tuples by column index */
			if (c->n_new_values)
				touch(c->new_values[i]);
			if (c->n_old_values)
				touch(c->old_values[i]);
		}
	}
	else
		sink += strlen(reason);
	walstar__v1__change__free_unpacked(c, NULL);
	return 0;
}
