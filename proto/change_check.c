/*
 * change_check.c
 *		The wire format's invariants, checked on an unpacked walstar.v1.Change.
 *
 * A Kafka topic is external input: anyone who may produce to it can send
 * any bytes, and protobuf accepts many of them (two records concatenated
 * are one valid message with every repeated field doubled). Readers index
 * values by column and key position, so nothing may use a record before
 * these checks pass. Each reason names the broken invariant.
 *
 * The rules are written once, against a ChangeCheckView; change_check
 * fills one from an unpacked message, walstar-sink from the wire bytes.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "change_check.h"
#include "epoch.h"

#define WIRE_VERSION 1

/* PostgreSQL's timestamp range (MIN_TIMESTAMP, END_TIMESTAMP), its epoch. */
#define PG_MIN_TIMESTAMP INT64_C(-211813488000000000)
#define PG_END_TIMESTAMP INT64_C(9223371331200000000)
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

/* A record's text as a reason prints it. */
#define TXT(t) (int) (t).len, (t).p

static int
valid_text(CheckText t)
{
	return t.p != NULL && change_check_utf8(t.p, t.len);
}

/* A source identifier: 1 to 63 bytes of UTF-8. */
static int
valid_name(CheckText t)
{
	return t.p != NULL && t.len > 0 && t.len <= CHANGE_NAME_MAX &&
		change_check_utf8(t.p, t.len);
}

/*
 * The text of a built-in type as format_type writes it ("integer",
 * "numeric(12,2)", "timestamp(3) with time zone", "text[]", "\"char\""):
 * never schema-qualified, so it resolves only in pg_catalog.
 */
static int
valid_landing_type(CheckText t)
{
	size_t		i;

	if (t.p == NULL || t.len == 0 || t.len > LANDING_TYPE_MAX ||
		!((t.p[0] >= 'a' && t.p[0] <= 'z') || t.p[0] == '"'))
		return 0;
	for (i = 0; i < t.len; i++)
	{
		char		ch = t.p[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
			  ch == ' ' || ch == '_' || ch == '(' || ch == ')' || ch == ',' ||
			  ch == '[' || ch == ']' || ch == '"'))
			return 0;
	}
	return 1;
}

/* Whether a value can be rendered and stored: NULL when it can. */
static const char *
check_value(const CheckValue *v, const CheckColumn *col, const char *which,
			char *buf)
{
	int64_t		ts;

	switch (v->kind)
	{
		case WALSTAR__V1__VALUE__KIND_TEXT_VALUE:
			if (!valid_text(v->text))
				return reason(buf, "%s of column \"%.*s\" is not valid UTF-8", which,
							  TXT(col->name));
			return NULL;
		case WALSTAR__V1__VALUE__KIND_NUMERIC_VALUE:
			if (!valid_text(v->text) || v->text.len == 0)
				return reason(buf, "%s of column \"%.*s\": numeric text is empty or not UTF-8",
							  which, TXT(col->name));
			return NULL;
		case WALSTAR__V1__VALUE__KIND_TIMESTAMP_VALUE:
			if (v->number < INT64_MIN + WALSTAR_PG_EPOCH_USECS)
				return reason(buf, "%s of column \"%.*s\": timestamp out of range", which,
							  TXT(col->name));
			ts = v->number - WALSTAR_PG_EPOCH_USECS;
			if (ts < PG_MIN_TIMESTAMP || ts >= PG_END_TIMESTAMP)
				return reason(buf, "%s of column \"%.*s\": timestamp out of range", which,
							  TXT(col->name));
			return NULL;
		case WALSTAR__V1__VALUE__KIND_DATE_VALUE:
			if (v->number + WALSTAR_UNIX_EPOCH_JDATE < 0 ||
				v->number + WALSTAR_UNIX_EPOCH_JDATE > INT_MAX - 1)
				return reason(buf, "%s of column \"%.*s\": date out of range", which,
							  TXT(col->name));
			return NULL;
		case WALSTAR__V1__VALUE__KIND_TIME_VALUE:
			if (v->number < 0 || v->number > USECS_PER_DAY)
				return reason(buf, "%s of column \"%.*s\": time out of range", which,
							  TXT(col->name));
			return NULL;
		case WALSTAR__V1__VALUE__KIND_UUID_VALUE:
			if (v->bytes_len != 16)
				return reason(buf, "%s of column \"%.*s\": uuid of %zu bytes, not 16",
							  which, TXT(col->name), v->bytes_len);
			return NULL;
		case WALSTAR__V1__VALUE__KIND_INTERVAL_VALUE:
			if (!v->has_interval)
				return reason(buf, "%s of column \"%.*s\": interval without fields", which,
							  TXT(col->name));
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
	return reason(buf, "%s of column \"%.*s\" has unknown kind %d", which,
				  TXT(col->name), v->kind);
}

/* A key column's value in the tuple an op identifies its row by. */
static const char *
check_key_value(const CheckValue *v, const CheckColumn *col,
				const char *which, char *buf)
{
	switch (v->kind)
	{
		case WALSTAR__V1__VALUE__KIND__NOT_SET:
			return reason(buf, "%s lacks key column \"%.*s\"", which, TXT(col->name));
		case WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST:
			return reason(buf, "key column \"%.*s\" is an unchanged TOAST value in the %s",
						  TXT(col->name), which);
		case WALSTAR__V1__VALUE__KIND_IS_NULL:
			return reason(buf, "key column \"%.*s\" is NULL in the %s", TXT(col->name),
						  which);
		default:
			return NULL;
	}
}

static int
is_row_change(int op)
{
	return op == WALSTAR__V1__OP__INSERT || op == WALSTAR__V1__OP__UPDATE ||
		op == WALSTAR__V1__OP__DELETE || op == WALSTAR__V1__OP__READ;
}

static const char *
op_name(int op)
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
		case WALSTAR__V1__OP__DDL:
			return "DDL";
		default:
			return "record";
	}
}

