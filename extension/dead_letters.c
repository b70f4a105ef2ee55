/*-------------------------------------------------------------------------
 *
 * dead_letters.c
 *		Keep what could not be decoded or applied: walstar.dead_letters.
 *
 * A dead letter is written in the apply transaction of its batch, so it
 * exists exactly when the offset that passed over it was stored.
 * walstar.retry_dead_letter() applies one again (apply_one_message).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "walstar.h"

PG_FUNCTION_INFO_V1(walstar_apply_dead_letter);

void
dead_letter_add(const char *subscription, const KafkaMessage *msg, const char *error)
{
	Oid			argtypes[6] = {TEXTOID, TEXTOID, INT4OID, INT8OID, BYTEAOID, TEXTOID};
	Datum		args[6];
	char		nulls[7] = "      ";
	char	   *clean = pstrdup(error);

	/* The error may quote the input: keep it valid text. */
	if (!pg_verifymbstr(clean, strlen(clean), true))
		clean = pstrdup("(error message not valid in the database encoding)");

	args[0] = CStringGetTextDatum(subscription);
	args[1] = CStringGetTextDatum(msg->topic);
	args[2] = Int32GetDatum(msg->partition);
	args[3] = Int64GetDatum(msg->offset);
	if (msg->payload)
	{
		bytea	   *raw = palloc(VARHDRSZ + msg->len);

		SET_VARSIZE(raw, VARHDRSZ + msg->len);
		memcpy(VARDATA(raw), msg->payload, msg->len);
		args[4] = PointerGetDatum(raw);
	}
	else
	{
		args[4] = (Datum) 0;
		nulls[4] = 'n';
	}
	args[5] = CStringGetTextDatum(clean);

	ereport(LOG,
			(errmsg("subscription \"%s\": topic \"%s\" partition %d offset " INT64_FORMAT " to walstar.dead_letters",
					subscription, msg->topic, msg->partition, msg->offset),
			 errdetail("%s", clean)));
	if (SPI_execute_with_args("INSERT INTO walstar.dead_letters"
							  " (subscription, topic, partition, \"offset\", raw, error)"
							  " VALUES ($1, $2, $3, $4, $5, $6)",
							  6, argtypes, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not insert into walstar.dead_letters");
}

/*
 * walstar._apply_dead_letter(id): apply the letter's message now into its
 * subscription's landing schema; NULL when applied, else the error.
 */
Datum
walstar_apply_dead_letter(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(id)};
	MemoryContext cxt = CurrentMemoryContext;
	bool		isnull;
	Datum		d;
	char	   *schema;
	bytea	   *raw;
	char	   *error;

	SPI_connect();
	if (SPI_execute_with_args("SELECT s.landing_schema::text, d.raw, s.owner"
							  " FROM walstar.dead_letters d"
							  " JOIN walstar.subscriptions s ON s.name = d.subscription"
							  " WHERE d.id = $1",
							  1, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read walstar.dead_letters");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dead letter " INT64_FORMAT " does not exist or its subscription was dropped", id)));
	schema = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	if (isnull)
		error = pstrdup("message without a value");
	else
	{
		raw = DatumGetByteaPP(d);
		/* as the subscription's owner, as its worker would */
		error = apply_one_message(schema,
								  DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
																 SPI_tuptable->tupdesc, 3, &isnull)),
								  VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw));
	}
	if (error)
		error = MemoryContextStrdup(cxt, error);
	SPI_finish();
	if (error == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(error));
}
