/*
 * change_check.h
 *		The wire format's invariants, checked on a walstar.v1.Change.
 *
 * Pure C (no PostgreSQL or librdkafka headers), so that the extension, the
 * sink and the fuzz targets share one definition of "a record we may use".
 * The rules read a record through a ChangeCheckView: the extension fills it
 * from the message protobuf-c unpacked (change_check), walstar-sink from
 * the serialized bytes it forwards (change_peek_check, without unpacking).
 */
#ifndef CHANGE_CHECK_H
#define CHANGE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "walstar.pb-c.h"

/* Longest schema, table or column name a source can have (NAMEDATALEN - 1). */
#define CHANGE_NAME_MAX 63

/* Longest Change.source (the decoder's source-id option). */
#define CHANGE_SOURCE_MAX 1024

/* Most columns a source row can have (MaxTupleAttributeNumber). */
#define CHANGE_COLUMNS_MAX 1664

/* Room for any reason change_check writes. */
#define CHANGE_CHECK_REASON_MAX 256

/*
 * A string field as a reader of the unpacked message sees it: the bytes up
 * to the first NUL, if any.  p is NULL only for a field a hand-built message
 * left NULL (protobuf-c gives "" for absent strings).
 */
typedef struct CheckText
{
	const char *p;				/* first byte, not NUL-terminated */
	size_t		len;			/* bytes before the first NUL */
} CheckText;

/* What the rules read of one Column. */
typedef struct CheckColumn
{
	CheckText	name;			/* Column.name */
	CheckText	type_name;		/* Column.type_name */
	CheckText	landing_type;	/* Column.landing_type */
	bool		is_key;			/* Column.is_key */
} CheckColumn;

/* What the rules read of one Value: its kind, and that kind's payload. */
typedef struct CheckValue
{
	int			kind;			/* Walstar__V1__Value__KindCase */
	CheckText	text;			/* text_value or numeric_value */
	int64_t		number;			/* timestamp_value, date_value or time_value */
	size_t		bytes_len;		/* uuid_value's length */
	bool		has_interval;	/* interval_value is non-NULL */
} CheckValue;

/* One record as the rules read it. */
typedef struct ChangeCheckView
{
	uint32_t	version;		/* Change.version */
	int			op;				/* Change.op */
	CheckText	source;			/* Change.source */
	CheckText	schema;			/* Change.schema */
	CheckText	table;			/* Change.table */
	size_t		n_columns;		/* entries of Change.columns */
	size_t		n_new_values;	/* entries of Change.new_values */
	size_t		n_old_values;	/* entries of Change.old_values */
	/* column i (i < n_columns) into *out */
	void		(*column) (const void *arg, size_t i, CheckColumn *out);
	/* value i (i < n_new_values, or n_old_values when old) into *out */
	void		(*value) (const void *arg, bool old, size_t i, CheckValue *out);
	const void *arg;			/* passed to column and value */

	/*
	 * The caller has seen a record with exactly these columns (the same
	 * serialized bytes) pass: the rules on columns alone are not run again.
	 */
	bool		columns_known_good;
} ChangeCheckView;

/*
 * NULL when the record satisfies every invariant; else a reason naming the
 * broken invariant, written into buf (CHANGE_CHECK_REASON_MAX bytes).
 * After a NULL, every index a reader takes (values parallel to columns,
 * key columns in the values an op carries) is in range and every string is
 * valid UTF-8.
 */
extern const char *change_check(const Walstar__V1__Change *c, char *buf);

/* The same rules on a record read by other means. */
extern const char *change_check_view(const ChangeCheckView *v, char *buf);

/* Whether s (len bytes) is valid UTF-8 without overlong forms. */
extern int	change_check_utf8(const char *s, size_t len);

#endif							/* CHANGE_CHECK_H */
