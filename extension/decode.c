/*-------------------------------------------------------------------------
 *
 * decode.c
 *		walstar.decode(bytea) returns jsonb: a walstar message as JSON.
 *
 * For tests, debugging and analysts looking at a topic. Row values use the
 * JSON type that matches them (numbers, booleans, strings); numeric stays a
 * string so that no digit is lost, bytea is "\x..." hex, dates and times
 * are ISO text in UTC, intervals in the session's IntervalStyle. Columns an old tuple does not carry are left out;
 * unchanged TOAST columns are listed in "new_unchanged_toast" rather than
 * given a placeholder value.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "walstar.h"

PG_FUNCTION_INFO_V1(walstar_decode);

static void append_value(StringInfo out, const Value *v, const Column *col);
static void append_tuple(StringInfo out, const char *name, Value **values,
						 size_t n, Column **columns);
static void append_key(StringInfo out, const Change *c);

Datum
walstar_decode(PG_FUNCTION_ARGS)
{
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	Change	   *change;
	char	   *error;
	StringInfoData out;

	change = change_unpack(VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw), &error);
	if (change == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid walstar message: %s", error)));

	initStringInfo(&out);
	decode_append_json(&out, change);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}

static void
append_field(StringInfo out, const char *name, const char *value)
{
	appendStringInfo(out, ",\"%s\":", name);
	escape_json(out, value);
}

void
decode_append_json(StringInfo out, const Change *c)
{
	size_t		i;

	appendStringInfo(out, "{\"version\":%u,\"op\":\"%s\"", c->version,
					 change_op_name(c->op));
	append_field(out, "source", c->source);
	if (c->system_id)
		appendStringInfo(out, ",\"system_id\":\"" UINT64_FORMAT "\"", c->system_id);
	if (c->schema[0] || c->table[0])
	{
		append_field(out, "schema", c->schema);
		append_field(out, "table", c->table);
	}
	if (c->xid)
		appendStringInfo(out, ",\"xid\":%u", c->xid);
	if (c->commit_lsn)
	{
		appendStringInfoString(out, ",\"commit_lsn\":\"");
		change_append_lsn(out, c->commit_lsn);
		appendStringInfoChar(out, '"');
	}
	if (c->commit_time)
	{
		Value		v = WALSTAR__V1__VALUE__INIT;

		v.kind_case = WALSTAR__V1__VALUE__KIND_TIMESTAMP_VALUE;
		v.timestamp_value = c->commit_time;
		appendStringInfoString(out, ",\"commit_time\":");
		append_value(out, &v, NULL);
	}
	if (c->lsn)
	{
		appendStringInfoString(out, ",\"lsn\":\"");
		change_append_lsn(out, c->lsn);
		appendStringInfoChar(out, '"');
	}
	if (c->position)
		appendStringInfo(out, ",\"position\":%u", c->position);
	if (c->last_in_tx)
		appendStringInfoString(out, ",\"last_in_tx\":true");
	if (c->relation_oid)
		appendStringInfo(out, ",\"relation_oid\":%u", c->relation_oid);
	if (c->origin[0])
		append_field(out, "origin", c->origin);
	if (c->gid[0])
		append_field(out, "gid", c->gid);
	if (c->subxid)
		appendStringInfo(out, ",\"subxid\":%u", c->subxid);

	if (c->n_columns > 0)
	{
		appendStringInfoString(out, ",\"columns\":[");
		for (i = 0; i < c->n_columns; i++)
		{
			const Column *col = c->columns[i];

			if (i > 0)
				appendStringInfoChar(out, ',');
			appendStringInfoString(out, "{\"name\":");
			escape_json(out, col->name);
			appendStringInfo(out, ",\"type_oid\":%u,\"type\":", col->type_oid);
			escape_json(out, col->type_name);
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
	if (c->key.len > 0)
		append_key(out, c);
	if (c->n_new_values > 0)
		append_tuple(out, "new", c->new_values, c->n_new_values, c->columns);
	if (c->n_old_values > 0)
		append_tuple(out, "old", c->old_values, c->n_old_values, c->columns);

	if (c->truncate)
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
	if (c->message)
	{
		Value		v = WALSTAR__V1__VALUE__INIT;

		appendStringInfo(out, ",\"message\":{\"transactional\":%s,\"prefix\":",
						 c->message->transactional ? "true" : "false");
		escape_json(out, c->message->prefix);
		v.kind_case = WALSTAR__V1__VALUE__KIND_BYTES_VALUE;
		v.bytes_value = c->message->content;
		appendStringInfoString(out, ",\"content\":");
		append_value(out, &v, NULL);
		appendStringInfoChar(out, '}');
	}
	if (c->commit)
	{
		appendStringInfo(out, ",\"commit\":{\"change_count\":%u", c->commit->change_count);
		if (c->commit->end_lsn)
		{
			appendStringInfoString(out, ",\"end_lsn\":\"");
			change_append_lsn(out, c->commit->end_lsn);
			appendStringInfoChar(out, '"');
		}
		appendStringInfoString(out, ",\"tables\":[");
		for (i = 0; i < c->commit->n_tables; i++)
		{
			if (i > 0)
				appendStringInfoChar(out, ',');
			appendStringInfoString(out, "{\"schema\":");
			escape_json(out, c->commit->tables[i]->schema);
			appendStringInfoString(out, ",\"table\":");
			escape_json(out, c->commit->tables[i]->table);
			appendStringInfo(out, ",\"count\":%u}", c->commit->tables[i]->count);
		}
		appendStringInfoString(out, "]}");
	}
	appendStringInfoChar(out, '}');
}

static void
append_value(StringInfo out, const Value *v, const Column *col)
{
	char	   *text;

	switch (v->kind_case)
	{
		case WALSTAR__V1__VALUE__KIND_IS_NULL:
			appendStringInfoString(out, "null");
			return;
		case WALSTAR__V1__VALUE__KIND_INT_VALUE:
		case WALSTAR__V1__VALUE__KIND_BOOL_VALUE:
			appendStringInfoString(out, change_value_text(v, col));
			return;
		case WALSTAR__V1__VALUE__KIND_DOUBLE_VALUE:
			if (!isnan(v->double_value) && !isinf(v->double_value))
			{
				appendStringInfoString(out, change_value_text(v, col));
				return;
			}
			break;
		case WALSTAR__V1__VALUE__KIND_INTERVAL_VALUE:
			{
				Interval	iv;

				/* readable for people: the server's own interval output */
				iv.month = v->interval_value ? v->interval_value->months : 0;
				iv.day = v->interval_value ? v->interval_value->days : 0;
				iv.time = v->interval_value ? v->interval_value->micros : 0;
				escape_json(out, DatumGetCString(DirectFunctionCall1(interval_out,
																	 IntervalPGetDatum(&iv))));
				return;
			}
		default:
			break;
	}
	text = change_value_text(v, col);
	escape_json(out, text ? text : "");
}

