/*-------------------------------------------------------------------------
 *
 * metrics.h
 *		Counters of the sink and a Prometheus text endpoint on 127.0.0.1.
 *
 * The main thread updates the counters; libmicrohttpd's thread reads them
 * (C11 atomics, relaxed: a scrape needs no consistent cut).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_METRICS_H
#define SINK_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fine log-scale buckets from 10 us to ~100 s, for quantiles. */
#define HIST_BUCKETS 170

typedef struct Histogram
{
	_Atomic uint64_t count;				   /* observations */
	_Atomic uint64_t sum_us;			   /* their sum, microseconds */
	_Atomic uint64_t bucket[HIST_BUCKETS]; /* bucket i: < 10us * 1.1^i */
} Histogram;

/* Kinds of error, the "kind" label of walstar_sink_errors_total. */
typedef enum MetricsErrorKind
{
	ERROR_KIND_CONNECTION,	/* source connection failed or lost */
	ERROR_KIND_DELIVERY,	/* Kafka refused or failed a message */
	ERROR_KIND_OVERSIZE,	/* a message larger than Kafka accepts */
	ERROR_KIND_WIRE_FORMAT, /* a record breaking the wire format */
	ERROR_KIND_COUNT
} MetricsErrorKind;

/* Peers of walstar_sink_connected. */
typedef enum MetricsPeer
{
	PEER_SOURCE, /* connected to the source (copy or stream) */
	PEER_KAFKA,	 /* not every broker is down */
	PEER_COUNT
} MetricsPeer;

typedef struct Metrics
{
	_Atomic uint64_t records_total; /* records received from the slot */
	_Atomic uint64_t
		changes_total;			  /* row changes (INSERT/UPDATE/DELETE/...) */
	_Atomic uint64_t bytes_total; /* record bytes received */
	_Atomic uint64_t acked_total; /* messages acknowledged by Kafka */
	_Atomic uint64_t errors_total[ERROR_KIND_COUNT]; /* errors by kind */
	_Atomic uint64_t dead_letters_total;  /* records sent as dead letters */
	_Atomic uint64_t reconnects_total;	  /* source reconnections */
	_Atomic uint64_t failovers_total;	  /* source failovers recovered */
	_Atomic uint64_t snapshot_rows_total; /* READ records produced */
	_Atomic uint64_t backpressure_total;  /* times the queue was full */
	_Atomic uint64_t confirmed_lsn;		  /* last flush position sent */
	_Atomic uint64_t received_lsn;	 /* latest position seen from the server */
	_Atomic int64_t	 queue_depth;	 /* producer queue length */
	_Atomic int64_t	 txns_in_flight; /* transactions not yet acknowledged */
	_Atomic int64_t	 last_commit_us; /* source commit time of the newest
									  * acknowledged transaction, Unix us */
	_Atomic int		 connected[PEER_COUNT]; /* 1 connected, 0 not */
	_Atomic int		 standby;		   /* 1 while standing by (standby.c) */
	Histogram		 delivery_latency; /* produce -> acknowledgement */
	Histogram		 commit_latency;   /* source commit -> acknowledgement */
} Metrics;

extern Metrics metrics;

extern void metrics_error(MetricsErrorKind kind);
extern void metrics_set_connected(MetricsPeer peer, bool connected);

/*
 * The labels of walstar_sink_info; call before metrics_start.  The strings
 * are copied.
 */
extern void metrics_set_info(const char *version, const char *slot,
							 const char *source);

extern void metrics_observe(Histogram *h, uint64_t micros);

/* The q-quantile (0..1) of h in microseconds (bucket upper bound). */
extern uint64_t metrics_quantile(Histogram *h, double q);

/* Serve http://127.0.0.1:port/metrics from a thread of its own. */
extern bool metrics_start(int port, char *err, size_t errlen);
extern void metrics_stop(void);

#endif
