/*-------------------------------------------------------------------------
 *
 * metrics.c
 *		http://127.0.0.1:<metrics-port>/metrics in Prometheus text format.
 *
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "metrics.h"
#include "s3.h"

ArchiveMetrics			  metrics;
static struct MHD_Daemon *daemon_handle;

static int
put(char *buf, size_t len, size_t *pos, const char *name, const char *type,
	const char *help, double value)
{
	int n = snprintf(buf + *pos, len - *pos,
					 "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help,
					 name, type, name, value);

	if (n < 0 || (size_t)n >= len - *pos)
		return -1;
	*pos += (size_t)n;
	return 0;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
	   const char *method, const char *version, const char *upload_data,
	   size_t *upload_data_size, void **con_cls)
{
	size_t				 len = 8192, pos = 0;
	char				*buf;
	struct MHD_Response *resp;
	enum MHD_Result		 ret;
	int					 bad = 0;

	if (strcmp(url, "/metrics") != 0)
	{
		resp = MHD_create_response_from_buffer(10, "not found\n",
											   MHD_RESPMEM_PERSISTENT);
		ret = MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	buf = malloc(len);
	if (buf == NULL)
		return MHD_NO;
	bad |= put(buf, len, &pos, "walstar_archive_records_total", "counter",
			   "Kafka messages consumed.",
			   (double)atomic_load(&metrics.records_total));
	bad |= put(buf, len, &pos, "walstar_archive_bytes_total", "counter",
			   "Bytes of the consumed message values.",
			   (double)atomic_load(&metrics.bytes_total));
	bad |= put(buf, len, &pos, "walstar_archive_objects_total", "counter",
			   "Objects stored and verified (ETag = MD5).",
			   (double)atomic_load(&metrics.objects_total));
	bad |= put(buf, len, &pos, "walstar_archive_object_bytes_total", "counter",
			   "Compressed bytes of the stored objects.",
			   (double)atomic_load(&metrics.object_bytes_total));
	bad |= put(buf, len, &pos, "walstar_archive_dead_letters_total", "counter",
			   "Records archived under dead_letters/.",
			   (double)atomic_load(&metrics.dead_letters_total));
	bad |= put(buf, len, &pos, "walstar_archive_store_errors_total", "counter",
			   "Object store requests that failed.",
			   (double)atomic_load(&metrics.store_errors_total));
	bad |= put(buf, len, &pos, "walstar_archive_commit_errors_total",
			   "counter", "Kafka offset commits that failed.",
			   (double)atomic_load(&metrics.commit_errors_total));
	bad |=
		put(buf, len, &pos, "walstar_archive_store_requests_total", "counter",
			"Object store requests sent.", (double)s3_requests_total());
	bad |= put(buf, len, &pos, "walstar_archive_open_records", "gauge",
			   "Records consumed but not yet in a stored object.",
			   (double)atomic_load(&metrics.open_records));
	bad |= put(buf, len, &pos, "walstar_archive_last_commit_timestamp_seconds",
			   "gauge",
			   "Source commit time of the newest archived change, seconds "
			   "since the Unix epoch (0 before the first).",
			   (double)atomic_load(&metrics.last_commit_us) / 1e6);
	bad |= put(buf, len, &pos, "walstar_archive_store_up", "gauge",
			   "1 when the last object store request succeeded.",
			   (double)atomic_load(&metrics.store_up));
	if (bad)
	{
		free(buf);
		return MHD_NO;
	}
	resp = MHD_create_response_from_buffer(pos, buf, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

bool
metrics_start(int port, char *err, size_t errlen)
{
	struct sockaddr_in addr;
	sigset_t		   all, old;

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
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
metrics_stop(void)
{
	if (daemon_handle != NULL)
		MHD_stop_daemon(daemon_handle);
	daemon_handle = NULL;
}
