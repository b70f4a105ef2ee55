/*-------------------------------------------------------------------------
 *
 * relation_cache.c
 *		What walstar_decoder sends for a relation, computed once.
 *
 * A hash keyed by relation OID, filled on first use with everything a row
 * change needs: names, filter decision, sent columns with their encoding,
 * output functions, key columns, PII decisions and the pre-encoded column
 * descriptions.  Row changes then do no catalog lookups.
 *
 * Invalidation callbacks (relcache, and syscache for types and schemas,
 * whose renames change what we send) only clear the valid flag; the entry
 * is rebuilt on its next use.  As in PostgreSQL's typcache, a type or
 * schema invalidation clears only the entries that depend on the
 * invalidated catalog row: each entry keeps the syscache hash values of the
 * types it shows or resolves (column types, their domain chains, element
 * types) and of the schemas it names, so a source that creates a temporary
 * table per transaction (a new pg_type row each time) does not make every
 * relation rebuild.  An enum label change clears the entries with enum
 * columns.  The callbacks cannot be unregistered, so
 * they outlive the decoding context and must tolerate a missing hash: the
 * hash lives in a child of the plugin's context and a reset callback on it
 * forgets the pointer.
 *
 * Key columns (Column.is_key, Change.key) by replica identity:
 *	DEFAULT		the primary key (none if the table has no primary key)
 *	INDEX		the replica identity index's columns
 *	FULL		the primary key if there is one, else none
 *	NOTHING		none
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/tupdesc_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "walstar_decoder.h"

static HTAB *RelationCache = NULL;
static MemoryContext RelationCacheContext = NULL;

/*
 * The entry build_entry is filling: its dependencies are not all known
 * yet, so any type or schema invalidation arriving meanwhile clears it.
 */
static RelationEntry *EntryInBuild = NULL;

static void relation_cache_reset_cb(void *arg);
static void relcache_invalidate_cb(Datum arg, Oid relid);
static void syscache_invalidate_cb(Datum arg, int cacheid, uint32 hashvalue);
static void add_type_deps(RelationEntry *entry, Oid typoid);
static void build_entry(DecoderState *state, RelationEntry *entry, Relation rel);
static char *landing_type(Oid typoid, int32 typmod, Walstar__V1__Pii pii);
static size_t pack_columns(RelationEntry *entry);
static EnumLabels *enum_labels(Oid enumtype, bool to_utf8);

/*
 * Create the cache under the plugin's context (once per decoding context).
 */
void
relation_cache_init(MemoryContext parent)
{
	static bool callbacks_registered = false;
	HASHCTL		ctl;
	MemoryContextCallback *cb;

	RelationCacheContext = AllocSetContextCreate(parent,
												 "walstar relation cache",
												 ALLOCSET_DEFAULT_SIZES);
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(RelationEntry);
	ctl.hcxt = RelationCacheContext;
	RelationCache = hash_create("walstar relation cache", 128, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	cb = MemoryContextAlloc(RelationCacheContext, sizeof(MemoryContextCallback));
	cb->func = relation_cache_reset_cb;
	cb->arg = NULL;
	MemoryContextRegisterResetCallback(RelationCacheContext, cb);

	if (!callbacks_registered)
	{
		CacheRegisterRelcacheCallback(relcache_invalidate_cb, (Datum) 0);
		CacheRegisterSyscacheCallback(TYPEOID, syscache_invalidate_cb, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, syscache_invalidate_cb, (Datum) 0);
		CacheRegisterSyscacheCallback(ENUMOID, syscache_invalidate_cb, (Datum) 0);
		callbacks_registered = true;
	}
}

static void
relation_cache_reset_cb(void *arg)
{
	RelationCache = NULL;
	RelationCacheContext = NULL;
}

static void
relcache_invalidate_cb(Datum arg, Oid relid)
{
	RelationEntry *entry;

	if (RelationCache == NULL)
		return;

	if (OidIsValid(relid))
	{
		entry = hash_search(RelationCache, &relid, HASH_FIND, NULL);
		if (entry != NULL)
			entry->valid = false;
	}
	else
	{
		HASH_SEQ_STATUS status;

		hash_seq_init(&status, RelationCache);
		while ((entry = hash_seq_search(&status)) != NULL)
			entry->valid = false;
	}
}

/*
 * A type, schema or enum label changed: clear the entries that depend on
 * it (hashvalue 0: a reset, all of them).
 */
static void
syscache_invalidate_cb(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS status;
	RelationEntry *entry;

	if (RelationCache == NULL)
		return;

	hash_seq_init(&status, RelationCache);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (!entry->valid)
			continue;
		if (hashvalue == 0 || entry == EntryInBuild)
			entry->valid = false;
		else if (cacheid == TYPEOID)
			entry->valid = !list_member_int(entry->type_deps, (int) hashvalue);
		else if (cacheid == NAMESPACEOID)
			entry->valid = !list_member_int(entry->namespace_deps, (int) hashvalue);
		else
			entry->valid = !entry->has_enums;
	}
}

