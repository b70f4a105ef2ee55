/*-------------------------------------------------------------------------
 *
 * subscription.c
 *		Reading walstar's configuration and progress tables.
 *
 * Every function here runs SQL through SPI inside the caller's
 * transaction and returns results allocated in the caller's memory
 * context.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"

#include "walstar.h"

/*
 * The extension's owner, who owns walstar's tables, or InvalidOid when the
 * extension is gone. Looked up once per transaction (the apply switches to
 * it several times per table batch); the extension may be dropped and made
 * again between transactions.
 */
static Oid
extension_owner(void)
{
	static Oid	owner = InvalidOid;
	static LocalTransactionId looked_up = InvalidLocalTransactionId;
	bool		isnull;

	if (looked_up == MyProc->lxid && looked_up != InvalidLocalTransactionId)
		return owner;
	owner = InvalidOid;
	SPI_connect();
	if (SPI_execute("SELECT extowner FROM pg_catalog.pg_extension WHERE extname = 'walstar'",
					true, 1) == SPI_OK_SELECT && SPI_processed == 1)
		owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	looked_up = MyProc->lxid;
	return owner;
}

void
bookkeeping_begin(BookkeepingUser *save)
{
	Oid			owner = extension_owner();

	GetUserIdAndSecContext(&save->saved_user, &save->saved_sec);
	if (OidIsValid(owner))
		SetUserIdAndSecContext(owner, save->saved_sec | SECURITY_LOCAL_USERID_CHANGE);
}

void
bookkeeping_end(const BookkeepingUser *save)
{
	SetUserIdAndSecContext(save->saved_user, save->saved_sec);
}

static char *
get_text(HeapTuple tup, TupleDesc desc, int col, MemoryContext cxt)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	if (isnull)
		return NULL;
	return MemoryContextStrdup(cxt, TextDatumGetCString(d));
}

/*
 * The subscription with this id, or NULL when it does not exist and
 * missing_ok. FOR SHARE waits for a transaction changing it (e.g. the one
 * that enabled it and started our worker) and then reads its result.
 */
