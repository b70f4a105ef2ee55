/*-------------------------------------------------------------------------
 *
 * epoch.h
 *		The two epochs of a walstar record, defined once.
 *
 * The wire format counts timestamps in microseconds and dates in days
 * from the Unix epoch (1970-01-01); PostgreSQL counts from its own
 * (2000-01-01).  Every conversion in the decoder, the sink, the extension
 * and proto/change_check.c uses these.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALSTAR_EPOCH_H
#define WALSTAR_EPOCH_H

#include <stdint.h>

/* Julian day numbers of 1970-01-01 and 2000-01-01. */
#define WALSTAR_UNIX_EPOCH_JDATE 2440588
#define WALSTAR_PG_EPOCH_JDATE 2451545

/* Days, seconds and microseconds from the Unix epoch to PostgreSQL's. */
#define WALSTAR_PG_EPOCH_DAYS (WALSTAR_PG_EPOCH_JDATE - WALSTAR_UNIX_EPOCH_JDATE)
#define WALSTAR_PG_EPOCH_SECS ((int64_t) WALSTAR_PG_EPOCH_DAYS * 86400)
#define WALSTAR_PG_EPOCH_USECS (WALSTAR_PG_EPOCH_SECS * 1000000)

#endif							/* WALSTAR_EPOCH_H */
