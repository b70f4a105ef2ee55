/*-------------------------------------------------------------------------
 *
 * change_value.c
 *		A Value as its landing type's input text (see change_value.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/timestamp.h"

#include "change_value.h"
#include "epoch.h"

char *
change_value_text(const Walstar__V1__Value *v, const Walstar__V1__Column *column)
{
	struct pg_tm tm;
	fsec_t		fsec;
	char		buf[MAXDATELEN + 1];

	switch (v->kind_case)
	{
		case WALSTAR__V1__VALUE__KIND_IS_NULL:
		case WALSTAR__V1__VALUE__KIND__NOT_SET:
		case WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST:
			return NULL;
		case WALSTAR__V1__VALUE__KIND_INT_VALUE:
			return psprintf(INT64_FORMAT, (int64) v->int_value);
		case WALSTAR__V1__VALUE__KIND_DOUBLE_VALUE:
			return float8out_internal(v->double_value);
		case WALSTAR__V1__VALUE__KIND_BOOL_VALUE:
			return pstrdup(v->bool_value ? "true" : "false");
		case WALSTAR__V1__VALUE__KIND_TEXT_VALUE:
			return pstrdup(v->text_value);
		case WALSTAR__V1__VALUE__KIND_NUMERIC_VALUE:
			return pstrdup(v->numeric_value);
		case WALSTAR__V1__VALUE__KIND_BYTES_VALUE:
			{
				StringInfoData s;
				static const char hex[] = "0123456789abcdef";
				size_t		i;

				initStringInfo(&s);
				enlargeStringInfo(&s, v->bytes_value.len * 2 + 3);
				appendStringInfoString(&s, "\\x");
				for (i = 0; i < v->bytes_value.len; i++)
				{
					appendStringInfoChar(&s, hex[v->bytes_value.data[i] >> 4]);
					appendStringInfoChar(&s, hex[v->bytes_value.data[i] & 0x0f]);
				}
				return s.data;
			}
		case WALSTAR__V1__VALUE__KIND_TIMESTAMP_VALUE:
			{
				Timestamp	ts;
				bool		with_tz = column == NULL ||
					column->type_oid == TIMESTAMPTZOID ||
					strcmp(column->landing_type, "timestamp with time zone") == 0;

				if (pg_sub_s64_overflow(v->timestamp_value, WALSTAR_PG_EPOCH_USECS, &ts) ||
					!IS_VALID_TIMESTAMP(ts) ||
					timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
					ereport(ERROR,
							(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
							 errmsg("timestamp out of range: " INT64_FORMAT " microseconds since 1970",
									(int64) v->timestamp_value)));
				tm.tm_isdst = 0;
				EncodeDateTime(&tm, fsec, with_tz, 0, NULL, USE_ISO_DATES, buf);
				return pstrdup(buf);
			}
		case WALSTAR__V1__VALUE__KIND_DATE_VALUE:
			{
				int64		jd = (int64) v->date_value + WALSTAR_UNIX_EPOCH_JDATE;

				if (jd < 0 || jd > INT_MAX - 1)
					ereport(ERROR,
							(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
							 errmsg("date out of range: %d days since 1970", v->date_value)));
				j2date((int) jd, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
				EncodeDateOnly(&tm, USE_ISO_DATES, buf);
				return pstrdup(buf);
			}
		case WALSTAR__V1__VALUE__KIND_TIME_VALUE:
			if (v->time_value < 0 || v->time_value > USECS_PER_DAY)
				ereport(ERROR,
						(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
						 errmsg("time out of range: " INT64_FORMAT " microseconds",
								(int64) v->time_value)));
			time2tm((TimeADT) v->time_value, &tm, &fsec);
			EncodeTimeOnly(&tm, fsec, false, 0, USE_ISO_DATES, buf);
			return pstrdup(buf);
		case WALSTAR__V1__VALUE__KIND_UUID_VALUE:
			{
				const uint8_t *b = v->uuid_value.data;

				if (v->uuid_value.len != 16)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
							 errmsg("uuid value of %zu bytes, expected 16",
									v->uuid_value.len)));
				return psprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
								b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
								b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
			}
		case WALSTAR__V1__VALUE__KIND_INTERVAL_VALUE:
			{
				const Walstar__V1__Interval *iv = v->interval_value;

				/* Unit words are read the same under every IntervalStyle. */
				return psprintf("%d mons %d days " INT64_FORMAT " microseconds",
								iv ? iv->months : 0, iv ? iv->days : 0,
								iv ? (int64) iv->micros : (int64) 0);
			}
		default:
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("unknown value kind %d", (int) v->kind_case)));
	return NULL;				/* keep compiler quiet */
}
