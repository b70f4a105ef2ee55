/*
 * change_check.c
 *		The wire format's invariants, checked on an unpacked walstar.v1.Change.
 *
 * A Kafka topic is external input: anyone who may produce to it can send
 * any bytes, and protobuf accepts many of them (two records concatenated
 * are one valid message with every repeated field doubled). Readers index
 * values by column and key position, so nothing may use a record before
 * these checks pass. Each reason names the broken invariant.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "change_check.h"

#define WIRE_VERSION 1

/* Microseconds from 1970-01-01 to PostgreSQL's epoch 2000-01-01. */
#define PG_EPOCH_USECS INT64_C(946684800000000)
/* PostgreSQL's timestamp range (MIN_TIMESTAMP, END_TIMESTAMP), its epoch. */
#define PG_MIN_TIMESTAMP INT64_C(-211813488000000000)
#define PG_END_TIMESTAMP INT64_C(9223371331200000000)
#define UNIX_EPOCH_JDATE 2440588
#define USECS_PER_DAY INT64_C(86400000000)

/* Longest landing type text (format_type of a built-in type with typmod). */
#define LANDING_TYPE_MAX 128

#if defined(__GNUC__)
#define CHECK_PRINTF __attribute__((format(printf, 2, 3)))
#else
#define CHECK_PRINTF
#endif

static const char *reason(char *buf, const char *fmt,...) CHECK_PRINTF;

static const char *
reason(char *buf, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(buf, CHANGE_CHECK_REASON_MAX, fmt, ap);
	va_end(ap);
	return buf;
}

int
change_check_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *end = p + len;

	while (p < end)
	{
		unsigned char b = *p;
		int			n;
		uint32_t	cp;
		int			i;

		if (b < 0x80)
		{
			p++;
			continue;
		}
		if (b >= 0xC2 && b <= 0xDF)
			n = 1, cp = b & 0x1F;
		else if (b >= 0xE0 && b <= 0xEF)
			n = 2, cp = b & 0x0F;
		else if (b >= 0xF0 && b <= 0xF4)
			n = 3, cp = b & 0x07;
		else
			return 0;
		if (end - p <= n)
			return 0;
		for (i = 1; i <= n; i++)
		{
			if ((p[i] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3F);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
			(cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		p += n + 1;
	}
	return 1;
}

static int
valid_text(const char *s)
{
	return s != NULL && change_check_utf8(s, strlen(s));
}

/* A source identifier: 1 to 63 bytes of UTF-8. */
static int
valid_name(const char *s)
{
	size_t		len = s ? strlen(s) : 0;

	return len > 0 && len <= CHANGE_NAME_MAX && change_check_utf8(s, len);
}

/*
 * The text of a built-in type as format_type writes it ("integer",
 * "numeric(12,2)", "timestamp(3) with time zone", "text[]", "\"char\""):
 * never schema-qualified, so it resolves only in pg_catalog.
 */
static int
valid_landing_type(const char *s)
{
	size_t		len = s ? strlen(s) : 0;
	size_t		i;

	if (len == 0 || len > LANDING_TYPE_MAX || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '"'))
		return 0;
	for (i = 0; i < len; i++)
	{
		char		ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
			  ch == ' ' || ch == '_' || ch == '(' || ch == ')' || ch == ',' ||
			  ch == '[' || ch == ']' || ch == '"'))
			return 0;
	}
	return 1;
}

