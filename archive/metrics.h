/*-------------------------------------------------------------------------
 *
 * metrics.h
 *		Counters of walstar-archive and a Prometheus text endpoint on
 *		127.0.0.1 (libmicrohttpd's thread reads them, relaxed atomics).
 *
 *-------------------------------------------------------------------------
 */
#ifndef ARCHIVE_METRICS_H
#define ARCHIVE_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ArchiveMetrics
{
	_Atomic uint64_t records_total;		 /* Kafka messages consumed */
	_Atomic uint64_t bytes_total;		 /* their value bytes */
	_Atomic uint64_t objects_total;		 /* objects stored and verified */
	_Atomic uint64_t object_bytes_total; /* their compressed bytes */
	_Atomic uint64_t dead_letters_total; /* records archived as dead letters */
	_Atomic uint64_t store_errors_total; /* failed object store requests */
	_Atomic uint64_t commit_errors_total; /* failed Kafka commits */
	_Atomic int64_t	 open_records;		  /* records in open objects */
	_Atomic int64_t	 last_commit_us;	  /* newest archived commit time */
	_Atomic int		 store_up;			  /* last request succeeded */
} ArchiveMetrics;

extern ArchiveMetrics metrics;

extern bool metrics_start(int port, char *err, size_t errlen);
extern void metrics_stop(void);

#endif
