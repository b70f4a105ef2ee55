/*-------------------------------------------------------------------------
 *
 * change_json.c
 *		A Change as JSON (see change_json.h).
 *
 * One JSON object per record.  Row values are objects keyed by column name
 * holding only the columns present in the tuple; unchanged TOAST columns are
 * listed in "<tuple>_unchanged_toast" instead of getting a placeholder
 * value.  Values: integers and finite floats as numbers, NaN/Infinity and
 * numeric as strings (no digit lost), bytea as "\x..." hex, uuid in its
 * usual text form, dates and times in UTC whatever the session's time zone,
 * everything else as its text.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "change_json.h"
#include "change_key.h"
#include "change_op.h"
#include "change_value.h"

static void append_value(StringInfo out, const Walstar__V1__Value *v,
						 const Walstar__V1__Column *col,
						 const ChangeJsonStyle *style);
static void append_columns(StringInfo out, const Walstar__V1__Change *c,
						   const ChangeJsonStyle *style);
static void append_key(StringInfo out, const Walstar__V1__Change *c,
					   const Walstar__V1__Key *key,
					   const ChangeJsonStyle *style);
static void append_tuple(StringInfo out, const char *name,
						 const Walstar__V1__Change *c, size_t n,
						 Walstar__V1__Value **values,
						 const ChangeJsonStyle *style);
static void append_ddl(StringInfo out, const Walstar__V1__Ddl *ddl);
static void append_message(StringInfo out,
						   const Walstar__V1__LogicalMessage *m,
						   const ChangeJsonStyle *style);
static void append_commit(StringInfo out, const Walstar__V1__Commit *commit,
						  const ChangeJsonStyle *style);
static void append_hex(StringInfo out, const uint8 *data, size_t len);

static void
append_field(StringInfo out, const char *name, const char *value)
{
	appendStringInfo(out, ",\"%s\":", name);
	escape_json(out, value);
}

static void
append_lsn(StringInfo out, const char *name, uint64 lsn)
{
	appendStringInfo(out, ",\"%s\":\"%X/%X\"", name,
					 (uint32) (lsn >> 32), (uint32) lsn);
}

/*
 * Whether a field is shown: in a record whenever it is set, otherwise when
 * its include option asks for it.
 */
static inline bool
shown(const ChangeJsonStyle *style, bool include, uint64 value)
{
	return style->record ? value != 0 : include;
}

