/*-------------------------------------------------------------------------
 *
 * change_peek_check_test.c
 *		Unit tests of change_peek_check: the sink refuses what breaks the
 *		wire format's invariants, with the reason the extension would give,
 *		also when the columns are those of a record that passed before.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "change_check.h"
#include "walstar.pb-c.h"

#include "change_peek.h"

static int failures = 0;

#define CHECK(cond)                                                           \
	do                                                                        \
	{                                                                         \
		if (!(cond))                                                          \
		{                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,  \
					#cond);                                                   \
			failures++;                                                       \
		}                                                                     \
	} while (0)

static Walstar__V1__Column cols[3];
static Walstar__V1__Column *colp[3];
static Walstar__V1__Value vals[3];
static Walstar__V1__Value *valp[3];
static Walstar__V1__Change change;

/* An INSERT into public.items (id int key, name text, at timestamptz). */
static void
make_insert(void)
{
	static const char *names[3] = {"id", "name", "at"};
	static const char *types[3] = {"integer", "text",
								   "timestamp with time zone"};
	int i;

	for (i = 0; i < 3; i++)
	{
		walstar__v1__column__init(&cols[i]);
		cols[i].name = (char *)names[i];
		cols[i].type_name = (char *)types[i];
		cols[i].landing_type = (char *)types[i];
		cols[i].is_key = i == 0;
		colp[i] = &cols[i];
		walstar__v1__value__init(&vals[i]);
		valp[i] = &vals[i];
	}
	vals[0].kind_case = WALSTAR__V1__VALUE__KIND_INT_VALUE;
	vals[0].int_value = 7;
	vals[1].kind_case = WALSTAR__V1__VALUE__KIND_TEXT_VALUE;
	vals[1].text_value = "caf\xc3\xa9";
	vals[2].kind_case = WALSTAR__V1__VALUE__KIND_TIMESTAMP_VALUE;
	vals[2].timestamp_value = 1714564800000000;
	walstar__v1__change__init(&change);
	change.version = 1;
	change.source = "shop";
	change.op = WALSTAR__V1__OP__INSERT;
	change.schema = "public";
	change.table = "items";
	change.n_columns = 3;
	change.columns = colp;
	change.n_new_values = 3;
	change.new_values = valp;
	change.lsn = 0x1000028;
}

/* change's bytes, checked by the sink and by the extension's rules */
static const char *
check(ChangeScan *scan, char *buf, uint8_t **out, size_t *out_len)
{
	size_t	 len = walstar__v1__change__get_packed_size(&change);
	uint8_t *data = malloc(len + 1);
	char	 ext[CHANGE_CHECK_REASON_MAX];
	const char *sink_reason, *ext_reason;
	Walstar__V1__Change *u;

	walstar__v1__change__pack(&change, data);
	sink_reason = change_peek_check(scan, data, len, buf);
	u = walstar__v1__change__unpack(NULL, len, data);
	CHECK(u != NULL);
	ext_reason = change_check(u, ext);
	CHECK((sink_reason == NULL) == (ext_reason == NULL));
	if (sink_reason && ext_reason)
		CHECK(strcmp(sink_reason, ext_reason) == 0);
	walstar__v1__change__free_unpacked(u, NULL);
	if (out != NULL)
	{
		*out = data;
		*out_len = len;
	}
	else
		free(data);
	return sink_reason;
}

