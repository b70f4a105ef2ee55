/*-------------------------------------------------------------------------
 *
 * archiver.h
 *		Consume walstar topics and store them as objects, exactly once.
 *
 * The rule that makes the set of objects exactly once: per partition one
 * object is open at a time, holding the offsets from the committed
 * position on.  To store it, the archive first commits that same position
 * with the metadata "cut=<last offset>", then PUTs the object (named by
 * its offset range), checks its ETag against its MD5, and only then
 * commits <last offset> + 1.  A restarted archive reads the cut mark of
 * each partition it is assigned and closes its first object exactly at
 * that offset, so it writes the same name over the same bytes instead of
 * a second object with another range; without a mark nothing past the
 * committed offset was stored.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ARCHIVE_ARCHIVER_H
#define ARCHIVE_ARCHIVER_H

#include <signal.h>
#include <stdbool.h>

#include "config.h"

/*
 * The daemon: runs until *stop, then stores the open objects (within
 * shutdown-timeout) and commits.  *reload: re-read the configuration.
 * Returns the exit code.
 */
extern int archiver_run(Config *cfg, volatile sig_atomic_t *stop,
						volatile sig_atomic_t *reload);

/* Print the group's committed offset and cut mark per partition. */
extern int archiver_status(Config *cfg);

#endif
