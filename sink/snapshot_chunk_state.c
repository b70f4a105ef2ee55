/*-------------------------------------------------------------------------
 *
 * snapshot_chunk_state.c
 *		The chunked copy's progress: <state-dir>/<slot>.chunks.
 *
 *	epoch <32 hex digits>
 *	table <schema> <table> <done 0|1> <chunks> <rows> <nkeys> <key>...
 *
 * Names and key texts are hex-encoded bytes, so no byte of them can break
 * the format.  Rewritten (temporary file, fsync, rename) only after Kafka
 * acknowledged a chunk's READ records, so after a crash the copy resumes
 * at the chunk after the last acknowledged one.
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

#include "log.h"
#include "snapshot_chunk_state.h"

static void
state_path(const Config *cfg, char *buf, size_t buflen, const char *suffix)
{
	snprintf(buf, buflen, "%s/%s.chunks%s", cfg->state_dir, cfg->slot, suffix);
}

static char *
hex_encode(const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t			  n = strlen(s), i;
	char			 *out = malloc(2 * n + 2);

	if (out == NULL)
		abort();
	for (i = 0; i < n; i++)
	{
		out[2 * i] = hex[(unsigned char)s[i] >> 4];
		out[2 * i + 1] = hex[(unsigned char)s[i] & 15];
	}
	out[2 * n] = '\0';
	if (n == 0)
		strcpy(out, "-");
	return out;
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* NULL when tok is not hex text. */
static char *
hex_decode(const char *tok)
{
	size_t n = strlen(tok), i;
	char  *out;

	if (strcmp(tok, "-") == 0)
		n = 0;
	if (n % 2 != 0)
		return NULL;
	out = malloc(n / 2 + 1);
	if (out == NULL)
		abort();
	for (i = 0; i < n / 2; i++)
	{
		int hi = hex_digit(tok[2 * i]), lo = hex_digit(tok[2 * i + 1]);

		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
		{
			free(out);
			return NULL;
		}
		out[i] = (char)(hi << 4 | lo);
	}
	out[n / 2] = '\0';
	return out;
}

void
chunk_state_free(ChunkState *st)
{
	int i, k;

	for (i = 0; i < st->ntables; i++)
	{
		free(st->tables[i].schema);
		free(st->tables[i].table);
		for (k = 0; k < st->tables[i].nkeys; k++)
			free(st->tables[i].upper[k]);
		free(st->tables[i].upper);
	}
	free(st->tables);
	memset(st, 0, sizeof(*st));
}

static bool
parse_table(char *line, ChunkTable *t)
{
	char *save = NULL;
	char *tok[6];
	int	  i, k;

	memset(t, 0, sizeof(*t));
	if (strcmp(strtok_r(line, " \n", &save), "table") != 0)
		return false;
	for (i = 0; i < 6; i++)
		if ((tok[i] = strtok_r(NULL, " \n", &save)) == NULL)
			return false;
	t->schema = hex_decode(tok[0]);
	t->table = hex_decode(tok[1]);
	t->done = strcmp(tok[2], "1") == 0;
	t->chunks = strtoull(tok[3], NULL, 10);
	t->rows = strtoull(tok[4], NULL, 10);
	t->nkeys = atoi(tok[5]);
	if (t->schema == NULL || t->table == NULL || t->nkeys < 0 || t->nkeys > 64)
		return false;
	t->upper = calloc(t->nkeys + 1, sizeof(char *));
	if (t->upper == NULL)
		abort();
	for (k = 0; k < t->nkeys; k++)
	{
		char *v = strtok_r(NULL, " \n", &save);

		if (v == NULL || (t->upper[k] = hex_decode(v)) == NULL)
			return false;
	}
	return true;
}

bool
chunk_state_load(const Config *cfg, ChunkState *st)
{
	char   path[1024];
	char  *line = NULL;
	size_t cap = 0;
	FILE  *f;
	bool   ok = false;
	int	   i;

	memset(st, 0, sizeof(*st));
	state_path(cfg, path, sizeof(path), "");
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	if (getline(&line, &cap, f) > 0 && strncmp(line, "epoch ", 6) == 0 &&
		strlen(line) >= 6 + 2 * CHUNK_EPOCH_LEN)
	{
		ok = true;
		for (i = 0; i < CHUNK_EPOCH_LEN; i++)
		{
			int hi = hex_digit(line[6 + 2 * i]),
				lo = hex_digit(line[7 + 2 * i]);

			if (hi < 0 || lo < 0)
				ok = false;
			st->epoch[i] = (uint8_t)(hi << 4 | lo);
		}
	}
	while (ok && getline(&line, &cap, f) > 0)
	{
		st->tables =
			realloc(st->tables, sizeof(ChunkTable) * (st->ntables + 1));
		if (st->tables == NULL)
			abort();
		ok = parse_table(line, &st->tables[st->ntables]);
		st->ntables++;
	}
	free(line);
	fclose(f);
	if (!ok)
	{
		log_error("snapshot",
				  "file=%s msg=\"chunked copy progress unreadable; ignored\"",
				  LOG_V(path));
		chunk_state_free(st);
	}
	return ok;
}

bool
chunk_state_save(const Config *cfg, const ChunkState *st, char *err,
				 size_t errlen)
{
	char  tmp[1024];
	char  path[1024];
	FILE *f;
	int	  i, k, fd;
	bool  ok;

	mkdir(cfg->state_dir, 0700);
	state_path(cfg, tmp, sizeof(tmp), ".tmp");
	state_path(cfg, path, sizeof(path), "");
	f = fopen(tmp, "w");
	if (f == NULL)
		goto fail;
	fprintf(f, "epoch ");
	for (i = 0; i < CHUNK_EPOCH_LEN; i++)
		fprintf(f, "%02x", st->epoch[i]);
	fprintf(f, "\n");
	for (i = 0; i < st->ntables; i++)
	{
		const ChunkTable *t = &st->tables[i];
		char			 *s = hex_encode(t->schema);
		char			 *n = hex_encode(t->table);

		fprintf(f, "table %s %s %d %llu %llu %d", s, n, t->done ? 1 : 0,
				(unsigned long long)t->chunks, (unsigned long long)t->rows,
				t->nkeys);
		free(s);
		free(n);
		for (k = 0; k < t->nkeys; k++)
		{
			char *v = hex_encode(t->upper[k]);

			fprintf(f, " %s", v);
			free(v);
		}
		fprintf(f, "\n");
	}
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (fclose(f) != 0 || !ok || rename(tmp, path) != 0)
		goto fail;
	fd = open(cfg->state_dir, O_RDONLY);
	if (fd >= 0)
	{
		fsync(fd);
		close(fd);
	}
	return true;

fail:
	snprintf(err, errlen, "cannot record chunked copy progress in %s: %s",
			 path, strerror(errno));
	return false;
}

void
chunk_state_forget(const Config *cfg)
{
	char path[1024];

	state_path(cfg, path, sizeof(path), "");
	unlink(path);
}
