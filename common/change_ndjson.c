/*-------------------------------------------------------------------------
 *
 * change_ndjson.c
 *		A Change as one NDJSON line (see change_ndjson.h).
 *
 * Not the decoder's json form (common/change_json.c): that one runs inside
 * the server and prints through PostgreSQL's output functions.  This one
 * knows only the wire format, so every value kind is rendered here, and a
 * column keeps one JSON type in every line (DuckDB and Spark infer one
 * type per column): timestamps are always strings, int8 always numbers.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "change_key.h"
#include "change_ndjson.h"
#include "change_op.h"
#include "walstar.pb-c.h"

#define TIMESTAMPTZ_OID 1184
#define USECS_PER_DAY INT64_C(86400000000)

void
json_buf_append(JsonBuf *b, const void *data, size_t len)
{
	if (b->oom)
		return;
	if (b->len + len > b->cap)
	{
		size_t		cap = b->cap < 256 ? 256 : b->cap;
		char	   *p;

		while (cap < b->len + len)
			cap *= 2;
		p = realloc(b->data, cap);
		if (p == NULL)
		{
			b->oom = true;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

void
json_buf_free(JsonBuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static void
put(JsonBuf *b, const char *s)
{
	json_buf_append(b, s, strlen(s));
}

static void
putf(JsonBuf *b, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
putf(JsonBuf *b, const char *fmt,...)
{
	char		tmp[128];
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		json_buf_append(b, tmp, (size_t) n < sizeof(tmp) ? (size_t) n : sizeof(tmp) - 1);
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if it is not one. */
static size_t
utf8_length(const unsigned char *s, size_t len)
{
	uint32_t	cp;
	size_t		n,
				i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++)
	{
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		(cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

void
json_buf_string(JsonBuf *b, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *) s;
	size_t		i = 0;

	put(b, "\"");
	while (i < len)
	{
		size_t		start = i;
		size_t		n;

		/* the longest run that needs no escaping, in one append */
		while (i < len && u[i] >= 0x20 && u[i] != '"' && u[i] != '\\' &&
			   (n = utf8_length(u + i, len - i)) > 0)
			i += n;
		json_buf_append(b, s + start, i - start);
		if (i == len)
			break;
		switch (u[i])
		{
			case '"':
				put(b, "\\\"");
				break;
			case '\\':
				put(b, "\\\\");
				break;
			case '\n':
				put(b, "\\n");
				break;
			case '\r':
				put(b, "\\r");
				break;
			case '\t':
				put(b, "\\t");
				break;
			case '\b':
				put(b, "\\b");
				break;
			case '\f':
				put(b, "\\f");
				break;
			default:
				if (u[i] < 0x20)
					putf(b, "\\u%04x", u[i]);
				else
					put(b, "\\ufffd");	/* not UTF-8 */
				break;
		}
		i++;
	}
	put(b, "\"");
}

static void
put_str(JsonBuf *b, const char *s)
{
	json_buf_string(b, s, strlen(s));
}

/* ,"name": */
static void
put_name(JsonBuf *b, const char *name)
{
	put(b, ",");
	put_str(b, name);
	put(b, ":");
}

static void
put_base64(JsonBuf *b, const uint8_t *data, size_t len)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char		q[4];
	size_t		i;

	put(b, "\"");
	for (i = 0; i + 2 < len; i += 3)
	{
		uint32_t	v = (uint32_t) data[i] << 16 | (uint32_t) data[i + 1] << 8 | data[i + 2];

		q[0] = tab[v >> 18];
		q[1] = tab[(v >> 12) & 63];
		q[2] = tab[(v >> 6) & 63];
		q[3] = tab[v & 63];
		json_buf_append(b, q, 4);
	}
	if (i < len)
	{
		uint32_t	v = (uint32_t) data[i] << 16 | (i + 1 < len ? (uint32_t) data[i + 1] << 8 : 0);

		q[0] = tab[v >> 18];
		q[1] = tab[(v >> 12) & 63];
		q[2] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		q[3] = '=';
		json_buf_append(b, q, 4);
	}
	put(b, "\"");
}

static void
put_lsn(JsonBuf *b, const char *name, uint64_t lsn)
{
	put_name(b, name);
	putf(b, "\"%X/%X\"", (uint32_t) (lsn >> 32), (uint32_t) lsn);
}

/* Proleptic Gregorian date of days since 1970-01-01 (year 0 is 1 BC). */
static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t		era;
	int64_t		doe,
				yoe,
				doy,
				mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/*
 * Years 1-9999 as ISO 8601 / RFC 3339 ("T", microseconds, "Z" for
 * timestamptz); beyond, PostgreSQL's ISO text ("+00", " BC"), which no
 * RFC 3339 reader would take anyway.
 */
