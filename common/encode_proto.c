/*-------------------------------------------------------------------------
 *
 * encode_proto.c
 *		Protobuf encoding of the per-row parts of a Change, by hand.
 *
 * Row values are most of the bytes and most of the work of a record.
 * protobuf-c packs them through its generic descriptors, sizing every nested
 * message twice; here each Value is one field of a known kind, so sizing
 * and writing are a switch each.  The result is byte-for-byte what
 * protobuf-c produces (zero-valued scalars of Interval omitted as proto3
 * does); the decoder packs the rest of the Change with protobuf-c and
 * appends these repeated fields (field order does not matter to readers).
 * Keys (change_key.c) are written with it too, by the decoder and the
 * sink's initial copy.  Plain C, for the sink as well.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "encode_proto.h"

/* wire types */
#define WT_VARINT 0
#define WT_FIXED64 1
#define WT_LEN 2

#define TAG(field, wt) (((uint32_t) (field) << 3) | (wt))

static inline size_t
varint_size(uint64_t v)
{
	size_t		n = 1;

	while (v >= 0x80)
	{
		v >>= 7;
		n++;
	}
	return n;
}

static inline char *
put_varint(char *p, uint64_t v)
{
	while (v >= 0x80)
	{
		*p++ = (char) (v | 0x80);
		v >>= 7;
	}
	*p++ = (char) v;
	return p;
}

static inline uint64_t
zigzag64(int64_t v)
{
	return ((uint64_t) v << 1) ^ (uint64_t) (v >> 63);
}

static inline uint32_t
zigzag32(int32_t v)
{
	return ((uint32_t) v << 1) ^ (uint32_t) (v >> 31);
}

/* Interval message body: int32_t/int64_t fields, omitted when zero */
static size_t
interval_size(const Walstar__V1__Interval *iv)
{
	size_t		n = 0;

	if (iv->months != 0)
		n += 1 + varint_size((uint64_t) (int64_t) iv->months);
	if (iv->days != 0)
		n += 1 + varint_size((uint64_t) (int64_t) iv->days);
	if (iv->micros != 0)
		n += 1 + varint_size((uint64_t) iv->micros);
	return n;
}

/* Size of a Value message body (one oneof field, or nothing). */
static size_t
value_size(const Walstar__V1__Value *v)
{
	size_t		len;

	switch (v->kind_case)
	{
		case WALSTAR__V1__VALUE__KIND_IS_NULL:
		case WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST:
		case WALSTAR__V1__VALUE__KIND_BOOL_VALUE:
			return 2;
		case WALSTAR__V1__VALUE__KIND_INT_VALUE:
			return 1 + varint_size(zigzag64(v->int_value));
		case WALSTAR__V1__VALUE__KIND_DOUBLE_VALUE:
			return 1 + 8;
		case WALSTAR__V1__VALUE__KIND_TEXT_VALUE:
			len = strlen(v->text_value);
			return 1 + varint_size(len) + len;
		case WALSTAR__V1__VALUE__KIND_NUMERIC_VALUE:
			len = strlen(v->numeric_value);
			return 1 + varint_size(len) + len;
		case WALSTAR__V1__VALUE__KIND_BYTES_VALUE:
			return 1 + varint_size(v->bytes_value.len) + v->bytes_value.len;
		case WALSTAR__V1__VALUE__KIND_UUID_VALUE:
			return 1 + varint_size(v->uuid_value.len) + v->uuid_value.len;
		case WALSTAR__V1__VALUE__KIND_TIMESTAMP_VALUE:
			return 1 + varint_size(zigzag64(v->timestamp_value));
		case WALSTAR__V1__VALUE__KIND_DATE_VALUE:
			return 1 + varint_size(zigzag32(v->date_value));
		case WALSTAR__V1__VALUE__KIND_TIME_VALUE:
			return 1 + varint_size(zigzag64(v->time_value));
		case WALSTAR__V1__VALUE__KIND_INTERVAL_VALUE:
			len = interval_size(v->interval_value);
			return 1 + varint_size(len) + len;
		default:
			return 0;
	}
}

static char *
put_bytes(char *p, uint32_t field, const void *data, size_t len)
{
	*p++ = (char) TAG(field, WT_LEN);
	p = put_varint(p, len);
	memcpy(p, data, len);
	return p + len;
}