int
main(void)
{
	ChangeScan *scan = change_scan_create();
	char		buf[CHANGE_CHECK_REASON_MAX];
	const char *r;
	uint8_t	   *a, *b, *two;
	size_t		alen, blen;

	CHECK(scan != NULL);
	make_insert();
	CHECK(check(scan, buf, &a, &alen) == NULL);
	/* same columns again: the cached path */
	CHECK(check(scan, buf, NULL, NULL) == NULL);

	/* values no longer parallel to columns */
	change.n_new_values = 2;
	r = check(scan, buf, NULL, NULL);
	CHECK(r != NULL && strstr(r, "2 new values for 3 columns") != NULL);
	change.n_new_values = 3;

	/* a bad value behind known-good columns */
	vals[1].text_value = "caf\xff";
	r = check(scan, buf, NULL, NULL);
	CHECK(r != NULL && strstr(r, "column \"name\" is not valid UTF-8") != NULL);
	vals[1].text_value = "ok";

	/* NULL key */
	vals[0].kind_case = WALSTAR__V1__VALUE__KIND_IS_NULL;
	vals[0].is_null = 1;
	r = check(scan, buf, NULL, NULL);
	CHECK(r != NULL && strstr(r, "key column \"id\" is NULL") != NULL);
	vals[0].kind_case = WALSTAR__V1__VALUE__KIND_INT_VALUE;

	/* new columns: a duplicate name, a landing type naming a schema */
	cols[2].name = "id";
	r = check(scan, buf, NULL, NULL);
	CHECK(r != NULL && strstr(r, "appears twice") != NULL);
	cols[2].name = "at";
	cols[1].landing_type = "public.mood";
	r = check(scan, buf, NULL, NULL);
	CHECK(r != NULL && strstr(r, "landing type") != NULL);
	cols[1].landing_type = "text";

	/* a DELETE with an old row, then a TRUNCATE carrying values */
	change.op = WALSTAR__V1__OP__DELETE;
	change.n_old_values = 3;
	change.old_values = valp;
	change.n_new_values = 0;
	CHECK(check(scan, buf, &b, &blen) == NULL);
	change.op = WALSTAR__V1__OP__TRUNCATE;
	r = check(scan, buf, NULL, NULL);
	CHECK(r != NULL && strstr(r, "TRUNCATE record") != NULL);

	/* two real records in one message: every repeated field doubled */
	two = malloc(alen + blen);
	memcpy(two, a, alen);
	memcpy(two + alen, b, blen);
	r = change_peek_check(scan, two, alen + blen, buf);
	CHECK(r != NULL && strstr(r, "appears twice") != NULL);

	/* truncated, and a known field with another wire type */
	r = change_peek_check(scan, a, alen - 1, buf);
	CHECK(r != NULL && strstr(r, "not a walstar.v1.Change") != NULL);
	a[0] = (1 << 3) | 2; /* version as a string */
	r = change_peek_check(scan, a, alen, buf);
	CHECK(r != NULL);
	CHECK(walstar__v1__change__unpack(NULL, alen, a) == NULL);

	/*
	 * An UPDATE that left a TOASTed column alone, and the bytes stream.c
	 * appends for old_row_stashed (field 29): the extension reads them so.
	 */
	{
		static const uint8_t stashed[] = {0xe8, 0x01, 0x01};
		uint8_t	   *u;
		size_t		ulen;
		Walstar__V1__Change *m;

		make_insert();
		change.op = WALSTAR__V1__OP__UPDATE;
		ulen = walstar__v1__change__get_packed_size(&change);
		u = malloc(ulen);
		walstar__v1__change__pack(&change, u);
		CHECK(!change_has_unchanged_toast(u, ulen));
		free(u);
		vals[1].kind_case = WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST;
		vals[1].unchanged_toast = 1;
		ulen = walstar__v1__change__get_packed_size(&change);
		u = malloc(ulen + sizeof(stashed));
		walstar__v1__change__pack(&change, u);
		CHECK(change_has_unchanged_toast(u, ulen));
		memcpy(u + ulen, stashed, sizeof(stashed));
		m = walstar__v1__change__unpack(NULL, ulen + sizeof(stashed), u);
		CHECK(m != NULL && m->old_row_stashed && !m->old_key_elsewhere);
		if (m != NULL)
			walstar__v1__change__free_unpacked(m, NULL);
		free(u);
	}

	free(a);
	free(b);
	free(two);
	change_scan_destroy(scan);
	if (failures)
	{
		fprintf(stderr, "change_peek_check_test: %d failures\n", failures);
		return 1;
	}
	printf("change_peek_check_test: ok\n");
	return 0;
}