/* Whether a value can be rendered and stored: NULL when it can. */
static const char *
check_value(const Walstar__V1__Value *v, const Walstar__V1__Column *col,
			const char *which, char *buf)
{
	int64_t		ts;

	switch (v->kind_case)
	{
		case WALSTAR__V1__VALUE__KIND_TEXT_VALUE:
			if (!valid_text(v->text_value))
				return reason(buf, "%s of column \"%s\" is not valid UTF-8", which, col->name);
			return NULL;
		case WALSTAR__V1__VALUE__KIND_NUMERIC_VALUE:
			if (!valid_text(v->numeric_value) || v->numeric_value[0] == '\0')
				return reason(buf, "%s of column \"%s\": numeric text is empty or not UTF-8",
							  which, col->name);
			return NULL;
		case WALSTAR__V1__VALUE__KIND_TIMESTAMP_VALUE:
			if (v->timestamp_value < INT64_MIN + PG_EPOCH_USECS)
				return reason(buf, "%s of column \"%s\": timestamp out of range", which, col->name);
			ts = v->timestamp_value - PG_EPOCH_USECS;
			if (ts < PG_MIN_TIMESTAMP || ts >= PG_END_TIMESTAMP)
				return reason(buf, "%s of column \"%s\": timestamp out of range", which, col->name);
			return NULL;
		case WALSTAR__V1__VALUE__KIND_DATE_VALUE:
			if ((int64_t) v->date_value + UNIX_EPOCH_JDATE < 0 ||
				(int64_t) v->date_value + UNIX_EPOCH_JDATE > INT_MAX - 1)
				return reason(buf, "%s of column \"%s\": date out of range", which, col->name);
			return NULL;
		case WALSTAR__V1__VALUE__KIND_TIME_VALUE:
			if (v->time_value < 0 || v->time_value > USECS_PER_DAY)
				return reason(buf, "%s of column \"%s\": time out of range", which, col->name);
			return NULL;
		case WALSTAR__V1__VALUE__KIND_UUID_VALUE:
			if (v->uuid_value.len != 16)
				return reason(buf, "%s of column \"%s\": uuid of %zu bytes, not 16",
							  which, col->name, v->uuid_value.len);
			return NULL;
		case WALSTAR__V1__VALUE__KIND_INTERVAL_VALUE:
			if (v->interval_value == NULL)
				return reason(buf, "%s of column \"%s\": interval without fields", which, col->name);
			return NULL;
		case WALSTAR__V1__VALUE__KIND__NOT_SET:
		case WALSTAR__V1__VALUE__KIND_IS_NULL:
		case WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST:
		case WALSTAR__V1__VALUE__KIND_INT_VALUE:
		case WALSTAR__V1__VALUE__KIND_DOUBLE_VALUE:
		case WALSTAR__V1__VALUE__KIND_BOOL_VALUE:
		case WALSTAR__V1__VALUE__KIND_BYTES_VALUE:
			return NULL;
		default:
			break;
	}
	return reason(buf, "%s of column \"%s\" has unknown kind %d", which, col->name,
				  (int) v->kind_case);
}

/* A key column's value in the tuple an op identifies its row by. */
static const char *
check_key_value(const Walstar__V1__Value *v, const Walstar__V1__Column *col,
				const char *which, char *buf)
{
	switch (v->kind_case)
	{
		case WALSTAR__V1__VALUE__KIND__NOT_SET:
			return reason(buf, "%s lacks key column \"%s\"", which, col->name);
		case WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST:
			return reason(buf, "key column \"%s\" is an unchanged TOAST value in the %s",
						  col->name, which);
		case WALSTAR__V1__VALUE__KIND_IS_NULL:
			return reason(buf, "key column \"%s\" is NULL in the %s", col->name, which);
		default:
			return NULL;
	}
}

static int
is_row_change(Walstar__V1__Op op)
{
	return op == WALSTAR__V1__OP__INSERT || op == WALSTAR__V1__OP__UPDATE ||
		op == WALSTAR__V1__OP__DELETE || op == WALSTAR__V1__OP__READ;
}

static const char *
op_name(Walstar__V1__Op op)
{
	switch (op)
	{
		case WALSTAR__V1__OP__INSERT:
			return "INSERT";
		case WALSTAR__V1__OP__UPDATE:
			return "UPDATE";
		case WALSTAR__V1__OP__DELETE:
			return "DELETE";
		case WALSTAR__V1__OP__READ:
			return "READ";
		case WALSTAR__V1__OP__TRUNCATE:
			return "TRUNCATE";
		default:
			return "record";
	}
}