static void
append_tuple(StringInfo out, const char *name, Value **values, size_t n,
			 Column **columns)
{
	size_t		i;
	bool		first = true;
	bool		any_toast = false;

	appendStringInfo(out, ",\"%s\":{", name);
	for (i = 0; i < n; i++)
	{
		if (values[i]->kind_case == WALSTAR__V1__VALUE__KIND__NOT_SET)
			continue;
		if (values[i]->kind_case == WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST)
		{
			any_toast = true;
			continue;
		}
		if (!first)
			appendStringInfoChar(out, ',');
		first = false;
		escape_json(out, columns[i]->name);
		appendStringInfoChar(out, ':');
		append_value(out, values[i], columns[i]);
	}
	appendStringInfoChar(out, '}');
	if (!any_toast)
		return;
	appendStringInfo(out, ",\"%s_unchanged_toast\":[", name);
	first = true;
	for (i = 0; i < n; i++)
	{
		if (values[i]->kind_case != WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST)
			continue;
		if (!first)
			appendStringInfoChar(out, ',');
		first = false;
		escape_json(out, columns[i]->name);
	}
	appendStringInfoChar(out, ']');
}

/* The row key as a JSON array, values typed by the key columns in order. */
static void
append_key(StringInfo out, const Change *c)
{
	Walstar__V1__Key *key;
	size_t		i;
	size_t		col = 0;

	key = walstar__v1__key__unpack(NULL, c->key.len, c->key.data);
	if (key == NULL)
	{
		appendStringInfoString(out, ",\"key\":null");
		return;
	}
	PG_TRY();
	{
		appendStringInfoString(out, ",\"key\":[");
		for (i = 0; i < key->n_values; i++)
		{
			const Column *kc = NULL;

			while (col < c->n_columns && !c->columns[col]->is_key)
				col++;
			if (col < c->n_columns)
				kc = c->columns[col++];
			if (i > 0)
				appendStringInfoChar(out, ',');
			append_value(out, key->values[i], kc);
		}
		appendStringInfoChar(out, ']');
	}
	PG_FINALLY();
	{
		walstar__v1__key__free_unpacked(key, NULL);
	}
	PG_END_TRY();
}
