/*-------------------------------------------------------------------------
 *
 * landing_state.c
 *		A landing table's row in walstar.landing_tables: what it holds and
 *		how far it has followed its source, read and written in one place.
 *
 * The row has three parts, each kept by one file:
 *   - which source table the landing table holds, and the commit LSN of
 *     the initial copy that filled it (landing_names.c);
 *   - the source column layout last applied (landing_table.c);
 *   - the last captured DDL record applied (landing_ddl.c).
 * Every statement runs as the extension's owner (bookkeeping_begin): the
 * table is walstar's, whoever owns the subscription.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"

#include "walstar.h"

static char **
text_elements(Datum array, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **out;
	int			i;

	deconstruct_array(DatumGetArrayTypeP(array), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, n);
	out = palloc(sizeof(char *) * Max(*n, 1));
	for (i = 0; i < *n; i++)
		out[i] = nulls[i] ? pstrdup("") : TextDatumGetCString(elems[i]);
	return out;
}

static uint64
lsn_or_zero(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? 0 : DatumGetLSN(d);
}

bool
landing_state_read(const char *schema, const char *relname, LandingState *st)
{
	Oid			argtypes[2] = {NAMEOID, NAMEOID};
	Datum		args[2] = {CStringGetDatum(schema), CStringGetDatum(relname)};
	BookkeepingUser save;

	memset(st, 0, sizeof(*st));
	bookkeeping_begin(&save);
	if (SPI_execute_with_args("SELECT source, system_identifier, source_schema, source_table,"
							  " copy_lsn, source_attnums, source_columns, source_types,"
							  " ddl_commit_lsn, ddl_position, copy_timeline, ddl_timeline"
							  " FROM walstar.landing_tables"
							  " WHERE landing_schema OPERATOR(pg_catalog.=) $1"
							  " AND landing_table OPERATOR(pg_catalog.=) $2",
							  2, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read walstar.landing_tables");
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		st->found = true;
		st->source = SPI_getvalue(tup, desc, 1);
		st->system_id = (uint64) DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		st->schema = SPI_getvalue(tup, desc, 3);
		st->table = SPI_getvalue(tup, desc, 4);
		st->copy_lsn = lsn_or_zero(tup, desc, 5);
		st->copy_timeline = (uint32) DatumGetInt64(SPI_getbinval(tup, desc, 11, &isnull));
		d = SPI_getbinval(tup, desc, 6, &isnull);
		if (!isnull)
		{
			Datum	   *elems;
			bool	   *nulls;
			int			n,
						nn,
						nt,
						i;

			deconstruct_array(DatumGetArrayTypeP(d), INT4OID, 4, true, TYPALIGN_INT,
							  &elems, &nulls, &n);
			st->attnums = palloc(sizeof(int32) * Max(n, 1));
			for (i = 0; i < n; i++)
				st->attnums[i] = nulls[i] ? 0 : DatumGetInt32(elems[i]);
			st->names = text_elements(SPI_getbinval(tup, desc, 7, &isnull), &nn);
			st->types = text_elements(SPI_getbinval(tup, desc, 8, &isnull), &nt);
			st->ncolumns = n;
			st->has_layout = (nn == n && nt == n);
		}
		st->ddl_lsn = lsn_or_zero(tup, desc, 9);
		d = SPI_getbinval(tup, desc, 10, &isnull);
		st->ddl_position = isnull ? 0 : DatumGetInt64(d);
		st->ddl_timeline = (uint32) DatumGetInt64(SPI_getbinval(tup, desc, 12, &isnull));
	}
	bookkeeping_end(&save);
	return st->found;
}

/* UPDATE the row's columns in set (SQL, $3 on), with these values. */
static void
update_row(const char *schema, const char *relname, const char *set, int n,
		   Oid *types, Datum *values)
{
	Oid			argtypes[8] = {NAMEOID, NAMEOID};
	Datum		args[8] = {CStringGetDatum(schema), CStringGetDatum(relname)};
	BookkeepingUser save;

	Assert(n <= 6);
	memcpy(argtypes + 2, types, sizeof(Oid) * n);
	memcpy(args + 2, values, sizeof(Datum) * n);
	bookkeeping_begin(&save);
	if (SPI_execute_with_args(psprintf("UPDATE walstar.landing_tables SET %s"
									   " WHERE landing_schema OPERATOR(pg_catalog.=) $1"
									   " AND landing_table OPERATOR(pg_catalog.=) $2", set),
							  n + 2, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not write walstar.landing_tables");
	bookkeeping_end(&save);
}

/* The landing table is claimed for c's source table, unless it already is. */
bool
landing_state_claim(const char *schema, const char *relname, const Change *c)
{
	Oid			argtypes[6] = {NAMEOID, NAMEOID, TEXTOID, INT8OID, TEXTOID, TEXTOID};
	Datum		args[6] = {CStringGetDatum(schema), CStringGetDatum(relname),
		CStringGetTextDatum(c->source), Int64GetDatum((int64) c->system_id),
	CStringGetTextDatum(c->schema), CStringGetTextDatum(c->table)};
	BookkeepingUser save;
	bool		claimed;

	bookkeeping_begin(&save);
	if (SPI_execute_with_args("INSERT INTO walstar.landing_tables"
							  " (landing_schema, landing_table, source, system_identifier,"
							  "  source_schema, source_table)"
							  " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
							  6, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write walstar.landing_tables");
	claimed = SPI_processed == 1;
	bookkeeping_end(&save);
	return claimed;
}

/*
 * The copy epoch of the landing table, its row locked until the caller's
 * transaction ends (waiting for another one that holds it).
 */
void
landing_state_lock_copy(const char *schema, const char *relname, uint32 *timeline,
						uint64 *lsn)
{
	Oid			argtypes[2] = {NAMEOID, NAMEOID};
	Datum		args[2] = {CStringGetDatum(schema), CStringGetDatum(relname)};
	BookkeepingUser save;

	bookkeeping_begin(&save);
	if (SPI_execute_with_args("SELECT copy_lsn, copy_timeline FROM walstar.landing_tables"
							  " WHERE landing_schema OPERATOR(pg_catalog.=) $1"
							  " AND landing_table OPERATOR(pg_catalog.=) $2 FOR UPDATE",
							  2, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not lock walstar.landing_tables");
	if (SPI_processed == 1)
	{
		bool		isnull;

		*lsn = lsn_or_zero(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		*timeline = (uint32) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
														 SPI_tuptable->tupdesc, 2, &isnull));
	}
	bookkeeping_end(&save);
}

void
landing_state_write_copy_lsn(const char *schema, const char *relname, uint32 timeline,
							 uint64 lsn)
{
	Oid			types[2] = {PG_LSNOID, INT8OID};
	Datum		values[2] = {LSNGetDatum(lsn), Int64GetDatum((int64) timeline)};

	update_row(schema, relname, "copy_lsn = $3, copy_timeline = $4", 2, types, values);
}

void
landing_state_write_layout(const char *schema, const char *relname, int n,
						   const int32 *attnums, char **names, char **types)
{
	Oid			argtypes[3] = {INT4ARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[3];
	Datum	   *a = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *c = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *t = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
	{
		a[i] = Int32GetDatum(attnums[i]);
		c[i] = CStringGetTextDatum(names[i]);
		t[i] = CStringGetTextDatum(types[i]);
	}
	values[0] = PointerGetDatum(construct_array(a, n, INT4OID, 4, true, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(c, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(t, n, TEXTOID, -1, false, TYPALIGN_INT));
	update_row(schema, relname, "source_attnums = $3, source_columns = $4, source_types = $5",
			   3, argtypes, values);
}

void
landing_state_write_ddl(const char *schema, const char *relname, const Change *c)
{
	Oid			types[3] = {PG_LSNOID, INT8OID, INT8OID};
	Datum		values[3] = {LSNGetDatum(c->commit_lsn), Int64GetDatum((int64) c->position),
	Int64GetDatum((int64) c->timeline)};

	update_row(schema, relname, "ddl_commit_lsn = $3, ddl_position = $4, ddl_timeline = $5",
			   3, types, values);
}
