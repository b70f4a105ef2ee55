/*-------------------------------------------------------------------------
 *
 * snapshot_request.c
 *		The queue of on-demand copies: one file per request in
 *		<state-dir>/<slot>.requests/, named <microseconds>-<pid>.request so
 *		that the oldest sorts first.
 *
 * A file, not a connection: the sink needs no listening socket, a request
 * made while the sink is down is taken at its next start, and one left by
 * a copy that SIGTERM or a crash cut is taken again.  The request is
 * removed only after Kafka acknowledged the copy.
 *
 *-------------------------------------------------------------------------
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "name_pattern.h"
#include "snapshot_request.h"

#define SUFFIX ".request"

static void
dir_path(const Config *cfg, char *buf, size_t buflen)
{
	snprintf(buf, buflen, "%s/%s.requests", cfg->state_dir, cfg->slot);
}

bool
snapshot_request_parse(const char *buf, size_t len, char *out, char *err,
					   size_t errlen)
{
	size_t i;

	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len == 0)
	{
		snprintf(err, errlen, "empty request");
		return false;
	}
	if (len >= SNAPSHOT_REQUEST_MAX)
	{
		snprintf(err, errlen, "request longer than %d bytes",
				 SNAPSHOT_REQUEST_MAX - 1);
		return false;
	}
	for (i = 0; i < len; i++)
	{
		unsigned char ch = (unsigned char)buf[i];

		if (ch < 0x20 || ch == 0x7f)
		{
			snprintf(err, errlen, "control character at byte %zu", i);
			return false;
		}
	}
	memcpy(out, buf, len);
	out[len] = '\0';
	/* include-tables syntax, checked here so a bad one is never queued */
	{
		char			work[SNAPSHOT_REQUEST_MAX];
		NamePattern		patterns[SNAPSHOT_REQUEST_MAX / 2 + 1];
		NamePatternList list = {0};
		size_t			bad_start = 0, bad_len = 0;

		if ((size_t)name_pattern_max_count(out) >
			sizeof(patterns) / sizeof(patterns[0]))
		{
			snprintf(err, errlen, "too many patterns");
			return false;
		}
		memcpy(work, out, len + 1);
		list.patterns = patterns;
		if (name_pattern_parse_list(work, 2, &list, &bad_start, &bad_len) !=
			NAME_PATTERN_OK)
		{
			snprintf(err, errlen, "invalid pattern \"%.*s\"", (int)bad_len,
					 out + bad_start);
			return false;
		}
	}
	return true;
}

bool
snapshot_request_write(const Config *cfg, const char *tables, char *err,
					   size_t errlen)
{
	char		   dir[1024], tmp[1200], path[1200];
	char		   check[SNAPSHOT_REQUEST_MAX];
	struct timeval tv;
	size_t		   n = strlen(tables);
	int			   fd;

	if (!snapshot_request_parse(tables, n, check, err, errlen))
		return false;
	dir_path(cfg, dir, sizeof(dir));
	mkdir(cfg->state_dir, 0700);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
	{
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return false;
	}
	gettimeofday(&tv, NULL);
	snprintf(path, sizeof(path), "%s/%016lld-%d" SUFFIX, dir,
			 (long long)tv.tv_sec * 1000000 + tv.tv_usec, (int)getpid());
	snprintf(tmp, sizeof(tmp), "%s/.%d.tmp", dir, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, tables, n) != (ssize_t)n ||
		write(fd, "\n", 1) != 1 || fsync(fd) != 0 || close(fd) != 0 ||
		rename(tmp, path) != 0)
	{
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return false;
	}
	fd = open(dir, O_RDONLY);
	if (fd >= 0)
	{
		fsync(fd);
		close(fd);
	}
	return true;
}

static bool
read_request(const char *path, char *tables, char *err, size_t errlen)
{
	char	buf[SNAPSHOT_REQUEST_MAX + 1];
	ssize_t n;
	int		fd = open(path, O_RDONLY);

	if (fd < 0)
	{
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return false;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
	{
		snprintf(err, errlen, "cannot read: %s", strerror(errno));
		return false;
	}
	return snapshot_request_parse(buf, (size_t)n, tables, err, errlen);
}

bool
snapshot_request_next(const Config *cfg, char *name, size_t namelen,
					  char *tables)
{
	char		   dir[1024];
	DIR			  *d;
	struct dirent *e;

	dir_path(cfg, dir, sizeof(dir));
	for (;;)
	{
		char path[1400];
		char err[256];
		bool found = false;

		d = opendir(dir);
		if (d == NULL)
			return false;
		while ((e = readdir(d)) != NULL)
		{
			size_t l = strlen(e->d_name);

			if (e->d_name[0] == '.' || l <= strlen(SUFFIX) || l >= namelen ||
				strcmp(e->d_name + l - strlen(SUFFIX), SUFFIX) != 0)
				continue;
			if (!found || strcmp(e->d_name, name) < 0)
				snprintf(name, namelen, "%s", e->d_name);
			found = true;
		}
		closedir(d);
		if (!found)
			return false;
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (read_request(path, tables, err, sizeof(err)))
			return true;
		{
			char bad[1500];

			snprintf(bad, sizeof(bad), "%s.bad", path);
			log_error("snapshot", "request=%s msg=%s", LOG_V(path),
					  LOG_Q(err));
			if (rename(path, bad) != 0)
				unlink(path);
		}
	}
}

void
snapshot_request_done(const Config *cfg, const char *name)
{
	char dir[1024];
	char path[1400];

	dir_path(cfg, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}
