/*-------------------------------------------------------------------------
 *
 * landing_ddl.c
 *		Captured schema changes (DDL records, decoder/ddl_capture.c) applied
 *		to a landing table at their position in the stream.
 *
 * A DDL record carries the columns as they are after the statement, so
 * landing_table_prepare follows additions and renames as it does for any
 * record; what only the capture knows is handled here:
 *   - ALTER COLUMN TYPE converts the landing column with the source's USING
 *     expression, after checking that it is one immutable expression over
 *     that column and nothing else (it comes from the stream: never
 *     trusted). Where that is impossible (another function, the conversion
 *     fails here) the column is widened to text with a WARNING naming why:
 *     the rows already there keep their old values, as text;
 *   - DROP COLUMN drops the landing column when the subscription says
 *     dropped_columns = 'drop', else keeps it (NULL in new rows);
 *   - ADD COLUMN tells whether existing rows got values that never
 *     travelled (a volatile default): then refused, as without capture.
 * The record comes once per partition of the topic, applied when all have
 * reached it (ddl_barrier.c): the (commit LSN, position) last applied is
 * kept in walstar.landing_tables, and an older or equal one is skipped.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "subxact.h"
#include "walstar.h"

const DdlStep *
landing_ddl_step(const Change *ddl, int action, int32 attnum)
{
	size_t		i;

	if (ddl == NULL || ddl->ddl == NULL)
		return NULL;
	for (i = 0; i < ddl->ddl->n_steps; i++)
		if ((int) ddl->ddl->steps[i]->action == action &&
			(int32) ddl->ddl->steps[i]->attnum == attnum)
			return ddl->ddl->steps[i];
	return NULL;
}

/* Whether this DDL record (or a later one) was applied already. */
static bool
ddl_seen(const char *schema, const char *relname, const Change *c)
{
	LandingState st;

	if (!landing_state_read(schema, relname, &st))
		return false;
	return stream_position_cmp(st.ddl_timeline, st.ddl_lsn, (uint32) st.ddl_position,
							   c->timeline, c->commit_lsn, c->position) >= 0;
}

/* What check_using needs and finds. */
typedef struct UsingCheck
{
	const char *sql;			/* SELECT (expr) FROM landing */
	Oid			relid;			/* the landing table */
	const char *problem;		/* what is wrong, or NULL */
} UsingCheck;

static void
check_using(void *arg)
{
	UsingCheck *uc = arg;
	List	   *raw = raw_parser(uc->sql, RAW_PARSE_DEFAULT);
	Query	   *q;
	TargetEntry *te;
	RangeTblEntry *rte;

	if (list_length(raw) != 1 || !IsA(((RawStmt *) linitial(raw))->stmt, SelectStmt))
	{
		uc->problem = "it is not one expression";
		return;
	}
	q = parse_analyze_fixedparams(linitial(raw), uc->sql, NULL, 0, NULL);
	if (q->commandType != CMD_SELECT || q->setOperations != NULL ||
		q->hasSubLinks || q->hasAggs || q->hasWindowFuncs ||
		q->hasTargetSRFs || q->cteList != NIL || q->jointree->quals != NULL ||
		q->groupClause != NIL || q->havingQual != NULL || q->sortClause != NIL ||
		q->distinctClause != NIL || q->limitCount != NULL ||
		q->limitOffset != NULL || q->rowMarks != NIL ||
		list_length(q->targetList) != 1 || list_length(q->rtable) != 1)
	{
		uc->problem = "it is not one expression over the column";
		return;
	}
	te = linitial(q->targetList);
	rte = linitial(q->rtable);
	if (rte->rtekind != RTE_RELATION || rte->relid != uc->relid)
		uc->problem = "it reads another relation";
	else if (contain_mutable_functions((Node *) te->expr))
		uc->problem = "it is not immutable";
}

