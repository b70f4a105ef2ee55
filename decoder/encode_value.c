/*-------------------------------------------------------------------------
 *
 * encode_value.c
 *		One column datum -> one typed walstar Value.
 *
 * Fixed-width types are read straight from the datum (no text round trip);
 * text-like varlenas are detoasted and copied once; numeric goes through
 * numeric_out (exact decimal text); every other type through its output
 * function, cached in the relation cache with its fn_extra state.
 *
 * Everything is allocated in the caller's (per-change) memory context.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "walstar_decoder.h"


static char *text_to_utf8(const char *data, int len, bool to_utf8);
static void set_text(Walstar__V1__Value *v, char *s);
static char *utc_text(Timestamp ts);

/*
 * Server-encoded text as a NUL-terminated string, converted to UTF-8 when
 * to_utf8 (protobuf strings are UTF-8).  Always a fresh copy.
 */
static char *
text_to_utf8(const char *data, int len, bool to_utf8)
{
	char	   *s;

	if (to_utf8)
	{
		s = pg_server_to_any(data, len, PG_UTF8);
		if (s != data)
			return s;
	}
	s = palloc(len + 1);
	memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

/*
 * ISO text of a timestamp in UTC, independent of the session's DateStyle
 * and TimeZone: for the few late timestamps whose Unix-epoch microseconds
 * do not fit in 64 bits.
 */
static char *
utc_text(Timestamp ts)
{
	int64		days = ts / USECS_PER_DAY;
	int64		rem = ts % USECS_PER_DAY;
	int			year,
				month,
				day;

	if (rem < 0)
	{
		rem += USECS_PER_DAY;
		days--;
	}
	j2date((int) (days + POSTGRES_EPOCH_JDATE), &year, &month, &day);
	return psprintf("%04d-%02d-%02d %02d:%02d:%02d.%06d+00",
					year, month, day,
					(int) (rem / USECS_PER_HOUR),
					(int) ((rem / USECS_PER_MINUTE) % 60),
					(int) ((rem / USECS_PER_SEC) % 60),
					(int) (rem % USECS_PER_SEC));
}

static void
set_text(Walstar__V1__Value *v, char *s)
{
	v->kind_case = WALSTAR__V1__VALUE__KIND_TEXT_VALUE;
	v->text_value = s;
}

/*
 * Fill *v for one column.  to_utf8: convert text from the server encoding
 * (protobuf strings are UTF-8).  salt: hash-salt for HASHED columns.
 */
void
encode_value(const ColumnInfo *col, Datum datum, bool isnull, bool to_utf8,
			 const char *salt, Walstar__V1__Value *v)
{
	static const Walstar__V1__Value init = WALSTAR__V1__VALUE__INIT;

	*v = init;

	if (isnull || col->pii == WALSTAR__V1__PII__MASKED)
	{
		v->kind_case = WALSTAR__V1__VALUE__KIND_IS_NULL;
		v->is_null = true;
		return;
	}

	/*
	 * A TOAST pointer to disk in a decoded tuple means the value was not
	 * changed (and not logged) by this UPDATE: say so, never send a
	 * placeholder.
	 */
	if (col->varlena && VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(datum)))
	{
		v->kind_case = WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST;
		v->unchanged_toast = true;
		return;
	}

	if (col->pii == WALSTAR__V1__PII__HASHED)
	{
		char	   *text = OutputFunctionCall((FmgrInfo *) &col->output, datum);
		char	   *utf8 = pg_server_to_any(text, strlen(text), PG_UTF8);

		set_text(v, pii_hash_hex(salt, utf8, strlen(utf8)));
		return;
	}

	switch (col->kind)
	{
		case VK_INT2:
			v->kind_case = WALSTAR__V1__VALUE__KIND_INT_VALUE;
			v->int_value = DatumGetInt16(datum);
			break;
		case VK_INT4:
			v->kind_case = WALSTAR__V1__VALUE__KIND_INT_VALUE;
			v->int_value = DatumGetInt32(datum);
			break;
		case VK_INT8:
			v->kind_case = WALSTAR__V1__VALUE__KIND_INT_VALUE;
			v->int_value = DatumGetInt64(datum);
			break;
		case VK_OID:
			v->kind_case = WALSTAR__V1__VALUE__KIND_INT_VALUE;
			v->int_value = DatumGetObjectId(datum);
			break;
		case VK_FLOAT4:
			v->kind_case = WALSTAR__V1__VALUE__KIND_DOUBLE_VALUE;
			v->double_value = (double) DatumGetFloat4(datum);
			break;
		case VK_FLOAT8:
			v->kind_case = WALSTAR__V1__VALUE__KIND_DOUBLE_VALUE;
			v->double_value = DatumGetFloat8(datum);
			break;
		case VK_BOOL:
			v->kind_case = WALSTAR__V1__VALUE__KIND_BOOL_VALUE;
			v->bool_value = DatumGetBool(datum);
			break;
		case VK_NUMERIC:
			v->kind_case = WALSTAR__V1__VALUE__KIND_NUMERIC_VALUE;
			v->numeric_value = DatumGetCString(DirectFunctionCall1(numeric_out, datum));
			break;
		case VK_TEXT:
			{
				struct varlena *t = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(datum));

				set_text(v, text_to_utf8(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), to_utf8));
				break;
			}
		case VK_NAME:
			{
				const char *n = NameStr(*DatumGetName(datum));

				set_text(v, text_to_utf8(n, strlen(n), to_utf8));
				break;
			}
		case VK_BYTEA:
			{
				struct varlena *t = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(datum));

				v->kind_case = WALSTAR__V1__VALUE__KIND_BYTES_VALUE;
				v->bytes_value.data = (uint8_t *) VARDATA_ANY(t);
				v->bytes_value.len = VARSIZE_ANY_EXHDR(t);
				break;
			}
		case VK_DATE:
			{
				DateADT		d = DatumGetDateADT(datum);

				if (DATE_NOT_FINITE(d))
					set_text(v, pstrdup(DATE_IS_NOBEGIN(d) ? "-infinity" : "infinity"));
				else
				{
					/* in range: dates end well before INT32_MAX - shift */
					v->kind_case = WALSTAR__V1__VALUE__KIND_DATE_VALUE;
					v->date_value = d + WALSTAR_PG_EPOCH_DAYS;
				}
				break;
			}
		case VK_TIME:
			v->kind_case = WALSTAR__V1__VALUE__KIND_TIME_VALUE;
			v->time_value = DatumGetTimeADT(datum);
			break;
		case VK_TIMESTAMP:
		case VK_TIMESTAMPTZ:
			{
				int64		ts = DatumGetTimestamp(datum);
				int64		unix_us;

				if (TIMESTAMP_IS_NOBEGIN(ts))
					set_text(v, pstrdup("-infinity"));
				else if (TIMESTAMP_IS_NOEND(ts))
					set_text(v, pstrdup("infinity"));
				else if (pg_add_s64_overflow(ts, WALSTAR_PG_EPOCH_USECS, &unix_us))
					set_text(v, utc_text(ts));
				else
				{
					v->kind_case = WALSTAR__V1__VALUE__KIND_TIMESTAMP_VALUE;
					v->timestamp_value = unix_us;
				}
				break;
			}
		case VK_UUID:
			v->kind_case = WALSTAR__V1__VALUE__KIND_UUID_VALUE;
			v->uuid_value.data = DatumGetUUIDP(datum)->data;
			v->uuid_value.len = UUID_LEN;
			break;
		case VK_INTERVAL:
			{
				Interval   *in = DatumGetIntervalP(datum);
				Walstar__V1__Interval *out = palloc(sizeof(Walstar__V1__Interval));

				walstar__v1__interval__init(out);
				out->months = in->month;
				out->days = in->day;
				out->micros = in->time;
				v->kind_case = WALSTAR__V1__VALUE__KIND_INTERVAL_VALUE;
				v->interval_value = out;
				break;
			}
		case VK_ENUM:
			{
				Oid			val = DatumGetObjectId(datum);
				const EnumLabels *e = col->enums;
				int			lo = 0,
							hi = e->n - 1;

				while (lo <= hi)
				{
					int			mid = (lo + hi) / 2;

					if (e->oids[mid] == val)
					{
						/* shared with the cache: the encoders only read it */
						set_text(v, e->labels[mid]);
						return;
					}
					if (e->oids[mid] < val)
						lo = mid + 1;
					else
						hi = mid - 1;
				}
			}
			/* a label added after the cache was built */
			/* FALLTHROUGH */
		case VK_OUTPUT:
			{
				char	   *s = OutputFunctionCall((FmgrInfo *) &col->output, datum);

				if (to_utf8)
					s = pg_server_to_any(s, strlen(s), PG_UTF8);
				set_text(v, s);
				break;
			}
	}
}
