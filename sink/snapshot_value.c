/*-------------------------------------------------------------------------
 *
 * snapshot_value.c
 *		The initial copy's values: what the SELECT list asks the server for,
 *		and how its COPY text becomes a Value typed as the decoder types it
 *		(decoder/encode_value.c; both take the kind from
 *		common/column_type.c).
 *
 * COPY gives us text, which the SELECT list shapes into something exact to
 * parse (epoch microseconds, day numbers).  Masked columns are not even
 * read; hashed ones are HMAC-SHA256'd (common/salt_hmac.c, as the decoder)
 * before they leave this process.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy_text.h"
#include "salt_hmac.h"
#include "snapshot_value.h"

void
snapshot_value_expr(char *buf, size_t buflen, const char *col,
					const SnapColumn *c)
{
	if (c->desc.pii == WALSTAR__V1__PII__MASKED)
	{
		snprintf(buf, buflen, "NULL");
		return;
	}
	if (c->desc.pii == WALSTAR__V1__PII__HASHED)
	{
		snprintf(buf, buflen, "%s", col);
		return;
	}
	switch (c->kind)
	{
		case VK_DATE:
			snprintf(
				buf, buflen,
				"CASE WHEN isfinite(%s) THEN (%s - date '1970-01-01')::text"
				" ELSE %s::text END",
				col, col, col);
			break;
		case VK_TIME:
			snprintf(buf, buflen, "(extract(epoch from %s) * 1000000)::int8",
					 col);
			break;
		case VK_TIMESTAMP:
		case VK_TIMESTAMPTZ:
		{
			/*
			 * Epoch microseconds while they fit in 64 bits, as the
			 * decoder's timestamp_value; past that (the last 30 years of
			 * PostgreSQL's range) the decoder sends UTC text, which to_char
			 * writes the same way.  Computed from the date and the time of
			 * day, exact over the whole range: extract(epoch) falls back to
			 * float8 where the microseconds do not fit.  The session's
			 * TimeZone is UTC (source_conn.h).
			 */
			char us[400];

			snprintf(us, sizeof(us),
					 "((%s)::date - date '1970-01-01')::numeric * 86400000000"
					 " + extract(epoch from (%s)::time) * 1000000",
					 col, col);
			snprintf(buf, buflen,
					 "CASE WHEN NOT isfinite(%s) THEN %s::text "
					 "WHEN %s <= 9223372036854775807 THEN (%s)::int8::text "
					 "ELSE to_char(%s, 'YYYY-MM-DD HH24:MI:SS.US') || '+00' "
					 "END",
					 col, col, us, us, col);
			break;
		}
		case VK_INTERVAL:
			snprintf(buf, buflen,
					 "(extract(year from %s) * 12 + extract(month from %s))"
					 "::int4 || ' ' || extract(day from %s)::int4 || ' ' || "
					 "(extract(hour from %s) * 3600000000 + extract(minute "
					 "from %s) * 60000000 + extract(microseconds from %s))"
					 "::int8",
					 col, col, col, col, col, col);
			break;
		default:
			snprintf(buf, buflen, "%s", col);
			break;
	}
}

void
snapshot_value_fill(const SnapColumn *col, char *text, size_t len,
					const char *salt, Walstar__V1__Value *v,
					Walstar__V1__Interval *iv, uint8_t *scratch)
{
	walstar__v1__value__init(v);
	if (text == NULL || col->desc.pii == WALSTAR__V1__PII__MASKED)
	{
		v->kind_case = WALSTAR__V1__VALUE__KIND_IS_NULL;
		v->is_null = true;
		return;
	}
	if (col->desc.pii == WALSTAR__V1__PII__HASHED)
	{
		/* scratch holds at least len + 80 bytes */
		salt_hmac_hex(salt, text, len, (char *)scratch);
		v->kind_case = WALSTAR__V1__VALUE__KIND_TEXT_VALUE;
		v->text_value = (char *)scratch;
		return;
	}
	switch (col->kind)
	{
		case VK_INT2:
		case VK_INT4:
		case VK_INT8:
		case VK_OID:
			v->kind_case = WALSTAR__V1__VALUE__KIND_INT_VALUE;
			v->int_value = strtoll(text, NULL, 10);
			break;
		case VK_FLOAT4:
			v->kind_case = WALSTAR__V1__VALUE__KIND_DOUBLE_VALUE;
			v->double_value = (double)strtof(text, NULL);
			break;
		case VK_FLOAT8:
			v->kind_case = WALSTAR__V1__VALUE__KIND_DOUBLE_VALUE;
			v->double_value = strtod(text, NULL);
			break;
		case VK_BOOL:
			v->kind_case = WALSTAR__V1__VALUE__KIND_BOOL_VALUE;
			v->bool_value = text[0] == 't';
			break;
		case VK_NUMERIC:
			v->kind_case = WALSTAR__V1__VALUE__KIND_NUMERIC_VALUE;
			v->numeric_value = text;
			break;
		case VK_BYTEA:
			v->kind_case = WALSTAR__V1__VALUE__KIND_BYTES_VALUE;
			v->bytes_value.data = scratch;
			v->bytes_value.len =
				(len >= 2 && text[0] == '\\' && text[1] == 'x')
					? copy_text_decode_hex(text + 2, scratch)
					: 0;
			break;
		case VK_DATE:
			if (copy_text_is_integer(text))
			{
				v->kind_case = WALSTAR__V1__VALUE__KIND_DATE_VALUE;
				v->date_value = (int32_t)strtol(text, NULL, 10);
			}
			else
			{
				v->kind_case = WALSTAR__V1__VALUE__KIND_TEXT_VALUE;
				v->text_value = text;
			}
			break;
		case VK_TIME:
			v->kind_case = WALSTAR__V1__VALUE__KIND_TIME_VALUE;
			v->time_value = strtoll(text, NULL, 10);
			break;
		case VK_TIMESTAMP:
		case VK_TIMESTAMPTZ:
			if (copy_text_is_integer(text))
			{
				v->kind_case = WALSTAR__V1__VALUE__KIND_TIMESTAMP_VALUE;
				v->timestamp_value = strtoll(text, NULL, 10);
			}
			else
			{
				v->kind_case = WALSTAR__V1__VALUE__KIND_TEXT_VALUE;
				v->text_value = text;
			}
			break;
		case VK_UUID:
			v->kind_case = WALSTAR__V1__VALUE__KIND_UUID_VALUE;
			v->uuid_value.data = scratch;
			v->uuid_value.len = copy_text_decode_hex(text, scratch);
			break;
		case VK_INTERVAL:
		{
			long long months = 0, days = 0, micros = 0;

			sscanf(text, "%lld %lld %lld", &months, &days, &micros);
			walstar__v1__interval__init(iv);
			iv->months = (int32_t)months;
			iv->days = (int32_t)days;
			iv->micros = micros;
			v->kind_case = WALSTAR__V1__VALUE__KIND_INTERVAL_VALUE;
			v->interval_value = iv;
			break;
		}
		case VK_TEXT:
		case VK_NAME:
		case VK_ENUM:
		case VK_OUTPUT:
			v->kind_case = WALSTAR__V1__VALUE__KIND_TEXT_VALUE;
			v->text_value = text;
			break;
	}
}
