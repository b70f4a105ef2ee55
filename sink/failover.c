/*-------------------------------------------------------------------------
 *
 * failover.c
 *		Which server the sink streamed from, and whether a missing slot means
 *		that the source failed over to a promoted standby.
 *
 * PostgreSQL 15 keeps logical slots on the primary only.  A promoted
 * standby has the old primary's system identifier, continues its WAL on a
 * new timeline, and has no slot.  <state-dir>/<slot>.source records the
 * system identifier, database and timeline of the server the sink last
 * started streaming from (written to a temporary file, fsync'ed, renamed):
 * a missing slot on a server with the same system identifier and database
 * and a newer timeline is a failover (main.c then creates the slot and
 * queues a copy of every captured table), anything else a missing slot
 * as before.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "failover.h"
#include "log.h"

static void
source_path(const Config *cfg, char *buf, size_t buflen, const char *suffix)
{
	snprintf(buf, buflen, "%s/%s.source%s", cfg->state_dir, cfg->slot, suffix);
}

/* The line recorded for r, up to and including "timeline=". */
static void
record_prefix(const Replication *r, char *buf, size_t buflen)
{
	snprintf(buf, buflen, "system=%s database=%s timeline=", r->system_id,
			 r->dbname);
}

/* The recorded timeline of r's system and database; 0: none recorded. */
static uint32_t
recorded_timeline(const Config *cfg, const Replication *r)
{
	char	 path[1024];
	char	 line[512];
	char	 prefix[256];
	FILE	*f;
	uint32_t tli = 0;

	source_path(cfg, path, sizeof(path), "");
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	record_prefix(r, prefix, sizeof(prefix));
	if (fgets(line, sizeof(line), f) != NULL &&
		strncmp(line, prefix, strlen(prefix)) == 0)
		tli = (uint32_t)strtoul(line + strlen(prefix), NULL, 10);
	fclose(f);
	return tli;
}

void
failover_note_source(const Config *cfg, const Replication *r)
{
	char tmp[1024];
	char path[1024];
	char line[512];
	int	 fd;
	int	 n;

	if (recorded_timeline(cfg, r) == r->timeline)
		return;
	mkdir(cfg->state_dir, 0700);
	source_path(cfg, tmp, sizeof(tmp), ".tmp");
	source_path(cfg, path, sizeof(path), "");
	record_prefix(r, line, sizeof(line));
	n = (int)strlen(line);
	n += snprintf(line + n, sizeof(line) - (size_t)n, "%u\n", r->timeline);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, line, (size_t)n) != n || fsync(fd) != 0 ||
		close(fd) != 0 || rename(tmp, path) != 0)
	{
		log_warning("replication",
					"slot=%s msg=\"cannot record the source in %s: %s\"",
					cfg->slot, path, strerror(errno));
		return;
	}
	fd = open(cfg->state_dir, O_RDONLY);
	if (fd >= 0)
	{
		fsync(fd);
		close(fd);
	}
}

bool
failover_detected(const Config *cfg, const Replication *r, uint32_t *previous)
{
	*previous = recorded_timeline(cfg, r);
	return *previous != 0 && r->timeline > *previous;
}
