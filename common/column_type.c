/*-------------------------------------------------------------------------
 *
 * column_type.c
 *		Value kinds and landing types of column types (see column_type.h).
 *
 * Built-in type OIDs are fixed by PostgreSQL's catalog (pg_type.dat) and
 * never change; they are spelled as numbers so that the sink, a client
 * program, needs no server headers.
 *
 *-------------------------------------------------------------------------
 */
#include "column_type.h"

ValueKind
column_type_value_kind(unsigned basetype)
{
	switch (basetype)
	{
		case 21:				/* int2 */
			return VK_INT2;
		case 23:				/* int4 */
			return VK_INT4;
		case 20:				/* int8 */
			return VK_INT8;
		case 26:				/* oid */
			return VK_OID;
		case 700:				/* float4 */
			return VK_FLOAT4;
		case 701:				/* float8 */
			return VK_FLOAT8;
		case 16:				/* bool */
			return VK_BOOL;
		case 1700:				/* numeric */
			return VK_NUMERIC;
		case 25:				/* text */
		case 1043:				/* varchar */
		case 1042:				/* bpchar */
		case 114:				/* json */
			/* the stored bytes are exactly the output function's text */
			return VK_TEXT;
		case 19:				/* name */
			return VK_NAME;
		case 17:				/* bytea */
			return VK_BYTEA;
		case 1082:				/* date */
			return VK_DATE;
		case 1083:				/* time */
			return VK_TIME;
		case 1114:				/* timestamp */
			return VK_TIMESTAMP;
		case 1184:				/* timestamptz */
			return VK_TIMESTAMPTZ;
		case 2950:				/* uuid */
			return VK_UUID;
		case 1186:				/* interval */
			return VK_INTERVAL;
		default:
			return VK_OUTPUT;
	}
}

/* Object-name types: regproc, regprocedure, regoper, ..., regcollation. */
static bool
is_reg_type(unsigned typoid)
{
	switch (typoid)
	{
		case 24:				/* regproc */
		case 2202:				/* regprocedure */
		case 2203:				/* regoper */
		case 2204:				/* regoperator */
		case 2205:				/* regclass */
		case 2206:				/* regtype */
		case 3734:				/* regconfig */
		case 3769:				/* regdictionary */
		case 4089:				/* regnamespace */
		case 4096:				/* regrole */
		case 4191:				/* regcollation */
			return true;
		default:
			return false;
	}
}

bool
column_type_lands_as_text(unsigned basetype, unsigned elemtype)
{
	if (basetype >= COLUMN_TYPE_FIRST_USER_OID || is_reg_type(basetype))
		return true;
	return elemtype != 0 &&
		(elemtype >= COLUMN_TYPE_FIRST_USER_OID || is_reg_type(elemtype));
}
