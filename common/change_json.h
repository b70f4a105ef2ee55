/*-------------------------------------------------------------------------
 *
 * change_json.h
 *		A Change as JSON, for people: the decoder's format 'json' and the
 *		extension's walstar.decode().
 *
 * Both render columns, values, keys, TRUNCATE, messages and commits with
 * this one code; they differ where their documents are meant to (the
 * `record` flag).  Backend code: it uses PostgreSQL's JSON escaping and
 * date/time encoders.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALSTAR_CHANGE_JSON_H
#define WALSTAR_CHANGE_JSON_H

#include "lib/stringinfo.h"

#include "walstar.pb-c.h"

/* What a rendering shows. */
typedef struct ChangeJsonStyle
{
	/*
	 * false: the decoder's format 'json' (compact; commit_time in Unix
	 * microseconds; timestamps and times with six fractional digits and
	 * "+00"; intervals as {"months","days","micros"}; a message's content as
	 * text when it is text; COMMIT fields at the top level; "last").
	 * true: the whole record as walstar.decode() shows it (also version and
	 * system_id; every field that is set, regardless of the include flags;
	 * dates and times as their landing type's input text, intervals in the
	 * session's IntervalStyle; content as bytes; "commit":{...};
	 * "last_in_tx").
	 */
	bool		record;
	bool		include_lsn;	/* commit_lsn, lsn, end_lsn */
	bool		include_xids;	/* xid, subxid */
	bool		include_timestamp;	/* commit_time */
	bool		include_columns;	/* column descriptions */
	bool		include_oids;	/* relation_oid, type_oid */
} ChangeJsonStyle;

/*
 * Append the JSON object of c to out.  key: the row's key values; if NULL,
 * they are read from c->key (the record's packed key; "key":null if those
 * bytes are not a key).
 */
extern void change_json_append(StringInfo out, const Walstar__V1__Change *c,
							   const Walstar__V1__Key *key,
							   const ChangeJsonStyle *style);

/* Mark a rendered (non-record) object as its transaction's last. */
extern void change_json_mark_last(StringInfo out);

#endif							/* WALSTAR_CHANGE_JSON_H */
