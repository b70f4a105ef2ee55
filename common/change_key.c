/*-------------------------------------------------------------------------
 *
 * change_key.c
 *		Packing and reading Change.key (see change_key.h).
 *
 *-------------------------------------------------------------------------
 */
#include "change_key.h"

static void
key_of(Walstar__V1__Key *key, Walstar__V1__Value **values, size_t n)
{
	walstar__v1__key__init(key);
	key->n_values = n;
	key->values = values;
}

size_t
change_key_size(Walstar__V1__Value **values, size_t n)
{
	Walstar__V1__Key key;

	key_of(&key, values, n);
	return walstar__v1__key__get_packed_size(&key);
}

size_t
change_key_pack(Walstar__V1__Value **values, size_t n, uint8_t *out)
{
	Walstar__V1__Key key;

	key_of(&key, values, n);
	return walstar__v1__key__pack(&key, out);
}

Walstar__V1__Key *
change_key_unpack(const uint8_t *data, size_t len)
{
	return walstar__v1__key__unpack(NULL, len, data);
}

void
change_key_free(Walstar__V1__Key *key)
{
	if (key != NULL)
		walstar__v1__key__free_unpacked(key, NULL);
}
