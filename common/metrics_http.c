/*-------------------------------------------------------------------------
 *
 * metrics_http.c
 *		The daemons' Prometheus endpoint on 127.0.0.1 only, and the text
 *		format's writers (see metrics_http.h).
 *
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "metrics_http.h"

static struct MHD_Daemon *daemon_handle;
static MetricsRender	  render_metrics;

void
metrics_text_printf(MetricsText *t, const char *fmt, ...)
{
	va_list ap;
	int		n;

	for (;;)
	{
		va_start(ap, fmt);
		n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < t->cap - t->len)
		{
			t->len += (size_t)n;
			return;
		}
		t->cap *= 2;
		t->data = realloc(t->data, t->cap);
		if (t->data == NULL)
			abort();
	}
}

void
metrics_text_counter(MetricsText *t, const char *name, const char *help,
					 uint64_t v)
{
	metrics_text_printf(t, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name,
						help, name, name, (unsigned long long)v);
}

void
metrics_text_gauge(MetricsText *t, const char *name, const char *help,
				   double v)
{
	metrics_text_printf(t, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name,
						help, name, name, v);
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
	   const char *method, const char *version, const char *upload_data,
	   size_t *upload_data_size, void **con_cls)
{
	struct MHD_Response *resp;
	enum MHD_Result		 ret;
	MetricsText			 t;

	(void)cls;
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(method, "GET") != 0)
		return MHD_NO;
	if (strcmp(url, "/metrics") != 0 && strcmp(url, "/") != 0)
	{
		static char notfound[] = "not found\n";

		resp = MHD_create_response_from_buffer(strlen(notfound), notfound,
											   MHD_RESPMEM_PERSISTENT);
		ret = MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	t.cap = 8192;
	t.len = 0;
	t.data = malloc(t.cap);
	if (t.data == NULL)
		return MHD_NO;
	render_metrics(&t);
	resp =
		MHD_create_response_from_buffer(t.len, t.data, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

bool
metrics_http_start(int port, MetricsRender render, char *err, size_t errlen)
{
	struct sockaddr_in addr;
	sigset_t		   all, old;

	render_metrics = render;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* the server's thread takes no signal: the main thread handles them */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	daemon_handle = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
		MHD_OPTION_CONNECTION_LIMIT, 16, MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (daemon_handle == NULL)
	{
		snprintf(err, errlen,
				 "cannot serve metrics on 127.0.0.1:%d (port in use?)", port);
		return false;
	}
	return true;
}

void
metrics_http_stop(void)
{
	if (daemon_handle != NULL)
		MHD_stop_daemon(daemon_handle);
	daemon_handle = NULL;
}
