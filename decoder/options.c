/*-------------------------------------------------------------------------
 *
 * options.c
 *		Slot options of walstar_decoder, parsed from one table.
 *
 * Options (pg_logical_slot_get_changes(..., 'name', 'value', ...) or
 * START_REPLICATION ... (name 'value', ...)):
 *
 *	format				'protobuf' (default, binary) or 'json' (text)
 *	include-transaction json: BEGIN/COMMIT records (default true); protobuf
 *						always sends them, the sink confirms positions from them
 *	skip-origin			drop transactions replayed from a replication origin
 *	stream-changes		stream in-progress transactions (stream_* records)
 *	source-id			Change.source (default: the database name)
 *	include-tables		comma-separated "schema.table" patterns to send
 *	exclude-tables		comma-separated "schema.table" patterns not to send
 *	mask-columns		"schema.table.column" patterns sent as NULL
 *	hash-columns		"schema.table.column" patterns sent as HMAC-SHA256
 *	hash-salt-id		fingerprint of the salt the client expects (pii.c);
 *						the salt itself is read from walstar_decoder.hash_salt_file
 *	include-lsn, include-xids, include-timestamp, include-columns,
 *	include-oids		json only: show these (volatile) fields, default false
 *
 * Patterns: '*' matches any run of characters within one name part, '\'
 * escapes the next character ('\.', '\,', '\*').  A column matching both
 * mask-columns and hash-columns is masked.  The values' text is parsed by
 * option_values.c and common/name_pattern.c, which need no server
 * (fuzz/options_fuzz.c runs them).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"

#include "walstar_decoder.h"

typedef enum OptionType
{
	OPT_BOOL,					/* bool field */
	OPT_STRING,					/* char * field, non-empty */
	OPT_TABLES,					/* NamePatternList of 2-part patterns */
	OPT_COLUMNS,				/* NamePatternList of 3-part patterns */
	OPT_FORMAT,					/* bool json field */
	OPT_SALT_ID,				/* char * field, a salt fingerprint */
	OPT_REFUSED					/* no field: a secret that must not travel */
} OptionType;

typedef struct OptionDef
{
	const char *name;			/* option name as the client spells it */
	OptionType	type;			/* how to parse the value */
	size_t		offset;			/* field in DecoderOptions */
} OptionDef;

static const OptionDef option_defs[] = {
	{"format", OPT_FORMAT, offsetof(DecoderOptions, json)},
	{"include-transaction", OPT_BOOL, offsetof(DecoderOptions, include_transaction)},
	{"skip-origin", OPT_BOOL, offsetof(DecoderOptions, skip_origin)},
	{"stream-changes", OPT_BOOL, offsetof(DecoderOptions, stream_changes)},
	{"source-id", OPT_STRING, offsetof(DecoderOptions, source_id)},
	{"include-tables", OPT_TABLES, offsetof(DecoderOptions, include_tables)},
	{"exclude-tables", OPT_TABLES, offsetof(DecoderOptions, exclude_tables)},
	{"mask-columns", OPT_COLUMNS, offsetof(DecoderOptions, mask_columns)},
	{"hash-columns", OPT_COLUMNS, offsetof(DecoderOptions, hash_columns)},
	{"hash-salt", OPT_REFUSED, 0},
	{"hash-salt-id", OPT_SALT_ID, offsetof(DecoderOptions, hash_salt_id)},
	{"include-lsn", OPT_BOOL, offsetof(DecoderOptions, shown.include_lsn)},
	{"include-xids", OPT_BOOL, offsetof(DecoderOptions, shown.include_xids)},
	{"include-timestamp", OPT_BOOL, offsetof(DecoderOptions, shown.include_timestamp)},
	{"include-columns", OPT_BOOL, offsetof(DecoderOptions, shown.include_columns)},
	{"include-oids", OPT_BOOL, offsetof(DecoderOptions, shown.include_oids)},
};

#define NUM_OPTIONS lengthof(option_defs)

static void parse_patterns(DefElem *def, int nparts, NamePatternList *out);