void
change_json_append(StringInfo out, const Walstar__V1__Change *c,
				   const Walstar__V1__Key *key, const ChangeJsonStyle *style)
{
	size_t		i;

	appendStringInfoChar(out, '{');
	if (style->record)
		appendStringInfo(out, "\"version\":%u,", c->version);
	appendStringInfo(out, "\"op\":\"%s\"", change_op_name(c->op));
	append_field(out, "source", c->source);
	if (style->record && c->system_id != 0)
		appendStringInfo(out, ",\"system_id\":\"" UINT64_FORMAT "\"",
						 (uint64) c->system_id);
	if (c->schema[0] != '\0' || c->table[0] != '\0')
	{
		append_field(out, "schema", c->schema);
		append_field(out, "table", c->table);
	}
	if ((style->record || style->include_oids) && c->relation_oid != 0)
		appendStringInfo(out, ",\"relation_oid\":%u", c->relation_oid);
	if (shown(style, style->include_xids, c->xid))
		appendStringInfo(out, ",\"xid\":%u", c->xid);
	if ((style->record || style->include_xids) && c->subxid != 0)
		appendStringInfo(out, ",\"subxid\":%u", c->subxid);
	if (shown(style, style->include_lsn, c->commit_lsn))
		append_lsn(out, "commit_lsn", c->commit_lsn);
	if (shown(style, style->include_lsn, c->lsn))
		append_lsn(out, "lsn", c->lsn);
	if (shown(style, style->include_timestamp, c->commit_time))
	{
		if (style->record)
		{
			Walstar__V1__Value v = WALSTAR__V1__VALUE__INIT;

			v.kind_case = WALSTAR__V1__VALUE__KIND_TIMESTAMP_VALUE;
			v.timestamp_value = c->commit_time;
			appendStringInfoString(out, ",\"commit_time\":");
			append_value(out, &v, NULL, style);
		}
		else
			appendStringInfo(out, ",\"commit_time\":" INT64_FORMAT,
							 (int64) c->commit_time);
	}
	if (c->position != 0)
		appendStringInfo(out, ",\"position\":%u", c->position);
	if (style->record && c->last_in_tx)
		appendStringInfoString(out, ",\"last_in_tx\":true");
	if (c->origin[0] != '\0')
		append_field(out, "origin", c->origin);
	if (c->gid[0] != '\0')
		append_field(out, "gid", c->gid);

	if ((style->record || style->include_columns) && c->n_columns > 0)
		append_columns(out, c, style);
	append_key(out, c, key, style);
	if (c->n_new_values > 0)
		append_tuple(out, "new", c, c->n_new_values, c->new_values, style);
	if (c->n_old_values > 0)
		append_tuple(out, "old", c, c->n_old_values, c->old_values, style);

	if (c->truncate != NULL)
	{
		appendStringInfoString(out, ",\"truncate\":{\"relations\":[");
		for (i = 0; i < c->truncate->n_relations; i++)
		{
			if (i > 0)
				appendStringInfoChar(out, ',');
			escape_json(out, c->truncate->relations[i]);
		}
		appendStringInfo(out, "],\"cascade\":%s,\"restart_identity\":%s}",
						 c->truncate->cascade ? "true" : "false",
						 c->truncate->restart_identity ? "true" : "false");
	}
	if (c->ddl != NULL)
		append_ddl(out, c->ddl);
	if (c->message != NULL)
		append_message(out, c->message, style);
	if (c->commit != NULL)
		append_commit(out, c->commit, style);

	if (!style->record && c->last_in_tx)
		appendStringInfoString(out, ",\"last\":true");
	appendStringInfoChar(out, '}');
}

void
change_json_mark_last(StringInfo out)
{
	Assert(out->len > 0 && out->data[out->len - 1] == '}');
	out->len--;
	out->data[out->len] = '\0';
	appendStringInfoString(out, ",\"last\":true}");
}

static void
append_columns(StringInfo out, const Walstar__V1__Change *c,
			   const ChangeJsonStyle *style)
{
	size_t		i;

	appendStringInfoString(out, ",\"columns\":[");
	for (i = 0; i < c->n_columns; i++)
	{
		const Walstar__V1__Column *col = c->columns[i];

		appendStringInfoString(out, i > 0 ? ",{\"name\":" : "{\"name\":");
		escape_json(out, col->name);
		appendStringInfoString(out, ",\"type\":");
		escape_json(out, col->type_name);
		if (style->record || style->include_oids)
			appendStringInfo(out, ",\"type_oid\":%u", col->type_oid);
		appendStringInfoString(out, ",\"landing_type\":");
		escape_json(out, col->landing_type);
		if (col->is_key)
			appendStringInfoString(out, ",\"key\":true");
		if (col->pii == WALSTAR__V1__PII__MASKED)
			appendStringInfoString(out, ",\"pii\":\"masked\"");
		else if (col->pii == WALSTAR__V1__PII__HASHED)
			appendStringInfoString(out, ",\"pii\":\"hashed\"");
		appendStringInfoChar(out, '}');
	}
	appendStringInfoChar(out, ']');
}

/* The key as a JSON array, values typed by the key columns in order. */
static void
append_key_values(StringInfo out, const Walstar__V1__Change *c,
				  const Walstar__V1__Key *key, const ChangeJsonStyle *style)
{
	size_t		col = 0;
	size_t		i;

	appendStringInfoString(out, ",\"key\":[");
	for (i = 0; i < key->n_values; i++)
	{
		const Walstar__V1__Column *kc = NULL;

		while (col < c->n_columns && !c->columns[col]->is_key)
			col++;
		if (col < c->n_columns)
			kc = c->columns[col++];
		if (i > 0)
			appendStringInfoChar(out, ',');
		append_value(out, key->values[i], kc, style);
	}
	appendStringInfoChar(out, ']');
}

