/*-------------------------------------------------------------------------
 *
 * snapshot_value.h
 *		Columns of the initial copy and their values (snapshot_value.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_SNAPSHOT_VALUE_H
#define SINK_SNAPSHOT_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "column_type.h"
#include "walstar.pb-c.h"

/* One column of a copied table. */
typedef struct SnapColumn
{
	Walstar__V1__Column desc;	   /* what READ records say about the column */
	ValueKind			kind;	   /* how to parse it (common/column_type.c) */
	int					key_order; /* 0: not a key column, else 1-based */
} SnapColumn;

/*
 * The SELECT-list expression (into buf) whose COPY text snapshot_value_fill
 * parses for column c; col is its quoted name.
 */
extern void snapshot_value_expr(char *buf, size_t buflen, const char *col,
								const SnapColumn *c);

/*
 * Fill v from the field text (unescaped, NUL-terminated, may be modified;
 * NULL for SQL NULL).  Bytes (bytea, uuid, the hash's hex) go to scratch,
 * which must hold len + 80 bytes and outlive the packing of v; iv is the
 * storage of an interval.
 */
extern void snapshot_value_fill(const SnapColumn *col, char *text, size_t len,
								const char *salt, Walstar__V1__Value *v,
								Walstar__V1__Interval *iv, uint8_t *scratch);

#endif