/* The rules on the column descriptions alone. */
static const char *
check_columns(const ChangeCheckView *v, char *buf)
{
	size_t		i,
				j;

	for (i = 0; i < v->n_columns; i++)
	{
		CheckColumn colv;
		const CheckColumn *col = &colv;

		v->column(v->arg, i, &colv);
		if (!valid_name(col->name))
			return reason(buf, "column %zu of \"%.*s.%.*s\": names must be 1 to %d bytes of UTF-8",
						  i + 1, TXT(v->schema), TXT(v->table), CHANGE_NAME_MAX);
		if (!valid_landing_type(col->landing_type))
			return reason(buf, "column \"%.*s\" of \"%.*s.%.*s\": landing type is not a built-in type name",
						  TXT(col->name), TXT(v->schema), TXT(v->table));
		if (!valid_text(col->type_name))
			return reason(buf, "column \"%.*s\" of \"%.*s.%.*s\": type name is not valid UTF-8",
						  TXT(col->name), TXT(v->schema), TXT(v->table));
	}
	/* quadratic, but bounded by CHANGE_COLUMNS_MAX (and cached by the sink) */
	for (i = 1; i < v->n_columns; i++)
	{
		CheckColumn a;

		v->column(v->arg, i, &a);
		for (j = 0; j < i; j++)
		{
			CheckColumn b;

			v->column(v->arg, j, &b);
			if (a.name.len == b.name.len &&
				memcmp(a.name.p, b.name.p, a.name.len) == 0)
				return reason(buf, "column \"%.*s\" of \"%.*s.%.*s\" appears twice",
							  TXT(a.name), TXT(v->schema), TXT(v->table));
		}
	}
	return NULL;
}

