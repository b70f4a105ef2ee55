/*-------------------------------------------------------------------------
 *
 * snapshot_row.c
 *		A copied row as a READ record in the decoder's format.
 *
 * Columns are described by snapshot_catalog.c and values shaped and
 * parsed by snapshot_value.c, exactly as the decoder types them; the key
 * is the replica identity's values packed by common/change_key.c, so a
 * READ record and a streamed change of the same row carry the same key
 * bytes (the chunked copy matches them on that).
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "walstar.pb-c.h"

#include "change_key.h"
#include "snapshot_row.h"

bool
snap_row_init(SnapRow *r, PGconn *conn, const Config *cfg, const SnapTable *t,
			  char *err, size_t errlen)
{
	int i;

	memset(r, 0, sizeof(*r));
	r->table = t;
	r->salt = cfg->hash_salt;
	r->cols = snapshot_catalog_columns(conn, cfg, t, &r->ncols, err, errlen);
	if (r->cols == NULL)
		return false;
	r->colptrs = calloc(r->ncols + 1, sizeof(*r->colptrs));
	r->vals = calloc(r->ncols + 1, sizeof(*r->vals));
	r->valptrs = calloc(r->ncols + 1, sizeof(*r->valptrs));
	r->keyptrs = calloc(r->ncols + 1, sizeof(*r->keyptrs));
	r->ivs = calloc(r->ncols + 1, sizeof(*r->ivs));
	if (!r->colptrs || !r->vals || !r->valptrs || !r->keyptrs || !r->ivs)
		abort();
	for (i = 0; i < r->ncols; i++)
	{
		r->colptrs[i] = &r->cols[i].desc;
		r->valptrs[i] = &r->vals[i];
		if (r->cols[i].key_order > r->nkeys)
			r->nkeys = r->cols[i].key_order;
	}
	return true;
}

void
snap_row_free(SnapRow *r)
{
	if (r->cols != NULL)
		snapshot_catalog_free_columns(r->cols, r->ncols);
	free(r->colptrs);
	free(r->vals);
	free(r->valptrs);
	free(r->keyptrs);
	free(r->ivs);
	free(r->scratch);
	free(r->key);
	free(r->out);
	memset(r, 0, sizeof(*r));
}

bool
snap_row_chunkable(const SnapRow *r)
{
	int i;

	if (r->nkeys == 0)
		return false;
	for (i = 0; i < r->ncols; i++)
		if (r->cols[i].key_order > 0 &&
			r->cols[i].desc.pii != WALSTAR__V1__PII__PII_NONE)
			return false;
	return true;
}

char *
snap_row_select_list(const SnapRow *r, PGconn *conn)
{
	size_t cap = 16 + (size_t)r->ncols * 2100;
	size_t len = 0;
	char  *sql = malloc(cap);
	int	   i;

	if (sql == NULL)
		return NULL;
	sql[0] = '\0';
	for (i = 0; i < r->ncols; i++)
	{
		char *qcol = PQescapeIdentifier(conn, r->cols[i].desc.name,
										strlen(r->cols[i].desc.name));
		char  expr[2048];

		if (qcol == NULL)
		{
			free(sql);
			return NULL;
		}
		snapshot_value_expr(expr, sizeof(expr), qcol, &r->cols[i]);
		PQfreemem(qcol);
		len += (size_t)snprintf(sql + len, cap - len, "%s%s", i ? ", " : "",
								expr);
	}
	if (r->ncols == 0)
		snprintf(sql, cap, "1");
	return sql;
}

void
snap_row_encode(SnapRow *r, char **fields, const size_t *flens,
				const SnapStamp *stamp)
{
	Walstar__V1__Change msg;
	size_t				need = 0, spos = 0, size;
	int					i;

	for (i = 0; i < r->ncols; i++)
		need += flens[i] + 80;
	if (need + 1 > r->scratchcap)
	{
		r->scratchcap = (need + 1) * 2;
		r->scratch = realloc(r->scratch, r->scratchcap);
		if (r->scratch == NULL)
			abort();
	}
	for (i = 0; i < r->ncols; i++)
	{
		snapshot_value_fill(&r->cols[i], fields[i], flens[i], r->salt,
							&r->vals[i], &r->ivs[i], r->scratch + spos);
		spos += flens[i] + 80;
	}

	walstar__v1__change__init(&msg);
	msg.version = 1;
	msg.source = (char *)stamp->source;
	msg.system_id = stamp->system_id;
	msg.timeline = stamp->timeline;
	msg.op = WALSTAR__V1__OP__READ;
	msg.schema = r->table->schema;
	msg.table = r->table->table;
	msg.n_columns = (size_t)r->ncols;
	msg.columns = r->colptrs;
	msg.n_new_values = (size_t)r->ncols;
	msg.new_values = r->valptrs;
	msg.commit_lsn = stamp->commit_lsn;
	msg.lsn = stamp->lsn;
	msg.commit_time = stamp->commit_time;
	msg.position = stamp->position;
	msg.relation_oid = r->table->oid;
	if (stamp->epoch != NULL)
	{
		msg.snapshot_epoch.data = (uint8_t *)stamp->epoch;
		msg.snapshot_epoch.len = 16;
	}

	r->keylen = 0;
	if (r->nkeys > 0)
	{
		size_t nkv = 0;
		int	   k;

		memset(r->keyptrs, 0, sizeof(*r->keyptrs) * (r->ncols + 1));
		for (i = 0; i < r->ncols; i++)
			if (r->cols[i].key_order > 0)
				r->keyptrs[r->cols[i].key_order - 1] = &r->vals[i];
		for (k = 0; k < r->nkeys; k++)
			if (r->keyptrs[k] != NULL)
				r->keyptrs[nkv++] = r->keyptrs[k];
		r->keylen = change_key_size(r->keyptrs, nkv);
		if (r->keylen + 1 > r->keycap)
		{
			r->keycap = (r->keylen + 1) * 2;
			r->key = realloc(r->key, r->keycap);
			if (r->key == NULL)
				abort();
		}
		change_key_pack(r->keyptrs, nkv, r->key);
		msg.key.data = r->key;
		msg.key.len = r->keylen;
	}

	size = walstar__v1__change__get_packed_size(&msg);
	if (size > r->outcap)
	{
		r->outcap = size * 2;
		r->out = realloc(r->out, r->outcap);
		if (r->out == NULL)
			abort();
	}
	walstar__v1__change__pack(&msg, r->out);
	r->outlen = size;
}