static void
append_key(StringInfo out, const Walstar__V1__Change *c,
		   const Walstar__V1__Key *key, const ChangeJsonStyle *style)
{
	Walstar__V1__Key *unpacked;

	if (key != NULL)
	{
		if (key->n_values > 0)
			append_key_values(out, c, key, style);
		return;
	}
	if (c->key.len == 0)
		return;
	unpacked = change_key_unpack(c->key.data, c->key.len);
	if (unpacked == NULL)
	{
		appendStringInfoString(out, ",\"key\":null");
		return;
	}
	/* protobuf-c's memory: given back even if a value is out of range */
	PG_TRY();
	{
		append_key_values(out, c, unpacked, style);
	}
	PG_FINALLY();
	{
		change_key_free(unpacked);
	}
	PG_END_TRY();
}

static void
append_tuple(StringInfo out, const char *name, const Walstar__V1__Change *c,
			 size_t n, Walstar__V1__Value **values,
			 const ChangeJsonStyle *style)
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
		escape_json(out, i < c->n_columns ? c->columns[i]->name : "?");
		appendStringInfoChar(out, ':');
		append_value(out, v, i < c->n_columns ? c->columns[i] : NULL, style);
	}
	appendStringInfoChar(out, '}');
	if (!any_toast)
		return;

	first = true;
	appendStringInfo(out, ",\"%s_unchanged_toast\":[", name);
	for (i = 0; i < n; i++)
	{
		if (values[i]->kind_case != WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST)
			continue;
		if (!first)
			appendStringInfoChar(out, ',');
		first = false;
		escape_json(out, i < c->n_columns ? c->columns[i]->name : "?");
	}
	appendStringInfoChar(out, ']');
}

