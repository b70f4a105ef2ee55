/*-------------------------------------------------------------------------
 *
 * metrics.c
 *		The sink's metrics in Prometheus text format, served by
 *		common/metrics_http.c.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "metrics_http.h"

Metrics metrics;

/* walstar_sink_info's label pairs, escaped; set once before serving */
static char	  info_labels[1024];
static double start_time;

static const char *const error_kinds[ERROR_KIND_COUNT] = {
	[ERROR_KIND_CONNECTION] = "connection",
	[ERROR_KIND_DELIVERY] = "delivery",
	[ERROR_KIND_OVERSIZE] = "oversize",
	[ERROR_KIND_WIRE_FORMAT] = "wire_format",
};

static const char *const peers[PEER_COUNT] = {
	[PEER_SOURCE] = "source",
	[PEER_KAFKA] = "kafka",
};

void
metrics_error(MetricsErrorKind kind)
{
	atomic_fetch_add(&metrics.errors_total[kind], 1);
}

void
metrics_set_connected(MetricsPeer peer, bool connected)
{
	atomic_store_explicit(&metrics.connected[peer], connected ? 1 : 0,
						  memory_order_relaxed);
}

/*
 * Append v as a label value at out[pos], escaping backslash, quote and
 * newline as the exposition format wants, writing below out[cap].
 */
static size_t
escape_label(char *out, size_t pos, size_t cap, const char *v)
{
	for (; *v != '\0' && pos + 3 < cap; v++)
	{
		if (*v == '\\' || *v == '"')
			out[pos++] = '\\';
		else if (*v == '\n')
		{
			out[pos++] = '\\';
			out[pos++] = 'n';
			continue;
		}
		out[pos++] = *v;
	}
	out[pos] = '\0';
	return pos;
}

void
metrics_set_info(const char *version, const char *slot, const char *source)
{
	const char	   *names[] = {"version", "slot", "source"};
	const char	   *values[] = {version, slot, source};
	size_t			pos = 0;
	int				i;
	struct timespec ts;

	/* each pair takes at most 12 + 256 + 1 bytes: all three always fit */
	for (i = 0; i < 3; i++)
	{
		pos += (size_t)snprintf(info_labels + pos, sizeof(info_labels) - pos,
								"%s%s=\"", i ? "," : "", names[i]);
		pos = escape_label(info_labels, pos, pos + 256, values[i]);
		info_labels[pos++] = '"';
		info_labels[pos] = '\0';
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Upper bound of bucket i in microseconds. */
static double
bucket_bound(int i)
{
	return 10.0 * pow(1.1, i + 1);
}

/* Bucket upper bounds, computed once (observe runs per message). */
static double		  bounds[HIST_BUCKETS];
static pthread_once_t bounds_once = PTHREAD_ONCE_INIT;

static void
init_bounds(void)
{
	int i;

	for (i = 0; i < HIST_BUCKETS; i++)
		bounds[i] = bucket_bound(i);
}

void
metrics_observe(Histogram *h, uint64_t micros)
{
	int	   lo = 0, hi = HIST_BUCKETS - 1;
	double v = (double)micros;

	pthread_once(&bounds_once, init_bounds);
	/* first bucket whose bound exceeds v (the last catches the rest) */
	while (lo < hi)
	{
		int mid = (lo + hi) / 2;

		if (bounds[mid] > v)
			hi = mid;
		else
			lo = mid + 1;
	}
	atomic_fetch_add_explicit(&h->bucket[lo], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, micros, memory_order_relaxed);
}

uint64_t
metrics_quantile(Histogram *h, double q)
{
	uint64_t total = atomic_load(&h->count);
	uint64_t want, seen = 0;
	int		 i;

	if (total == 0)
		return 0;
	want = (uint64_t)ceil(q * (double)total);
	if (want == 0)
		want = 1;
	for (i = 0; i < HIST_BUCKETS; i++)
	{
		seen += atomic_load(&h->bucket[i]);
		if (seen >= want)
			return (uint64_t)bucket_bound(i);
	}
	return (uint64_t)bucket_bound(HIST_BUCKETS - 1);
}

static void
histogram(MetricsText *b, const char *name, const char *help, Histogram *h)
{
	static const double les[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
								 0.25,	0.5,	1,	   2.5,	 5,		10,	  30};
	size_t				k;
	int					i = 0;
	uint64_t			cum = 0;

	metrics_text_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help,
						name);
	for (k = 0; k < sizeof(les) / sizeof(les[0]); k++)
	{
		/* fine buckets entirely below the bound */
		while (i < HIST_BUCKETS && bucket_bound(i) <= les[k] * 1e6)
			cum += atomic_load(&h->bucket[i++]);
		metrics_text_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, les[k],
							(unsigned long long)cum);
	}
	metrics_text_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name,
						(unsigned long long)atomic_load(&h->count));
	metrics_text_printf(b, "%s_sum %.6f\n%s_count %llu\n", name,
						(double)atomic_load(&h->sum_us) / 1e6, name,
						(unsigned long long)atomic_load(&h->count));
}

