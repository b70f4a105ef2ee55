/*-------------------------------------------------------------------------
 *
 * encode_json.c
 *		The json format: the same Change, rendered for people.
 *
 * One JSON object per record.  Row values are objects keyed by column name
 * holding only the columns present in the tuple; unchanged TOAST columns are
 * listed in "unchanged_toast" instead of getting a placeholder value.  Value
 * rendering: integers and finite floats as numbers, NaN/Infinity and numeric
 * as strings, bytea as "\x..." hex, date/time/timestamp as ISO-style UTC
 * text ("2024-05-01 12:00:00.5+00"), uuid in its usual text form, interval
 * as {"months":..,"days":..,"micros":..}, everything else as its text.
 *
 * LSNs, xids, commit times, OIDs and column descriptions vary between runs;
 * they are shown only when asked for (include-lsn, include-xids,
 * include-timestamp, include-oids, include-columns), so that expected
 * test output stays stable.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "walstar_decoder.h"


static const char *const op_names[] = {
	"UNSPECIFIED", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "READ", "MESSAGE",
	"BEGIN", "COMMIT", "PREPARE", "COMMIT_PREPARED", "ROLLBACK_PREPARED",
	"STREAM_START", "STREAM_STOP", "STREAM_COMMIT", "STREAM_ABORT", "DDL"
};

static void append_value(StringInfo out, const Walstar__V1__Value *v);
static void append_values(StringInfo out, const char *name,
						  const Walstar__V1__Change *msg,
						  size_t n, Walstar__V1__Value **values);
static void append_hex(StringInfo out, const uint8 *data, size_t len);
static void append_double(StringInfo out, double d);
static bool append_date(StringInfo out, int32 unix_days);
static void append_time_of_day(StringInfo out, int64 usecs);

static void
append_lsn(StringInfo out, const char *key, uint64 lsn)
{
	appendStringInfo(out, ",\"%s\":\"%X/%X\"", key,
					 (uint32) (lsn >> 32), (uint32) lsn);
}

/*
 * Append the JSON rendering of msg to out.  key: the row's key values (may
 * be NULL or empty).
 */
