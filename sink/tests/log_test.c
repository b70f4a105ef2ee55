/*-------------------------------------------------------------------------
 *
 * log_test.c
 *		Unit tests of the logfmt values (log_quote) and of one event being
 *		one line.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static int failures = 0;

#define CHECK_STR(got, want)                                                  \
	do                                                                        \
	{                                                                         \
		const char *g_ = (got), *w_ = (want);                                 \
		if (strcmp(g_, w_) != 0)                                              \
		{                                                                     \
			fprintf(stderr, "%s:%d: got [%s], want [%s]\n", __FILE__,         \
					__LINE__, g_, w_);                                        \
			failures++;                                                       \
		}                                                                     \
	} while (0)

static void
test_quote(void)
{
	char small[8];

	CHECK_STR(LOG_Q("streaming"), "\"streaming\"");
	CHECK_STR(LOG_V("public.big"), "public.big");
	CHECK_STR(LOG_V(""), "\"\"");
	CHECK_STR(LOG_V(NULL), "\"\"");
	CHECK_STR(LOG_V("a b"), "\"a b\"");
	CHECK_STR(LOG_V("k=v"), "\"k=v\"");
	CHECK_STR(LOG_Q("say \"hi\""), "\"say \\\"hi\\\"\"");
	CHECK_STR(LOG_Q("C:\\dir"), "\"C:\\\\dir\"");
	CHECK_STR(LOG_Q("line1\nline2\r\tend"), "\"line1\\nline2\\r\\tend\"");
	CHECK_STR(LOG_Q("bell\a esc\x1b del\x7f"),
			  "\"bell\\u0007 esc\\u001b del\\u007f\"");
	CHECK_STR(LOG_V("x\"y"), "\"x\\\"y\"");
	CHECK_STR(LOG_Q("héllo"), "\"héllo\"");
	/* cut to fit, never mid-escape, always closed */
	CHECK_STR(log_quote(small, sizeof(small), "abcdefghij", 1), "\"abcde\"");
	CHECK_STR(log_quote(small, sizeof(small), "abcd\"ef", 1), "\"abcd\"");
	CHECK_STR(log_quote(small, sizeof(small), "abcdefghij", 0), "\"abcde\"");
}

/* An event whose value holds a line break and quotes is one line. */
static void
test_one_line(void)
{
	char  path[] = "/tmp/walstar-log-test-XXXXXX";
	char  buf[512];
	int	  fd = mkstemp(path);
	int	  saved = dup(STDERR_FILENO);
	FILE *f;
	size_t n;

	if (fd < 0 || saved < 0)
	{
		perror("log_test");
		exit(1);
	}
	dup2(fd, STDERR_FILENO);
	log_set_timestamps(0);
	log_error("stream", "slot=s msg=%s", LOG_Q("ERROR:  x \"y\"\nDETAIL: z"));
	dup2(saved, STDERR_FILENO);
	close(saved);
	f = fdopen(fd, "r");
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	CHECK_STR(buf, "error stream slot=s msg=\"ERROR:  x \\\"y\\\"\\nDETAIL: z\"\n");
}

int
main(void)
{
	test_quote();
	test_one_line();
	if (failures > 0)
	{
		fprintf(stderr, "log_test: %d failures\n", failures);
		return 1;
	}
	printf("log_test: ok\n");
	return 0;
}
