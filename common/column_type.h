/*-------------------------------------------------------------------------
 *
 * column_type.h
 *		How a column's type is carried by a walstar record: the kind of
 *		Value its datums become, and the type its landing column gets.
 *
 * One rule for the decoder (relation_cache.c, encode_value.c) and the
 * sink's initial copy, so that READ records and streamed records describe
 * and encode a column the same way.  Types are given by OID, domains
 * already resolved to their base type.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALSTAR_COLUMN_TYPE_H
#define WALSTAR_COLUMN_TYPE_H

#include <stdbool.h>

/* How one column's datum becomes a Value. */
typedef enum ValueKind
{
	VK_INT2,
	VK_INT4,
	VK_INT8,
	VK_OID,
	VK_FLOAT4,
	VK_FLOAT8,
	VK_BOOL,
	VK_NUMERIC,
	VK_TEXT,					/* text-like varlena: text, varchar, bpchar, json */
	VK_NAME,
	VK_BYTEA,
	VK_DATE,
	VK_TIME,
	VK_TIMESTAMP,
	VK_TIMESTAMPTZ,
	VK_UUID,
	VK_INTERVAL,
	VK_ENUM,					/* label (the decoder decides: needs pg_enum) */
	VK_OUTPUT					/* anything else: the type's output function */
} ValueKind;

/* The first OID of objects created after initdb (FirstNormalObjectId). */
#define COLUMN_TYPE_FIRST_USER_OID 16384

/* The kind of a base type's values; enums are VK_OUTPUT here. */
extern ValueKind column_type_value_kind(unsigned basetype);

/*
 * Whether a column of this base type lands as "text" instead of the type
 * itself: user-defined types (enums, composites, ranges of them, ...),
 * object-name types (regclass, ...), whose text reads back only where the
 * named objects exist, and arrays of either.  elemtype is the element
 * type of basetype if it is an array, else 0.  Hashed columns land as text
 * too (the caller knows those).  Otherwise the column lands as
 * format_type(basetype, typmod).
 */
extern bool column_type_lands_as_text(unsigned basetype, unsigned elemtype);

#endif							/* WALSTAR_COLUMN_TYPE_H */