void
encode_json_change(StringInfo out, const Walstar__V1__Change *msg,
				   const Walstar__V1__Key *key, const DecoderOptions *opts)
{
	size_t		i;

	appendStringInfo(out, "{\"op\":\"%s\"",
					 msg->op < lengthof(op_names) ? op_names[msg->op] : "UNKNOWN");
	appendStringInfoString(out, ",\"source\":");
	escape_json(out, msg->source);
	if (msg->table[0] != '\0')
	{
		appendStringInfoString(out, ",\"schema\":");
		escape_json(out, msg->schema);
		appendStringInfoString(out, ",\"table\":");
		escape_json(out, msg->table);
	}
	if (opts->include_oids && msg->relation_oid != 0)
		appendStringInfo(out, ",\"relation_oid\":%u", msg->relation_oid);
	if (opts->include_xids)
	{
		appendStringInfo(out, ",\"xid\":%u", msg->xid);
		if (msg->subxid != 0)
			appendStringInfo(out, ",\"subxid\":%u", msg->subxid);
	}
	if (opts->include_lsn)
	{
		append_lsn(out, "commit_lsn", msg->commit_lsn);
		append_lsn(out, "lsn", msg->lsn);
	}
	if (opts->include_timestamp)
		appendStringInfo(out, ",\"commit_time\":" INT64_FORMAT, msg->commit_time);
	if (msg->position != 0)
		appendStringInfo(out, ",\"position\":%u", msg->position);
	if (msg->origin[0] != '\0')
	{
		appendStringInfoString(out, ",\"origin\":");
		escape_json(out, msg->origin);
	}
	if (msg->gid[0] != '\0')
	{
		appendStringInfoString(out, ",\"gid\":");
		escape_json(out, msg->gid);
	}

	if (opts->include_columns && msg->n_columns > 0)
	{
		appendStringInfoString(out, ",\"columns\":[");
		for (i = 0; i < msg->n_columns; i++)
		{
			const Walstar__V1__Column *c = msg->columns[i];

			appendStringInfoString(out, i > 0 ? ",{\"name\":" : "{\"name\":");
			escape_json(out, c->name);
			appendStringInfoString(out, ",\"type\":");
			escape_json(out, c->type_name);
			if (opts->include_oids)
				appendStringInfo(out, ",\"type_oid\":%u", c->type_oid);
			appendStringInfoString(out, ",\"landing_type\":");
			escape_json(out, c->landing_type);
			if (c->is_key)
				appendStringInfoString(out, ",\"key\":true");
			if (c->pii == WALSTAR__V1__PII__MASKED)
				appendStringInfoString(out, ",\"pii\":\"masked\"");
			else if (c->pii == WALSTAR__V1__PII__HASHED)
				appendStringInfoString(out, ",\"pii\":\"hashed\"");
			appendStringInfoChar(out, '}');
		}
		appendStringInfoChar(out, ']');
	}

	if (key != NULL && key->n_values > 0)
	{
		appendStringInfoString(out, ",\"key\":[");
		for (i = 0; i < key->n_values; i++)
		{
			if (i > 0)
				appendStringInfoChar(out, ',');
			append_value(out, key->values[i]);
		}
		appendStringInfoChar(out, ']');
	}
	if (msg->n_new_values > 0)
		append_values(out, "new", msg, msg->n_new_values, msg->new_values);
	if (msg->n_old_values > 0)
		append_values(out, "old", msg, msg->n_old_values, msg->old_values);

	if (msg->truncate != NULL)
	{
		appendStringInfoString(out, ",\"truncate\":{\"relations\":[");
		for (i = 0; i < msg->truncate->n_relations; i++)
		{
			if (i > 0)
				appendStringInfoChar(out, ',');
			escape_json(out, msg->truncate->relations[i]);
		}
		appendStringInfo(out, "],\"cascade\":%s,\"restart_identity\":%s}",
						 msg->truncate->cascade ? "true" : "false",
						 msg->truncate->restart_identity ? "true" : "false");
	}

	if (msg->ddl != NULL)
	{
		appendStringInfoString(out, ",\"ddl\":{\"command_tag\":");
		escape_json(out, msg->ddl->command_tag);
		appendStringInfoString(out, ",\"steps\":[");
		for (i = 0; i < msg->ddl->n_steps; i++)
		{
			const Walstar__V1__DdlStep *st = msg->ddl->steps[i];
			const ProtobufCEnumValue *action =
				protobuf_c_enum_descriptor_get_value(&walstar__v1__ddl_action__descriptor,
													 st->action);

			appendStringInfo(out, "%s{\"action\":\"%s\",\"attnum\":%u,\"column\":",
							 i > 0 ? "," : "", action ? action->name : "DDL_OTHER", st->attnum);
			escape_json(out, st->column);
			if (st->old_name[0] != '\0')
			{
				appendStringInfoString(out, ",\"old_name\":");
				escape_json(out, st->old_name);
			}
			if (st->using_expression[0] != '\0')
			{
				appendStringInfoString(out, ",\"using\":");
				escape_json(out, st->using_expression);
			}
			if (st->values_not_sent)
				appendStringInfoString(out, ",\"values_not_sent\":true");
			appendStringInfoChar(out, '}');
		}
		appendStringInfoString(out, "]}");
	}

	if (msg->message != NULL)
	{
		const Walstar__V1__LogicalMessage *m = msg->message;

		appendStringInfo(out, ",\"message\":{\"transactional\":%s,\"prefix\":",
						 m->transactional ? "true" : "false");
		escape_json(out, m->prefix);
		if (memchr(m->content.data, '\0', m->content.len) == NULL &&
			pg_verifymbstr((const char *) m->content.data, m->content.len, true))
		{
			char	   *s = pnstrdup((const char *) m->content.data, m->content.len);

			appendStringInfoString(out, ",\"content\":");
			escape_json(out, s);
			pfree(s);
		}
		else
		{
			appendStringInfoString(out, ",\"content_bytes\":\"\\\\x");
			append_hex(out, m->content.data, m->content.len);
			appendStringInfoChar(out, '"');
		}
		appendStringInfoChar(out, '}');
	}

	if (msg->commit != NULL)
	{
		const Walstar__V1__Commit *c = msg->commit;

		appendStringInfo(out, ",\"change_count\":%u,\"tables\":[", c->change_count);
		for (i = 0; i < c->n_tables; i++)
		{
			appendStringInfoString(out, i > 0 ? ",{\"schema\":" : "{\"schema\":");
			escape_json(out, c->tables[i]->schema);
			appendStringInfoString(out, ",\"table\":");
			escape_json(out, c->tables[i]->table);
			appendStringInfo(out, ",\"count\":%u}", c->tables[i]->count);
		}
		appendStringInfoChar(out, ']');
		if (opts->include_lsn)
			append_lsn(out, "end_lsn", c->end_lsn);
	}

	if (msg->last_in_tx)
		appendStringInfoString(out, ",\"last\":true");
	appendStringInfoChar(out, '}');
}