/* the body of one scrape */
static void
render(MetricsText *b)
{
	uint64_t confirmed = atomic_load(&metrics.confirmed_lsn);
	uint64_t received = atomic_load(&metrics.received_lsn);
	int		 i;

	metrics_text_printf(
		b,
		"# HELP walstar_sink_info The sink's version, slot and source "
		"(Change.source).\n# TYPE walstar_sink_info gauge\n"
		"walstar_sink_info{%s} 1\n",
		info_labels);
	metrics_text_gauge(
		b, "walstar_sink_start_time_seconds",
		"Start time of the process, seconds since the Unix epoch.",
		start_time);
	metrics_text_printf(
		b, "# HELP walstar_sink_connected 1 while connected: source "
		   "= to the source server, kafka = some broker up.\n"
		   "# TYPE walstar_sink_connected gauge\n");
	for (i = 0; i < PEER_COUNT; i++)
		metrics_text_printf(b, "walstar_sink_connected{peer=\"%s\"} %d\n",
							peers[i], atomic_load(&metrics.connected[i]));
	metrics_text_gauge(
		b, "walstar_sink_standby",
		"1 while the sink stands by: kafka-transactions, and its slot is "
		"active for another sink.",
		atomic_load(&metrics.standby));
	metrics_text_counter(b, "walstar_sink_records_total",
						 "Records received from the replication slot.",
						 atomic_load(&metrics.records_total));
	metrics_text_counter(
		b, "walstar_sink_changes_total",
		"Row changes received (INSERT, UPDATE, DELETE, TRUNCATE, MESSAGE).",
		atomic_load(&metrics.changes_total));
	metrics_text_counter(b, "walstar_sink_received_bytes_total",
						 "Bytes of records received from the slot.",
						 atomic_load(&metrics.bytes_total));
	metrics_text_counter(b, "walstar_sink_acked_messages_total",
						 "Kafka messages acknowledged.",
						 atomic_load(&metrics.acked_total));
	metrics_text_counter(b, "walstar_sink_snapshot_rows_total",
						 "Rows of the initial snapshot produced (op READ).",
						 atomic_load(&metrics.snapshot_rows_total));
	metrics_text_printf(
		b, "# HELP walstar_sink_errors_total Errors by kind: "
		   "connection (source), delivery (Kafka), oversize, "
		   "wire_format.\n# TYPE walstar_sink_errors_total counter\n");
	for (i = 0; i < ERROR_KIND_COUNT; i++)
		metrics_text_printf(
			b, "walstar_sink_errors_total{kind=\"%s\"} %llu\n", error_kinds[i],
			(unsigned long long)atomic_load(&metrics.errors_total[i]));
	metrics_text_counter(b, "walstar_sink_dead_letters_total",
						 "Records sent to the dead-letter topic.",
						 atomic_load(&metrics.dead_letters_total));
	metrics_text_counter(b, "walstar_sink_reconnects_total",
						 "Reconnections to the source.",
						 atomic_load(&metrics.reconnects_total));
	metrics_text_counter(
		b, "walstar_sink_source_failovers_total",
		"Source failovers recovered: slot created on a promoted standby, "
		"captured tables queued for a copy.",
		atomic_load(&metrics.failovers_total));
	metrics_text_counter(
		b, "walstar_sink_backpressure_total",
		"Times the producer queue was full and reading paused.",
		atomic_load(&metrics.backpressure_total));
	/* LSNs are byte positions in the WAL: bytes are their unit */
	metrics_text_gauge(
		b, "walstar_sink_confirmed_lsn_bytes",
		"Flush position last confirmed to the source, as a WAL byte "
		"position.",
		(double)confirmed);
	metrics_text_gauge(
		b, "walstar_sink_received_lsn_bytes",
		"Latest source position received, as a WAL byte position.",
		(double)received);
	metrics_text_gauge(
		b, "walstar_sink_lag_bytes",
		"WAL bytes received but not yet confirmed.",
		(double)(received > confirmed ? received - confirmed : 0));
	metrics_text_gauge(
		b, "walstar_sink_last_commit_timestamp_seconds",
		"Source commit time of the newest fully acknowledged transaction, "
		"seconds since the Unix epoch (0 before the first).",
		(double)atomic_load(&metrics.last_commit_us) / 1e6);
	metrics_text_gauge(b, "walstar_sink_queue_messages",
					   "Messages queued in the producer or in flight.",
					   (double)atomic_load(&metrics.queue_depth));
	metrics_text_gauge(b, "walstar_sink_transactions_in_flight",
					   "Transactions not yet acknowledged completely.",
					   (double)atomic_load(&metrics.txns_in_flight));
	histogram(b, "walstar_sink_delivery_latency_seconds",
			  "Time from producing a message to its acknowledgement.",
			  &metrics.delivery_latency);
	histogram(b, "walstar_sink_commit_latency_seconds",
			  "Time from the source commit to the acknowledgement of the "
			  "transaction's last message.",
			  &metrics.commit_latency);
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
