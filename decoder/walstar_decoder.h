/*-------------------------------------------------------------------------
 *
 * walstar_decoder.h
 *		Types shared by the files of the walstar_decoder output plugin.
 *
 * One change flows through: walstar_decoder.c (callbacks) ->
 * relation_cache.c (what to send for this relation, cached) ->
 * encode_value.c (datum -> typed Value; common/column_type.c: which kind) ->
 * encode_proto.c and protobuf-c packing, or common/change_json.c for the
 * json format.  options.c parses the slot options
 * (option_values.c: the text of their values, without the server),
 * pii.c reads the hash salt and hashes protected values.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALSTAR_DECODER_H
#define WALSTAR_DECODER_H

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/relcache.h"

#include "change_json.h"
#include "column_type.h"
#include "encode_proto.h"
#include "epoch.h"
#include "option_values.h"
#include "walstar.pb-c.h"

#define WALSTAR_WIRE_VERSION 1

/* Logical messages of this prefix are captured DDL (ddl_capture.c). */
#define WALSTAR_DDL_PREFIX "walstar.ddl"

/* Slot options (options.c documents each one). */
typedef struct DecoderOptions
{
	bool		json;			/* format 'json' instead of 'protobuf' */
	bool		include_transaction;	/* json: emit BEGIN/COMMIT records */
	bool		skip_origin;	/* drop changes replayed from an origin */
	bool		stream_changes; /* stream in-progress transactions */
	ChangeJsonStyle shown;		/* json: include-lsn, -xids, -timestamp,
								 * -columns, -oids */
	char	   *source_id;		/* Change.source; default database name */
	NamePatternList include_tables; /* "schema.table" patterns */
	NamePatternList exclude_tables; /* "schema.table" patterns */
	NamePatternList mask_columns;	/* "schema.table.column" patterns */
	NamePatternList hash_columns;	/* "schema.table.column" patterns */
	char	   *hash_salt_id;	/* expected salt fingerprint, or NULL */
} DecoderOptions;

/* Labels of an enum type, sorted by value OID (relation_cache.c). */
typedef struct EnumLabels
{
	int			n;				/* number of labels */
	Oid		   *oids;			/* pg_enum OIDs (the datums), ascending */
	char	  **labels;			/* their labels, UTF-8 when sent as protobuf */
} EnumLabels;

/* One sent column of a relation, in table order. */
typedef struct ColumnInfo
{
	int			attidx;			/* 0-based index into the tuple descriptor */
	ValueKind	kind;			/* encoding of the (base type) datum */
	Walstar__V1__Pii pii;		/* protection applied to the value */
	bool		is_key;			/* part of the key sent in Change.key */
	bool		varlena;		/* typlen == -1: may be TOASTed */
	FmgrInfo	output;			/* output function (VK_OUTPUT, VK_ENUM,
								 * hashing); fn_oid InvalidOid if unused */
	EnumLabels *enums;			/* VK_ENUM: labels known when cached */
} ColumnInfo;

/* Cached per-relation decisions and metadata (relation_cache.c). */
typedef struct RelationEntry
{
	Oid			relid;			/* hash key */
	bool		valid;			/* false after an invalidation */
	bool		included;		/* passes include-tables/exclude-tables */
	MemoryContext cxt;			/* everything below; reset on rebuild */
	char	   *schema;			/* namespace name, unquoted */
	char	   *table;			/* relation name, unquoted */
	char		replident;		/* pg_class.relreplident */
	bool		old_is_full;	/* old tuples carry every column */
	int			ncolumns;		/* columns sent (dropped ones skipped) */
	ColumnInfo *cols;			/* ncolumns entries */
	Walstar__V1__Column **columns;	/* wire descriptions, parallel to cols */
	Walstar__V1__Column *column_store;	/* storage behind columns */
	int			nkeys;			/* key columns, 0 if the relation has none */
	int		   *keys;			/* indexes into cols, in key order */
	uint8	   *columns_packed; /* Change field 6 entries, pre-encoded */
	size_t		columns_packed_len; /* length of columns_packed */
	List	   *type_deps;		/* TYPEOID hash values of the types the
								 * entry shows or resolves (int list) */
	List	   *namespace_deps; /* NAMESPACEOID hash values of the schemas
								 * it names (int list) */
	bool		has_enums;		/* caches enum labels (ENUMOID matters) */
} RelationEntry;

/* Per top-level transaction state, in ReorderBufferTXN.output_plugin_private. */
typedef struct TableCount
{
	Oid			relid;			/* relation counted */
	const char *schema;			/* its schema, in TxnState's context */
	const char *table;			/* its name, in TxnState's context */
	uint32		count;			/* records sent for it */
} TableCount;

typedef struct TxnState
{
	MemoryContext cxt;			/* holds this struct and the table counts */
	bool		begin_sent;		/* BEGIN written (json writes it lazily) */
	uint32		position;		/* records emitted so far */
	int			ntables;		/* used entries of tables */
	int			maxtables;		/* allocated entries of tables */
	int			lasttable;		/* index of the last table counted, or -1 */
	TableCount *tables;			/* per-table counts, first-seen order */
} TxnState;

/* The plugin's private state, LogicalDecodingContext.output_plugin_private. */
typedef struct DecoderState
{
	MemoryContext context;		/* per-change context, reset after each */
	DecoderOptions opts;		/* parsed options */
	char	   *hash_salt;		/* HMAC key of hash-columns, from the salt
								 * file; NULL without hash-columns */
	char	   *source;			/* Change.source */
	bool		to_utf8;		/* convert text to UTF-8 (protobuf only) */
	StringInfoData pending;		/* encoded record held back for last_in_tx */
	bool		has_pending;	/* pending holds a record */
	StringInfoData next;		/* encoding buffer of the newest record */
	uint16		origin_id;		/* origin whose name is cached below */
	char	   *origin_name;	/* its name, or NULL */
	List	   *timelines;		/* this server's timeline history
								 * (TimeLineHistoryEntry), newest first */
} DecoderState;

/* options.c */
extern void options_parse(List *defs, DecoderOptions *opts);

/* relation_cache.c */
extern RelationEntry *relation_cache_get(DecoderState *state, Relation rel);
extern void relation_cache_init(MemoryContext parent);

/* encode_value.c */
extern void encode_value(const ColumnInfo *col, Datum datum, bool isnull,
						 bool to_utf8, const char *salt,
						 Walstar__V1__Value *out);

/* pii.c */

extern char *pii_hash_salt_file;
extern char *pii_hash_hex(const char *salt, const char *data, size_t len);
extern char *pii_salt_id(const char *salt);
extern char *pii_load_salt(const char *expected_id);

/* output_settings.c: fixed DateStyle, TimeZone, ... around a change */
extern int	output_settings_enter(void);
extern void output_settings_leave(int level);

#endif							/* WALSTAR_DECODER_H */