/*
 * Mark an already rendered record as the last data record of its
 * transaction.
 */
void
encode_json_mark_last(StringInfo out)
{
	Assert(out->len > 0 && out->data[out->len - 1] == '}');
	out->len--;
	out->data[out->len] = '\0';
	appendStringInfoString(out, ",\"last\":true}");
}

static void
append_values(StringInfo out, const char *name, const Walstar__V1__Change *msg,
			  size_t n, Walstar__V1__Value **values)
{
	bool		first = true;
	bool		any_toast = false;
	size_t		i;

	appendStringInfo(out, ",\"%s\":{", name);
	for (i = 0; i < n; i++)
	{
		const Walstar__V1__Value *v = values[i];

		if (v->kind_case == WALSTAR__V1__VALUE__KIND__NOT_SET)
			continue;
		if (v->kind_case == WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST)
		{
			any_toast = true;
			continue;
		}
		if (!first)
			appendStringInfoChar(out, ',');
		first = false;
		escape_json(out, i < msg->n_columns ? msg->columns[i]->name : "?");
		appendStringInfoChar(out, ':');
		append_value(out, v);
	}
	appendStringInfoChar(out, '}');

	if (any_toast)
	{
		first = true;
		appendStringInfo(out, ",\"%s_unchanged_toast\":[", name);
		for (i = 0; i < n; i++)
		{
			if (values[i]->kind_case != WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST)
				continue;
			if (!first)
				appendStringInfoChar(out, ',');
			first = false;
			escape_json(out, i < msg->n_columns ? msg->columns[i]->name : "?");
		}
		appendStringInfoChar(out, ']');
	}
}

