/*
 * pb_dump: walstar.v1.Change records in, one JSON line per record out.
 *
 * Input: one record per line as psql prints bytea ("\x0a0b..."), e.g. from
 *   SELECT data FROM pg_logical_slot_peek_binary_changes(...)
 * Output: the fields tests compare with the decoder's own json format;
 * values keep their wire kinds (timestamps as microseconds, dates as days,
 * ...) so a test sees what a protobuf reader sees.  A record that does not
 * parse prints {"error":"unpack"} and makes the exit status 1.
 *
 * A test tool, built by regress/t/021_decoder_walsender.pl.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "walstar.pb-c.h"

static const char *const op_names[] = {
	"UNSPECIFIED", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "READ", "MESSAGE",
	"BEGIN", "COMMIT", "PREPARE", "COMMIT_PREPARED", "ROLLBACK_PREPARED",
	"STREAM_START", "STREAM_STOP", "STREAM_COMMIT", "STREAM_ABORT"
};

static void
put_string(const char *s, size_t len)
{
	size_t		i;

	putchar('"');
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
put_hex(const uint8_t *d, size_t len)
{
	size_t		i;

	printf("\"\\\\x");
	for (i = 0; i < len; i++)
		printf("%02x", d[i]);
	putchar('"');
}

static void
put_value(const Walstar__V1__Value *v)
{
	switch (v->kind_case)
	{
		case WALSTAR__V1__VALUE__KIND_IS_NULL:
			printf("null");
			break;
		case WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST:
			printf("{\"unchanged_toast\":true}");
			break;
		case WALSTAR__V1__VALUE__KIND_INT_VALUE:
			printf("%" PRId64, v->int_value);
			break;
		case WALSTAR__V1__VALUE__KIND_DOUBLE_VALUE:
			printf("{\"double\":\"%.17g\"}", v->double_value);
			break;
		case WALSTAR__V1__VALUE__KIND_BOOL_VALUE:
			printf(v->bool_value ? "true" : "false");
			break;
		case WALSTAR__V1__VALUE__KIND_TEXT_VALUE:
			put_string(v->text_value, strlen(v->text_value));
			break;
		case WALSTAR__V1__VALUE__KIND_BYTES_VALUE:
			put_hex(v->bytes_value.data, v->bytes_value.len);
			break;
		case WALSTAR__V1__VALUE__KIND_NUMERIC_VALUE:
			put_string(v->numeric_value, strlen(v->numeric_value));
			break;
		case WALSTAR__V1__VALUE__KIND_TIMESTAMP_VALUE:
			printf("{\"timestamp\":%" PRId64 "}", v->timestamp_value);
			break;
		case WALSTAR__V1__VALUE__KIND_DATE_VALUE:
			printf("{\"date\":%" PRId32 "}", v->date_value);
			break;
		case WALSTAR__V1__VALUE__KIND_TIME_VALUE:
			printf("{\"time\":%" PRId64 "}", v->time_value);
			break;
		case WALSTAR__V1__VALUE__KIND_UUID_VALUE:
			put_hex(v->uuid_value.data, v->uuid_value.len);
			break;
		case WALSTAR__V1__VALUE__KIND_INTERVAL_VALUE:
			printf("{\"months\":%d,\"days\":%d,\"micros\":%" PRId64 "}",
				   v->interval_value->months, v->interval_value->days,
				   v->interval_value->micros);
			break;
		default:
			printf("{\"not_set\":true}");
			break;
	}
}

static void
put_values(const char *name, const Walstar__V1__Change *c, size_t n,
		   Walstar__V1__Value **values)
{
	size_t		i;
	int			first = 1;

	printf(",\"%s\":{", name);
	for (i = 0; i < n; i++)
	{
		if (values[i]->kind_case == WALSTAR__V1__VALUE__KIND__NOT_SET)
			continue;
		if (!first)
			putchar(',');
		first = 0;
		put_string(i < c->n_columns ? c->columns[i]->name : "?",
				   strlen(i < c->n_columns ? c->columns[i]->name : "?"));
		putchar(':');
		put_value(values[i]);
	}
	putchar('}');
}

static int
hexval(int c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

int
main(void)
{
	char	   *line = NULL;
	size_t		cap = 0;
	int			status = 0;

	while (getline(&line, &cap, stdin) > 0)
	{
		char	   *p = strstr(line, "\\x");
		uint8_t    *buf;
		size_t		len = 0;
		Walstar__V1__Change *c;
		size_t		i;

		if (p == NULL)
			continue;
		p += 2;
		buf = malloc(strlen(p) / 2 + 1);
		while (p[0] && p[1] && p[0] != '\n')
		{
			buf[len++] = (uint8_t) (hexval(p[0]) * 16 + hexval(p[1]));
			p += 2;
		}
		c = walstar__v1__change__unpack(NULL, len, buf);
		if (c == NULL)
		{
			printf("{\"error\":\"unpack\"}\n");
			status = 1;
			free(buf);
			continue;
		}
		printf("{\"op\":\"%s\",\"version\":%u,\"source\":",
			   c->op < 16 ? op_names[c->op] : "?", c->version);
		put_string(c->source, strlen(c->source));
		if (c->table[0])
		{
			printf(",\"schema\":");
			put_string(c->schema, strlen(c->schema));
			printf(",\"table\":");
			put_string(c->table, strlen(c->table));
		}
		printf(",\"xid\":%u,\"commit_lsn\":\"%X/%X\",\"lsn\":\"%X/%X\",\"commit_time\":%" PRId64,
			   c->xid, (unsigned) (c->commit_lsn >> 32), (unsigned) c->commit_lsn,
			   (unsigned) (c->lsn >> 32), (unsigned) c->lsn, c->commit_time);
		if (c->position)
			printf(",\"position\":%u", c->position);
		if (c->n_columns)
		{
			printf(",\"columns\":[");
			for (i = 0; i < c->n_columns; i++)
			{
				printf(i ? ",{\"name\":" : "{\"name\":");
				put_string(c->columns[i]->name, strlen(c->columns[i]->name));
				printf(",\"type\":");
				put_string(c->columns[i]->type_name, strlen(c->columns[i]->type_name));
				printf(",\"landing_type\":");
				put_string(c->columns[i]->landing_type, strlen(c->columns[i]->landing_type));
				if (c->columns[i]->is_key)
					printf(",\"key\":true");
				putchar('}');
			}
			putchar(']');
		}
		if (c->key.len)
		{
			Walstar__V1__Key *k = walstar__v1__key__unpack(NULL, c->key.len, c->key.data);

			if (k == NULL)
			{
				printf(",\"key\":\"unpack error\"");
				status = 1;
			}
			else
			{
				printf(",\"key\":[");
				for (i = 0; i < k->n_values; i++)
				{
					if (i)
						putchar(',');
					put_value(k->values[i]);
				}
				putchar(']');
				walstar__v1__key__free_unpacked(k, NULL);
			}
		}
		if (c->n_new_values)
			put_values("new", c, c->n_new_values, c->new_values);
		if (c->n_old_values)
			put_values("old", c, c->n_old_values, c->old_values);
		if (c->truncate)
			printf(",\"truncate\":{\"relations\":%zu,\"cascade\":%s,\"restart_identity\":%s}",
				   c->truncate->n_relations, c->truncate->cascade ? "true" : "false",
				   c->truncate->restart_identity ? "true" : "false");
		if (c->message)
		{
			printf(",\"message\":{\"prefix\":");
			put_string(c->message->prefix, strlen(c->message->prefix));
			printf(",\"content\":");
			put_hex(c->message->content.data, c->message->content.len);
			putchar('}');
		}
		if (c->commit)
			printf(",\"change_count\":%u,\"tables\":%zu,\"end_lsn\":\"%X/%X\"",
				   c->commit->change_count, c->commit->n_tables,
				   (unsigned) (c->commit->end_lsn >> 32), (unsigned) c->commit->end_lsn);
		if (c->last_in_tx)
			printf(",\"last\":true");
		printf("}\n");
		walstar__v1__change__free_unpacked(c, NULL);
		free(buf);
	}
	free(line);
	return status;
}