/*
 * Record what the entry's description of a column of type typoid depends
 * on: the type (name, output function), its schema (qualified names), and
 * the same for each type its domain chain and an array's element lead to
 * (value kind, landing type, labels).  Called in the entry's context.
 */
static void
add_type_deps(RelationEntry *entry, Oid typoid)
{
	int			depth = 0;

	/* a domain chain is finite; the bound only guards against a loop */
	while (OidIsValid(typoid) && depth++ < 64)
	{
		HeapTuple	tup;
		Form_pg_type typ;
		Oid			next = InvalidOid;

		entry->type_deps = list_append_unique_int(entry->type_deps,
												  (int) GetSysCacheHashValue1(TYPEOID,
																			  ObjectIdGetDatum(typoid)));
		tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typoid));
		if (!HeapTupleIsValid(tup))
			break;				/* dropped: the relcache will tell us */
		typ = (Form_pg_type) GETSTRUCT(tup);
		entry->namespace_deps = list_append_unique_int(entry->namespace_deps,
													   (int) GetSysCacheHashValue1(NAMESPACEOID,
																				   ObjectIdGetDatum(typ->typnamespace)));
		if (typ->typtype == TYPTYPE_DOMAIN)
			next = typ->typbasetype;
		else if (IsTrueArrayType(typ))
			next = typ->typelem;
		ReleaseSysCache(tup);
		typoid = next;
	}
}

/*
 * The entry for rel, (re)built if needed.
 */
RelationEntry *
relation_cache_get(DecoderState *state, Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	RelationEntry *entry;
	bool		found;

	if (RelationCache == NULL)
		elog(ERROR, "walstar_decoder relation cache is not initialized");

	entry = hash_search(RelationCache, &relid, HASH_ENTER, &found);
	if (!found)
	{
		entry->valid = false;
		entry->cxt = NULL;
	}
	if (!entry->valid)
	{
		EntryInBuild = entry;
		PG_TRY();
		{
			build_entry(state, entry, rel);
		}
		PG_FINALLY();
		{
			EntryInBuild = NULL;
		}
		PG_END_TRY();
	}
	return entry;
}

