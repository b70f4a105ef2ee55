/*-------------------------------------------------------------------------
 *
 * metrics_http.h
 *		The daemons' Prometheus endpoint: http://127.0.0.1:<port>/metrics
 *		(and /) served by libmicrohttpd's own thread, and the text format's
 *		writers. Each daemon renders its own metrics into a MetricsText.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALSTAR_METRICS_HTTP_H
#define WALSTAR_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* a growing buffer of Prometheus text (aborts when memory runs out) */
typedef struct MetricsText
{
	char  *data;
	size_t len;
	size_t cap;
} MetricsText;

extern void metrics_text_printf(MetricsText *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
extern void metrics_text_counter(MetricsText *t, const char *name,
								 const char *help, uint64_t v);
extern void metrics_text_gauge(MetricsText *t, const char *name,
							   const char *help, double v);

/* called on the server's thread for each scrape */
typedef void (*MetricsRender)(MetricsText *t);

/* false, with err set, when 127.0.0.1:port cannot be served */
extern bool metrics_http_start(int port, MetricsRender render, char *err,
							   size_t errlen);
extern void metrics_http_stop(void);

#endif
