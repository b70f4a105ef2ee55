/*-------------------------------------------------------------------------
 *
 * change_key.c
 *		Packing and reading Change.key (see change_key.h).
 *
 *-------------------------------------------------------------------------
 */
#include "change_key.h"
#include "encode_proto.h"

/* Key.values is field 1, length-delimited: (1 << 3) | 2 */
#define KEY_VALUE_TAG 0x0a

/*
 * By hand (encode_proto.c), not through protobuf-c: the decoder packs a key
 * for every row change, and protobuf-c sizes each nested Value twice.
 */
size_t
change_key_size(Walstar__V1__Value **values, size_t n)
{
	size_t		total = 0;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		size_t		sz = encode_proto_value_size(values[i]);

		total += 1 + encode_proto_varint_size(sz) + sz;
	}
	return total;
}

size_t
change_key_pack(Walstar__V1__Value **values, size_t n, uint8_t *out)
{
	char	   *p = (char *) out;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		*p++ = KEY_VALUE_TAG;
		p = encode_proto_varint(p, encode_proto_value_size(values[i]));
		p = encode_proto_value(p, values[i]);
	}
	return (size_t) (p - (char *) out);
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
