/*-------------------------------------------------------------------------
 *
 * lsn.h
 *		WAL positions as PostgreSQL prints them (%X/%X).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_LSN_H
#define SINK_LSN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Enough for "FFFFFFFF/FFFFFFFF" and the terminator. */
#define LSN_TEXT_LEN 18

typedef struct LsnText
{
	char text[LSN_TEXT_LEN]; /* "X/X" */
} LsnText;

static inline LsnText
lsn_text(uint64_t lsn)
{
	LsnText t;

	snprintf(t.text, sizeof(t.text), "%X/%X", (unsigned)(lsn >> 32),
			 (unsigned)lsn);
	return t;
}

/* Parse "X/X"; false when s is not an LSN. */
static inline bool
lsn_parse(const char *s, uint64_t *lsn)
{
	unsigned hi, lo;
	int		 n = 0;

	if (s == NULL || sscanf(s, "%X/%X%n", &hi, &lo, &n) != 2 || s[n] != '\0')
		return false;
	*lsn = ((uint64_t)hi << 32) | lo;
	return true;
}

#define LSN(x) (lsn_text(x).text)

#endif
