/*-------------------------------------------------------------------------
 *
 * ddl_capture.c
 *		The source side of DDL capture: an event trigger function that
 *		writes what an ALTER TABLE did to columns into the WAL, at its
 *		position in the transaction, for the decoder to send as a DDL
 *		record (walstar_decoder.c).
 *
 * walstar-sink --install-ddl-capture creates it on the source database:
 *   CREATE FUNCTION walstar_ddl.capture() RETURNS event_trigger
 *     LANGUAGE c AS 'walstar_decoder', 'walstar_ddl_capture';
 *   CREATE EVENT TRIGGER walstar_ddl_capture ON ddl_command_end
 *     WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION walstar_ddl.capture();
 * For each relation the statement changed it emits one transactional
 * logical message, prefix "walstar.ddl", holding a packed walstar.v1.Ddl.
 * The USING expression of ALTER COLUMN TYPE is the one thing the stream
 * cannot show otherwise: it is deparsed here, from the command the server
 * collected, with only pg_catalog on the search_path so that anything
 * else comes out schema-qualified.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "replication/message.h"
#include "rewrite/rewriteHandler.h"
#include "tcop/deparse_utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"

#include "subxact.h"
#include "walstar_decoder.h"

PG_FUNCTION_INFO_V1(walstar_ddl_capture);

/* The steps of one relation, collected before they are sent. */
typedef struct RelationSteps
{
	Oid			relid;
	List	   *steps;			/* Walstar__V1__DdlStep * */
} RelationSteps;

static Walstar__V1__DdlStep *
new_step(Walstar__V1__DdlAction action, int attnum, const char *column)
{
	Walstar__V1__DdlStep *step = palloc(sizeof(Walstar__V1__DdlStep));

	walstar__v1__ddl_step__init(step);
	step->action = action;
	step->attnum = attnum > 0 ? (uint32) attnum : 0;
	step->column = pstrdup(column != NULL ? column : "");
	return step;
}

static List *
add_step(List *rels, Oid relid, Walstar__V1__DdlStep *step)
{
	ListCell   *lc;
	RelationSteps *rs;

	foreach(lc, rels)
	{
		rs = lfirst(lc);
		if (rs->relid == relid)
		{
			rs->steps = lappend(rs->steps, step);
			return rels;
		}
	}
	rs = palloc(sizeof(RelationSteps));
	rs->relid = relid;
	rs->steps = list_make1(step);
	return lappend(rels, rs);
}

/* The USING expression as text; NULL when there is none. */
static char *
using_text(Oid relid, Node *expr)
{
	int			level;
	char	   *text;

	if (expr == NULL)
		return NULL;
	level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	text = deparse_expression(expr, deparse_context_for(get_rel_name(relid), relid),
							  false, false);
	AtEOXact_GUC(true, level);
	return text;
}

/*
 * Whether ADD COLUMN gave existing rows values the stream does not carry:
 * a default that is not a constant fast default (attmissingval) had to be
 * evaluated per row in a table rewrite.
 */
static bool
added_values_not_sent(Oid relid, AttrNumber attnum)
{
	Relation	rel = table_open(relid, AccessShareLock);
	Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
	bool		result = false;

	if (att->atthasdef && !att->atthasmissing)
	{
		Node	   *def = build_column_default(rel, attnum);

		result = def != NULL && contain_volatile_functions(def);
	}
	if (att->attidentity || att->attgenerated)
		result = true;
	table_close(rel, AccessShareLock);
	return result;
}

static List *
collect_alter_table(List *rels, CollectedCommand *cmd)
{
	ListCell   *lc;

	foreach(lc, cmd->d.alterTable.subcmds)
	{
		CollectedATSubcmd *sub = lfirst(lc);
		AlterTableCmd *at = (AlterTableCmd *) sub->parsetree;
		Oid			relid = sub->address.objectId;
		int			attnum = sub->address.objectSubId;
		Walstar__V1__DdlStep *step;

		if (!IsA(at, AlterTableCmd) || sub->address.classId != RelationRelationId)
			continue;
		if (!OidIsValid(relid))
			relid = cmd->d.alterTable.objectId;
		switch (at->subtype)
		{
			case AT_AddColumn:
			case AT_AddColumnRecurse:
				if (attnum <= 0)
					continue;
				step = new_step(WALSTAR__V1__DDL_ACTION__ADD_COLUMN, attnum,
								get_attname(relid, attnum, false));
				step->values_not_sent = added_values_not_sent(relid, attnum);
				break;
			case AT_DropColumn:
			case AT_DropColumnRecurse:
				step = new_step(WALSTAR__V1__DDL_ACTION__DROP_COLUMN, attnum, at->name);
				break;
			case AT_AlterColumnType:
				{
					ColumnDef  *def = (ColumnDef *) at->def;
					char	   *expr = using_text(relid, def ? def->cooked_default : NULL);

					step = new_step(WALSTAR__V1__DDL_ACTION__ALTER_COLUMN_TYPE, attnum, at->name);
					if (expr != NULL)
						step->using_expression = expr;
				}
				break;
			case AT_ColumnDefault:
				step = new_step(at->def != NULL ? WALSTAR__V1__DDL_ACTION__SET_DEFAULT :
								WALSTAR__V1__DDL_ACTION__DROP_DEFAULT, attnum, at->name);
				break;
			default:
				continue;		/* no column changed */
		}
		rels = add_step(rels, relid, step);
	}
	return rels;
}

