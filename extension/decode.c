/*-------------------------------------------------------------------------
 *
 * decode.c
 *		walstar.decode(bytea) returns jsonb: a walstar message as JSON.
 *
 * For tests, debugging and analysts looking at a topic: every field of the
 * record, rendered by ../common/change_json.c (its "record" style: dates and
 * times as their landing type's input text in UTC, intervals in the
 * session's IntervalStyle).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/fmgrprotos.h"

#include "change_json.h"
#include "walstar.h"

PG_FUNCTION_INFO_V1(walstar_decode);

Datum
walstar_decode(PG_FUNCTION_ARGS)
{
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	Change	   *change;
	char	   *error;
	StringInfoData out;
	static const ChangeJsonStyle record = {.record = true};

	change = change_unpack(VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw), &error);
	if (change == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid walstar message: %s", error)));

	initStringInfo(&out);
	change_json_append(&out, change, NULL, &record);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}