static void
append_value(StringInfo out, const Walstar__V1__Value *v)
{
	switch (v->kind_case)
	{
		case WALSTAR__V1__VALUE__KIND__NOT_SET:
		case WALSTAR__V1__VALUE__KIND_IS_NULL:
			appendStringInfoString(out, "null");
			break;
		case WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST:
			/* only reachable through a key; callers list these separately */
			appendStringInfoString(out, "{\"unchanged_toast\":true}");
			break;
		case WALSTAR__V1__VALUE__KIND_INT_VALUE:
			appendStringInfo(out, INT64_FORMAT, (int64) v->int_value);
			break;
		case WALSTAR__V1__VALUE__KIND_DOUBLE_VALUE:
			append_double(out, v->double_value);
			break;
		case WALSTAR__V1__VALUE__KIND_BOOL_VALUE:
			appendStringInfoString(out, v->bool_value ? "true" : "false");
			break;
		case WALSTAR__V1__VALUE__KIND_TEXT_VALUE:
			escape_json(out, v->text_value);
			break;
		case WALSTAR__V1__VALUE__KIND_BYTES_VALUE:
			appendStringInfoString(out, "\"\\\\x");
			append_hex(out, v->bytes_value.data, v->bytes_value.len);
			appendStringInfoChar(out, '"');
			break;
		case WALSTAR__V1__VALUE__KIND_NUMERIC_VALUE:
			escape_json(out, v->numeric_value);
			break;
		case WALSTAR__V1__VALUE__KIND_TIMESTAMP_VALUE:
			{
				int64		us = v->timestamp_value;
				int64		days = us / USECS_PER_DAY;
				int64		rem = us % USECS_PER_DAY;
				bool		bc;

				if (rem < 0)
				{
					rem += USECS_PER_DAY;
					days--;
				}

				appendStringInfoChar(out, '"');
				bc = append_date(out, (int32) days);
				appendStringInfoChar(out, ' ');
				append_time_of_day(out, rem);
				appendStringInfoString(out, bc ? "+00 BC\"" : "+00\"");
				break;
			}
		case WALSTAR__V1__VALUE__KIND_DATE_VALUE:
			appendStringInfoChar(out, '"');
			if (append_date(out, v->date_value))
				appendStringInfoString(out, " BC");
			appendStringInfoChar(out, '"');
			break;
		case WALSTAR__V1__VALUE__KIND_TIME_VALUE:
			appendStringInfoChar(out, '"');
			append_time_of_day(out, v->time_value);
			appendStringInfoChar(out, '"');
			break;
		case WALSTAR__V1__VALUE__KIND_UUID_VALUE:
			{
				static const char hex[] = "0123456789abcdef";
				size_t		i;

				appendStringInfoChar(out, '"');
				for (i = 0; i < v->uuid_value.len; i++)
				{
					if (i == 4 || i == 6 || i == 8 || i == 10)
						appendStringInfoChar(out, '-');
					appendStringInfoChar(out, hex[v->uuid_value.data[i] >> 4]);
					appendStringInfoChar(out, hex[v->uuid_value.data[i] & 0x0f]);
				}
				appendStringInfoChar(out, '"');
				break;
			}
		case WALSTAR__V1__VALUE__KIND_INTERVAL_VALUE:
			appendStringInfo(out, "{\"months\":%d,\"days\":%d,\"micros\":" INT64_FORMAT "}",
							 v->interval_value->months, v->interval_value->days,
							 (int64) v->interval_value->micros);
			break;
		default:
			appendStringInfoString(out, "null");
			break;
	}
}

static void
append_hex(StringInfo out, const uint8 *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t		i;

	enlargeStringInfo(out, len * 2);
	for (i = 0; i < len; i++)
	{
		out->data[out->len++] = hex[data[i] >> 4];
		out->data[out->len++] = hex[data[i] & 0x0f];
	}
	out->data[out->len] = '\0';
}

static void
append_double(StringInfo out, double d)
{
	if (isnan(d))
		appendStringInfoString(out, "\"NaN\"");
	else if (isinf(d))
		appendStringInfoString(out, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	else
		appendStringInfoString(out, float8out_internal(d));
}

/*
 * "YYYY-MM-DD" from days since 1970-01-01; returns true for dates before
 * Christ, for which the caller appends " BC" as PostgreSQL prints it.
 */
static bool
append_date(StringInfo out, int32 unix_days)
{
	int			year,
				month,
				day;

	j2date(unix_days + UNIX_EPOCH_JDATE, &year, &month, &day);
	appendStringInfo(out, "%04d-%02d-%02d", year > 0 ? year : 1 - year,
					 month, day);
	return year <= 0;
}

/* "HH:MM:SS" plus ".ffffff" when there are fractional seconds */
static void
append_time_of_day(StringInfo out, int64 usecs)
{
	int			hour = (int) (usecs / USECS_PER_HOUR);
	int			min = (int) ((usecs / USECS_PER_MINUTE) % 60);
	int			sec = (int) ((usecs / USECS_PER_SEC) % 60);
	int			frac = (int) (usecs % USECS_PER_SEC);

	appendStringInfo(out, "%02d:%02d:%02d", hour, min, sec);
	if (frac != 0)
		appendStringInfo(out, ".%06d", frac);
}
