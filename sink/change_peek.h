/*-------------------------------------------------------------------------
 *
 * change_peek.h
 *		The few fields of a serialized walstar.v1.Change the sink routes
 *		by, read without unpacking the whole message.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_CHANGE_PEEK_H
#define SINK_CHANGE_PEEK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "change_op.h"

typedef struct ChangePeek
{
	int			   op;	   /* Walstar__V1__Op */
	const char	  *schema; /* points into the record, not terminated */
	size_t		   schema_len;
	const char	  *table; /* points into the record, not terminated */
	size_t		   table_len;
	const uint8_t *key; /* serialized Key, NULL when empty */
	size_t		   key_len;
	uint32_t	   xid;			/* top-level transaction id */
	uint64_t	   commit_lsn;	/* LSN of the commit record */
	int64_t		   commit_time; /* microseconds since the Unix epoch */
	uint64_t	   lsn;			/* LSN of this record */
	uint32_t	   position;	/* 1-based position in the transaction */
	uint64_t	   end_lsn;		/* COMMIT: Commit.end_lsn, else 0 */
	const char	  *source;		/* points into the record, not terminated */
	size_t		   source_len;
	uint64_t	   system_id; /* the source cluster's system identifier */
} ChangePeek;

/* False when the bytes are not a well-formed Change. */
extern bool change_peek(const uint8_t *data, size_t len, ChangePeek *out);

/*
 * Printable form of a serialized Key, e.g. "(42,'abc')", into buf; for log
 * lines naming a row.
 */
extern void change_key_text(const uint8_t *key, size_t key_len, char *buf,
							size_t buflen);

/*
 * For an UPDATE that changes the row's key (its old_values hold the key
 * columns and they encode to another Key than Change.key): a DELETE record
 * for the old key, with every other field of the UPDATE (no new_values,
 * old_values unchanged), in a malloc'ed *rec that the caller frees; the old
 * key's bytes are at *rec + *key_off, *key_len long.  False (and *rec NULL)
 * for every other record.
 */
extern bool change_old_key_delete(const uint8_t *data, size_t len,
								  const ChangePeek *c, uint8_t **rec,
								  size_t *rec_len, size_t *key_off,
								  size_t *key_len);

/*
 * Whether a record's new_values hold an unchanged TOAST value (an UPDATE
 * that left a TOASTed column alone: the value is the old row's).
 */
extern bool change_has_unchanged_toast(const uint8_t *data, size_t len);

/*
 * Scratch space of change_peek_check, reused from record to record: it
 * remembers the column descriptions of the last record that passed, so the
 * rules on columns alone run once per run of records of one table.
 */
typedef struct ChangeScan ChangeScan;

extern ChangeScan *change_scan_create(void);
extern void		   change_scan_destroy(ChangeScan *scan);

/*
 * The wire format's invariants (proto/change_check.c) on a serialized
 * Change, read straight from its bytes: NULL when the record may be
 * forwarded, else a reason naming the broken invariant, in buf
 * (CHANGE_CHECK_REASON_MAX bytes).  Also refuses what protobuf-c could
 * not unpack in the fields the rules read (wrong wire types, truncations).
 */
extern const char *change_peek_check(ChangeScan *scan, const uint8_t *data,
									 size_t len, char *buf);

#endif
