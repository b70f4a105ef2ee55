/*-------------------------------------------------------------------------
 *
 * copy_epoch.c
 *		A chunked copy (epoch) of a keyed table completes downstream: the
 *		landing rows it did not see, and the stream did not write since it
 *		began, are deleted (sink/README.md "Initial snapshot").
 *
 * The sink sends SNAPSHOT_BEGIN to every partition of the table's topic at
 * the copy's first low watermark, and SNAPSHOT_END after the copy's last
 * READ records.  In each partition, from its BEGIN until the epoch
 * completes, every key a change writes is kept in walstar.copy_epoch_keys
 * (copy_epoch_track): READ records of the copy and stream changes alike.
 * What a partition held before its BEGIN (an abandoned copy's READ
 * records, say) is not kept: the partitions are applied independently, so
 * one may still be behind another's BEGIN.  A kept key carries its epoch:
 * a worker that saw an older epoch's BEGIN may still write its keys after
 * another worker began the newer one, and those must not count for it.
 * The transaction that applies the last partition's END deletes the
 * landing rows whose key is not kept: such a row was in no READ of the
 * copy and no change of its partition since BEGIN, so the source had not
 * got it (every row the source kept unchanged was read by some chunk).
 *
 * Parallel workers: the epoch's row is locked to count ENDs, so exactly
 * one transaction sees the last; before it deletes, the candidate rows
 * are locked (waiting for any transaction writing them, whose tracked
 * keys it then sees) and looked up again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"

#include "walstar.h"
#include "batch.h"

/* advisory lock class (first key) of "a copy epoch's BEGIN is applied" */
#define EPOCH_LOCK_CLASS "22439"

static Datum
epoch_datum(const Change *c)
{
	bytea	   *b = palloc(VARHDRSZ + c->snapshot_epoch.len);

	SET_VARSIZE(b, VARHDRSZ + c->snapshot_epoch.len);
	memcpy(VARDATA(b), c->snapshot_epoch.data, c->snapshot_epoch.len);
	return PointerGetDatum(b);
}

