/*-------------------------------------------------------------------------
 *
 * change_peek.c
 *		Read routing fields of a Change straight from the wire format.
 *
 * protobuf-c's unpack allocates the whole message (columns, values); the
 * sink only needs a dozen scalars per record, at 100k records per second,
 * so it walks the top-level fields itself and skips the rest.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "walstar.pb-c.h"

#include "change_peek.h"

static bool
read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;
	int		 shift = 0;

	while (*p < end && shift < 64)
	{
		uint8_t b = *(*p)++;

		r |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0)
		{
			*v = r;
			return true;
		}
		shift += 7;
	}
	return false;
}

/* Skip one field of wire type wt; false on malformed input. */
static bool
skip_field(const uint8_t **p, const uint8_t *end, int wt)
{
	uint64_t v;

	switch (wt)
	{
		case 0:
			return read_varint(p, end, &v);
		case 1:
			if (end - *p < 8)
				return false;
			*p += 8;
			return true;
		case 2:
			if (!read_varint(p, end, &v) || v > (uint64_t)(end - *p))
				return false;
			*p += v;
			return true;
		case 5:
			if (end - *p < 4)
				return false;
			*p += 4;
			return true;
		default:
			return false;
	}
}

static uint64_t
commit_end_lsn(const uint8_t *p, const uint8_t *end)
{
	while (p < end)
	{
		uint64_t tag, v;

		if (!read_varint(&p, end, &tag))
			return 0;
		if ((tag >> 3) == 3 && (tag & 7) == 0)
		{
			if (!read_varint(&p, end, &v))
				return 0;
			return v;
		}
		if (!skip_field(&p, end, (int)(tag & 7)))
			return 0;
	}
	return 0;
}

bool
change_peek(const uint8_t *data, size_t len, ChangePeek *out)
{
	const uint8_t *p = data;
	const uint8_t *end = data + len;

	memset(out, 0, sizeof(*out));
	while (p < end)
	{
		uint64_t tag, v;
		int		 field, wt;

		if (!read_varint(&p, end, &tag))
			return false;
		field = (int)(tag >> 3);
		wt = (int)(tag & 7);
		if (wt == 2)
		{
			const uint8_t *start;

			if (!read_varint(&p, end, &v) || v > (uint64_t)(end - p))
				return false;
			start = p;
			p += v;
			switch (field)
			{
				case 4:
					out->schema = (const char *)start;
					out->schema_len = v;
					break;
				case 5:
					out->table = (const char *)start;
					out->table_len = v;
					break;
				case 9:
					out->key = v > 0 ? start : NULL;
					out->key_len = v;
					break;
				case 18:
					out->end_lsn = commit_end_lsn(start, p);
					break;
				default:
					break;
			}
			continue;
		}
		if (wt != 0)
		{
			if (!skip_field(&p, end, wt))
				return false;
			continue;
		}
		if (!read_varint(&p, end, &v))
			return false;
		switch (field)
		{
			case 3:
				out->op = (int)v;
				break;
			case 10:
				out->xid = (uint32_t)v;
				break;
			case 11:
				out->commit_lsn = v;
				break;
			case 12:
				/* sint64: zigzag */
				out->commit_time = (int64_t)((v >> 1) ^ (~(v & 1) + 1));
				break;
			case 13:
				out->lsn = v;
				break;
			case 14:
				out->position = (uint32_t)v;
				break;
			default:
				break;
		}
	}
	return true;
}

const char *
change_op_name(int op)
{
	const ProtobufCEnumValue *ev =
		protobuf_c_enum_descriptor_get_value(&walstar__v1__op__descriptor, op);

	return ev != NULL ? ev->name : "UNKNOWN";
}

void
change_key_text(const uint8_t *key, size_t key_len, char *buf, size_t buflen)
{
	Walstar__V1__Key *k;
	size_t			  pos = 0;
	size_t			  i;

	buf[0] = '\0';
	if (key == NULL || key_len == 0)
	{
		snprintf(buf, buflen, "(none)");
		return;
	}
	k = walstar__v1__key__unpack(NULL, key_len, key);
	if (k == NULL)
	{
		snprintf(buf, buflen, "(undecodable key)");
		return;
	}
#define ADD(...)                                                              \
	do                                                                        \
	{                                                                         \
		int n_ = snprintf(buf + pos, buflen - pos, __VA_ARGS__);              \
		if (n_ > 0)                                                           \
			pos += (size_t)n_;                                                \
		if (pos >= buflen)                                                    \
			pos = buflen - 1;                                                 \
	} while (0)
	ADD("(");
	for (i = 0; i < k->n_values; i++)
	{
		const Walstar__V1__Value *v = k->values[i];

		if (i > 0)
			ADD(",");
		switch (v->kind_case)
		{
			case WALSTAR__V1__VALUE__KIND_INT_VALUE:
				ADD("%" PRId64, v->int_value);
				break;
			case WALSTAR__V1__VALUE__KIND_TEXT_VALUE:
				ADD("'%.64s'", v->text_value);
				break;
			case WALSTAR__V1__VALUE__KIND_NUMERIC_VALUE:
				ADD("%s", v->numeric_value);
				break;
			case WALSTAR__V1__VALUE__KIND_IS_NULL:
				ADD("NULL");
				break;
			case WALSTAR__V1__VALUE__KIND_BOOL_VALUE:
				ADD("%s", v->bool_value ? "true" : "false");
				break;
			default:
				ADD("<%s>", protobuf_c_message_descriptor_get_field(
								&walstar__v1__value__descriptor,
								(unsigned)v->kind_case)
								->name);
				break;
		}
	}
	ADD(")");
#undef ADD
	walstar__v1__key__free_unpacked(k, NULL);
}