/* A captured schema change: its steps. */
static void
append_ddl(StringInfo out, const Walstar__V1__Ddl *ddl)
{
	size_t		i;

	appendStringInfoString(out, ",\"ddl\":{\"command_tag\":");
	escape_json(out, ddl->command_tag);
	appendStringInfoString(out, ",\"steps\":[");
	for (i = 0; i < ddl->n_steps; i++)
	{
		const Walstar__V1__DdlStep *st = ddl->steps[i];
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

/* A message's content: as text where it is text, unless in a record. */
static void
append_message(StringInfo out, const Walstar__V1__LogicalMessage *m,
			   const ChangeJsonStyle *style)
{
	appendStringInfo(out, ",\"message\":{\"transactional\":%s,\"prefix\":",
					 m->transactional ? "true" : "false");
	escape_json(out, m->prefix);
	if (!style->record &&
		memchr(m->content.data, '\0', m->content.len) == NULL &&
		pg_verifymbstr((const char *) m->content.data, m->content.len, true))
	{
		char	   *s = pnstrdup((const char *) m->content.data, m->content.len);

		appendStringInfoString(out, ",\"content\":");
		escape_json(out, s);
		pfree(s);
	}
	else
	{
		appendStringInfo(out, ",\"%s\":\"\\\\x",
						 style->record ? "content" : "content_bytes");
		append_hex(out, m->content.data, m->content.len);
		appendStringInfoChar(out, '"');
	}
	appendStringInfoChar(out, '}');
}

/* COMMIT: its fields at the top level, or in a record as "commit":{...} */
static void
append_commit(StringInfo out, const Walstar__V1__Commit *commit,
			  const ChangeJsonStyle *style)
{
	size_t		i;

	appendStringInfo(out, style->record ? ",\"commit\":{\"change_count\":%u" :
					 ",\"change_count\":%u", commit->change_count);
	appendStringInfoString(out, ",\"tables\":[");
	for (i = 0; i < commit->n_tables; i++)
	{
		appendStringInfoString(out, i > 0 ? ",{\"schema\":" : "{\"schema\":");
		escape_json(out, commit->tables[i]->schema);
		appendStringInfoString(out, ",\"table\":");
		escape_json(out, commit->tables[i]->table);
		appendStringInfo(out, ",\"count\":%u}", commit->tables[i]->count);
	}
	appendStringInfoChar(out, ']');
	if (shown(style, style->include_lsn, commit->end_lsn))
		append_lsn(out, "end_lsn", commit->end_lsn);
	if (style->record)
		appendStringInfoChar(out, '}');
}

/* "YYYY-MM-DD" from days since 1970-01-01, " BC" as PostgreSQL prints it */
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

/* The decoder's fixed-width UTC timestamp: "YYYY-MM-DD HH:MM:SS[.ffffff]+00" */
static void
append_timestamp(StringInfo out, int64 us)
{
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
}

static void
append_value(StringInfo out, const Walstar__V1__Value *v,
			 const Walstar__V1__Column *col, const ChangeJsonStyle *style)
{
	switch (v->kind_case)
	{
		case WALSTAR__V1__VALUE__KIND__NOT_SET:
		case WALSTAR__V1__VALUE__KIND_IS_NULL:
			appendStringInfoString(out, "null");
			return;
		case WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST:
			/* only reachable through a key; tuples list these separately */
			appendStringInfoString(out, "{\"unchanged_toast\":true}");
			return;
		case WALSTAR__V1__VALUE__KIND_INT_VALUE:
			appendStringInfo(out, INT64_FORMAT, (int64) v->int_value);
			return;
		case WALSTAR__V1__VALUE__KIND_DOUBLE_VALUE:
			if (isnan(v->double_value))
				appendStringInfoString(out, "\"NaN\"");
			else if (isinf(v->double_value))
				appendStringInfoString(out, v->double_value > 0 ?
									   "\"Infinity\"" : "\"-Infinity\"");
			else
				appendStringInfoString(out, float8out_internal(v->double_value));
			return;
		case WALSTAR__V1__VALUE__KIND_BOOL_VALUE:
			appendStringInfoString(out, v->bool_value ? "true" : "false");
			return;
		case WALSTAR__V1__VALUE__KIND_TEXT_VALUE:
			escape_json(out, v->text_value);
			return;
		case WALSTAR__V1__VALUE__KIND_NUMERIC_VALUE:
			escape_json(out, v->numeric_value);
			return;
		case WALSTAR__V1__VALUE__KIND_BYTES_VALUE:
			appendStringInfoString(out, "\"\\\\x");
			append_hex(out, v->bytes_value.data, v->bytes_value.len);
			appendStringInfoChar(out, '"');
			return;
		case WALSTAR__V1__VALUE__KIND_TIMESTAMP_VALUE:
			if (!style->record)
			{
				append_timestamp(out, v->timestamp_value);
				return;
			}
			break;
		case WALSTAR__V1__VALUE__KIND_TIME_VALUE:
			if (!style->record)
			{
				appendStringInfoChar(out, '"');
				append_time_of_day(out, v->time_value);
				appendStringInfoChar(out, '"');
				return;
			}
			break;
		case WALSTAR__V1__VALUE__KIND_INTERVAL_VALUE:
			{
				const Walstar__V1__Interval *iv = v->interval_value;
				Interval	pgiv;

				pgiv.month = iv ? iv->months : 0;
				pgiv.day = iv ? iv->days : 0;
				pgiv.time = iv ? iv->micros : 0;
				if (!style->record)
				{
					appendStringInfo(out, "{\"months\":%d,\"days\":%d,\"micros\":" INT64_FORMAT "}",
									 pgiv.month, pgiv.day, (int64) pgiv.time);
					return;
				}
				/* readable for people: the server's own interval output */
				escape_json(out, DatumGetCString(DirectFunctionCall1(interval_out,
																	 IntervalPGetDatum(&pgiv))));
				return;
			}
		case WALSTAR__V1__VALUE__KIND_DATE_VALUE:
		case WALSTAR__V1__VALUE__KIND_UUID_VALUE:
			break;
		default:
			appendStringInfoString(out, "null");
			return;
	}
	/* dates, uuids, and a record's timestamps and times */
	escape_json(out, change_value_text(v, col));
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