/*
 * Why the USING expression cannot be used on the landing column, or NULL
 * when it is one immutable expression over that column alone. Checked on
 * the analysed query "SELECT (expr) FROM landing", with only pg_catalog on
 * the search_path (the caller sets it), so that text which closes the
 * parenthesis early, reads another table, or calls a function of some
 * other schema, is refused rather than run.
 */
static const char *
using_problem(const char *qualified, Oid relid, const char *expr)
{
	UsingCheck	uc = {psprintf("SELECT (%s\n) FROM %s", expr, qualified), relid, NULL};
	char	   *error = subxact_try(check_using, &uc);

	if (error != NULL)
		return psprintf("it does not parse here: %s", error);
	return uc.problem;
}

static void
run_sql(void *arg)
{
	const char *sql = arg;

	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not run \"%s\"", sql);
}

/*
 * Convert a landing column the way the source converted its rows: to
 * type_sql, with the source's USING expression (empty: an assignment cast,
 * as ALTER TABLE does without USING). Widened to text when that cannot be
 * done here.
 */
void
landing_ddl_convert(const char *qualified, Oid relid, const char *column,
					const char *type_sql, const char *using_expression)
{
	int			level = NewGUCNestLevel();
	const char *volatile problem = NULL;
	char	   *error;
	char	   *sql;

	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (using_expression != NULL && using_expression[0] != '\0')
		problem = using_problem(qualified, relid, using_expression);
	if (problem == NULL)
	{
		sql = psprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s", qualified,
					   quote_identifier(column), type_sql);
		if (using_expression != NULL && using_expression[0] != '\0')
			sql = psprintf("%s USING (%s\n)", sql, using_expression);
		error = subxact_try(run_sql, sql);
		if (error != NULL)
			problem = psprintf("the conversion failed here: %s", error);
	}
	if (problem != NULL)
	{
		ereport(WARNING,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of %s changed type at the source to %s; the landing column "
						"becomes text", column, qualified, type_sql),
				 errdetail("The source's conversion (USING %s) cannot be repeated here: %s. "
						   "Rows already in the landing table keep their old values, as text; "
						   "re-copy the table for the converted values.",
						   using_expression && using_expression[0] ? using_expression : "a cast",
						   problem)));
		sql = psprintf("ALTER TABLE %s ALTER COLUMN %s TYPE pg_catalog.text", qualified,
					   quote_identifier(column));
		if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not run \"%s\"", sql);
	}
	AtEOXact_GUC(true, level);
}

/*
 * Apply a DDL record: follow its layout (landing_table_prepare, which
 * converts retyped columns with the record's steps), then drop what it
 * dropped when the subscription asks for that.
 */
void
landing_ddl_apply(const char *schema, const char *relname, const char *qualified,
				  const Change *c, bool drop_columns)
{
	Oid		   *typids;
	int		   *keycols = palloc(sizeof(int) * Max(c->n_columns, 1));
	int			nkeys = 0;
	size_t		i;

	if (ddl_seen(schema, relname, c))
		return;
	for (i = 0; i < c->n_columns; i++)
		if (c->columns[i]->is_key)
			keycols[nkeys++] = i;
	(void) landing_table_prepare(schema, relname, qualified, c->n_columns, c->columns,
								 nkeys, keycols, c, &typids);
	for (i = 0; drop_columns && i < c->ddl->n_steps; i++)
	{
		const DdlStep *step = c->ddl->steps[i];
		size_t		j;
		bool		still = false;

		if (step->action != WALSTAR__V1__DDL_ACTION__DROP_COLUMN || step->column[0] == '\0')
			continue;
		/* a column of that name may be in the layout again (re-added) */
		for (j = 0; j < c->n_columns; j++)
			still |= strcmp(c->columns[j]->name, step->column) == 0;
		if (!still)
		{
			char	   *sql = psprintf("ALTER TABLE %s DROP COLUMN IF EXISTS %s", qualified,
									   quote_identifier(step->column));

			if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
				elog(ERROR, "could not run \"%s\"", sql);
		}
	}
	landing_state_write_ddl(schema, relname, c);
}