static char *
put_value(char *p, const Walstar__V1__Value *v)
{
	switch (v->kind_case)
	{
		case WALSTAR__V1__VALUE__KIND_IS_NULL:
			*p++ = (char) TAG(1, WT_VARINT);
			*p++ = 1;
			break;
		case WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST:
			*p++ = (char) TAG(2, WT_VARINT);
			*p++ = 1;
			break;
		case WALSTAR__V1__VALUE__KIND_INT_VALUE:
			*p++ = (char) TAG(3, WT_VARINT);
			p = put_varint(p, zigzag64(v->int_value));
			break;
		case WALSTAR__V1__VALUE__KIND_DOUBLE_VALUE:
			{
				uint64_t		bits;
				int			i;

				memcpy(&bits, &v->double_value, sizeof(bits));
				*p++ = (char) TAG(4, WT_FIXED64);
				for (i = 0; i < 8; i++)
					*p++ = (char) (bits >> (8 * i));
				break;
			}
		case WALSTAR__V1__VALUE__KIND_BOOL_VALUE:
			*p++ = (char) TAG(5, WT_VARINT);
			*p++ = v->bool_value ? 1 : 0;
			break;
		case WALSTAR__V1__VALUE__KIND_TEXT_VALUE:
			p = put_bytes(p, 6, v->text_value, strlen(v->text_value));
			break;
		case WALSTAR__V1__VALUE__KIND_BYTES_VALUE:
			p = put_bytes(p, 7, v->bytes_value.data, v->bytes_value.len);
			break;
		case WALSTAR__V1__VALUE__KIND_NUMERIC_VALUE:
			p = put_bytes(p, 8, v->numeric_value, strlen(v->numeric_value));
			break;
		case WALSTAR__V1__VALUE__KIND_TIMESTAMP_VALUE:
			*p++ = (char) TAG(9, WT_VARINT);
			p = put_varint(p, zigzag64(v->timestamp_value));
			break;
		case WALSTAR__V1__VALUE__KIND_DATE_VALUE:
			*p++ = (char) TAG(10, WT_VARINT);
			p = put_varint(p, zigzag32(v->date_value));
			break;
		case WALSTAR__V1__VALUE__KIND_TIME_VALUE:
			*p++ = (char) TAG(11, WT_VARINT);
			p = put_varint(p, zigzag64(v->time_value));
			break;
		case WALSTAR__V1__VALUE__KIND_UUID_VALUE:
			p = put_bytes(p, 12, v->uuid_value.data, v->uuid_value.len);
			break;
		case WALSTAR__V1__VALUE__KIND_INTERVAL_VALUE:
			{
				const Walstar__V1__Interval *iv = v->interval_value;

				*p++ = (char) TAG(13, WT_LEN);
				p = put_varint(p, interval_size(iv));
				if (iv->months != 0)
				{
					*p++ = (char) TAG(1, WT_VARINT);
					p = put_varint(p, (uint64_t) (int64_t) iv->months);
				}
				if (iv->days != 0)
				{
					*p++ = (char) TAG(2, WT_VARINT);
					p = put_varint(p, (uint64_t) (int64_t) iv->days);
				}
				if (iv->micros != 0)
				{
					*p++ = (char) TAG(3, WT_VARINT);
					p = put_varint(p, (uint64_t) iv->micros);
				}
				break;
			}
		default:
			break;
	}
	return p;
}

/*
 * Bytes needed for n Values as repeated message field `field`.  The value
 * sizes are remembered in sizes[] (n entries) for encode_proto_values.
 */
size_t
encode_proto_values_size(uint32_t field, size_t n, Walstar__V1__Value **values,
						 uint32_t *sizes)
{
	size_t		total = 0;
	size_t		tag = varint_size(TAG(field, WT_LEN));
	size_t		i;

	for (i = 0; i < n; i++)
	{
		size_t		sz = value_size(values[i]);

		/* a single value beyond 4 GB cannot exist: varlenas end at 1 GB */
		sizes[i] = (uint32_t) sz;
		total += tag + varint_size(sz) + sz;
	}
	return total;
}

/*
 * Write what encode_proto_values_size measured at p; returns the end.
 */
char *
encode_proto_values(char *p, uint32_t field, size_t n,
					Walstar__V1__Value **values, const uint32_t *sizes)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		p = put_varint(p, TAG(field, WT_LEN));
		p = put_varint(p, sizes[i]);
		p = put_value(p, values[i]);
	}
	return p;
}

/* The helpers above for one value, for keys (change_key.c). */
size_t
encode_proto_varint_size(uint64_t v)
{
	return varint_size(v);
}

char *
encode_proto_varint(char *p, uint64_t v)
{
	return put_varint(p, v);
}

size_t
encode_proto_value_size(const Walstar__V1__Value *v)
{
	return value_size(v);
}

char *
encode_proto_value(char *p, const Walstar__V1__Value *v)
{
	return put_value(p, v);
}
