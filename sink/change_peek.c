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
#include <stdlib.h>
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
			{
				/* kind not set, or one this reader does not know */
				const ProtobufCFieldDescriptor *f =
					protobuf_c_message_descriptor_get_field(
						&walstar__v1__value__descriptor,
						(unsigned)v->kind_case);

				ADD("<%s>", f != NULL ? f->name : "unset");
				break;
			}
		}
	}
	ADD(")");
#undef ADD
	walstar__v1__key__free_unpacked(k, NULL);
}

typedef struct Span
{
	const uint8_t *p;
	size_t		   n;
} Span;

static uint8_t *
put_varint(uint8_t *o, uint64_t v)
{
	while (v >= 0x80)
	{
		*o++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*o++ = (uint8_t)v;
	return o;
}

/* Column.is_key of a serialized Column. */
static bool
column_is_key(const uint8_t *p, const uint8_t *end)
{
	while (p < end)
	{
		uint64_t tag, v;

		if (!read_varint(&p, end, &tag))
			return false;
		if ((tag >> 3) == 5 && (tag & 7) == 0)
			return read_varint(&p, end, &v) && v != 0;
		if (!skip_field(&p, end, (int)(tag & 7)))
			return false;
	}
	return false;
}

/*
 * Walk the top-level fields; with spans != NULL, remember the columns
 * (is_key in iskey), new_values and old_values.  Counts in n[0..2].
 */
static bool
scan_row(const uint8_t *data, size_t len, size_t n[3], Span *newv, Span *oldv,
		 bool *iskey)
{
	const uint8_t *p = data;
	const uint8_t *end = data + len;

	n[0] = n[1] = n[2] = 0;
	while (p < end)
	{
		uint64_t	   tag, v;
		const uint8_t *start;

		if (!read_varint(&p, end, &tag))
			return false;
		if ((tag & 7) != 2)
		{
			if (!skip_field(&p, end, (int)(tag & 7)))
				return false;
			continue;
		}
		if (!read_varint(&p, end, &v) || v > (uint64_t)(end - p))
			return false;
		start = p;
		p += v;
		switch (tag >> 3)
		{
			case 6:
				if (iskey != NULL)
					iskey[n[0]] = column_is_key(start, p);
				n[0]++;
				break;
			case 7:
				if (newv != NULL)
					newv[n[1]] = (Span){start, v};
				n[1]++;
				break;
			case 8:
				if (oldv != NULL)
					oldv[n[2]] = (Span){start, v};
				n[2]++;
				break;
			default:
				break;
		}
	}
	return true;
}

bool
change_old_key_delete(const uint8_t *data, size_t len, const ChangePeek *c,
					  uint8_t **rec, size_t *rec_len, size_t *key_off,
					  size_t *key_len)
{
	size_t		   n[3];
	Span		  *newv = NULL;
	Span		  *oldv = NULL;
	Span		  *keyv = NULL;
	size_t		  *map = NULL;
	bool		  *iskey = NULL;
	bool		  *used = NULL;
	uint8_t		  *out = NULL;
	uint8_t		  *o;
	const uint8_t *p, *end;
	size_t		   ncols, nkeys = 0, nkeycols = 0, i, k, oldkey_len = 0;
	bool		   ok = false;

	*rec = NULL;
	if (c->op != WALSTAR__V1__OP__UPDATE || c->key == NULL ||
		!scan_row(data, len, n, NULL, NULL, NULL))
		return false;
	ncols = n[0];
	if (ncols == 0 || n[1] != ncols || n[2] != ncols)
		return false; /* no old tuple: the key did not change */

	/* the new key's values, in key order */
	for (p = c->key, end = c->key + c->key_len; p < end;)
	{
		uint64_t tag;

		if (!read_varint(&p, end, &tag) || tag != ((1 << 3) | 2) ||
			!skip_field(&p, end, 2))
			return false;
		nkeys++;
	}

	newv = calloc(ncols, sizeof(Span));
	oldv = calloc(ncols, sizeof(Span));
	iskey = calloc(ncols, sizeof(bool));
	used = calloc(ncols, sizeof(bool));
	keyv = calloc(nkeys, sizeof(Span));
	map = calloc(nkeys, sizeof(size_t));
	if (newv == NULL || oldv == NULL || iskey == NULL || used == NULL ||
		keyv == NULL || map == NULL)
		goto done;
	if (!scan_row(data, len, n, newv, oldv, iskey))
		goto done;
	for (p = c->key, end = c->key + c->key_len, k = 0; p < end; k++)
	{
		uint64_t tag, v;

		if (!read_varint(&p, end, &tag) || !read_varint(&p, end, &v))
			goto done;
		keyv[k] = (Span){p, v};
		p += v;
	}

	/*
	 * Which key column each key position is: Column.is_key is in table
	 * order, the key in index order.  The decoder takes a key value from the
	 * new tuple, from the old one when the new one is an unchanged TOAST.
	 */
	for (i = 0; i < ncols; i++)
	{
		if (!iskey[i])
			continue;
		nkeycols++;
		if (oldv[i].n == 0)
			goto done; /* old key value not sent */
		if (newv[i].n == 2 && newv[i].p[0] == 0x10 && newv[i].p[1] == 1)
			newv[i] = oldv[i];
	}
	if (nkeycols != nkeys)
		goto done;
	for (k = 0; k < nkeys; k++)
	{
		for (i = 0; i < ncols; i++)
			if (iskey[i] && !used[i] && newv[i].n == keyv[k].n &&
				memcmp(newv[i].p, keyv[k].p, keyv[k].n) == 0)
				break;
		if (i == ncols)
			goto done;
		used[i] = true;
		map[k] = i;
		oldkey_len += 1 + 10 + oldv[i].n;
	}

	/*
	 * The DELETE: every field of the UPDATE except op, new_values and key,
	 * then op = DELETE and key = the old key, encoded like the decoder's
	 * (field 1, length, the old value's bytes as they are).
	 */
	out = malloc(len + oldkey_len + 32);
	if (out == NULL)
		goto done;
	o = out;
	for (p = data, end = data + len; p < end;)
	{
		const uint8_t *fstart = p;
		uint64_t	   tag, f;

		if (!read_varint(&p, end, &tag) ||
			!skip_field(&p, end, (int)(tag & 7)))
			goto done;
		f = tag >> 3;
		if (f == 3 || f == 7 || f == 9)
			continue;
		memcpy(o, fstart, (size_t)(p - fstart));
		o += p - fstart;
	}
	o = put_varint(o, (3 << 3) | 0);
	o = put_varint(o, WALSTAR__V1__OP__DELETE);
	{
		uint8_t *kstart;
		size_t	 klen;

		o = put_varint(o, (9 << 3) | 2);
		/* length unknown until written: write the key after a 5-byte gap */
		kstart = o + 5;
		o = kstart;
		for (k = 0; k < nkeys; k++)
		{
			o = put_varint(o, (1 << 3) | 2);
			o = put_varint(o, oldv[map[k]].n);
			memcpy(o, oldv[map[k]].p, oldv[map[k]].n);
			o += oldv[map[k]].n;
		}
		klen = (size_t)(o - kstart);
		if (klen == c->key_len && memcmp(kstart, c->key, klen) == 0)
			goto done; /* the key did not change */
		{
			uint8_t	 lenbuf[10];
			uint8_t *le = put_varint(lenbuf, klen);
			uint8_t *dst = kstart - 5;

			memcpy(dst, lenbuf, (size_t)(le - lenbuf));
			memmove(dst + (le - lenbuf), kstart, klen);
			*key_off = (size_t)(dst + (le - lenbuf) - out);
			*key_len = klen;
			o = dst + (le - lenbuf) + klen;
		}
	}
	*rec = out;
	*rec_len = (size_t)(o - out);
	out = NULL;
	ok = true;
done:
	free(out);
	free(newv);
	free(oldv);
	free(iskey);
	free(used);
	free(keyv);
	free(map);
	return ok;
}