const char *
change_check(const Walstar__V1__Change *c, char *buf)
{
	size_t		i,
				j;
	const char *op;
	const char *problem;
	int			wants_new,
				wants_old;

	if (c->version == 0)
		return reason(buf, "not a walstar record: the version field is missing");
	if (c->version != WIRE_VERSION)
		return reason(buf, "unsupported wire format version %u (this reader understands %d)",
					  c->version, WIRE_VERSION);
	if (c->op <= WALSTAR__V1__OP__OP_UNSPECIFIED || c->op > WALSTAR__V1__OP__STREAM_ABORT)
		return reason(buf, "unknown op %d", (int) c->op);
	if (!valid_text(c->source) || strlen(c->source) > CHANGE_SOURCE_MAX)
		return reason(buf, "source is longer than %d bytes or not valid UTF-8",
					  CHANGE_SOURCE_MAX);
	op = op_name(c->op);
	if (!is_row_change(c->op) && c->op != WALSTAR__V1__OP__TRUNCATE)
	{
		if (c->n_columns || c->n_new_values || c->n_old_values)
			return reason(buf, "a record of op %d carries columns or values", (int) c->op);
		return NULL;
	}

	if (!valid_name(c->schema) || !valid_name(c->table))
		return reason(buf, "%s record: schema and table names must be 1 to %d bytes of UTF-8",
					  op, CHANGE_NAME_MAX);
	if (c->op == WALSTAR__V1__OP__TRUNCATE)
	{
		if (c->n_columns || c->n_new_values || c->n_old_values)
			return reason(buf, "TRUNCATE record for \"%s.%s\" carries columns or values",
						  c->schema, c->table);
		return NULL;
	}

	if (c->n_columns == 0 || c->n_columns > CHANGE_COLUMNS_MAX)
		return reason(buf, "%s record for \"%s.%s\" has %zu columns (1 to %d)",
					  op, c->schema, c->table, c->n_columns, CHANGE_COLUMNS_MAX);
	for (i = 0; i < c->n_columns; i++)
	{
		const Walstar__V1__Column *col = c->columns[i];

		if (!valid_name(col->name))
			return reason(buf, "column %zu of \"%s.%s\": names must be 1 to %d bytes of UTF-8",
						  i + 1, c->schema, c->table, CHANGE_NAME_MAX);
		if (!valid_landing_type(col->landing_type))
			return reason(buf, "column \"%s\" of \"%s.%s\": landing type is not a built-in type name",
						  col->name, c->schema, c->table);
		if (!valid_text(col->type_name))
			return reason(buf, "column \"%s\" of \"%s.%s\": type name is not valid UTF-8",
						  col->name, c->schema, c->table);
	}
	/* quadratic, but bounded by CHANGE_COLUMNS_MAX and paid only once */
	for (i = 1; i < c->n_columns; i++)
		for (j = 0; j < i; j++)
			if (strcmp(c->columns[i]->name, c->columns[j]->name) == 0)
				return reason(buf, "column \"%s\" of \"%s.%s\" appears twice",
							  c->columns[i]->name, c->schema, c->table);

	/* Which tuples each op carries, parallel to columns. */
	wants_new = c->op != WALSTAR__V1__OP__DELETE;
	wants_old = c->op == WALSTAR__V1__OP__DELETE || c->op == WALSTAR__V1__OP__UPDATE;
	if (wants_new ? c->n_new_values != c->n_columns : c->n_new_values != 0)
		return reason(buf, "%s record for \"%s.%s\" has %zu new values for %zu columns",
					  op, c->schema, c->table, c->n_new_values, c->n_columns);
	if (!wants_old && c->n_old_values != 0)
		return reason(buf, "%s record for \"%s.%s\" carries an old row", op, c->schema, c->table);
	if (c->n_old_values != 0 && c->n_old_values != c->n_columns)
		return reason(buf, "%s record for \"%s.%s\" has %zu old values for %zu columns",
					  op, c->schema, c->table, c->n_old_values, c->n_columns);

	for (i = 0; i < c->n_new_values; i++)
	{
		const Walstar__V1__Column *col = c->columns[i];
		const Walstar__V1__Value *v = c->new_values[i];

		if ((problem = check_value(v, col, "value", buf)) != NULL)
			return problem;
		if (v->kind_case == WALSTAR__V1__VALUE__KIND__NOT_SET)
			return reason(buf, "%s record for \"%s.%s\" lacks the new value of column \"%s\"",
						  op, c->schema, c->table, col->name);
		if (v->kind_case == WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST &&
			c->op != WALSTAR__V1__OP__UPDATE)
			return reason(buf, "%s record for \"%s.%s\": column \"%s\" is an unchanged TOAST value",
						  op, c->schema, c->table, col->name);
		if (col->is_key && (problem = check_key_value(v, col, "new row", buf)) != NULL)
			return problem;
	}
	for (i = 0; i < c->n_old_values; i++)
	{
		const Walstar__V1__Column *col = c->columns[i];
		const Walstar__V1__Value *v = c->old_values[i];

		if ((problem = check_value(v, col, "old value", buf)) != NULL)
			return problem;
		if (col->is_key && (problem = check_key_value(v, col, "old row", buf)) != NULL)
			return problem;
	}
	return NULL;
}
