/*-------------------------------------------------------------------------
 *
 * dead_letters.h
 *		walstar-archive dead-letters: the apply side's walstar.dead_letters
 *		rows, exported to the store as NDJSON objects under
 *
 *	<prefix>/dead_letters/apply=<database>.<subscription>/date=YYYY-MM-DD/
 *		hour=HH/<topic>+<partition>+<first offset>-<last offset>.ndjson.zst
 *
 * Exactly once without state of its own: a letter is written in the apply
 * transaction that moves its partition's offset, and one worker applies a
 * partition in order, so per (subscription, topic, partition) letters
 * become visible in offset order.  The highest offset already stored is
 * read back from the object names, and each run exports the letters above
 * it; a run that died before a PUT left no object, one after it is seen.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ARCHIVE_DEAD_LETTERS_H
#define ARCHIVE_DEAD_LETTERS_H

#include "config.h"

/* The command: 0 when every new letter is stored. */
extern int dead_letters_export(Config *cfg);

#endif
