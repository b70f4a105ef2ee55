/*
 * change_check.h
 *		The wire format's invariants, checked on an unpacked walstar.v1.Change.
 *
 * Pure C (no PostgreSQL or librdkafka headers), so that the extension, the
 * sink and the fuzz targets share one definition of "a record we may use".
 */
#ifndef CHANGE_CHECK_H
#define CHANGE_CHECK_H

#include <stddef.h>

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
 * NULL when the record satisfies every invariant; else a reason naming the
 * broken invariant, written into buf (CHANGE_CHECK_REASON_MAX bytes).
 * After a NULL, every index a reader takes (values parallel to columns,
 * key columns in the values an op carries) is in range and every string is
 * valid UTF-8.
 */
extern const char *change_check(const Walstar__V1__Change *c, char *buf);

/* Whether s (NUL-terminated) is valid UTF-8 without overlong forms. */
extern int	change_check_utf8(const char *s, size_t len);

#endif							/* CHANGE_CHECK_H */