/*
 * Parse the slot options into opts (allocated in the current memory
 * context).  Every problem is an ERROR that names the option.
 */
void
options_parse(List *defs, DecoderOptions *opts)
{
	bool		seen[NUM_OPTIONS] = {0};
	ListCell   *lc;

	memset(opts, 0, sizeof(*opts));
	opts->include_transaction = true;

	foreach(lc, defs)
	{
		DefElem    *def = lfirst_node(DefElem, lc);
		const OptionDef *od = NULL;
		char	   *field;
		int			i;

		for (i = 0; i < NUM_OPTIONS; i++)
		{
			if (strcmp(def->defname, option_defs[i].name) == 0)
			{
				od = &option_defs[i];
				break;
			}
		}
		if (od == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" is unknown to walstar_decoder",
							def->defname)));
		if (seen[i])
			ereport(ERROR,
					(errcode(ERRCODE_SYNTAX_ERROR),
					 errmsg("option \"%s\" is given more than once",
							def->defname)));
		seen[i] = true;
		field = (char *) opts + od->offset;

		/*
		 * Never echo the value: it is the secret, and the error goes to the
		 * client and the server log.
		 */
		if (od->type == OPT_REFUSED)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("option \"%s\" is no longer accepted: the hash salt is read on the source server",
							def->defname),
					 errdetail("Plugin options appear in the server log and in pg_stat_activity."),
					 errhint("Write the salt on the first line of the file named by walstar_decoder.hash_salt_file (default \"walstar_hash_salt\" in the data directory, mode 0600) and pass its fingerprint as option \"hash-salt-id\" instead.")));

		switch (od->type)
		{
			case OPT_BOOL:
				*(bool *) field = defGetBoolean(def);
				break;
			case OPT_STRING:
				{
					char	   *s = def->arg ? defGetString(def) : "";

					if (s[0] == '\0')
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("option \"%s\" requires a non-empty value",
										def->defname)));
					*(char **) field = pstrdup(s);
					break;
				}
			case OPT_SALT_ID:
				{
					/* not echoed: it might be the salt, given by mistake */
					char	   *s = def->arg ? defGetString(def) : "";

					if (!option_values_salt_id(s))
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("invalid value for option \"%s\"",
										def->defname),
								 errhint("The fingerprint is %d lower-case hex digits: the start of HMAC-SHA256(salt, 'walstar-salt-id').",
										 SALT_ID_LEN)));
					*(char **) field = pstrdup(s);
					break;
				}
			case OPT_REFUSED:
				break;
			case OPT_TABLES:
				parse_patterns(def, 2, (NamePatternList *) field);
				break;
			case OPT_COLUMNS:
				parse_patterns(def, 3, (NamePatternList *) field);
				break;
			case OPT_FORMAT:
				{
					char	   *s = def->arg ? defGetString(def) : "";

					if (!option_values_format(s, (bool *) field))
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("invalid value \"%s\" for option \"%s\"",
										s, def->defname),
								 errhint("Valid values are \"protobuf\" and \"json\".")));
					break;
				}
		}
	}
}

/*
 * A pattern list (common/name_pattern.c parses it), kept in the current memory
 * context.
 */
static void
parse_patterns(DefElem *def, int nparts, NamePatternList *out)
{
	char	   *text = def->arg ? defGetString(def) : "";
	char	   *copy = pstrdup(text);
	size_t		bad_start,
				bad_len;

	out->patterns = palloc(sizeof(NamePattern) * name_pattern_max_count(copy));
	switch (name_pattern_parse_list(copy, nparts, out, &bad_start, &bad_len))
	{
		case NAME_PATTERN_OK:
			break;
		case NAME_PATTERN_EMPTY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" has an empty pattern",
							def->defname)));
			break;
		case NAME_PATTERN_BAD:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid pattern \"%.*s\" in option \"%s\"",
							(int) bad_len, text + bad_start, def->defname),
					 errhint(nparts == 2 ?
							 "Patterns have the form schema.table, '*' matches any characters." :
							 "Patterns have the form schema.table.column, '*' matches any characters.")));
			break;
	}
}