Subscription *
subscription_load(int32 id, bool missing_ok)
{
	MemoryContext cxt = CurrentMemoryContext;
	Subscription *sub;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(id)};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	uint64		i;

	SPI_connect();
	if (SPI_execute_with_args("SELECT name, brokers, topics::text[], topic_pattern,"
							  " landing_schema::text, batch_size,"
							  " (extract(epoch FROM batch_time) * 1000)::int,"
							  " error_policy = 'stop', enabled, config_version,"
							  " rewind_time, owner, dropped_columns = 'drop', workers"
							  " FROM walstar.subscriptions WHERE id = $1 FOR SHARE",
							  1, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read walstar.subscriptions");
	if (SPI_processed == 0)
	{
		SPI_finish();
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("walstar subscription %d does not exist", id)));
	}
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	sub = MemoryContextAllocZero(cxt, sizeof(Subscription));
	sub->id = id;
	sub->name = get_text(tup, desc, 1, cxt);
	sub->brokers = get_text(tup, desc, 2, cxt);
	d = SPI_getbinval(tup, desc, 3, &isnull);
	if (!isnull)
	{
		Datum	   *elems;
		int			nelems;
		MemoryContext old = MemoryContextSwitchTo(cxt);
		int			j;

		deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, NULL, &nelems);
		for (j = 0; j < nelems; j++)
			sub->topics = lappend(sub->topics, TextDatumGetCString(elems[j]));
		MemoryContextSwitchTo(old);
	}
	sub->topic_pattern = get_text(tup, desc, 4, cxt);
	sub->landing_schema = get_text(tup, desc, 5, cxt);
	sub->batch_size = DatumGetInt32(SPI_getbinval(tup, desc, 6, &isnull));
	sub->batch_time_ms = Max(1, DatumGetInt32(SPI_getbinval(tup, desc, 7, &isnull)));
	sub->stop_on_error = DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull));
	sub->enabled = DatumGetBool(SPI_getbinval(tup, desc, 9, &isnull));
	sub->config_version = DatumGetInt64(SPI_getbinval(tup, desc, 10, &isnull));
	d = SPI_getbinval(tup, desc, 11, &isnull);
	sub->rewind_pending = !isnull;
	sub->rewind_time = isnull ? 0 : DatumGetTimestampTz(d);
	sub->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 12, &isnull));
	sub->drop_columns = DatumGetBool(SPI_getbinval(tup, desc, 13, &isnull));
	sub->workers = Max(1, DatumGetInt32(SPI_getbinval(tup, desc, 14, &isnull)));

	if (SPI_execute_with_args("SELECT key, value #>> '{}' FROM walstar.subscriptions,"
							  " jsonb_each(properties) WHERE id = $1 ORDER BY key",
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read walstar.subscriptions");
	for (i = 0; i < SPI_processed; i++)
	{
		MemoryContext old;
		char	   *name = get_text(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, cxt);
		char	   *value = get_text(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, cxt);

		old = MemoryContextSwitchTo(cxt);
		sub->property_names = lappend(sub->property_names, name);
		sub->property_values = lappend(sub->property_values, value ? value : pstrdup(""));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return sub;
}

HTAB *
partition_table_create(MemoryContext cxt)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(TopicPartition);
	ctl.entrysize = sizeof(PartitionState);
	ctl.hcxt = cxt;
	return hash_create("walstar partitions", 64, &ctl,
					   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

PartitionState *
partition_state_get(HTAB *parts, const char *topic, int32 partition, bool create)
{
	TopicPartition key;
	PartitionState *ps;
	bool		found;

	memset(&key, 0, sizeof(key));
	strlcpy(key.topic, topic, sizeof(key.topic));
	key.partition = partition;
	ps = hash_search(parts, &key, create ? HASH_ENTER : HASH_FIND, &found);
	if (ps && !found)
	{
		ps->next_offset = -2;	/* RD_KAFKA_OFFSET_BEGINNING */
		ps->stored = false;
		ps->last_timeline = 0;
		ps->last_commit_lsn = 0;
		ps->last_position = 0;
		ps->last_commit_time = 0;
		ps->high_watermark = -1;
		ps->applied_messages = 0;
		ps->applied_at = 0;
		ps->rate = 0;
		ps->rate_base = 0;
		ps->dirty = false;
		ps->assigned = false;
		ps->elsewhere = false;
		ps->source_known = false;
		ps->source[0] = '\0';
		ps->system_id = 0;
		ps->parked = ps->pause = ps->resume = ps->park_moved = false;
		ps->park_timeline = 0;
		ps->park_lsn = 0;
		ps->park_position = 0;
		ps->applied_timeline = 0;
		ps->applied_commit_lsn = 0;
		ps->applied_position = 0;
		ps->heartbeat_time = 0;
		ps->heartbeat_timeline = 0;
		ps->heartbeat_lsn = 0;
		ps->heartbeat_gap = 0;
	}
	return ps;
}

/*
 * (Re)load the stored progress of every partition of a subscription. With
 * a snapshot of its own, taken now: a partition that another worker
 * applied until the configuration changed (workers => M) is read with
 * that worker's last batch, which committed before the change did.
 */
void
partition_table_load(HTAB *parts, int32 subscription_id)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(subscription_id)};
	uint64		i;

	SPI_connect();
	if (SPI_execute_with_args("SELECT topic, partition, next_offset,"
							  " last_commit_lsn, last_position,"
							  " (extract(epoch FROM last_commit_time) * 1000000)::int8,"
							  " applied_messages, source, system_identifier,"
							  " (extract(epoch FROM last_heartbeat_time) * 1000000)::int8, last_timeline"
							  " FROM walstar.subscription_offsets WHERE subscription_id = $1",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read walstar.subscription_offsets");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *topic = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
		int32		partition = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		PartitionState *ps = partition_state_get(parts, topic, partition, true);
		Datum		d;

		ps->next_offset = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		ps->last_commit_lsn = DatumGetLSN(SPI_getbinval(tup, desc, 4, &isnull));
		ps->last_position = (uint32) DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
		ps->last_timeline = (uint32) DatumGetInt64(SPI_getbinval(tup, desc, 11, &isnull));
		d = SPI_getbinval(tup, desc, 6, &isnull);
		ps->last_commit_time = isnull ? 0 : DatumGetInt64(d);
		ps->applied_messages = DatumGetInt64(SPI_getbinval(tup, desc, 7, &isnull));
		ps->rate_base = ps->applied_messages;
		d = SPI_getbinval(tup, desc, 8, &isnull);
		ps->source_known = !isnull;
		if (!isnull)
		{
			text_to_cstring_buffer(DatumGetTextPP(d), ps->source, sizeof(ps->source));
			ps->system_id = (uint64) DatumGetInt64(SPI_getbinval(tup, desc, 9, &isnull));
		}
		d = SPI_getbinval(tup, desc, 10, &isnull);
		ps->heartbeat_time = isnull ? 0 : DatumGetInt64(d);
		ps->stored = true;
	}
	SPI_finish();
}

/*
 * Record what one of a subscription's workers does (in the caller's
 * transaction).
 */
void
subscription_set_worker_state(int32 subscription_id, int worker, const char *state,
							  const char *error)
{
	Oid			argtypes[5] = {INT4OID, INT4OID, TEXTOID, TEXTOID, INT4OID};
	Datum		args[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	args[0] = Int32GetDatum(subscription_id);
	args[1] = Int32GetDatum(MyProcPid);
	args[2] = CStringGetTextDatum(state);
	if (error)
		args[3] = CStringGetTextDatum(error);
	else
	{
		args[3] = (Datum) 0;
		nulls[3] = 'n';
	}
	args[4] = Int32GetDatum(worker);
	SPI_connect();
	if (SPI_execute_with_args("INSERT INTO walstar.subscription_workers AS w"
							  " (subscription_id, worker, pid, state, last_error, last_error_time,"
							  "  started_at, updated_at)"
							  " SELECT $1, $5, $2, $3, $4, CASE WHEN $4 IS NOT NULL THEN now() END,"
							  "  now(), now()"
							  " WHERE EXISTS (SELECT FROM walstar.subscriptions WHERE id = $1)"
							  " ON CONFLICT (subscription_id, worker) DO UPDATE"
							  " SET pid = excluded.pid, state = excluded.state,"
							  "  last_error = coalesce(excluded.last_error, w.last_error),"
							  "  last_error_time = coalesce(excluded.last_error_time, w.last_error_time),"
							  "  started_at = CASE WHEN excluded.state = 'starting'"
							  "   THEN excluded.started_at ELSE w.started_at END,"
							  "  updated_at = now()",
							  5, argtypes, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write walstar.subscription_workers");
	SPI_finish();
}

/* A worker the subscription no longer has (workers lowered). */
void
subscription_forget_worker(int32 subscription_id, int worker)
{
	Oid			argtypes[2] = {INT4OID, INT4OID};
	Datum		args[2] = {Int32GetDatum(subscription_id), Int32GetDatum(worker)};

	SPI_connect();
	if (SPI_execute_with_args("DELETE FROM walstar.subscription_workers"
							  " WHERE subscription_id = $1 AND worker = $2",
							  2, argtypes, args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not write walstar.subscription_workers");
	SPI_finish();
}

/*
 * The worker (0 .. workers - 1) that applies a partition: consecutive
 * partitions of a topic go to consecutive workers, and each topic starts at
 * a worker of its own (a hash of its name), so that topics of one
 * partition spread over the workers too. FNV-1a: the same in every
 * process and on every platform, also in walstar._partition_worker().
 */
int
subscription_partition_worker(const char *topic, int32 partition, int workers)
{
	uint32		h = 2166136261u;
	const char *s;

	if (workers <= 1)
		return 0;
	for (s = topic; *s; s++)
	{
		h ^= (unsigned char) *s;
		h *= 16777619u;
	}
	return (int) ((h % (uint32) workers + (uint32) partition % (uint32) workers) %
				  (uint32) workers);
}

PG_FUNCTION_INFO_V1(walstar_partition_worker);

Datum
walstar_partition_worker(PG_FUNCTION_ARGS)
{
	char	   *topic = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int32		partition = PG_GETARG_INT32(1);
	int32		workers = PG_GETARG_INT32(2);

	if (partition < 0 || workers < 1)
		PG_RETURN_NULL();
	PG_RETURN_INT32(subscription_partition_worker(topic, partition, workers));
}
