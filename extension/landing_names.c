/*-------------------------------------------------------------------------
 *
 * landing_names.c
 *		Which landing table holds a source table.
 *
 * The name rule is short and readable: the source table's name for schema
 * public, else schema__table; a name longer than PostgreSQL keeps is cut
 * and given a hash of the whole source name, so that two long names that
 * differ only after the cut stay apart. The rule is still not injective
 * (a__b.c and a.b__c, or the same table of two sources), so
 * walstar.landing_tables records which source table (source, system
 * identifier, schema, table) each landing table holds, and a change of any
 * other source table that maps to the same name is refused with a reason:
 * it never overwrites another table's rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"

#include "walstar.h"

/* Bytes of a cut name kept before "_" and the 8 hex digits of the hash. */
#define CUT_NAME_KEEP (NAMEDATALEN - 1 - 9)

struct LandingHolder
{
	char	   *source;			/* Change.source */
	uint64		system_id;		/* Change.system_id */
	char	   *schema;			/* source schema */
	char	   *table;			/* source table */
	uint64		copy_lsn;		/* commit LSN of the copy that filled it, or 0 */
	uint32		copy_timeline;	/* its timeline */
};

/* FNV-1a: the same on every platform, unlike hash_bytes. */
static uint32
name_hash(const char *s)
{
	uint32		h = 2166136261u;

	for (; *s; s++)
	{
		h ^= (unsigned char) *s;
		h *= 16777619u;
	}
	return h;
}

char *
landing_name_of(const Change *c)
{
	char	   *name;
	int			len;

	if (strcmp(c->schema, "public") == 0)
		name = pstrdup(c->table);
	else
		name = psprintf("%s__%s", c->schema, c->table);
	len = strlen(name);
	if (len >= NAMEDATALEN)
	{
		char	   *whole = psprintf("%s.%s", c->schema, c->table);
		int			keep = pg_mbcliplen(name, len, CUT_NAME_KEEP);

		name = psprintf("%.*s_%08x", keep, name, name_hash(whole));
	}
	return name;
}

static LandingHolder *
holder_of_change(const Change *c)
{
	LandingHolder *h = palloc(sizeof(LandingHolder));

	h->source = c->source;
	h->system_id = c->system_id;
	h->schema = c->schema;
	h->table = c->table;
	h->copy_lsn = 0;
	h->copy_timeline = 0;
	return h;
}

static LandingHolder *
holder_lookup(const char *landing_schema, const char *relname)
{
	LandingState st;
	LandingHolder *h;

	if (!landing_state_read(landing_schema, relname, &st))
		return NULL;
	h = palloc(sizeof(LandingHolder));
	h->source = st.source;
	h->system_id = st.system_id;
	h->schema = st.schema;
	h->table = st.table;
	h->copy_lsn = st.copy_lsn;
	h->copy_timeline = st.copy_timeline;
	return h;
}

/*
 * The source table that relname in landing_schema holds: the registered
 * one, or c's, registered now (in the caller's transaction, so it goes
 * with the changes that create the table). A concurrent claim of the same
 * name waits for the other transaction and then reads its holder.
 */
LandingHolder *
landing_name_claim(const char *landing_schema, const char *relname, const Change *c)
{
	LandingHolder *h = holder_lookup(landing_schema, relname);

	if (h != NULL)
		return h;
	if (landing_state_claim(landing_schema, relname, c))
		return holder_of_change(c);
	h = holder_lookup(landing_schema, relname);
	if (h == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("landing table \"%s\" is claimed but not registered", relname),
				 errdetail("Its row in walstar.landing_tables was removed while this change claimed it.")));
	return h;
}

/* Whether c is a change of the source table h. */
bool
landing_name_holds(const LandingHolder *h, const Change *c)
{
	return h->system_id == c->system_id && strcmp(h->source, c->source) == 0 &&
		strcmp(h->schema, c->schema) == 0 && strcmp(h->table, c->table) == 0;
}

/* Why c, of another source table than h, cannot land in relname. */
char *
landing_name_clash(const char *landing_schema, const char *relname,
				   const LandingHolder *h, const Change *c)
{
	return psprintf("source table \"%s\".\"%s\" of source \"%s\" (system identifier " INT64_FORMAT ") "
					"maps to landing table \"%s\".\"%s\", which holds \"%s\".\"%s\" of source \"%s\" "
					"(system identifier " INT64_FORMAT "); "
					"subscribe them into different landing schemas (or rename one)",
					c->schema, c->table, c->source, (int64) c->system_id,
					landing_schema, relname, h->schema, h->table, h->source,
					(int64) h->system_id);
}

/*
 * c's commit position against the epoch of the copy whose READ records
 * filled the table, (timeline, commit LSN): <0 older, 0 the same, >0
 * newer.  Always newer when no copy filled it.
 */
int
landing_name_copy_cmp(const LandingHolder *h, const Change *c)
{
	if (h->copy_lsn == 0)
		return 1;
	return stream_position_cmp(c->timeline, c->commit_lsn, 0,
							   h->copy_timeline, h->copy_lsn, 0);
}

/*
 * c, a READ record of a copy newer than h's, starts filling the table (in
 * the caller's transaction, which empties it): true. Unless another worker
 * started that copy (or a newer one) meanwhile: h is read again with its
 * row locked, so a second worker waits for the first one's commit and then
 * finds its copy, rather than empty the rows that one applied (two workers
 * whose batches began while the table's row, claimed by an earlier change,
 * had no copy yet). h is brought up to date.
 */
bool
landing_name_start_copy(const char *landing_schema, const char *relname,
						LandingHolder *h, const Change *c)
{
	landing_state_lock_copy(landing_schema, relname, &h->copy_timeline, &h->copy_lsn);
	if (landing_name_copy_cmp(h, c) <= 0)
		return false;
	landing_state_write_copy_lsn(landing_schema, relname, c->timeline, c->commit_lsn);
	h->copy_lsn = c->commit_lsn;
	h->copy_timeline = c->timeline;
	return true;
}
