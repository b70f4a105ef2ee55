/*-------------------------------------------------------------------------
 *
 * metrics.c
 *		http://127.0.0.1:<metrics-port>/metrics in Prometheus text format.
 *
 *-------------------------------------------------------------------------
 */
#include "metrics.h"
#include "metrics_http.h"
#include "s3.h"

ArchiveMetrics metrics;

/* the body of one scrape */
static void
render(MetricsText *t)
{
	metrics_text_counter(t, "walstar_archive_records_total",
						 "Kafka messages consumed.",
						 atomic_load(&metrics.records_total));
	metrics_text_counter(t, "walstar_archive_bytes_total",
						 "Bytes of the consumed message values.",
						 atomic_load(&metrics.bytes_total));
	metrics_text_counter(t, "walstar_archive_objects_total",
						 "Objects stored and verified (ETag = MD5).",
						 atomic_load(&metrics.objects_total));
	metrics_text_counter(t, "walstar_archive_object_bytes_total",
						 "Compressed bytes of the stored objects.",
						 atomic_load(&metrics.object_bytes_total));
	metrics_text_counter(t, "walstar_archive_dead_letters_total",
						 "Records archived under dead_letters/.",
						 atomic_load(&metrics.dead_letters_total));
	metrics_text_counter(t, "walstar_archive_store_errors_total",
						 "Object store requests that failed.",
						 atomic_load(&metrics.store_errors_total));
	metrics_text_counter(t, "walstar_archive_commit_errors_total",
						 "Kafka offset commits that failed.",
						 atomic_load(&metrics.commit_errors_total));
	metrics_text_counter(t, "walstar_archive_store_requests_total",
						 "Object store requests sent.", s3_requests_total());
	metrics_text_gauge(t, "walstar_archive_open_records",
					   "Records consumed but not yet in a stored object.",
					   (double)atomic_load(&metrics.open_records));
	metrics_text_gauge(
		t, "walstar_archive_last_commit_timestamp_seconds",
		"Source commit time of the newest archived change, seconds "
		"since the Unix epoch (0 before the first).",
		(double)atomic_load(&metrics.last_commit_us) / 1e6);
	metrics_text_gauge(t, "walstar_archive_store_up",
					   "1 when the last object store request succeeded.",
					   (double)atomic_load(&metrics.store_up));
}

bool
metrics_start(int port, char *err, size_t errlen)
{
	return metrics_http_start(port, render, err, errlen);
}

void
metrics_stop(void)
{
	metrics_http_stop();
}
