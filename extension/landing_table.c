/*-------------------------------------------------------------------------
 *
 * landing_table.c
 *		Landing-table DDL: create a landing table, and follow its source's
 *		column layout (added, renamed, retyped columns) exactly, or refuse.
 *
 * The layout last applied (source attnums, names, landing types) is kept
 * in walstar.landing_tables (landing_state.c). A table batch is compared
 * with it by attnum, which a rename keeps:
 *   - a renamed column is renamed in the landing table;
 *   - a new column is added, NULL in existing rows when the source's
 *     existing rows are NULL too (no default), or with the value they read
 *     when it was added with a constant default (Column.missing, from
 *     attmissingval). A column with a default but no missing value (a
 *     volatile default rewrote the table, or the default came later) may
 *     hold values in existing rows that never travelled: refused while the
 *     landing table has rows;
 *   - a column whose type changed is refused unless the landing column
 *     already has the new type: how the source converted its rows (USING)
 *     is not in the stream;
 *   - a dropped column stays in the landing table, NULL in new rows.
 * A refusal is an error in the table batch's subtransaction, so each of its
 * changes becomes a dead letter with the reason (or stops the
 * subscription); once the landing column is made right (converted, or the
 * table re-copied), retrying the dead letters applies them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "parser/parse_type.h"
#include "common/hashfn.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "walstar.h"

/* A column's source attnum: sent when it is not the column's position. */
static int32
column_attnum(const Column *col, int i)
{
	return col->attnum != 0 ? (int32) col->attnum : i + 1;
}

/*
 * A column's landing type, which must be a type of pg_catalog: a type
 * elsewhere could be anyone's, with input functions of their choosing
 * running as the worker's role.
 */
static void
landing_type_parse(const Column *col, Oid *typid, int32 *typmod)
{
	HeapTuple	tup;
	Oid			nsp = InvalidOid;

	parseTypeString(col->landing_type, typid, typmod, false);
	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(*typid));
	if (HeapTupleIsValid(tup))
	{
		nsp = ((Form_pg_type) GETSTRUCT(tup))->typnamespace;
		ReleaseSysCache(tup);
	}
	if (nsp != PG_CATALOG_NAMESPACE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("landing type \"%s\" of column \"%s\" is not a built-in type",
						col->landing_type, col->name)));
}

static char *
landing_type_sql(const Column *col)
{
	Oid			typid;
	int32		typmod;

	landing_type_parse(col, &typid, &typmod);
	return format_type_extended(typid, typmod,
								FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY);
}

static void
run_ddl(const char *sql)
{
	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not run \"%s\"", sql);
}

static bool
layout_equal(const LandingState *layout, int ncols, Column **columns)
{
	int			i;

	if (layout->ncolumns != ncols)
		return false;
	for (i = 0; i < ncols; i++)
		if (layout->attnums[i] != column_attnum(columns[i], i) ||
			strcmp(layout->names[i], columns[i]->name) != 0 ||
			strcmp(layout->types[i], columns[i]->landing_type) != 0)
			return false;
	return true;
}

static void
layout_store(const char *schema, const char *relname, int ncols, Column **columns)
{
	int32	   *attnums = palloc(sizeof(int32) * Max(ncols, 1));
	char	  **names = palloc(sizeof(char *) * Max(ncols, 1));
	char	  **types = palloc(sizeof(char *) * Max(ncols, 1));
	int			i;

	for (i = 0; i < ncols; i++)
	{
		attnums[i] = column_attnum(columns[i], i);
		names[i] = columns[i]->name;
		types[i] = columns[i]->landing_type;
	}
	landing_state_write_layout(schema, relname, ncols, attnums, names, types);
}

/* advisory lock class (first key) of "this landing schema is being created" */
#define LANDING_SCHEMA_LOCK_CLASS 0x57A7