static void
put_timestamp(JsonBuf *b, int64_t us, bool with_tz)
{
	int64_t		days = us / USECS_PER_DAY;
	int64_t		rem = us % USECS_PER_DAY;
	int64_t		y;
	int			m,
				d;

	if (rem < 0)
	{
		rem += USECS_PER_DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	if (y >= 1 && y <= 9999)
		putf(b, "\"%04" PRId64 "-%02d-%02dT%02d:%02d:%02d.%06d%s\"", y, m, d,
			 (int) (rem / INT64_C(3600000000)), (int) (rem / 60000000 % 60),
			 (int) (rem / 1000000 % 60), (int) (rem % 1000000),
			 with_tz ? "Z" : "");
	else
		putf(b, "\"%04" PRId64 "-%02d-%02d %02d:%02d:%02d.%06d%s%s\"",
			 y >= 1 ? y : 1 - y, m, d,
			 (int) (rem / INT64_C(3600000000)), (int) (rem / 60000000 % 60),
			 (int) (rem / 1000000 % 60), (int) (rem % 1000000),
			 with_tz ? "+00" : "", y >= 1 ? "" : " BC");
}

static void
put_date(JsonBuf *b, int32_t unix_days)
{
	int64_t		y;
	int			m,
				d;

	civil_from_days(unix_days, &y, &m, &d);
	putf(b, "\"%04" PRId64 "-%02d-%02d%s\"", y >= 1 ? y : 1 - y, m, d,
		 y >= 1 ? "" : " BC");
}

/* Shortest text that strtod reads back as the same double. */
static void
put_double(JsonBuf *b, double v)
{
	char		tmp[40];
	int			prec;

	if (isnan(v))
	{
		put(b, "\"NaN\"");
		return;
	}
	if (isinf(v))
	{
		put(b, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		return;
	}
	for (prec = 1; prec < 17; prec++)
	{
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
	put(b, tmp);
}

static bool
is_timestamptz(const Walstar__V1__Column *col)
{
	return col == NULL || col->type_oid == TIMESTAMPTZ_OID ||
		strcmp(col->landing_type, "timestamp with time zone") == 0;
}

static void
put_value(JsonBuf *b, const Walstar__V1__Value *v,
		  const Walstar__V1__Column *col)
{
	switch (v->kind_case)
	{
		case WALSTAR__V1__VALUE__KIND_INT_VALUE:
			putf(b, "%" PRId64, (int64_t) v->int_value);
			return;
		case WALSTAR__V1__VALUE__KIND_DOUBLE_VALUE:
			put_double(b, v->double_value);
			return;
		case WALSTAR__V1__VALUE__KIND_BOOL_VALUE:
			put(b, v->bool_value ? "true" : "false");
			return;
		case WALSTAR__V1__VALUE__KIND_TEXT_VALUE:
			put_str(b, v->text_value);
			return;
		case WALSTAR__V1__VALUE__KIND_NUMERIC_VALUE:
			put_str(b, v->numeric_value);
			return;
		case WALSTAR__V1__VALUE__KIND_BYTES_VALUE:
			put_base64(b, v->bytes_value.data, v->bytes_value.len);
			return;
		case WALSTAR__V1__VALUE__KIND_TIMESTAMP_VALUE:
			put_timestamp(b, v->timestamp_value, is_timestamptz(col));
			return;
		case WALSTAR__V1__VALUE__KIND_DATE_VALUE:
			put_date(b, v->date_value);
			return;
		case WALSTAR__V1__VALUE__KIND_TIME_VALUE:
			if (v->time_value >= 0 && v->time_value <= USECS_PER_DAY)
			{
				int64_t		t = v->time_value;

				putf(b, "\"%02d:%02d:%02d.%06d\"", (int) (t / INT64_C(3600000000)),
					 (int) (t / 60000000 % 60), (int) (t / 1000000 % 60),
					 (int) (t % 1000000));
			}
			else
				put(b, "null");	/* no time of day: not from a decoder */
			return;
		case WALSTAR__V1__VALUE__KIND_UUID_VALUE:
			if (v->uuid_value.len == 16)
			{
				const uint8_t *u = v->uuid_value.data;

				putf(b, "\"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
					 "%02x%02x%02x%02x%02x%02x\"",
					 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8],
					 u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
			}
			else
				put_base64(b, v->uuid_value.data, v->uuid_value.len);
			return;
		case WALSTAR__V1__VALUE__KIND_INTERVAL_VALUE:
			{
				const Walstar__V1__Interval *iv = v->interval_value;

				putf(b, "{\"months\":%" PRId32 ",\"days\":%" PRId32
					 ",\"micros\":%" PRId64 "}",
					 iv ? iv->months : 0, iv ? iv->days : 0,
					 iv ? (int64_t) iv->micros : 0);
				return;
			}
		default:
			/* SQL NULL (and MASKED); unset and unchanged TOAST never get here */
			put(b, "null");
			return;
	}
}

static const char *
column_name(const Walstar__V1__Change *c, size_t i, char *tmp, size_t tmplen)
{
	if (i < c->n_columns)
		return c->columns[i]->name;
	snprintf(tmp, tmplen, "_%zu", i + 1);
	return tmp;
}

/*
 * "name":{column: value, ...} over the columns present in the tuple;
 * unchanged TOAST columns are left out (see "unchanged_toast").
 */
static void
put_tuple(JsonBuf *b, const char *name, const Walstar__V1__Change *c,
		  size_t n, Walstar__V1__Value **values)
{
	bool		first = true;
	char		tmp[24];
	size_t		i;

	put_name(b, name);
	put(b, "{");
	for (i = 0; i < n; i++)
	{
		if (values[i]->kind_case == WALSTAR__V1__VALUE__KIND__NOT_SET ||
			values[i]->kind_case == WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST)
			continue;
		if (!first)
			put(b, ",");
		first = false;
		put_str(b, column_name(c, i, tmp, sizeof(tmp)));
		put(b, ":");
		put_value(b, values[i], i < c->n_columns ? c->columns[i] : NULL);
	}
	put(b, "}");
}

/* "key":{key column: value, ...}, from the Kafka key's values in key order */
static void
put_key(JsonBuf *b, const Walstar__V1__Change *c)
{
	Walstar__V1__Key *key;
	size_t		col = 0;
	size_t		i;

	if (c->key.len == 0)
		return;
	key = change_key_unpack(c->key.data, c->key.len);
	put_name(b, "key");
	if (key == NULL)
	{
		put(b, "null");
		return;
	}
	put(b, "{");
	for (i = 0; i < key->n_values; i++)
	{
		const Walstar__V1__Column *kc = NULL;
		char		tmp[24];

		while (col < c->n_columns && !c->columns[col]->is_key)
			col++;
		if (col < c->n_columns)
			kc = c->columns[col++];
		if (i > 0)
			put(b, ",");
		if (kc != NULL)
			put_str(b, kc->name);
		else
		{
			snprintf(tmp, sizeof(tmp), "_key%zu", i + 1);
			put_str(b, tmp);
		}
		put(b, ":");
		put_value(b, key->values[i], kc);
	}
	put(b, "}");
	change_key_free(key);
}

/* "name":[columns] for which want() holds; nothing when there is none */
static void
put_column_list(JsonBuf *b, const char *name, const Walstar__V1__Change *c,
				bool (*want) (const Walstar__V1__Change *c, size_t i))
{
	bool		first = true;
	size_t		i;

	for (i = 0; i < c->n_columns; i++)
	{
		if (!want(c, i))
			continue;
		if (first)
		{
			put_name(b, name);
			put(b, "[");
		}
		else
			put(b, ",");
		first = false;
		put_str(b, c->columns[i]->name);
	}
	if (!first)
		put(b, "]");
}

static bool
is_unchanged_toast(const Walstar__V1__Change *c, size_t i)
{
	return i < c->n_new_values &&
		c->new_values[i]->kind_case == WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST;
}

static bool
is_masked(const Walstar__V1__Change *c, size_t i)
{
	return c->columns[i]->pii == WALSTAR__V1__PII__MASKED;
}

static bool
is_hashed(const Walstar__V1__Change *c, size_t i)
{
	return c->columns[i]->pii == WALSTAR__V1__PII__HASHED;
}

static void
put_details(JsonBuf *b, const Walstar__V1__Change *c)
{
	size_t		i;

	if (c->truncate != NULL)
	{
		put_name(b, "truncate");
		put(b, "{\"relations\":[");
		for (i = 0; i < c->truncate->n_relations; i++)
		{
			if (i > 0)
				put(b, ",");
			put_str(b, c->truncate->relations[i]);
		}
		putf(b, "],\"cascade\":%s,\"restart_identity\":%s}",
			 c->truncate->cascade ? "true" : "false",
			 c->truncate->restart_identity ? "true" : "false");
	}
	if (c->message != NULL)
	{
		put_name(b, "message");
		putf(b, "{\"transactional\":%s,\"prefix\":",
			 c->message->transactional ? "true" : "false");
		put_str(b, c->message->prefix);
		put(b, ",\"content\":");
		put_base64(b, c->message->content.data, c->message->content.len);
		put(b, "}");
	}
	if (c->commit != NULL)
	{
		put_name(b, "commit");
		putf(b, "{\"change_count\":%" PRIu32 ",\"tables\":[",
			 c->commit->change_count);
		for (i = 0; i < c->commit->n_tables; i++)
		{
			put(b, i > 0 ? ",{\"schema\":" : "{\"schema\":");
			put_str(b, c->commit->tables[i]->schema);
			put(b, ",\"table\":");
			put_str(b, c->commit->tables[i]->table);
			putf(b, ",\"count\":%" PRIu32 "}", c->commit->tables[i]->count);
		}
		put(b, "]");
		put_lsn(b, "end_lsn", c->commit->end_lsn);
		put(b, "}");
	}
	if (c->ddl != NULL)
	{
		put_name(b, "ddl");
		put(b, "{\"command_tag\":");
		put_str(b, c->ddl->command_tag);
		put(b, ",\"steps\":[");
		for (i = 0; i < c->ddl->n_steps; i++)
		{
			const Walstar__V1__DdlStep *st = c->ddl->steps[i];
			const ProtobufCEnumValue *action =
			protobuf_c_enum_descriptor_get_value(&walstar__v1__ddl_action__descriptor,
												 st->action);

			putf(b, "%s{\"action\":\"%s\",\"attnum\":%" PRIu32 ",\"column\":",
				 i > 0 ? "," : "", action ? action->name : "DDL_OTHER",
				 st->attnum);
			put_str(b, st->column);
			put(b, ",\"old_name\":");
			put_str(b, st->old_name);
			put(b, ",\"using\":");
			put_str(b, st->using_expression);
			putf(b, ",\"values_not_sent\":%s}",
				 st->values_not_sent ? "true" : "false");
		}
		put(b, "]}");
	}
}

bool
change_ndjson_append(JsonBuf *b, const uint8_t *record, size_t len,
					 int64_t offset)
{
	Walstar__V1__Change *c = walstar__v1__change__unpack(NULL, len, record);

	if (c == NULL)
	{
		put(b, "{");
		if (offset >= 0)
			putf(b, "\"offset\":%" PRId64 ",", offset);
		put(b, "\"undecodable\":");
		put_base64(b, record, len);
		put(b, "}\n");
		return !b->oom;
	}

	/* the fields every line has, so that readers infer one schema */
	put(b, "{\"op\":");
	put_str(b, change_op_name(c->op));
	put_name(b, "source");
	put_str(b, c->source);
	put_name(b, "schema");
	put_str(b, c->schema);
	put_name(b, "table");
	put_str(b, c->table);
	put_lsn(b, "commit_lsn", c->commit_lsn);
	putf(b, ",\"commit_lsn_int\":%" PRIu64, (uint64_t) c->commit_lsn);
	putf(b, ",\"position\":%" PRIu32, c->position);
	put_name(b, "commit_time");
	if (c->commit_time != 0)
		put_timestamp(b, c->commit_time, true);
	else
		put(b, "null");
	putf(b, ",\"xid\":%" PRIu32, c->xid);
	put_lsn(b, "lsn", c->lsn);
	putf(b, ",\"timeline\":%" PRIu32, c->timeline);
	if (offset >= 0)
		putf(b, ",\"offset\":%" PRId64, offset);

	/* the rest where set */
	if (c->last_in_tx)
		put(b, ",\"last_in_tx\":true");
	if (c->old_key_elsewhere)
		put(b, ",\"old_key_elsewhere\":true");
	if (c->old_row_stashed)
		put(b, ",\"old_row_stashed\":true");
	if (c->system_id != 0)
		putf(b, ",\"system_id\":\"%" PRIu64 "\"", (uint64_t) c->system_id);
	if (c->relation_oid != 0)
		putf(b, ",\"relation_oid\":%" PRIu32, c->relation_oid);
	if (c->subxid != 0)
		putf(b, ",\"subxid\":%" PRIu32, c->subxid);
	if (c->origin[0] != '\0')
	{
		put_name(b, "origin");
		put_str(b, c->origin);
	}
	if (c->gid[0] != '\0')
	{
		put_name(b, "gid");
		put_str(b, c->gid);
	}
	put_key(b, c);
	if (c->n_new_values > 0)
		put_tuple(b, "new", c, c->n_new_values, c->new_values);
	if (c->n_old_values > 0)
		put_tuple(b, "old", c, c->n_old_values, c->old_values);
	put_column_list(b, "unchanged_toast", c, is_unchanged_toast);
	put_column_list(b, "masked", c, is_masked);
	put_column_list(b, "hashed", c, is_hashed);
	put_details(b, c);
	put(b, "}\n");
	walstar__v1__change__free_unpacked(c, NULL);
	return !b->oom;
}