const char *
change_check_view(const ChangeCheckView *v, char *buf)
{
	size_t		i;
	const char *op;
	const char *problem;
	int			wants_new,
				wants_old;
	CheckValue	val;

	if (v->version == 0)
		return reason(buf, "not a walstar record: the version field is missing");
	if (v->version != WIRE_VERSION)
		return reason(buf, "unsupported wire format version %u (this reader understands %d)",
					  (unsigned) v->version, WIRE_VERSION);
	if (v->op <= WALSTAR__V1__OP__OP_UNSPECIFIED || v->op > WALSTAR__V1__OP__SNAPSHOT_END)
		return reason(buf, "unknown op %d", v->op);
	if (!valid_text(v->source) || v->source.len > CHANGE_SOURCE_MAX)
		return reason(buf, "source is longer than %d bytes or not valid UTF-8",
					  CHANGE_SOURCE_MAX);
	op = op_name(v->op);
	if (!is_row_change(v->op) && v->op != WALSTAR__V1__OP__TRUNCATE &&
		v->op != WALSTAR__V1__OP__DDL)
	{
		if (v->n_columns || v->n_new_values || v->n_old_values)
			return reason(buf, "a record of op %d carries columns or values", v->op);
		return NULL;
	}

	if (!valid_name(v->schema) || !valid_name(v->table))
		return reason(buf, "%s record: schema and table names must be 1 to %d bytes of UTF-8",
					  op, CHANGE_NAME_MAX);
	if (v->op == WALSTAR__V1__OP__TRUNCATE)
	{
		if (v->n_columns || v->n_new_values || v->n_old_values)
			return reason(buf, "TRUNCATE record for \"%.*s.%.*s\" carries columns or values",
						  TXT(v->schema), TXT(v->table));
		return NULL;
	}

	if (v->op == WALSTAR__V1__OP__DDL && (v->n_new_values || v->n_old_values))
		return reason(buf, "DDL record for \"%.*s.%.*s\" carries values",
					  TXT(v->schema), TXT(v->table));
	if (v->n_columns == 0 || v->n_columns > CHANGE_COLUMNS_MAX)
		return reason(buf, "%s record for \"%.*s.%.*s\" has %zu columns (1 to %d)",
					  op, TXT(v->schema), TXT(v->table), v->n_columns, CHANGE_COLUMNS_MAX);
	if (!v->columns_known_good && (problem = check_columns(v, buf)) != NULL)
		return problem;

	if (v->op == WALSTAR__V1__OP__DDL)
		return NULL;

	/* Which tuples each op carries, parallel to columns. */
	wants_new = v->op != WALSTAR__V1__OP__DELETE;
	wants_old = v->op == WALSTAR__V1__OP__DELETE || v->op == WALSTAR__V1__OP__UPDATE;
	if (wants_new ? v->n_new_values != v->n_columns : v->n_new_values != 0)
		return reason(buf, "%s record for \"%.*s.%.*s\" has %zu new values for %zu columns",
					  op, TXT(v->schema), TXT(v->table), v->n_new_values, v->n_columns);
	if (!wants_old && v->n_old_values != 0)
		return reason(buf, "%s record for \"%.*s.%.*s\" carries an old row", op,
					  TXT(v->schema), TXT(v->table));
	if (v->n_old_values != 0 && v->n_old_values != v->n_columns)
		return reason(buf, "%s record for \"%.*s.%.*s\" has %zu old values for %zu columns",
					  op, TXT(v->schema), TXT(v->table), v->n_old_values, v->n_columns);

	for (i = 0; i < v->n_new_values; i++)
	{
		CheckColumn colv;
		const CheckColumn *col = &colv;

		v->column(v->arg, i, &colv);
		v->value(v->arg, false, i, &val);
		if ((problem = check_value(&val, col, "value", buf)) != NULL)
			return problem;
		if (val.kind == WALSTAR__V1__VALUE__KIND__NOT_SET)
			return reason(buf, "%s record for \"%.*s.%.*s\" lacks the new value of column \"%.*s\"",
						  op, TXT(v->schema), TXT(v->table), TXT(col->name));
		if (val.kind == WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST &&
			v->op != WALSTAR__V1__OP__UPDATE)
			return reason(buf, "%s record for \"%.*s.%.*s\": column \"%.*s\" is an unchanged TOAST value",
						  op, TXT(v->schema), TXT(v->table), TXT(col->name));
		if (col->is_key && (problem = check_key_value(&val, col, "new row", buf)) != NULL)
			return problem;
	}
	for (i = 0; i < v->n_old_values; i++)
	{
		CheckColumn colv;
		const CheckColumn *col = &colv;

		v->column(v->arg, i, &colv);
		v->value(v->arg, true, i, &val);
		if ((problem = check_value(&val, col, "old value", buf)) != NULL)
			return problem;
		if (col->is_key && (problem = check_key_value(&val, col, "old row", buf)) != NULL)
			return problem;
	}
	return NULL;
}

/* An unpacked message, read through a view. */
static CheckText
text_of(const char *s)
{
	CheckText	t = {s, s ? strlen(s) : 0};

	return t;
}

static void
unpacked_column(const void *arg, size_t i, CheckColumn *out)
{
	const Walstar__V1__Column *col = ((const Walstar__V1__Change *) arg)->columns[i];

	out->name = text_of(col->name);
	out->type_name = text_of(col->type_name);
	out->landing_type = text_of(col->landing_type);
	out->is_key = col->is_key;
}

static void
unpacked_value(const void *arg, bool old, size_t i, CheckValue *out)
{
	const Walstar__V1__Change *c = arg;
	const Walstar__V1__Value *v = old ? c->old_values[i] : c->new_values[i];

	memset(out, 0, sizeof(*out));
	out->kind = (int) v->kind_case;
	switch (v->kind_case)
	{
		case WALSTAR__V1__VALUE__KIND_TEXT_VALUE:
			out->text = text_of(v->text_value);
			break;
		case WALSTAR__V1__VALUE__KIND_NUMERIC_VALUE:
			out->text = text_of(v->numeric_value);
			break;
		case WALSTAR__V1__VALUE__KIND_TIMESTAMP_VALUE:
			out->number = v->timestamp_value;
			break;
		case WALSTAR__V1__VALUE__KIND_DATE_VALUE:
			out->number = v->date_value;
			break;
		case WALSTAR__V1__VALUE__KIND_TIME_VALUE:
			out->number = v->time_value;
			break;
		case WALSTAR__V1__VALUE__KIND_UUID_VALUE:
			out->bytes_len = v->uuid_value.len;
			break;
		case WALSTAR__V1__VALUE__KIND_INTERVAL_VALUE:
			out->has_interval = v->interval_value != NULL;
			break;
		default:
			break;
	}
}

const char *
change_check(const Walstar__V1__Change *c, char *buf)
{
	ChangeCheckView v;

	memset(&v, 0, sizeof(v));
	v.version = c->version;
	v.op = (int) c->op;
	v.source = text_of(c->source);
	v.schema = text_of(c->schema);
	v.table = text_of(c->table);
	v.n_columns = c->n_columns;
	v.n_new_values = c->n_new_values;
	v.n_old_values = c->n_old_values;
	v.column = unpacked_column;
	v.value = unpacked_value;
	v.arg = c;
	return change_check_view(&v, buf);
}