bool
copy_epoch_begin(const char *schema, const char *relname, const Change *c, int32 partition)
{
	Oid			argtypes[7] = {NAMEOID, NAMEOID, BYTEAOID, PG_LSNOID, INT4OID, INT4OID, INT8OID};
	Datum		args[7];
	BookkeepingUser save;
	bool		changed = true;
	bool		isnull;

	if (c->snapshot_epoch.len == 0 || c->partitions == 0)
		return false;
	args[0] = CStringGetDatum(schema);
	args[1] = CStringGetDatum(relname);
	args[2] = epoch_datum(c);
	args[3] = LSNGetDatum(c->commit_lsn);
	args[4] = Int32GetDatum((int32) c->partitions);
	args[5] = Int32GetDatum(partition);
	args[6] = Int64GetDatum((int64) c->timeline);
	bookkeeping_begin(&save);
	/* workers meet the BEGINs of one epoch: one after the other */
	if (SPI_execute_with_args("SELECT pg_catalog.pg_advisory_xact_lock(" EPOCH_LOCK_CLASS ","
							  " pg_catalog.hashtext($1 OPERATOR(pg_catalog.||) '.'"
							  " OPERATOR(pg_catalog.||) $2))",
							  2, (Oid[]) {TEXTOID, TEXTOID},
							  (Datum[]) {CStringGetTextDatum(schema), CStringGetTextDatum(relname)},
							  NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not lock the copy epoch of %s", relname);
	if (SPI_execute_with_args("SELECT epoch OPERATOR(pg_catalog.=) $3,"
							  /* newer by (timeline, LSN): after a failover the new
							   * timeline's watermarks may sit below the old one's */
							  " walstar._position_cmp(begin_timeline, begin_lsn, 0, $7, $4, 0) > 0,"
							  " $6 OPERATOR(pg_catalog.=) ANY (begun_partitions)"
							  "  OR completed_at IS NOT NULL"
							  " FROM walstar.copy_epochs"
							  " WHERE landing_schema OPERATOR(pg_catalog.=) $1"
							  " AND landing_table OPERATOR(pg_catalog.=) $2",
							  7, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read walstar.copy_epochs");
	if (SPI_processed == 1 &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
	{
		/* this epoch: the partition joins, once */
		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull)))
			changed = false;
		else if (SPI_execute_with_args("UPDATE walstar.copy_epochs"
									   " SET begun_partitions ="
									   " pg_catalog.array_append(begun_partitions, $6)"
									   " WHERE landing_schema OPERATOR(pg_catalog.=) $1"
									   " AND landing_table OPERATOR(pg_catalog.=) $2"
									   " AND epoch OPERATOR(pg_catalog.=) $3"
									   " AND NOT ($6 OPERATOR(pg_catalog.=) ANY (begun_partitions))",
									   6, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not write walstar.copy_epochs");
	}
	else if (SPI_processed == 1 &&
			 DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2,
										&isnull)))
		changed = false;		/* an older epoch than the table's */
	else if (SPI_execute_with_args("DELETE FROM walstar.copy_epoch_keys"
								   " WHERE landing_schema OPERATOR(pg_catalog.=) $1"
								   " AND landing_table OPERATOR(pg_catalog.=) $2",
								   2, argtypes, args, NULL, false, 0) != SPI_OK_DELETE ||
			 SPI_execute_with_args("INSERT INTO walstar.copy_epochs AS e (landing_schema,"
								   " landing_table, epoch, begin_timeline, begin_lsn, partitions,"
								   " begun_partitions)"
								   " VALUES ($1, $2, $3, $7, $4, $5, ARRAY[$6])"
								   " ON CONFLICT (landing_schema, landing_table) DO UPDATE"
								   " SET epoch = $3, begin_timeline = $7, begin_lsn = $4, partitions = $5,"
								   " begun_partitions = ARRAY[$6], done_partitions = '{}',"
								   " completed_at = NULL, deleted_rows = NULL",
								   7, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write walstar.copy_epochs");	/* a newer epoch replaces */
	bookkeeping_end(&save);
	return changed;
}

List *
copy_epoch_begun(const char *schema, const char *relname, char **epoch)
{
	Oid			argtypes[2] = {NAMEOID, NAMEOID};
	Datum		args[2] = {CStringGetDatum(schema), CStringGetDatum(relname)};
	BookkeepingUser save;
	List	   *begun = NIL;
	uint64		i;

	*epoch = NULL;
	bookkeeping_begin(&save);
	if (SPI_execute_with_args("SELECT pg_catalog.unnest(begun_partitions),"
							  " pg_catalog.encode(epoch, 'hex') FROM walstar.copy_epochs"
							  " WHERE landing_schema OPERATOR(pg_catalog.=) $1"
							  " AND landing_table OPERATOR(pg_catalog.=) $2"
							  " AND completed_at IS NULL",
							  2, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read walstar.copy_epochs");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		begun = lappend_int(begun, DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
															   SPI_tuptable->tupdesc, 1,
															   &isnull)));
		if (*epoch == NULL)
			*epoch = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
	}
	bookkeeping_end(&save);
	return begun;
}

/* ROWS FROM (unnest($first::text[]), ...[, unnest($epochs)]) AS u(a1, ...[, e]) */
static void
append_unnest(StringInfo sql, int nkeys, int first, int epochs)
{
	int			i;

	appendStringInfoString(sql, "ROWS FROM (");
	for (i = 0; i < nkeys; i++)
		appendStringInfo(sql, "%spg_catalog.unnest($%d::pg_catalog.text[])", i > 0 ? ", " : "",
						 first + i);
	if (epochs > 0)
		appendStringInfo(sql, ", pg_catalog.unnest($%d::pg_catalog.text[])", epochs);
	appendStringInfoString(sql, ") AS u(");
	for (i = 0; i < nkeys; i++)
		appendStringInfo(sql, "%sa%d", i > 0 ? ", " : "", i + 1);
	appendStringInfoString(sql, epochs > 0 ? ", e)" : ")");
}

void
copy_epoch_track(const char *schema, TableBatch *tb)
{
	ListCell   *lc;
	int			nitems = list_length(tb->items);
	char	  **kv;
	char	  **epochs;
	char	 ***cols;
	Oid		   *argtypes;
	Datum	   *args;
	StringInfoData sql;
	BookkeepingUser save;
	int			n = 0,
				i;

	if (tb->nkeys == 0 || tb->ncols == 0 || nitems == 0)
		return;
	kv = palloc(sizeof(char *) * tb->nkeys);
	cols = palloc(sizeof(char **) * tb->nkeys);
	epochs = palloc(sizeof(char *) * nitems);
	for (i = 0; i < tb->nkeys; i++)
		cols[i] = palloc(sizeof(char *) * nitems);
	foreach(lc, tb->items)
	{
		BatchItem  *item = lfirst(lc);
		char	   *key;

		if (item->track == NULL || item->change->op == WALSTAR__V1__OP__DELETE ||
			item->change->n_new_values == 0 ||
			(key = table_batch_row_key(tb, item->change->new_values)) == NULL)
			continue;
		table_batch_key_values(tb, key, kv);
		for (i = 0; i < tb->nkeys; i++)
			cols[i][n] = kv[i];
		epochs[n] = (char *) item->track;
		n++;
	}
	if (n == 0)
		return;
	argtypes = palloc(sizeof(Oid) * (tb->nkeys + 3));
	args = palloc(sizeof(Datum) * (tb->nkeys + 3));
	argtypes[0] = argtypes[1] = NAMEOID;
	args[0] = CStringGetDatum(schema);
	args[1] = CStringGetDatum(tb->relname);
	argtypes[2] = TEXTARRAYOID;
	args[2] = apply_sql_text_array(epochs, n);
	initStringInfo(&sql);
	appendStringInfoString(&sql, "INSERT INTO walstar.copy_epoch_keys"
						   " (landing_schema, landing_table, key, epoch) SELECT $1, $2, ARRAY[");
	for (i = 0; i < tb->nkeys; i++)
	{
		appendStringInfo(&sql, "%su.a%d", i > 0 ? ", " : "", i + 1);
		argtypes[i + 3] = TEXTARRAYOID;
		args[i + 3] = apply_sql_text_array(cols[i], n);
	}
	appendStringInfoString(&sql, "], pg_catalog.decode(u.e, 'hex') FROM ");
	append_unnest(&sql, tb->nkeys, 4, 3);
	appendStringInfoString(&sql, " ON CONFLICT DO NOTHING");
	bookkeeping_begin(&save);
	apply_sql_run(sql.data, tb->nkeys + 3, argtypes, args, NULL);
	bookkeeping_end(&save);
}

/* The landing table's key: names and types, in key order; false: gone. */
static bool
landing_key(const char *qualified, int *nkeys, char ***names, char ***types)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(qualified)};
	int			i;

	if (SPI_execute_with_args("SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)"
							  " FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a"
							  " ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid"
							  " AND a.attnum OPERATOR(pg_catalog.=) ANY (i.indkey)"
							  " WHERE i.indrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1)"
							  " AND i.indisprimary"
							  " ORDER BY pg_catalog.array_position(i.indkey::pg_catalog.int2[], a.attnum)",
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the key of %s", qualified);
	*nkeys = (int) SPI_processed;
	*names = palloc(sizeof(char *) * Max(*nkeys, 1));
	*types = palloc(sizeof(char *) * Max(*nkeys, 1));
	for (i = 0; i < *nkeys; i++)
	{
		(*names)[i] = pstrdup(quote_identifier(SPI_getvalue(SPI_tuptable->vals[i],
															SPI_tuptable->tupdesc, 1)));
		(*types)[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
	}
	return *nkeys > 0;
}

/* "NOT EXISTS (a kept key equal to the key in cols)", $1 $2: the table, $3 the epoch */
static void
append_unseen(StringInfo sql, int nkeys, char **cols, char **types)
{
	int			i;

	appendStringInfoString(sql, "NOT EXISTS (SELECT FROM walstar.copy_epoch_keys s"
						   " WHERE s.landing_schema OPERATOR(pg_catalog.=) $1"
						   " AND s.landing_table OPERATOR(pg_catalog.=) $2"
						   " AND s.epoch OPERATOR(pg_catalog.=) $3");
	for (i = 0; i < nkeys; i++)
		appendStringInfo(sql, " AND (s.key[%d])::%s OPERATOR(pg_catalog.=) (%s)::%s",
						 i + 1, types[i], cols[i], types[i]);
	appendStringInfoChar(sql, ')');
}

/*
 * Keys not kept, as text columns: of the landing table's rows (nargs 3),
 * or of the keys in the text[] parameters $4, ... (nargs nkeys + 3).
 */
static int
unseen_keys(const char *qualified, int nkeys, char **names, char **types, Datum *args,
			Oid *argtypes, int nargs, char ***out)
{
	StringInfoData sql;
	char	  **cols = palloc(sizeof(char *) * nkeys);
	int			i,
				r;

	for (i = 0; i < nkeys; i++)
		cols[i] = nargs > 3 ? psprintf("u.a%d", i + 1) : psprintf("t.%s", names[i]);
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (i = 0; i < nkeys; i++)
		appendStringInfo(&sql, "%s(%s)::pg_catalog.text", i > 0 ? ", " : "", cols[i]);
	appendStringInfoString(&sql, " FROM ");
	if (nargs > 3)
		append_unnest(&sql, nkeys, 4, 0);
	else
		appendStringInfo(&sql, "%s AS t", qualified);
	appendStringInfoString(&sql, " WHERE ");
	append_unseen(&sql, nkeys, cols, types);
	if (SPI_execute_with_args(sql.data, nargs, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read %s", qualified);
	for (i = 0; i < nkeys; i++)
	{
		out[i] = palloc(sizeof(char *) * Max(SPI_processed, 1));
		for (r = 0; r < (int) SPI_processed; r++)
			out[i][r] = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, i + 1);
	}
	return (int) SPI_processed;
}

/* As the subscription's owner: lock (FOR UPDATE) or delete the rows of keys. */
static void
landing_rows(const char *qualified, Oid owner, int nkeys, char **names, char **types,
			 char ***keys, int n, bool delete)
{
	StringInfoData sql;
	Oid		   *argtypes = palloc(sizeof(Oid) * nkeys);
	Datum	   *args = palloc(sizeof(Datum) * nkeys);
	Oid			saved_user;
	int			saved_sec;
	int			i;

	initStringInfo(&sql);
	appendStringInfo(&sql, delete ? "DELETE FROM %s AS t USING " : "SELECT FROM %s AS t, ",
					 qualified);
	append_unnest(&sql, nkeys, 1, 0);
	appendStringInfoString(&sql, " WHERE ");
	for (i = 0; i < nkeys; i++)
	{
		appendStringInfo(&sql, "%st.%s OPERATOR(pg_catalog.=) (u.a%d)::%s", i > 0 ? " AND " : "",
						 names[i], i + 1, types[i]);
		argtypes[i] = TEXTARRAYOID;
		args[i] = apply_sql_text_array(keys[i], n);
	}
	if (!delete)
		appendStringInfoString(&sql, " FOR UPDATE OF t");
	GetUserIdAndSecContext(&saved_user, &saved_sec);
	SetUserIdAndSecContext(owner, saved_sec | SECURITY_LOCAL_USERID_CHANGE);
	apply_sql_run(sql.data, nkeys, argtypes, args, NULL);
	SetUserIdAndSecContext(saved_user, saved_sec);
}

void
copy_epoch_end(const char *schema, const char *relname, Oid owner, const Change *c,
			   int32 partition)
{
	Oid			argtypes[4] = {NAMEOID, NAMEOID, BYTEAOID, INT4OID};
	Datum		args[4];
	const char *check = "SELECT partitions, cardinality(done_partitions) FROM walstar.copy_epochs"
		" WHERE landing_schema OPERATOR(pg_catalog.=) $1"
		" AND landing_table OPERATOR(pg_catalog.=) $2 AND epoch OPERATOR(pg_catalog.=) $3"
		" AND completed_at IS NULL AND NOT ($4 OPERATOR(pg_catalog.=) ANY (done_partitions))";
	BookkeepingUser save;
	char	   *qualified = psprintf("%s.%s", quote_identifier(schema), quote_identifier(relname));
	bool		isnull;
	int			nkeys,
				n,
				i;
	char	  **names,
			  **types;
	char	  **keys[FUNC_MAX_ARGS];
	char	  **left[FUNC_MAX_ARGS];
	Datum	   *kargs;
	Oid		   *ktypes;

	if (c->snapshot_epoch.len == 0)
		return;
	args[0] = CStringGetDatum(schema);
	args[1] = CStringGetDatum(relname);
	args[2] = epoch_datum(c);
	args[3] = Int32GetDatum(partition);
	bookkeeping_begin(&save);
	/* a resend, or an epoch replaced: nothing (and no lock taken) */
	if (SPI_execute_with_args(check, 4, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read walstar.copy_epochs");
	if (SPI_processed == 0 ||
		SPI_execute_with_args(psprintf("%s FOR UPDATE", check), 4, argtypes, args, NULL,
							  false, 1) != SPI_OK_SELECT || SPI_processed == 0)
	{
		bookkeeping_end(&save);
		return;
	}
	if (DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)) + 1 <
		DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
	{
		if (SPI_execute_with_args("UPDATE walstar.copy_epochs"
								  " SET done_partitions = pg_catalog.array_append(done_partitions, $4)"
								  " WHERE landing_schema OPERATOR(pg_catalog.=) $1"
								  " AND landing_table OPERATOR(pg_catalog.=) $2",
								  4, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not write walstar.copy_epochs");
		bookkeeping_end(&save);
		return;
	}

	/* the last partition: the rows nobody wrote since BEGIN go */
	n = 0;
	if (landing_key(qualified, &nkeys, &names, &types) && nkeys <= FUNC_MAX_ARGS - 3)
	{
		n = unseen_keys(qualified, nkeys, names, types, args, argtypes, 3, keys);
		if (n > 0)
		{
			landing_rows(qualified, owner, nkeys, names, types, keys, n, false);
			kargs = palloc(sizeof(Datum) * (nkeys + 3));
			ktypes = palloc(sizeof(Oid) * (nkeys + 3));
			memcpy(kargs, args, sizeof(Datum) * 3);
			memcpy(ktypes, argtypes, sizeof(Oid) * 3);
			for (i = 0; i < nkeys; i++)
			{
				ktypes[i + 3] = TEXTARRAYOID;
				kargs[i + 3] = apply_sql_text_array(keys[i], n);
			}
			/* locked: a writer of these rows committed, its keys are seen now */
			n = unseen_keys(qualified, nkeys, names, types, kargs, ktypes, nkeys + 3, left);
			if (n > 0)
				landing_rows(qualified, owner, nkeys, names, types, left, n, true);
		}
	}
	if (SPI_execute_with_args("UPDATE walstar.copy_epochs"
							  " SET done_partitions = pg_catalog.array_append(done_partitions, $4),"
							  " completed_at = pg_catalog.now(), deleted_rows = $5"
							  " WHERE landing_schema OPERATOR(pg_catalog.=) $1"
							  " AND landing_table OPERATOR(pg_catalog.=) $2",
							  5, (Oid[]) {NAMEOID, NAMEOID, BYTEAOID, INT4OID, INT8OID},
							  (Datum[]) {args[0], args[1], args[2], args[3], Int64GetDatum(n)},
							  NULL, false, 0) != SPI_OK_UPDATE ||
		SPI_execute_with_args("DELETE FROM walstar.copy_epoch_keys"
							  " WHERE landing_schema OPERATOR(pg_catalog.=) $1"
							  " AND landing_table OPERATOR(pg_catalog.=) $2",
							  2, argtypes, args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not write walstar.copy_epochs");
	bookkeeping_end(&save);
	elog(LOG, "walstar: chunked copy of %s complete in every partition; %d rows the source no longer has deleted",
		 qualified, n);
}
