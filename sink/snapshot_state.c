/*-------------------------------------------------------------------------
 *
 * snapshot_state.c
 *		The record of a completed initial copy: <state-dir>/<slot>.snapshot.
 *
 * Written only after Kafka acknowledged every READ record (snapshot.c).  A
 * slot without that file (a crash in the middle of the copy) is dropped and
 * recreated, and the copy redone: the exported snapshot of the first
 * attempt is gone, and a partial copy cannot be resumed consistently.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lsn.h"
#include "snapshot.h"

static void
state_path(const Config *cfg, char *buf, size_t buflen, const char *suffix)
{
	snprintf(buf, buflen, "%s/%s.snapshot%s", cfg->state_dir, cfg->slot,
			 suffix);
}

bool
snapshot_is_done(const Config *cfg, const char *system_id, const char *dbname)
{
	char  path[1024];
	char  line[512];
	char  expect[512];
	FILE *f;
	bool  done = false;

	state_path(cfg, path, sizeof(path), "");
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	snprintf(expect, sizeof(expect), "done system=%s database=%s ", system_id,
			 dbname);
	if (fgets(line, sizeof(line), f) != NULL)
		done = strncmp(line, expect, strlen(expect)) == 0;
	fclose(f);
	return done;
}

bool
snapshot_mark_done(const Config *cfg, const char *system_id,
				   const char *dbname, uint64_t consistent_point, char *err,
				   size_t errlen)
{
	char tmp[1024];
	char path[1024];
	char line[512];
	int	 fd;
	int	 n;

	mkdir(cfg->state_dir, 0700);
	state_path(cfg, tmp, sizeof(tmp), ".tmp");
	state_path(cfg, path, sizeof(path), "");
	n = snprintf(line, sizeof(line),
				 "done system=%s database=%s consistent_point=%s\n", system_id,
				 dbname, LSN(consistent_point));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, line, (size_t)n) != n || fsync(fd) != 0 ||
		close(fd) != 0 || rename(tmp, path) != 0)
	{
		snprintf(err, errlen, "cannot record snapshot completion in %s: %s",
				 path, strerror(errno));
		return false;
	}
	fd = open(cfg->state_dir, O_RDONLY);
	if (fd >= 0)
	{
		fsync(fd);
		close(fd);
	}
	return true;
}

void
snapshot_forget(const Config *cfg)
{
	char path[1024];

	state_path(cfg, path, sizeof(path), "");
	unlink(path);
}
