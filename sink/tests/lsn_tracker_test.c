/*-------------------------------------------------------------------------
 *
 * lsn_tracker_test.c
 *		Unit tests of the flush-position rules and of change_peek.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "walstar.pb-c.h"

#include "change_peek.h"
#include "lsn_tracker.h"

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

static void
test_order(void)
{
	LsnTracker	t;
	TrackedTxn *a, *b;

	lsn_tracker_init(&t, 100);
	a = lsn_tracker_begin(&t, 200, 0);
	lsn_tracker_add(&t, a);
	lsn_tracker_add(&t, a);
	lsn_tracker_close(&t, a, 210);
	b = lsn_tracker_begin(&t, 300, 0);
	lsn_tracker_add(&t, b);
	lsn_tracker_close(&t, b, 310);
	CHECK(lsn_tracker_flush_lsn(&t) == 100);

	/* the younger transaction acknowledged first: nothing moves */
	lsn_tracker_ack(&t, b);
	CHECK(lsn_tracker_flush_lsn(&t) == 100);
	lsn_tracker_ack(&t, a);
	CHECK(lsn_tracker_flush_lsn(&t) == 100);
	/* the last message of the older one: both are done */
	lsn_tracker_ack(&t, a);
	CHECK(lsn_tracker_flush_lsn(&t) == 310);
	CHECK(t.head == NULL && t.outstanding == 0 && t.ntxns == 0);
}

static void
test_open_and_idle(void)
{
	LsnTracker	t;
	TrackedTxn *a, *s;

	lsn_tracker_init(&t, 100);
	/* idle: the server's position is safe */
	lsn_tracker_server_position(&t, 150);
	CHECK(lsn_tracker_flush_lsn(&t) == 150);

	/* an open transaction (no COMMIT yet) holds everything back */
	a = lsn_tracker_begin(&t, 400, 0);
	lsn_tracker_add(&t, a);
	lsn_tracker_ack(&t, a);
	lsn_tracker_server_position(&t, 390);
	CHECK(lsn_tracker_flush_lsn(&t) == 100);

	/* cut off by a lost connection: popped, confirms nothing itself */
	lsn_tracker_close(&t, a, 0);
	CHECK(t.head == NULL);
	CHECK(lsn_tracker_flush_lsn(&t) == 390);

	/* a record outside a transaction holds back until acknowledged */
	s = lsn_tracker_begin(&t, 0, 0);
	lsn_tracker_add(&t, s);
	lsn_tracker_close(&t, s, 0);
	lsn_tracker_server_position(&t, 500);
	CHECK(lsn_tracker_flush_lsn(&t) == 100);
	lsn_tracker_ack(&t, s);
	CHECK(lsn_tracker_flush_lsn(&t) == 500);
	lsn_tracker_reset(&t);
}

static void
test_peek(void)
{
	Walstar__V1__Change c = WALSTAR__V1__CHANGE__INIT;
	Walstar__V1__Commit cm = WALSTAR__V1__COMMIT__INIT;
	uint8_t				key[] = {0x0a, 0x02, 0x18, 0x54};
	uint8_t				buf[512];
	size_t				n;
	ChangePeek			p;
	char				text[64];

	c.version = 1;
	c.op = WALSTAR__V1__OP__COMMIT;
	c.schema = "public";
	c.table = "t";
	c.key.data = key;
	c.key.len = sizeof(key);
	c.xid = 4242;
	c.commit_lsn = 0x123456789aULL;
	c.commit_time = -5;
	c.lsn = 0x1234567800ULL;
	c.position = 7;
	cm.end_lsn = 0x12345678ffULL;
	cm.change_count = 3;
	c.commit = &cm;
	n = walstar__v1__change__pack(&c, buf);

	CHECK(change_peek(buf, n, &p));
	CHECK(p.op == WALSTAR__V1__OP__COMMIT);
	CHECK(p.schema_len == 6 && memcmp(p.schema, "public", 6) == 0);
	CHECK(p.table_len == 1 && p.table[0] == 't');
	CHECK(p.key_len == sizeof(key));
	CHECK(p.xid == 4242);
	CHECK(p.commit_lsn == 0x123456789aULL);
	CHECK(p.commit_time == -5);
	CHECK(p.lsn == 0x1234567800ULL);
	CHECK(p.position == 7);
	CHECK(p.end_lsn == 0x12345678ffULL);
	CHECK(strcmp(change_op_name(p.op), "COMMIT") == 0);
	change_key_text(p.key, p.key_len, text, sizeof(text));
	CHECK(strcmp(text, "(42)") == 0);

	/* truncated input is refused, never read past the end */
	CHECK(!change_peek(buf, n - 1, &p));
}

/*
 * An on-demand copy while streaming paused: its markers end at the copy's
 * consistent point, ahead of the stream; after the rewind only what the
 * resumed stream acknowledges moves the position.
 */
static void
test_rewind(void)
{
	LsnTracker	t;
	TrackedTxn *copy, *next;

	lsn_tracker_init(&t, 100);
	lsn_tracker_server_position(&t, 150);
	copy = lsn_tracker_begin(&t, 899, 0);
	lsn_tracker_add(&t, copy);
	lsn_tracker_close(&t, copy, 900);
	lsn_tracker_ack(&t, copy);
	CHECK(lsn_tracker_flush_lsn(&t) == 900);
	lsn_tracker_rewind(&t, 150);
	CHECK(lsn_tracker_flush_lsn(&t) == 150);
	next = lsn_tracker_begin(&t, 200, 0);
	lsn_tracker_add(&t, next);
	lsn_tracker_close(&t, next, 210);
	CHECK(lsn_tracker_flush_lsn(&t) == 150);
	lsn_tracker_ack(&t, next);
	CHECK(lsn_tracker_flush_lsn(&t) == 210);
}

int
main(void)
{
	test_order();
	test_open_and_idle();
	test_rewind();
	test_peek();
	if (failures > 0)
	{
		fprintf(stderr, "lsn_tracker_test: %d check(s) failed\n", failures);
		return 1;
	}
	printf("lsn_tracker_test: ok\n");
	return 0;
}