static bool
table_is_empty(const char *qualified)
{
	char	   *sql = psprintf("SELECT NOT EXISTS (SELECT FROM %s)", qualified);
	bool		isnull;

	if (SPI_execute(sql, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read %s", qualified);
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

static void
create_table(const char *schema, const char *qualified, int ncols, Column **columns,
			 int nkeys, const int *keycols)
{
	StringInfoData sql;
	int			i;

	initStringInfo(&sql);
	if (!OidIsValid(get_namespace_oid(schema, true)))
	{
		/*
		 * Workers of subscriptions sharing a landing schema may create it at
		 * once, and IF NOT EXISTS does not keep the second from failing on
		 * pg_namespace's unique index (its rows then went to dead letters):
		 * one at a time, and the second sees the first's, once committed.
		 */
		DirectFunctionCall2(pg_advisory_xact_lock_int4,
							Int32GetDatum(LANDING_SCHEMA_LOCK_CLASS),
							Int32GetDatum((int32) hash_bytes((const unsigned char *) schema,
															 strlen(schema))));
		AcceptInvalidationMessages();
		if (!OidIsValid(get_namespace_oid(schema, true)))
		{
			appendStringInfo(&sql, "CREATE SCHEMA IF NOT EXISTS %s", quote_identifier(schema));
			run_ddl(sql.data);
			resetStringInfo(&sql);
		}
	}
	appendStringInfo(&sql, "CREATE TABLE %s (", qualified);
	for (i = 0; i < ncols; i++)
		appendStringInfo(&sql, "%s%s %s", i > 0 ? ", " : "",
						 quote_identifier(columns[i]->name), landing_type_sql(columns[i]));
	if (nkeys > 0)
	{
		appendStringInfoString(&sql, ", PRIMARY KEY (");
		for (i = 0; i < nkeys; i++)
			appendStringInfo(&sql, "%s%s", i > 0 ? ", " : "",
							 quote_identifier(columns[keycols[i]]->name));
		appendStringInfoChar(&sql, ')');
	}
	appendStringInfoChar(&sql, ')');
	run_ddl(sql.data);
}

/*
 * Add a column the landing table lacks: with the value the source's
 * existing rows read (its missing value), NULL when they are NULL too, or
 * refused when they may hold values that never travelled.
 */
static void
add_column(const char *qualified, const Column *col, bool has_rows,
		   const DdlStep *added)
{
	const char *name = quote_identifier(col->name);
	char	   *type = landing_type_sql(col);

	if (col->missing != NULL &&
		col->missing->kind_case != WALSTAR__V1__VALUE__KIND_IS_NULL)
	{
		char	   *value = change_value_text(col->missing, col);

		run_ddl(psprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s %s DEFAULT %s::%s",
						 qualified, name, type, quote_literal_cstr(value), type));
		run_ddl(psprintf("ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT", qualified, name));
		return;
	}
	if (added != NULL && added->values_not_sent && has_rows)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("column \"%s\" was added to the source of %s with a volatile default: "
						"the values of the rows already there never travelled",
						col->name, qualified),
				 errdetail("Add the column to the landing table with the source's values (or "
						   "re-copy the table), then retry the dead letters.")));
	/* captured: the step says whether rows got values (without: the layout) */
	if (col->has_default && has_rows && added == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("column \"%s\" was added to the source of %s with a default that the rows "
						"already there may hold, and that never travelled",
						col->name, qualified),
				 errdetail("A volatile default rewrote the source table, or the default was set after "
						   "the column was added. Add the column to the landing table with the "
						   "source's values (or re-copy the table), then retry the dead letters.")));
	run_ddl(psprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s %s", qualified, name, type));
}

/*
 * Make sure the landing table exists and follows the batch's column layout
 * (see the file comment); returns the SQL type of each column as stored
 * and sets *typids (NULL: the table is absent and the batch only
 * truncates).
 */