static void
build_entry(DecoderState *state, RelationEntry *entry, Relation rel)
{
	const DecoderOptions *opts = &state->opts;
	TupleDesc	desc = RelationGetDescr(rel);
	MemoryContext oldcxt;
	Oid			keyindex = InvalidOid;
	int		   *attr_col;
	int			i;

	if (entry->cxt == NULL)
		entry->cxt = AllocSetContextCreate(RelationCacheContext,
										   "walstar relation",
										   ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(entry->cxt);

	/*
	 * Valid from here: an invalidation arriving while we build (catalog
	 * access below may process some) clears it again and forces a rebuild
	 * at the next change.
	 */
	entry->valid = true;
	entry->ncolumns = 0;
	entry->nkeys = 0;
	entry->columns_packed_len = 0;
	entry->type_deps = NIL;
	entry->namespace_deps = NIL;
	entry->has_enums = false;

	oldcxt = MemoryContextSwitchTo(entry->cxt);

	entry->namespace_deps = list_make1_int((int) GetSysCacheHashValue1(NAMESPACEOID,
																	   ObjectIdGetDatum(RelationGetNamespace(rel))));

	entry->schema = get_namespace_name(RelationGetNamespace(rel));
	if (entry->schema == NULL)
		entry->schema = pstrdup("");
	entry->table = pstrdup(RelationGetRelationName(rel));
	entry->replident = rel->rd_rel->relreplident;
	entry->old_is_full = (entry->replident == REPLICA_IDENTITY_FULL);
	entry->included =
		(opts->include_tables.n == 0 ||
		 name_pattern_match_any(&opts->include_tables, entry->schema, entry->table, NULL)) &&
		!name_pattern_match_any(&opts->exclude_tables, entry->schema, entry->table, NULL);

	if (!entry->included)
	{
		MemoryContextSwitchTo(oldcxt);
		return;
	}

	/* sent columns: every attribute that is not dropped */
	entry->cols = palloc0(sizeof(ColumnInfo) * Max(desc->natts, 1));
	entry->column_store = palloc0(sizeof(Walstar__V1__Column) * Max(desc->natts, 1));
	entry->columns = palloc0(sizeof(Walstar__V1__Column *) * Max(desc->natts, 1));
	attr_col = palloc(sizeof(int) * Max(desc->natts, 1));

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		ColumnInfo *col;
		Walstar__V1__Column *wc;
		Oid			basetype;
		int32		basetypmod = att->atttypmod;
		const char *attname = NameStr(att->attname);

		attr_col[i] = -1;
		if (att->attisdropped)
			continue;

		attr_col[i] = entry->ncolumns;
		col = &entry->cols[entry->ncolumns];
		wc = &entry->column_store[entry->ncolumns];
		entry->columns[entry->ncolumns] = wc;
		entry->ncolumns++;

		add_type_deps(entry, att->atttypid);
		basetype = getBaseTypeAndTypmod(att->atttypid, &basetypmod);
		col->attidx = i;
		col->kind = column_type_value_kind(basetype);
		col->varlena = (att->attlen == -1);
		if (name_pattern_match_any(&opts->mask_columns, entry->schema, entry->table, attname))
			col->pii = WALSTAR__V1__PII__MASKED;
		else if (name_pattern_match_any(&opts->hash_columns, entry->schema, entry->table, attname))
			col->pii = WALSTAR__V1__PII__HASHED;
		else
			col->pii = WALSTAR__V1__PII__PII_NONE;

		col->output.fn_oid = InvalidOid;
		if (col->kind == VK_OUTPUT && type_is_enum(basetype))
		{
			col->kind = VK_ENUM;
			col->enums = enum_labels(basetype, state->to_utf8);
			entry->has_enums = true;
		}
		if (col->kind == VK_OUTPUT || col->kind == VK_ENUM ||
			col->pii == WALSTAR__V1__PII__HASHED)
		{
			Oid			outfunc;
			bool		isvarlena;

			getTypeOutputInfo(att->atttypid, &outfunc, &isvarlena);
			fmgr_info_cxt(outfunc, &col->output, entry->cxt);
		}

		walstar__v1__column__init(wc);
		wc->name = pstrdup(attname);
		wc->type_oid = att->atttypid;
		wc->type_name = format_type_extended(att->atttypid, att->atttypmod,
											 FORMAT_TYPE_TYPEMOD_GIVEN |
											 (att->atttypid >= FirstNormalObjectId ?
											  FORMAT_TYPE_FORCE_QUALIFY : 0));
		wc->landing_type = landing_type(basetype, basetypmod, col->pii);
		wc->pii = col->pii;
		if (i + 1 != entry->ncolumns)
			wc->attnum = i + 1;
		wc->has_default = att->atthasdef;
		if (att->atthasmissing && desc->constr && desc->constr->missing &&
			desc->constr->missing[i].am_present)
		{
			wc->missing = palloc(sizeof(Walstar__V1__Value));
			encode_value(col, desc->constr->missing[i].am_value, false,
						 state->to_utf8, state->hash_salt, wc->missing);
		}
	}

	/* key columns, in key order */
	if (entry->replident == REPLICA_IDENTITY_DEFAULT ||
		entry->replident == REPLICA_IDENTITY_INDEX)
		keyindex = RelationGetReplicaIndex(rel);
	else if (entry->replident == REPLICA_IDENTITY_FULL)
		keyindex = RelationGetPrimaryKeyIndex(rel);

	if (OidIsValid(keyindex))
	{
		Relation	idxrel = RelationIdGetRelation(keyindex);
		int			nkeyatts;

		if (!RelationIsValid(idxrel))
			elog(ERROR, "could not open index %u of relation \"%s\"",
				 keyindex, entry->table);
		nkeyatts = idxrel->rd_index->indnkeyatts;
		entry->keys = palloc(sizeof(int) * nkeyatts);
		for (i = 0; i < nkeyatts; i++)
		{
			AttrNumber	attnum = idxrel->rd_index->indkey.values[i];
			int			c;

			/* identity indexes have plain columns only; be defensive */
			if (attnum <= 0 || attnum > desc->natts || attr_col[attnum - 1] < 0)
				continue;
			c = attr_col[attnum - 1];
			entry->cols[c].is_key = true;
			entry->column_store[c].is_key = true;
			entry->keys[entry->nkeys++] = c;
		}
		RelationClose(idxrel);
	}

	pack_columns(entry);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * A built-in type to store the value as on another server: the base type
 * for domains (resolved by the caller), "text" where common/column_type.c
 * says so (the sink's initial copy applies the same rule) and for HASHED
 * columns.
 */
static char *
landing_type(Oid typoid, int32 typmod, Walstar__V1__Pii pii)
{
	Oid			elemtype;

	if (pii == WALSTAR__V1__PII__HASHED)
		return pstrdup("text");
	elemtype = get_element_type(typoid);
	if (OidIsValid(elemtype))
		elemtype = getBaseType(elemtype);
	if (column_type_lands_as_text(typoid, elemtype))
		return pstrdup("text");
	return format_type_extended(typoid, typmod, FORMAT_TYPE_TYPEMOD_GIVEN);
}

/*
 * The labels of an enum type, so that rows need no pg_enum lookup.  Labels
 * added later are not here: encode_value falls back to enum_out for them;
 * renames invalidate the cache (ENUMOID callback).
 */
static EnumLabels *
enum_labels(Oid enumtype, bool to_utf8)
{
	CatCList   *list = SearchSysCacheList1(ENUMTYPOIDNAME, ObjectIdGetDatum(enumtype));
	EnumLabels *result = palloc(sizeof(EnumLabels));
	Oid		   *sorted;
	int			i;

	result->n = list->n_members;
	result->oids = palloc(sizeof(Oid) * Max(result->n, 1));
	result->labels = palloc(sizeof(char *) * Max(result->n, 1));
	sorted = palloc(sizeof(Oid) * 2 * Max(result->n, 1));
	for (i = 0; i < result->n; i++)
	{
		Form_pg_enum en = (Form_pg_enum) GETSTRUCT(&list->members[i]->tuple);

		/* pairs (oid, member index), sorted by oid (oid_cmp reads the first) */
		sorted[2 * i] = en->oid;
		sorted[2 * i + 1] = (Oid) i;
	}
	qsort(sorted, result->n, sizeof(Oid) * 2, oid_cmp);
	for (i = 0; i < result->n; i++)
	{
		Form_pg_enum en = (Form_pg_enum) GETSTRUCT(&list->members[sorted[2 * i + 1]]->tuple);
		const char *label = NameStr(en->enumlabel);

		result->oids[i] = sorted[2 * i];
		result->labels[i] = to_utf8 ?
			pg_server_to_any(label, strlen(label), PG_UTF8) : pstrdup(label);
		if (result->labels[i] == label)
			result->labels[i] = pstrdup(label);
	}
	pfree(sorted);
	ReleaseSysCacheList(list);
	return result;
}

/* protobuf varint */
static size_t
put_varint(uint8 *out, uint64 v)
{
	size_t		n = 0;

	while (v >= 0x80)
	{
		out[n++] = (uint8) (v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8) v;
	return n;
}

/*
 * Pre-encode the Change.columns entries (field 6, length-delimited).  The
 * protobuf encoder appends these bytes after the rest of each row change:
 * fields may come in any order and repeated entries concatenate, so the
 * result is the same message, without re-encoding the descriptions per row.
 */
static size_t
pack_columns(RelationEntry *entry)
{
	size_t		total = 0;
	size_t		pos = 0;
	int			i;

	for (i = 0; i < entry->ncolumns; i++)
	{
		size_t		sz = walstar__v1__column__get_packed_size(entry->columns[i]);

		total += 1 + 10 + sz;
	}
	entry->columns_packed = palloc(Max(total, 1));
	for (i = 0; i < entry->ncolumns; i++)
	{
		size_t		sz = walstar__v1__column__get_packed_size(entry->columns[i]);

		entry->columns_packed[pos++] = (6 << 3) | 2;
		pos += put_varint(entry->columns_packed + pos, sz);
		pos += walstar__v1__column__pack(entry->columns[i], entry->columns_packed + pos);
	}
	entry->columns_packed_len = pos;
	return pos;
}
