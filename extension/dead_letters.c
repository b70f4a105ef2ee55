/*-------------------------------------------------------------------------
 *
 * dead_letters.c
 *		Keep what could not be decoded or applied: walstar.dead_letters.
 *
 * A dead letter is written in the apply transaction of its batch, so it
 * exists exactly when the offset that passed over it was stored.
 * walstar.retry_dead_letter() applies one again (apply_one_change), unless
 * its partition applied a newer change since (check_letter_position).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"

#include "walstar.h"

PG_FUNCTION_INFO_V1(walstar_apply_dead_letter);

int64
dead_letter_add(const char *subscription, const KafkaMessage *msg, const char *error)
{
	bool		isnull;
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
							  " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
							  6, argtypes, args, nulls, false, 0) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "could not insert into walstar.dead_letters");
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * A dead letter is an old version of its row: once its partition has
 * applied a newer change (which may be of the same row: the message key
 * picks the partition, and a topic holds one table), applying the letter
 * could put that old version back. Without a position per row, the rule is
 * per partition: the letter's (commit LSN, position) must be above the
 * newest change the partition applied (subscription_offsets, locked here
 * against the worker until the retry commits). A partition without stored
 * progress has applied nothing.
 */
static void
check_letter_position(int64 id, int32 subscription_id, const char *topic,
					  int32 partition, const Change *c)
{
	Oid			argtypes[3] = {INT4OID, TEXTOID, INT4OID};
	Datum		args[3] = {Int32GetDatum(subscription_id), CStringGetTextDatum(topic),
	Int32GetDatum(partition)};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	uint64		lsn;
	uint32		position;
	uint32		timeline;
	Datum		d;

	if (SPI_execute_with_args("SELECT o.applied_commit_lsn, o.applied_position,"
							  " o.source, o.system_identifier, o.applied_timeline"
							  " FROM walstar.subscription_offsets o"
							  " WHERE o.subscription_id = $1 AND o.topic = $2 AND o.partition = $3"
							  " FOR UPDATE",
							  3, argtypes, args, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed == 0)
		return;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	lsn = DatumGetLSN(SPI_getbinval(tup, desc, 1, &isnull));
	position = (uint32) DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
	timeline = (uint32) DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
	d = SPI_getbinval(tup, desc, 3, &isnull);
	if (!isnull &&
		(strcmp(TextDatumGetCString(d), c->source) != 0 ||
		 (uint64) DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull)) != c->system_id))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("dead letter " INT64_FORMAT " comes from another source than the changes of its partition",
						id),
				 errdetail("Commit LSNs of two sources cannot be compared, so whether a newer version of its row was applied is unknown."),
				 errhint("Call walstar.forget_source() first if the source was replaced on purpose, or use force => true.")));
	if (c->commit_lsn == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("dead letter " INT64_FORMAT " has no commit LSN to compare with the changes its partition has applied",
						id),
				 errhint("Apply it anyway with walstar.retry_dead_letter(" INT64_FORMAT ", force => true).", id)));
	if (lsn != 0 &&
		stream_position_cmp(c->timeline, c->commit_lsn, c->position, timeline, lsn, position) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("dead letter " INT64_FORMAT " is not newer than the changes its partition has applied",
						id),
				 errdetail("Its change is at timeline %u commit LSN %X/%X position %u; topic \"%s\" partition %d has applied one at timeline %u commit LSN %X/%X position %u since, which may be a newer version of the same row.",
						   c->timeline, LSN_FORMAT_ARGS(c->commit_lsn), c->position, topic,
						   partition, timeline, LSN_FORMAT_ARGS(lsn), position),
				 errhint("Discard it with walstar.discard_dead_letter(" INT64_FORMAT "), or apply it anyway with walstar.retry_dead_letter(" INT64_FORMAT ", force => true).",
						 id, id)));
}

/* A retried letter is the partition's newest applied change, if newer. */
static void
store_letter_position(int32 subscription_id, const char *topic, int32 partition,
					  const Change *c)
{
	Oid			argtypes[6] = {INT4OID, TEXTOID, INT4OID, PG_LSNOID, INT8OID, INT8OID};
	Datum		args[6] = {Int32GetDatum(subscription_id), CStringGetTextDatum(topic),
		Int32GetDatum(partition), LSNGetDatum(c->commit_lsn),
	Int64GetDatum((int64) c->position), Int64GetDatum((int64) c->timeline)};

	if (c->commit_lsn == 0)
		return;
	if (SPI_execute_with_args("UPDATE walstar.subscription_offsets o"
							  " SET applied_timeline = $6, applied_commit_lsn = $4, applied_position = $5"
							  " WHERE o.subscription_id = $1 AND o.topic = $2 AND o.partition = $3"
							  " AND (o.applied_commit_lsn OPERATOR(pg_catalog.=) '0/0'"
							  "  OR walstar._position_cmp(o.applied_timeline, o.applied_commit_lsn,"
							  "   o.applied_position, $6, $4, $5) < 0)",
							  6, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update walstar.subscription_offsets");
}

/*
 * walstar._apply_dead_letter(id, force): apply the letter's message now
 * into its subscription's landing schema; NULL when applied, else the
 * error. Refused (ERROR) when its partition applied a newer change since,
 * unless force.
 */
Datum
walstar_apply_dead_letter(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	bool		force = PG_GETARG_BOOL(1);
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(id)};
	MemoryContext cxt = CurrentMemoryContext;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	char	   *schema;
	Oid			owner;
	int32		subscription_id;
	char	   *topic;
	int32		partition;
	char	   *error = NULL;

	SPI_connect();
	if (SPI_execute_with_args("SELECT s.landing_schema::text, d.raw, s.owner, s.id,"
							  " d.topic, d.partition"
							  " FROM walstar.dead_letters d"
							  " JOIN walstar.subscriptions s ON s.name = d.subscription"
							  " WHERE d.id = $1",
							  1, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read walstar.dead_letters");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dead letter " INT64_FORMAT " does not exist or its subscription was dropped", id)));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	schema = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
	owner = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
	subscription_id = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
	topic = TextDatumGetCString(SPI_getbinval(tup, desc, 5, &isnull));
	partition = DatumGetInt32(SPI_getbinval(tup, desc, 6, &isnull));
	d = SPI_getbinval(tup, desc, 2, &isnull);
	if (isnull)
		error = pstrdup("message without a value");
	else
	{
		bytea	   *raw = DatumGetByteaPP(d);
		Change	   *c = change_unpack(VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw), &error);

		if (c != NULL)
		{
			bool		data = change_is_row_change(c) ||
				c->op == WALSTAR__V1__OP__TRUNCATE;

			if (data && !force)
				check_letter_position(id, subscription_id, topic, partition, c);
			/* as the subscription's owner, as its worker would */
			error = apply_one_change(schema, owner, c);
			if (error == NULL && data)
				store_letter_position(subscription_id, topic, partition, c);
		}
	}
	if (error)
		error = MemoryContextStrdup(cxt, error);
	SPI_finish();
	if (error == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(error));
}