char **
landing_table_prepare(const char *schema, const char *relname, const char *qualified,
					  int ncols, Column **columns, int nkeys, const int *keycols,
					  const Change *rec, Oid **typids)
{
	const Change *ddl = rec != NULL && rec->op == WALSTAR__V1__OP__DDL ? rec : NULL;
	Oid			nspid = get_namespace_oid(schema, true);
	Oid			relid = InvalidOid;
	bool		created = false;
	int			has_rows = -1;	/* unknown */
	LandingState prev = {0};
	bool		have_prev;
	char	  **types;
	int			i;

	if (OidIsValid(nspid))
		relid = get_relname_relid(relname, nspid);
	if (!OidIsValid(relid))
	{
		if (ncols == 0)
			return NULL;
		create_table(schema, qualified, ncols, columns, nkeys, keycols);
		relid = get_relname_relid(relname, get_namespace_oid(schema, false));
		created = true;
		has_rows = 0;
	}
	have_prev = !created && landing_state_read(schema, relname, &prev) && prev.has_layout;

	/*
	 * A record older than the captured DDL last applied, in another layout:
	 * it comes from a partition that lagged behind the one whose DDL record
	 * was applied first, and its values are in the layout from before.
	 */
	if (have_prev && ddl == NULL && rec != NULL && ncols > 0 &&
		stream_position_cmp(rec->timeline, rec->commit_lsn, rec->position,
							prev.ddl_timeline, prev.ddl_lsn, (uint32) prev.ddl_position) < 0 &&
		!layout_equal(&prev, ncols, columns))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a change of %s at %X/%X predates the schema change applied at %X/%X, "
						"in another column layout", qualified, LSN_FORMAT_ARGS(rec->commit_lsn),
						LSN_FORMAT_ARGS(prev.ddl_lsn)),
				 errdetail("Its partition lagged behind another one of the topic. With DDL capture "
						   "the table's topic should have one partition; re-copy the table.")));

	types = palloc(sizeof(char *) * Max(ncols, 1));
	*typids = palloc(sizeof(Oid) * Max(ncols, 1));
	for (i = 0; i < ncols; i++)
	{
		const Column *col = columns[i];
		AttrNumber	attnum = get_attnum(relid, col->name);
		int			k = -1;
		const DdlStep *retyped;
		Oid			typid;
		int32		typmod;
		Oid			collid;

		if (have_prev)
			for (k = prev.ncolumns - 1; k >= 0; k--)
				if (prev.attnums[k] == column_attnum(col, i))
					break;

		/* renamed at the source: same attnum, another name */
		if (attnum == InvalidAttrNumber && k >= 0 &&
			strcmp(prev.names[k], col->name) != 0 &&
			get_attnum(relid, prev.names[k]) != InvalidAttrNumber)
		{
			run_ddl(psprintf("ALTER TABLE %s RENAME COLUMN %s TO %s", qualified,
							 quote_identifier(prev.names[k]), quote_identifier(col->name)));
			attnum = get_attnum(relid, col->name);
		}
		if (attnum == InvalidAttrNumber)
		{
			if (has_rows < 0)
				has_rows = !table_is_empty(qualified);
			add_column(qualified, col, has_rows > 0,
					   landing_ddl_step(ddl, WALSTAR__V1__DDL_ACTION__ADD_COLUMN,
										column_attnum(col, i)));
			attnum = get_attnum(relid, col->name);
			if (attnum == InvalidAttrNumber)
				elog(ERROR, "column \"%s\" of %s not found after adding it", col->name, qualified);
		}
		/* retyped at the source, captured: convert as the source did */
		retyped = landing_ddl_step(ddl, WALSTAR__V1__DDL_ACTION__ALTER_COLUMN_TYPE,
								   column_attnum(col, i));
		if (retyped != NULL && col->pii == WALSTAR__V1__PII__PII_NONE &&
			(k < 0 || strcmp(prev.types[k], col->landing_type) != 0 ||
			 retyped->using_expression[0] != '\0'))
		{
			landing_ddl_convert(qualified, relid, col->name, landing_type_sql(col),
								retyped->using_expression);
			k = -1;				/* converted, or widened to text */
		}
		get_atttypetypmodcoll(relid, attnum, &typid, &typmod, &collid);

		/* retyped at the source: only a landing column already converted will do */
		if (k >= 0 && strcmp(prev.types[k], col->landing_type) != 0)
		{
			Oid			want;
			int32		wantmod;

			landing_type_parse(col, &want, &wantmod);
			if (want != typid || wantmod != typmod)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column \"%s\" of %s changed type at the source, from %s to %s",
								col->name, qualified, prev.types[k], col->landing_type),
						 errdetail("How the source converted its existing rows (USING) is not in the "
								   "change stream. Convert the landing column the same way (ALTER TABLE %s "
								   "ALTER COLUMN %s TYPE %s USING ...) or re-copy the table, then retry "
								   "the dead letters.",
								   qualified, quote_identifier(col->name), landing_type_sql(col))));
		}
		(*typids)[i] = typid;
		types[i] = format_type_extended(typid, typmod,
										FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY);
	}
	if (ncols > 0 && !(have_prev && layout_equal(&prev, ncols, columns)))
		layout_store(schema, relname, ncols, columns);
	return types;
}

/*
 * Whether the landing table (a table or partitioned table) has a trigger
 * that fires for the worker: not internal (foreign keys' triggers are),
 * enabled for the session's replication role (as TriggerEnabled() decides),
 * of any level and event. The ROW EXCLUSIVE lock the apply takes anyway is
 * taken now and kept, so the answer holds until the batch commits. A table
 * that does not exist yet has no trigger.
 */
bool
landing_table_has_triggers(const char *schema, const char *relname)
{
	Oid			nspid = get_namespace_oid(schema, true);
	Oid			relid;
	Relation	rel;
	char		relkind;
	bool		found = false;
	int			i;

	if (!OidIsValid(nspid))
		return false;
	relid = get_relname_relid(relname, nspid);
	if (!OidIsValid(relid))
		return false;
	/* anything else under that name fails in the apply's subtransaction */
	relkind = get_rel_relkind(relid);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		return false;
	rel = try_table_open(relid, RowExclusiveLock);
	if (rel == NULL)
		return false;			/* dropped meanwhile */
	for (i = 0; rel->trigdesc && i < rel->trigdesc->numtriggers && !found; i++)
	{
		const Trigger *trig = &rel->trigdesc->triggers[i];

		if (trig->tgisinternal || trig->tgenabled == TRIGGER_DISABLED)
			continue;
		if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
			found = trig->tgenabled != TRIGGER_FIRES_ON_ORIGIN;
		else
			found = trig->tgenabled != TRIGGER_FIRES_ON_REPLICA;
	}
	table_close(rel, NoLock);
	return found;
}