static List *
collect_rename(List *rels, CollectedCommand *cmd)
{
	RenameStmt *stmt = (RenameStmt *) cmd->parsetree;
	Walstar__V1__DdlStep *step;

	if (!IsA(stmt, RenameStmt) || stmt->renameType != OBJECT_COLUMN ||
		cmd->d.simple.address.classId != RelationRelationId ||
		cmd->d.simple.address.objectSubId <= 0)
		return rels;
	step = new_step(WALSTAR__V1__DDL_ACTION__RENAME_COLUMN,
					cmd->d.simple.address.objectSubId, stmt->newname);
	step->old_name = pstrdup(stmt->subname);
	return add_step(rels, cmd->d.simple.address.objectId, step);
}

static void
emit_steps(const char *tag, RelationSteps *rs)
{
	Walstar__V1__Ddl ddl = WALSTAR__V1__DDL__INIT;
	ListCell   *lc;
	size_t		len;
	uint8_t    *buf;
	int			i = 0;

	ddl.command_tag = (char *) tag;
	ddl.relation_oid = rs->relid;
	ddl.n_steps = list_length(rs->steps);
	ddl.steps = palloc(sizeof(Walstar__V1__DdlStep *) * ddl.n_steps);
	foreach(lc, rs->steps)
		ddl.steps[i++] = lfirst(lc);
	len = walstar__v1__ddl__get_packed_size(&ddl);
	buf = palloc(len);
	walstar__v1__ddl__pack(&ddl, buf);
	(void) LogLogicalMessage(WALSTAR_DDL_PREFIX, (const char *) buf, len, true);
}

/* Only tables whose rows the decoder sends: permanent, with storage. */
static bool
captured_relation(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	bool		result = false;

	if (HeapTupleIsValid(tup))
	{
		Form_pg_class form = (Form_pg_class) GETSTRUCT(tup);

		result = form->relkind == RELKIND_RELATION &&
			form->relpersistence == RELPERSISTENCE_PERMANENT;
		ReleaseSysCache(tup);
	}
	return result;
}

static void
capture(void *arg)
{
	EventTriggerData *trigdata = arg;
	List	   *rels = NIL;
	ListCell   *lc;
	uint64		i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT command FROM pg_catalog.pg_event_trigger_ddl_commands()",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_event_trigger_ddl_commands()");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		CollectedCommand *cmd = (CollectedCommand *) DatumGetPointer(d);

		if (isnull || cmd == NULL)
			continue;
		if (cmd->type == SCT_AlterTable)
			rels = collect_alter_table(rels, cmd);
		else if (cmd->type == SCT_Simple)
			rels = collect_rename(rels, cmd);
	}
	foreach(lc, rels)
	{
		RelationSteps *rs = lfirst(lc);

		if (captured_relation(rs->relid))
			emit_steps(GetCommandTagName(trigdata->tag), rs);
	}
	SPI_finish();
}

/*
 * The event trigger.  A failure here must never fail the user's ALTER
 * TABLE: it is caught in a subtransaction of its own and logged, and the
 * statement goes uncaptured (the apply side then sees the new layout in
 * the next row change, as without capture).  A cancel still cancels.
 */
Datum
walstar_ddl_capture(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	char	   *error;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("walstar_ddl_capture() must be called as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;
	if (strcmp(trigdata->event, "ddl_command_end") != 0)
		PG_RETURN_NULL();

	error = subxact_try(capture, trigdata);
	if (error != NULL)
		ereport(WARNING,
				(errmsg("walstar DDL capture skipped this statement: %s", error),
				 errdetail("The analytics side sees the new column layout with the table's next change.")));
	PG_RETURN_NULL();
}
