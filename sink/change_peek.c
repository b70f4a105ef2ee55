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

#include "change_check.h"
#include "change_key.h"
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

/* The first varint field number field of a message, 0 if there is none. */
static uint64_t
varint_field(const uint8_t *p, const uint8_t *end, uint64_t field)
{
	while (p < end)
	{
		uint64_t tag, v;

		if (!read_varint(&p, end, &tag))
			return 0;
		if ((tag >> 3) == field && (tag & 7) == 0)
			return read_varint(&p, end, &v) ? v : 0;
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
				case 2:
					out->source = (const char *)start;
					out->source_len = v;
					break;
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
					/* Commit.end_lsn */
					out->end_lsn = varint_field(start, p, 3);
					break;
				default:
					break;
			}
			continue;
		}
		if (wt == 1 && field == 23)
		{
			int i;

			if (end - p < 8)
				return false;
			out->system_id = 0;
			for (i = 7; i >= 0; i--)
				out->system_id = (out->system_id << 8) | p[i];
			p += 8;
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
	k = change_key_unpack(key, key_len);
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
	change_key_free(k);
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
					/* Column.is_key */
					iskey[n[0]] = varint_field(start, p, 5) != 0;
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
change_has_unchanged_toast(const uint8_t *data, size_t len)
{
	const uint8_t *p = data;
	const uint8_t *end = data + len;

	while (p < end)
	{
		uint64_t tag, v;

		if (!read_varint(&p, end, &tag))
			return false;
		if (tag != ((7 << 3) | 2))
		{
			if (!skip_field(&p, end, (int)(tag & 7)))
				return false;
			continue;
		}
		if (!read_varint(&p, end, &v) || v > (uint64_t)(end - p))
			return false;
		/* Value.unchanged_toast = true, as the decoder encodes it */
		if (v == 2 && p[0] == 0x10 && p[1] == 1)
			return true;
		p += v;
	}
	return false;
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

/*
 * The invariants' view of a record, read from its bytes.  The rules are
 * change_check.c's; this only finds the fields they read, with protobuf-c's
 * semantics (last occurrence of a field wins, strings end at a NUL, a known
 * field with another wire type fails the message) so that the sink refuses
 * exactly what the extension would.
 */
struct ChangeScan
{
	CheckColumn		  *columns;		 /* columns of the record being checked */
	CheckColumn		  *good_columns; /* those of the last record that passed */
	size_t			   n_good;		 /* entries of good_columns */
	uint8_t			  *good;	 /* their serialized bytes (field 6 entries) */
	size_t			   good_len; /* bytes used in good */
	size_t			   good_cap; /* bytes allocated for good */
	const CheckColumn *cur;		 /* columns or good_columns, for the rules */
	CheckValue		  *values[2]; /* new_values, old_values */
};

/* Wire types of Change fields 1..22 (walstar.proto). */
static const int8_t change_wire_types[] = {-1, 0, 2, 0, 2, 2, 2, 2, 2, 2, 0, 0,
										   0,  0, 0, 0, 2, 2, 2, 2, 2, 0, 0};

ChangeScan *
change_scan_create(void)
{
	ChangeScan *scan = calloc(1, sizeof(ChangeScan));

	if (scan == NULL)
		return NULL;
	scan->columns = calloc(CHANGE_COLUMNS_MAX, sizeof(CheckColumn));
	scan->good_columns = calloc(CHANGE_COLUMNS_MAX, sizeof(CheckColumn));
	scan->values[0] = calloc(CHANGE_COLUMNS_MAX, sizeof(CheckValue));
	scan->values[1] = calloc(CHANGE_COLUMNS_MAX, sizeof(CheckValue));
	if (scan->columns == NULL || scan->good_columns == NULL ||
		scan->values[0] == NULL || scan->values[1] == NULL)
	{
		change_scan_destroy(scan);
		return NULL;
	}
	return scan;
}

void
change_scan_destroy(ChangeScan *scan)
{
	if (scan == NULL)
		return;
	free(scan->columns);
	free(scan->good_columns);
	free(scan->good);
	free(scan->values[0]);
	free(scan->values[1]);
	free(scan);
}

/*
 * The next field of a message whose fields 1..nknown have the wire types
 * wire_types[]: its number (0 for a field this reader does not know,
 * skipped), its varint or length in *v and, for length-delimited and
 * fixed64 fields, its bytes at *start; *p moves past it.  False when
 * protobuf-c would refuse the message (field 0, a known field with another
 * wire type, truncated bytes).
 */
static bool
next_field(const uint8_t **p, const uint8_t *end, const int8_t *wire_types,
		   uint64_t nknown, uint64_t *field, uint64_t *v,
		   const uint8_t **start)
{
	uint64_t tag;
	int		 wt;

	*v = 0;
	if (!read_varint(p, end, &tag))
		return false;
	*field = tag >> 3;
	wt = (int)(tag & 7);
	if (*field == 0)
		return false;
	if (*field > nknown)
	{
		*field = 0;
		return skip_field(p, end, wt);
	}
	if (wt != wire_types[*field])
		return false;
	*start = *p;
	if (wt == 1)
	{
		if (end - *p < 8)
			return false;
		*p += 8;
		return true;
	}
	if (!read_varint(p, end, v))
		return false;
	if (wt == 2)
	{
		if (*v > (uint64_t)(end - *p))
			return false;
		*start = *p;
		*p += *v;
	}
	return true;
}

/* A string field: its bytes up to the first NUL, as the unpacked C string. */
static CheckText
wire_text(const uint8_t *p, size_t n)
{
	CheckText t = {(const char *)p, strnlen((const char *)p, n)};

	return t;
}

static int64_t
unzigzag64(uint64_t v)
{
	return (int64_t)((v >> 1) ^ (~(v & 1) + 1));
}

/* The fields of an Interval; false when protobuf-c would not unpack it. */
static bool
read_interval(const uint8_t *p, const uint8_t *end)
{
	while (p < end)
	{
		uint64_t tag;

		if (!read_varint(&p, end, &tag))
			return false;
		if ((tag >> 3) >= 1 && (tag >> 3) <= 3 && (tag & 7) != 0)
			return false;
		if (!skip_field(&p, end, (int)(tag & 7)))
			return false;
	}
	return true;
}

/* Wire types of Value fields 1..13 (walstar.proto). */
static const int8_t value_wire_types[] = {-1, 0, 0, 0, 1, 0, 2,
										  2,  2, 0, 0, 0, 2, 2};

static bool
read_value(const uint8_t *p, const uint8_t *end, CheckValue *out)
{
	memset(out, 0, sizeof(*out));
	while (p < end)
	{
		uint64_t	   field, v;
		const uint8_t *start;

		if (!next_field(&p, end, value_wire_types, 13, &field, &v, &start))
			return false;
		if (field == 0)
			continue;
		/* a later member of the oneof replaces the earlier one */
		memset(out, 0, sizeof(*out));
		out->kind = (int)field;
		switch (field)
		{
			case WALSTAR__V1__VALUE__KIND_TEXT_VALUE:
			case WALSTAR__V1__VALUE__KIND_NUMERIC_VALUE:
				out->text = wire_text(start, (size_t)v);
				break;
			case WALSTAR__V1__VALUE__KIND_TIMESTAMP_VALUE:
			case WALSTAR__V1__VALUE__KIND_TIME_VALUE:
				out->number = unzigzag64(v);
				break;
			case WALSTAR__V1__VALUE__KIND_DATE_VALUE:
			{
				/* sint32: protobuf-c keeps the low 32 bits */
				uint32_t u = (uint32_t)v;

				out->number = (int32_t)((u >> 1) ^ (~(u & 1) + 1));
				break;
			}
			case WALSTAR__V1__VALUE__KIND_UUID_VALUE:
				out->bytes_len = (size_t)v;
				break;
			case WALSTAR__V1__VALUE__KIND_INTERVAL_VALUE:
				if (!read_interval(start, p))
					return false;
				out->has_interval = true;
				break;
			default:
				break;
		}
	}
	return true;
}

/* Wire types of Column fields 1..6 (walstar.proto). */
static const int8_t column_wire_types[] = {-1, 2, 0, 2, 2, 0, 0};

static bool
read_column(const uint8_t *p, const uint8_t *end, CheckColumn *out)
{
	static const char empty[] = "";

	out->name = out->type_name = out->landing_type = (CheckText){empty, 0};
	out->is_key = false;
	while (p < end)
	{
		uint64_t	   field, v;
		const uint8_t *start;
		CheckText	   t;

		if (!next_field(&p, end, column_wire_types, 6, &field, &v, &start))
			return false;
		if (field == 5)
			out->is_key = v != 0;
		if (field != 1 && field != 3 && field != 4)
			continue;
		t = wire_text(start, (size_t)v);
		if (field == 1)
			out->name = t;
		else if (field == 3)
			out->type_name = t;
		else
			out->landing_type = t;
	}
	return true;
}

/* The column fields of p..end into cols (n of them); false if malformed. */
static bool
read_columns(const uint8_t *p, const uint8_t *end, CheckColumn *cols, size_t n)
{
	size_t i = 0;

	while (p < end)
	{
		uint64_t tag, v;

		if (!read_varint(&p, end, &tag))
			return false;
		if (tag != ((6 << 3) | 2))
		{
			if (!skip_field(&p, end, (int)(tag & 7)))
				return false;
			continue;
		}
		if (i == n || !read_varint(&p, end, &v) || v > (uint64_t)(end - p) ||
			!read_column(p, p + v, &cols[i++]))
			return false;
		p += v;
	}
	return i == n;
}

static void
scan_column(const void *arg, size_t i, CheckColumn *out)
{
	*out = ((const ChangeScan *)arg)->cur[i];
}

static void
scan_value(const void *arg, bool old, size_t i, CheckValue *out)
{
	*out = ((const ChangeScan *)arg)->values[old ? 1 : 0][i];
}

/* t moved along with the bytes from..from+len copied to to */
static void
rebase(CheckText *t, const uint8_t *from, size_t len, const uint8_t *to)
{
	const uint8_t *q = (const uint8_t *)t->p;

	if (q >= from && q < from + len)
		t->p = (const char *)(to + (q - from));
}

const char *
change_peek_check(ChangeScan *scan, const uint8_t *data, size_t len, char *buf)
{
	static const char empty[] = "";
	const uint8_t	 *p = data;
	const uint8_t	 *end = data + len;
	const uint8_t	 *cols_start = NULL; /* first column field */
	const uint8_t	 *cols_end = NULL;	 /* end of the last one */
	bool			  contiguous = true; /* nothing between column fields */
	ChangeCheckView	  view;
	const char		 *problem;

	memset(&view, 0, sizeof(view));
	view.source = view.schema = view.table = (CheckText){empty, 0};
	while (p < end)
	{
		const uint8_t *fstart = p;
		uint64_t	   v, field;
		const uint8_t *start;

		if (!next_field(&p, end, change_wire_types, 22, &field, &v, &start))
			goto malformed;
		if (field == 1)
			view.version = (uint32_t)v;
		else if (field == 3)
			view.op = (int32_t)(uint32_t)v;
		else if (field == 6)
		{
			if (cols_start == NULL)
				cols_start = fstart;
			else if (cols_end != fstart)
				contiguous = false;
			cols_end = p;
			view.n_columns++;
		}
		else if (field == 7 || field == 8)
		{
			int		which = field == 8;
			size_t *n = which ? &view.n_old_values : &view.n_new_values;

			/* beyond CHANGE_COLUMNS_MAX the count alone fails the record */
			if (*n < CHANGE_COLUMNS_MAX &&
				!read_value(start, p, &scan->values[which][*n]))
				goto malformed;
			(*n)++;
		}
		else if (field == 2)
			view.source = wire_text(start, (size_t)v);
		else if (field == 4)
			view.schema = wire_text(start, (size_t)v);
		else if (field == 5)
			view.table = wire_text(start, (size_t)v);
	}

	scan->cur = scan->columns;
	if (view.n_columns > 0 && view.n_columns <= CHANGE_COLUMNS_MAX)
	{
		size_t cols_len = (size_t)(cols_end - cols_start);

		if (contiguous && view.n_columns == scan->n_good &&
			cols_len == scan->good_len &&
			memcmp(cols_start, scan->good, cols_len) == 0)
		{
			scan->cur = scan->good_columns;
			view.columns_known_good = true;
		}
		else if (!(contiguous ? read_columns(cols_start, cols_end,
											 scan->columns, view.n_columns)
							  : read_columns(data, end, scan->columns,
											 view.n_columns)))
			goto malformed;
	}
	view.column = scan_column;
	view.value = scan_value;
	view.arg = scan;
	problem = change_check_view(&view, buf);

	/* remember columns that passed, pointing into a copy of their bytes */
	if (problem == NULL && !view.columns_known_good && contiguous &&
		view.n_columns > 0)
	{
		size_t		 cols_len = (size_t)(cols_end - cols_start);
		CheckColumn *tmp;
		size_t		 i;

		if (cols_len > scan->good_cap)
		{
			uint8_t *g = realloc(scan->good, cols_len);

			if (g == NULL)
			{
				scan->n_good = 0;
				return NULL; /* the record passed; only the cache is lost */
			}
			scan->good = g;
			scan->good_cap = cols_len;
		}
		memcpy(scan->good, cols_start, cols_len);
		scan->good_len = cols_len;
		for (i = 0; i < view.n_columns; i++)
		{
			CheckColumn *c = &scan->columns[i];

			rebase(&c->name, cols_start, cols_len, scan->good);
			rebase(&c->type_name, cols_start, cols_len, scan->good);
			rebase(&c->landing_type, cols_start, cols_len, scan->good);
		}
		tmp = scan->good_columns;
		scan->good_columns = scan->columns;
		scan->columns = tmp;
		scan->n_good = view.n_columns;
	}
	return problem;

malformed:
	snprintf(buf, CHANGE_CHECK_REASON_MAX,
			 "not a walstar.v1.Change protobuf message (%zu bytes)", len);
	return buf;
}
