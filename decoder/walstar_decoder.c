/*-------------------------------------------------------------------------
 *
 * walstar_decoder.c
 *		Logical decoding output plugin: one walstar.v1.Change per record.
 *
 * Every callback builds one (or, for TRUNCATE, several) Change messages in
 * a per-change memory context, renders it as protobuf (default, binary
 * output) or json, and writes it with OutputPluginWrite.
 *
 * Transactions: BEGIN, the data records (positions 1..n), COMMIT with the
 * change count, per-table counts and the end LSN the client confirms.  In
 * the protobuf format BEGIN and COMMIT are always sent (the sink confirms
 * positions from them, also for transactions whose changes were all
 * filtered); the json format writes them only around transactions with at
 * least one record, and not at all with include-transaction = false.
 *
 * last_in_tx: each data record is held back until the next one (or the
 * transaction's end) arrives, so the last one can be marked; for protobuf
 * by appending field 15 to the encoded bytes (protobuf merges fields, the
 * message is the same as if it had been encoded with the flag).  Streamed
 * transactions are written chunk by chunk and carry no last_in_tx; their
 * STREAM_COMMIT has the change count.
 *
 * Old values by replica identity (UPDATE, DELETE):
 *	DEFAULT		old_values: the primary key columns, other columns unset; sent
 *				on DELETE and on UPDATEs that change the key (or whose key has
 *				TOASTed values); nothing when the table has no primary key
 *	INDEX		the same with the identity index's columns
 *	FULL		every column of the old row
 *	NOTHING		nothing; DELETE records then carry no old values and no key
 * Change.key is the new key (INSERT, UPDATE) or the old key (DELETE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/timeline.h"
#include "access/transam.h"
#include "access/xlog.h"
#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "replication/logical.h"
#include "replication/origin.h"
#include "replication/output_plugin.h"
#include "replication/reorderbuffer.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "change_key.h"
#include "compat.h"
#include "walstar_decoder.h"

PG_MODULE_MAGIC;

/* common/ spells the epochs and type OIDs without the server's headers */
StaticAssertDecl(WALSTAR_PG_EPOCH_JDATE == POSTGRES_EPOCH_JDATE &&
				 WALSTAR_UNIX_EPOCH_JDATE == UNIX_EPOCH_JDATE,
				 "common/epoch.h disagrees with the server");
StaticAssertDecl(COLUMN_TYPE_FIRST_USER_OID == FirstNormalObjectId,
				 "common/column_type.h disagrees with the server");

/* Shrink record buffers above this size once a large record is written. */
#define BUFFER_KEEP_SIZE (8 * 1024 * 1024)

/* Bytes a record may still grow by: last_in_tx, the walsender header. */
#define RECORD_SLACK 64

/* Change.last_in_tx = true, encoded: field 15, varint, 1. */
static const char last_in_tx_bytes[] = {(15 << 3) | 0, 1};

extern void _PG_init(void);
extern void _PG_output_plugin_init(OutputPluginCallbacks *cb);

static void decoder_startup(LogicalDecodingContext *ctx,
							OutputPluginOptions *opt, bool is_init);
static void decoder_shutdown(LogicalDecodingContext *ctx);
static bool decoder_filter_by_origin(LogicalDecodingContext *ctx,
									 RepOriginId origin_id);
static void decoder_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn);
static void decoder_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						   XLogRecPtr commit_lsn);
static void decoder_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						   Relation rel, ReorderBufferChange *change);
static void decoder_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
							 int nrelations, Relation relations[],
							 ReorderBufferChange *change);
static void decoder_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
							XLogRecPtr lsn, bool transactional,
							const char *prefix, Size size, const char *message);
static void decoder_begin_prepare(LogicalDecodingContext *ctx,
								  ReorderBufferTXN *txn);
static void decoder_prepare(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
							XLogRecPtr prepare_lsn);
static void decoder_commit_prepared(LogicalDecodingContext *ctx,
									ReorderBufferTXN *txn,
									XLogRecPtr commit_lsn);
static void decoder_rollback_prepared(LogicalDecodingContext *ctx,
									  ReorderBufferTXN *txn,
									  XLogRecPtr prepare_end_lsn,
									  TimestampTz prepare_time);
static void decoder_stream_start(LogicalDecodingContext *ctx,
								 ReorderBufferTXN *txn);
static void decoder_stream_stop(LogicalDecodingContext *ctx,
								ReorderBufferTXN *txn);
static void decoder_stream_abort(LogicalDecodingContext *ctx,
								 ReorderBufferTXN *txn, XLogRecPtr abort_lsn);
static void decoder_stream_prepare(LogicalDecodingContext *ctx,
								   ReorderBufferTXN *txn,
								   XLogRecPtr prepare_lsn);
static void decoder_stream_commit(LogicalDecodingContext *ctx,
								  ReorderBufferTXN *txn, XLogRecPtr commit_lsn);
static void decoder_stream_change(LogicalDecodingContext *ctx,
								  ReorderBufferTXN *txn, Relation rel,
								  ReorderBufferChange *change);
static void decoder_stream_message(LogicalDecodingContext *ctx,
								   ReorderBufferTXN *txn, XLogRecPtr lsn,
								   bool transactional, const char *prefix,
								   Size size, const char *message);
static void decoder_stream_truncate(LogicalDecodingContext *ctx,
									ReorderBufferTXN *txn, int nrelations,
									Relation relations[],
									ReorderBufferChange *change);

static void emit_row_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
							Relation rel, ReorderBufferChange *change,
							bool streaming);
static void emit_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						  int nrelations, Relation relations[],
						  ReorderBufferChange *change, bool streaming);
static void emit_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						 XLogRecPtr lsn, bool transactional, const char *prefix,
						 Size size, const char *message, bool streaming);
static void emit_txn_marker(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
							Walstar__V1__Op op, XLogRecPtr lsn,
							XLogRecPtr commit_lsn, TimestampTz time,
							bool with_counts, bool last_write);

/*
 * The library is loaded by the walsender (or the backend) that decodes, not
 * at server start; a PGC_SIGHUP variable set in postgresql.conf is still
 * taken from there when it is defined.
 */
void
_PG_init(void)
{
	DefineCustomStringVariable("walstar_decoder.hash_salt_file",
							   "File holding the salt of hash-columns (first line).",
							   "Relative paths are resolved against the data directory. "
							   "The file must not be readable by group or others.",
							   &pii_hash_salt_file,
							   "walstar_hash_salt",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	MARK_GUC_PREFIX_RESERVED("walstar_decoder");
}

void
_PG_output_plugin_init(OutputPluginCallbacks *cb)
{
	cb->startup_cb = decoder_startup;
	cb->begin_cb = decoder_begin;
	cb->change_cb = decoder_change;
	cb->truncate_cb = decoder_truncate;
	cb->commit_cb = decoder_commit;
	cb->message_cb = decoder_message;
	cb->filter_by_origin_cb = decoder_filter_by_origin;
	cb->shutdown_cb = decoder_shutdown;

	cb->begin_prepare_cb = decoder_begin_prepare;
	cb->prepare_cb = decoder_prepare;
	cb->commit_prepared_cb = decoder_commit_prepared;
	cb->rollback_prepared_cb = decoder_rollback_prepared;

	cb->stream_start_cb = decoder_stream_start;
	cb->stream_stop_cb = decoder_stream_stop;
	cb->stream_abort_cb = decoder_stream_abort;
	cb->stream_prepare_cb = decoder_stream_prepare;
	cb->stream_commit_cb = decoder_stream_commit;
	cb->stream_change_cb = decoder_stream_change;
	cb->stream_message_cb = decoder_stream_message;
	cb->stream_truncate_cb = decoder_stream_truncate;
}

/*
 * The current database's name, in the current memory context.  A walsender
 * calls the startup callback outside any transaction; the catalog lookup
 * then needs a short one of its own.
 */
static char *
database_name(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	bool		own_xact = !IsTransactionState();
	char	   *name;

	if (own_xact)
		StartTransactionCommand();
	name = get_database_name(MyDatabaseId);
	name = MemoryContextStrdup(cxt, name != NULL ? name : "");
	if (own_xact)
	{
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
	}
	return name;
}

static void
decoder_startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt,
				bool is_init)
{
	DecoderState *state;
	MemoryContext oldcxt;
	int			encoding = GetDatabaseEncoding();

	oldcxt = MemoryContextSwitchTo(ctx->context);
	state = palloc0(sizeof(DecoderState));
	state->context = AllocSetContextCreate(ctx->context,
										   "walstar change",
										   ALLOCSET_DEFAULT_SIZES);
	options_parse(ctx->output_plugin_options, &state->opts);
	if (state->opts.hash_columns.n > 0 || state->opts.hash_salt_id != NULL)
		state->hash_salt = pii_load_salt(state->opts.hash_salt_id);

	/* creating a slot writes nothing: no need for the name then */
	if (state->opts.source_id != NULL)
		state->source = state->opts.source_id;
	else if (!is_init)
		state->source = database_name();
	else
		state->source = pstrdup("");

	state->to_utf8 = !state->opts.json &&
		encoding != PG_UTF8 && encoding != PG_SQL_ASCII;
	initStringInfo(&state->pending);
	initStringInfo(&state->next);
	relation_cache_init(ctx->context);
	/* fixed while decoding: PostgreSQL 15 decodes on a primary only */
	state->timelines = readTimeLineHistory(CURRENT_TIMELINE());
	MemoryContextSwitchTo(oldcxt);

	ctx->output_plugin_private = state;
	opt->output_type = state->opts.json ?
		OUTPUT_PLUGIN_TEXTUAL_OUTPUT : OUTPUT_PLUGIN_BINARY_OUTPUT;
	opt->receive_rewrites = false;
	/* stream in-progress transactions only when the client asks for it */
	ctx->streaming &= state->opts.stream_changes;
}

static void
decoder_shutdown(LogicalDecodingContext *ctx)
{
	/* everything lives in ctx->context, freed by the caller */
}

static bool
decoder_filter_by_origin(LogicalDecodingContext *ctx, RepOriginId origin_id)
{
	DecoderState *state = ctx->output_plugin_private;

	return state->opts.skip_origin && origin_id != InvalidRepOriginId;
}

/*
 * Per-transaction state, on the top-level transaction.
 */
static TxnState *
txn_state(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	ReorderBufferTXN *top = TXN_TOPLEVEL(txn);
	TxnState   *ts = top->output_plugin_private;

	if (ts == NULL)
	{
		MemoryContext cxt = AllocSetContextCreate(ctx->context,
												  "walstar transaction",
												  ALLOCSET_SMALL_SIZES);

		ts = MemoryContextAllocZero(cxt, sizeof(TxnState));
		ts->cxt = cxt;
		ts->lasttable = -1;
		top->output_plugin_private = ts;
	}
	return ts;
}

static void
txn_state_free(ReorderBufferTXN *txn)
{
	ReorderBufferTXN *top = TXN_TOPLEVEL(txn);
	TxnState   *ts = top->output_plugin_private;

	if (ts != NULL)
	{
		top->output_plugin_private = NULL;
		MemoryContextDelete(ts->cxt);
	}
}

/* Count one record of relation relid in the transaction's per-table counts. */
static void
txn_count_table(TxnState *ts, Oid relid, const char *schema, const char *table)
{
	TableCount *tc;
	int			i;

	if (ts->lasttable >= 0 && ts->tables[ts->lasttable].relid == relid)
	{
		ts->tables[ts->lasttable].count++;
		return;
	}
	for (i = 0; i < ts->ntables; i++)
	{
		if (ts->tables[i].relid == relid)
		{
			ts->lasttable = i;
			ts->tables[i].count++;
			return;
		}
	}
	if (ts->ntables == ts->maxtables)
	{
		ts->maxtables = Max(8, ts->maxtables * 2);
		if (ts->tables == NULL)
			ts->tables = MemoryContextAlloc(ts->cxt, sizeof(TableCount) * ts->maxtables);
		else
			ts->tables = repalloc(ts->tables, sizeof(TableCount) * ts->maxtables);
	}
	tc = &ts->tables[ts->ntables];
	tc->relid = relid;
	tc->schema = MemoryContextStrdup(ts->cxt, schema);
	tc->table = MemoryContextStrdup(ts->cxt, table);
	tc->count = 1;
	ts->lasttable = ts->ntables++;
}

/* Name of a replication origin (cached: transactions rarely mix origins). */
static char *
origin_name(LogicalDecodingContext *ctx, RepOriginId origin_id)
{
	DecoderState *state = ctx->output_plugin_private;
	char	   *name = NULL;

	if (origin_id == InvalidRepOriginId)
		return (char *) protobuf_c_empty_string;
	if (state->origin_name != NULL && state->origin_id == origin_id)
		return state->origin_name;
	if (!IsTransactionState())
		return (char *) protobuf_c_empty_string;

	if (replorigin_by_oid(origin_id, true, &name) && name != NULL)
	{
		if (state->origin_name != NULL)
			pfree(state->origin_name);
		state->origin_name = MemoryContextStrdup(ctx->context, name);
		state->origin_id = origin_id;
		return state->origin_name;
	}
	return (char *) protobuf_c_empty_string;
}

static inline int64
unix_micros(TimestampTz t)
{
	if (t == 0)
		return 0;
	return t + WALSTAR_PG_EPOCH_USECS;
}

/*
 * The timeline of the WAL at lsn: the position of a change is (timeline,
 * commit LSN, position), since a promoted standby reuses the LSNs its old
 * primary wrote after the fork.  Taken from the history rather than the
 * server's current timeline, so that a commit written before a promotion
 * keeps its timeline when it is decoded (or resent) after it.
 */
static uint32
timeline_of(DecoderState *state, XLogRecPtr lsn)
{
	return tliOfPointInHistory(lsn, state->timelines);
}

/* Fields every record of a transaction carries. */
static void
init_change(LogicalDecodingContext *ctx, Walstar__V1__Change *msg,
			Walstar__V1__Op op, ReorderBufferTXN *txn, bool streaming)
{
	DecoderState *state = ctx->output_plugin_private;

	walstar__v1__change__init(msg);
	msg->version = WALSTAR_WIRE_VERSION;
	msg->source = state->source;
	msg->system_id = GetSystemIdentifier();
	msg->op = op;
	if (txn != NULL)
	{
		ReorderBufferTXN *top = TXN_TOPLEVEL(txn);

		msg->xid = top->xid;
		if (!streaming)
		{
			msg->commit_lsn = top->final_lsn;
			msg->commit_time = unix_micros(TXN_COMMIT_TIME(top));
		}
		if (top->gid != NULL)
			msg->gid = top->gid;
	}
	msg->timeline = msg->commit_lsn != 0 ?
		timeline_of(state, msg->commit_lsn) :
		((TimeLineHistoryEntry *) linitial(state->timelines))->tli;
}

/*
 * Render msg into out.  entry: the relation of a row change, whose
 * pre-encoded column descriptions the protobuf format appends.
 */
static void
render(DecoderState *state, StringInfo out, Walstar__V1__Change *msg,
	   const RelationEntry *entry, const Walstar__V1__Key *key)
{
	size_t		size;
	size_t		colsize = 0;
	size_t		valsize = 0;
	size_t		total;
	size_t		nnew,
				nold;
	Walstar__V1__Value **newv,
			  **oldv;
	uint32	   *sizes = NULL;
	char	   *p;

	if (state->opts.json)
	{
		change_json_append(out, msg, key, &state->opts.shown);
		return;
	}

	/* row values: encoded by hand (encode_proto.c), appended below */
	nnew = msg->n_new_values;
	nold = msg->n_old_values;
	newv = msg->new_values;
	oldv = msg->old_values;
	if (nnew + nold > 0)
	{
		sizes = palloc(sizeof(uint32) * (nnew + nold));
		valsize = encode_proto_values_size(7, nnew, newv, sizes) +
			encode_proto_values_size(8, nold, oldv, sizes + nnew);
	}
	msg->n_new_values = msg->n_old_values = 0;
	msg->new_values = msg->old_values = NULL;
	if (entry != NULL)
	{
		msg->n_columns = 0;
		msg->columns = NULL;
		colsize = entry->columns_packed_len;
	}

	size = walstar__v1__change__get_packed_size(msg);
	total = size + valsize + colsize;
	/* room for last_in_tx and the walsender's CopyData header, too */
	if (total + RECORD_SLACK >= (size_t) (MaxAllocSize - out->len))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("walstar_decoder cannot send a record of %zu bytes", total),
				 errdetail("The change of relation \"%s.%s\" at %X/%X exceeds the 1 GB record limit.",
						   msg->schema, msg->table,
						   (uint32) (msg->lsn >> 32), (uint32) msg->lsn)));
	enlargeStringInfo(out, (int) total);
	p = out->data + out->len;
	p += walstar__v1__change__pack(msg, (uint8_t *) p);
	p = encode_proto_values(p, 7, nnew, newv, sizes);
	p = encode_proto_values(p, 8, nold, oldv, nold > 0 ? sizes + nnew : NULL);
	if (colsize > 0)
	{
		memcpy(p, entry->columns_packed, colsize);
		p += colsize;
	}
	/* sizing and writing must agree; never send a record that is off */
	if (p != out->data + out->len + total)
		elog(ERROR, "walstar_decoder wrote %zu bytes for a record sized %zu",
			 (size_t) (p - (out->data + out->len)), total);
	out->len += (int) total;
	out->data[out->len] = '\0';
}

static void
write_buffer(LogicalDecodingContext *ctx, StringInfo buf, bool last_write)
{
	OutputPluginPrepareWrite(ctx, last_write);
	appendBinaryStringInfo(ctx->out, buf->data, buf->len);
	OutputPluginWrite(ctx, last_write);
}

/* Give back the memory of a record buffer after a very large record. */
static void
shrink_buffer(StringInfo buf)
{
	if (buf->maxlen > BUFFER_KEEP_SIZE)
	{
		MemoryContext cxt = GetMemoryChunkContext(buf->data);

		pfree(buf->data);
		buf->data = MemoryContextAlloc(cxt, 1024);
		buf->maxlen = 1024;
	}
	resetStringInfo(buf);
}

/*
 * Write the held-back record, marked as the transaction's last if
 * mark_last.
 */
static void
flush_pending(LogicalDecodingContext *ctx, bool mark_last, bool last_write)
{
	DecoderState *state = ctx->output_plugin_private;

	if (!state->has_pending)
		return;
	if (mark_last)
	{
		if (state->opts.json)
			change_json_mark_last(&state->pending);
		else
			appendBinaryStringInfo(&state->pending, last_in_tx_bytes,
								   sizeof(last_in_tx_bytes));
	}
	write_buffer(ctx, &state->pending, last_write);
	state->has_pending = false;
	shrink_buffer(&state->pending);
}

/*
 * Write a data record.  Outside streaming it is held back (see the file
 * header) and the previously held one is written.
 */
static void
emit_data(LogicalDecodingContext *ctx, Walstar__V1__Change *msg,
		  const RelationEntry *entry, const Walstar__V1__Key *key,
		  bool streaming)
{
	DecoderState *state = ctx->output_plugin_private;

	if (streaming)
	{
		OutputPluginPrepareWrite(ctx, true);
		render(state, ctx->out, msg, entry, key);
		OutputPluginWrite(ctx, true);
		return;
	}

	resetStringInfo(&state->next);
	render(state, &state->next, msg, entry, key);
	flush_pending(ctx, false, true);
	{
		StringInfoData tmp = state->pending;

		state->pending = state->next;
		state->next = tmp;
	}
	state->has_pending = true;
}

/* The BEGIN record, once per transaction (json: before its first record). */
static void
ensure_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, TxnState *ts)
{
	DecoderState *state = ctx->output_plugin_private;

	if (ts->begin_sent)
		return;
	ts->begin_sent = true;
	if (state->opts.json && !state->opts.include_transaction)
		return;
	emit_txn_marker(ctx, txn, WALSTAR__V1__OP__BEGIN, txn->first_lsn,
					txn->final_lsn, TXN_COMMIT_TIME(txn), false, true);
}

/*
 * BEGIN, COMMIT, PREPARE, ... records.  with_counts: add the Commit
 * details (change count, per-table counts, end LSN).
 */
static void
emit_txn_marker(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				Walstar__V1__Op op, XLogRecPtr lsn, XLogRecPtr commit_lsn,
				TimestampTz time, bool with_counts, bool last_write)
{
	DecoderState *state = ctx->output_plugin_private;
	ReorderBufferTXN *top = TXN_TOPLEVEL(txn);
	TxnState   *ts = top->output_plugin_private;
	MemoryContext oldcxt;
	Walstar__V1__Change msg;
	Walstar__V1__Commit commit = WALSTAR__V1__COMMIT__INIT;

	oldcxt = MemoryContextSwitchTo(state->context);
	init_change(ctx, &msg, op, txn, false);
	msg.commit_lsn = commit_lsn;
	msg.commit_time = unix_micros(time);
	msg.lsn = lsn;
	msg.origin = origin_name(ctx, top->origin_id);

	if (with_counts)
	{
		commit.end_lsn = top->end_lsn;
		if (ts != NULL && ts->ntables > 0)
		{
			Walstar__V1__TableCount *store;
			int			i;

			commit.change_count = ts->position;
			store = palloc(sizeof(Walstar__V1__TableCount) * ts->ntables);
			commit.tables = palloc(sizeof(Walstar__V1__TableCount *) * ts->ntables);
			commit.n_tables = ts->ntables;
			for (i = 0; i < ts->ntables; i++)
			{
				walstar__v1__table_count__init(&store[i]);
				store[i].schema = (char *) ts->tables[i].schema;
				store[i].table = (char *) ts->tables[i].table;
				store[i].count = ts->tables[i].count;
				commit.tables[i] = &store[i];
			}
		}
		else if (ts != NULL)
			commit.change_count = ts->position;
		msg.commit = &commit;
	}

	OutputPluginPrepareWrite(ctx, last_write);
	render(state, ctx->out, &msg, NULL, NULL);
	OutputPluginWrite(ctx, last_write);

	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(state->context);
}

static void
decoder_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	DecoderState *state = ctx->output_plugin_private;
	TxnState   *ts = txn_state(ctx, txn);

	if (!state->opts.json)
		ensure_begin(ctx, txn, ts);
}

/*
 * End of a decoded transaction (COMMIT, or PREPARE for two-phase): write the
 * held-back last record and, when a BEGIN went out, the closing marker.
 */
static void
finish_txn(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
		   Walstar__V1__Op op, XLogRecPtr lsn, TimestampTz time)
{
	DecoderState *state = ctx->output_plugin_private;
	TxnState   *ts = txn_state(ctx, txn);
	bool		send = ts->begin_sent &&
		(!state->opts.json || state->opts.include_transaction);

	flush_pending(ctx, true, !send);
	if (send)
		emit_txn_marker(ctx, txn, op, lsn, lsn, time, true, true);
	txn_state_free(txn);
}

static void
decoder_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			   XLogRecPtr commit_lsn)
{
	finish_txn(ctx, txn, WALSTAR__V1__OP__COMMIT, commit_lsn,
			   TXN_COMMIT_TIME(txn));
}

static void
decoder_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			   Relation rel, ReorderBufferChange *change)
{
	int			level = output_settings_enter();

	emit_row_change(ctx, txn, rel, change, false);
	output_settings_leave(level);
}

static void
decoder_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				 int nrelations, Relation relations[],
				 ReorderBufferChange *change)
{
	int			level = output_settings_enter();

	emit_truncate(ctx, txn, nrelations, relations, change, false);
	output_settings_leave(level);
}

static void
decoder_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				XLogRecPtr lsn, bool transactional, const char *prefix,
				Size size, const char *message)
{
	emit_message(ctx, txn, lsn, transactional, prefix, size, message, false);
}

/* Two-phase: a prepared transaction is sent at PREPARE time. */
static void
decoder_begin_prepare(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	decoder_begin(ctx, txn);
}

static void
decoder_prepare(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				XLogRecPtr prepare_lsn)
{
	finish_txn(ctx, txn, WALSTAR__V1__OP__PREPARE, prepare_lsn,
			   TXN_PREPARE_TIME(txn));
}

static void
decoder_commit_prepared(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						XLogRecPtr commit_lsn)
{
	DecoderState *state = ctx->output_plugin_private;

	if (!state->opts.json || state->opts.include_transaction)
		emit_txn_marker(ctx, txn, WALSTAR__V1__OP__COMMIT_PREPARED, commit_lsn,
						commit_lsn, TXN_COMMIT_TIME(txn), true, true);
	txn_state_free(txn);
}

static void
decoder_rollback_prepared(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						  XLogRecPtr prepare_end_lsn, TimestampTz prepare_time)
{
	DecoderState *state = ctx->output_plugin_private;

	if (!state->opts.json || state->opts.include_transaction)
		emit_txn_marker(ctx, txn, WALSTAR__V1__OP__ROLLBACK_PREPARED,
						txn->final_lsn, txn->final_lsn, prepare_time, true, true);
	txn_state_free(txn);
}

/*
 * Streaming of in-progress transactions (stream-changes = true): chunks
 * framed by STREAM_START/STREAM_STOP, records with commit_lsn 0, then
 * STREAM_COMMIT (or STREAM_ABORT, or PREPARE for two-phase).
 */
static void
decoder_stream_start(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	(void) txn_state(ctx, txn);
	emit_txn_marker(ctx, txn, WALSTAR__V1__OP__STREAM_START, txn->first_lsn,
					InvalidXLogRecPtr, 0, false, true);
}

static void
decoder_stream_stop(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	flush_pending(ctx, false, false);
	emit_txn_marker(ctx, txn, WALSTAR__V1__OP__STREAM_STOP, txn->final_lsn,
					InvalidXLogRecPtr, 0, false, true);
}

static void
decoder_stream_abort(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					 XLogRecPtr abort_lsn)
{
	DecoderState *state = ctx->output_plugin_private;
	ReorderBufferTXN *top = TXN_TOPLEVEL(txn);
	Walstar__V1__Change msg;
	MemoryContext oldcxt;

	oldcxt = MemoryContextSwitchTo(state->context);
	init_change(ctx, &msg, WALSTAR__V1__OP__STREAM_ABORT, txn, true);
	msg.lsn = abort_lsn;
	if (txn != top)
		msg.subxid = txn->xid;
	OutputPluginPrepareWrite(ctx, true);
	render(state, ctx->out, &msg, NULL, NULL);
	OutputPluginWrite(ctx, true);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(state->context);

	if (txn == top)
		txn_state_free(txn);
}

static void
decoder_stream_prepare(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					   XLogRecPtr prepare_lsn)
{
	emit_txn_marker(ctx, txn, WALSTAR__V1__OP__PREPARE, prepare_lsn,
					prepare_lsn, TXN_PREPARE_TIME(txn), true, true);
	txn_state_free(txn);
}

static void
decoder_stream_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					  XLogRecPtr commit_lsn)
{
	emit_txn_marker(ctx, txn, WALSTAR__V1__OP__STREAM_COMMIT, commit_lsn,
					commit_lsn, TXN_COMMIT_TIME(txn), true, true);
	txn_state_free(txn);
}

static void
decoder_stream_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					  Relation rel, ReorderBufferChange *change)
{
	int			level = output_settings_enter();

	emit_row_change(ctx, txn, rel, change, true);
	output_settings_leave(level);
}

static void
decoder_stream_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					   XLogRecPtr lsn, bool transactional, const char *prefix,
					   Size size, const char *message)
{
	emit_message(ctx, txn, lsn, transactional, prefix, size, message, true);
}

static void
decoder_stream_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						int nrelations, Relation relations[],
						ReorderBufferChange *change)
{
	int			level = output_settings_enter();

	emit_truncate(ctx, txn, nrelations, relations, change, true);
	output_settings_leave(level);
}

/*
 * Values of one tuple, parallel to entry->cols.  keys_only: leave non-key
 * columns unset (an old key under REPLICA IDENTITY DEFAULT/INDEX).
 */
static Walstar__V1__Value **
tuple_values(DecoderState *state, const RelationEntry *entry, TupleDesc desc,
			 HeapTuple tuple, bool keys_only)
{
	static const Walstar__V1__Value unset = WALSTAR__V1__VALUE__INIT;
	Datum	   *values = palloc(sizeof(Datum) * Max(desc->natts, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
	Walstar__V1__Value *store = palloc(sizeof(Walstar__V1__Value) * Max(entry->ncolumns, 1));
	Walstar__V1__Value **result = palloc(sizeof(Walstar__V1__Value *) * Max(entry->ncolumns, 1));
	int			tuple_natts = HeapTupleHeaderGetNatts(tuple->t_data);
	int			i;

	heap_deform_tuple(tuple, desc, values, nulls);
	/* columns added after the tuple was written: their "missing" default */
	for (i = tuple_natts; i < desc->natts; i++)
		values[i] = getmissingattr(desc, i + 1, &nulls[i]);

	for (i = 0; i < entry->ncolumns; i++)
	{
		const ColumnInfo *col = &entry->cols[i];

		result[i] = &store[i];
		if (keys_only && !col->is_key)
			store[i] = unset;
		else
			encode_value(col, values[col->attidx], nulls[col->attidx],
						 state->to_utf8, state->hash_salt, &store[i]);
	}
	return result;
}

static void
emit_row_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				Relation rel, ReorderBufferChange *change, bool streaming)
{
	DecoderState *state = ctx->output_plugin_private;
	RelationEntry *entry;
	TxnState   *ts;
	HeapTuple	newtuple = NULL;
	HeapTuple	oldtuple = NULL;
	Walstar__V1__Op op;
	Walstar__V1__Change msg;
	Walstar__V1__Key key = WALSTAR__V1__KEY__INIT;
	MemoryContext oldcxt;
	TupleDesc	desc = RelationGetDescr(rel);

	switch (change->action)
	{
		case REORDER_BUFFER_CHANGE_INSERT:
			op = WALSTAR__V1__OP__INSERT;
			newtuple = CHANGE_NEWTUPLE(change);
			break;
		case REORDER_BUFFER_CHANGE_UPDATE:
			op = WALSTAR__V1__OP__UPDATE;
			newtuple = CHANGE_NEWTUPLE(change);
			oldtuple = CHANGE_OLDTUPLE(change);
			break;
		case REORDER_BUFFER_CHANGE_DELETE:
			op = WALSTAR__V1__OP__DELETE;
			oldtuple = CHANGE_OLDTUPLE(change);
			break;
		default:
			/* no other action reaches a change callback */
			return;
	}

	entry = relation_cache_get(state, rel);
	if (!entry->included)
		return;

	ts = txn_state(ctx, txn);
	if (!streaming)
		ensure_begin(ctx, TXN_TOPLEVEL(txn), ts);

	oldcxt = MemoryContextSwitchTo(state->context);
	init_change(ctx, &msg, op, txn, streaming);
	msg.schema = entry->schema;
	msg.table = entry->table;
	msg.relation_oid = RelationGetRelid(rel);
	msg.lsn = change->lsn;
	msg.origin = origin_name(ctx, change->origin_id);
	msg.n_columns = entry->ncolumns;
	msg.columns = entry->columns;

	if (newtuple != NULL)
	{
		msg.new_values = tuple_values(state, entry, desc, newtuple, false);
		msg.n_new_values = entry->ncolumns;
	}
	if (oldtuple != NULL)
	{
		msg.old_values = tuple_values(state, entry, desc, oldtuple,
									  !entry->old_is_full);
		msg.n_old_values = entry->ncolumns;
	}

	/* the key: new values, old ones for DELETE and for unsent TOAST */
	if (entry->nkeys > 0 && (msg.n_new_values > 0 || msg.n_old_values > 0))
	{
		int			k;

		key.values = palloc(sizeof(Walstar__V1__Value *) * entry->nkeys);
		key.n_values = entry->nkeys;
		for (k = 0; k < entry->nkeys; k++)
		{
			int			c = entry->keys[k];
			Walstar__V1__Value *v = msg.n_new_values > 0 ? msg.new_values[c] : msg.old_values[c];

			if (v->kind_case == WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST &&
				msg.n_old_values > 0 &&
				msg.old_values[c]->kind_case != WALSTAR__V1__VALUE__KIND__NOT_SET)
				v = msg.old_values[c];
			key.values[k] = v;
		}
		if (!state->opts.json)
		{
			msg.key.len = change_key_size(key.values, key.n_values);
			msg.key.data = palloc(msg.key.len);
			change_key_pack(key.values, key.n_values, msg.key.data);
		}
	}

	msg.position = ++ts->position;
	txn_count_table(ts, msg.relation_oid, entry->schema, entry->table);

	emit_data(ctx, &msg, entry, &key, streaming);

	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(state->context);
}

/*
 * One TRUNCATE record per sent relation of the statement; each lists every
 * relation of the statement.
 */
static void
emit_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			  int nrelations, Relation relations[],
			  ReorderBufferChange *change, bool streaming)
{
	DecoderState *state = ctx->output_plugin_private;
	Walstar__V1__Truncate trunc = WALSTAR__V1__TRUNCATE__INIT;
	RelationEntry **entries;
	TxnState   *ts;
	MemoryContext oldcxt;
	bool		any = false;
	int			i;

	for (i = 0; i < nrelations; i++)
		any |= relation_cache_get(state, relations[i])->included;
	if (!any)
		return;

	ts = txn_state(ctx, txn);
	if (!streaming)
		ensure_begin(ctx, TXN_TOPLEVEL(txn), ts);

	oldcxt = MemoryContextSwitchTo(state->context);
	entries = palloc(sizeof(RelationEntry *) * nrelations);
	trunc.relations = palloc(sizeof(char *) * nrelations);
	trunc.n_relations = nrelations;
	trunc.cascade = change->data.truncate.cascade;
	trunc.restart_identity = change->data.truncate.restart_seqs;
	for (i = 0; i < nrelations; i++)
	{
		entries[i] = relation_cache_get(state, relations[i]);
		trunc.relations[i] = psprintf("%s.%s", entries[i]->schema,
									  entries[i]->table);
	}

	for (i = 0; i < nrelations; i++)
	{
		Walstar__V1__Change msg;

		if (!entries[i]->included)
			continue;
		init_change(ctx, &msg, WALSTAR__V1__OP__TRUNCATE, txn, streaming);
		msg.schema = entries[i]->schema;
		msg.table = entries[i]->table;
		msg.relation_oid = RelationGetRelid(relations[i]);
		msg.lsn = change->lsn;
		msg.origin = origin_name(ctx, change->origin_id);
		msg.truncate = &trunc;
		msg.position = ++ts->position;
		txn_count_table(ts, msg.relation_oid, msg.schema, msg.table);
		emit_data(ctx, &msg, NULL, NULL, streaming);
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(state->context);
}

static void *
pb_palloc(void *data, size_t size)
{
	return palloc(size);
}

static void
pb_pfree(void *data, void *ptr)
{
	pfree(ptr);
}

/* Whether xid is the transaction's or one of its subtransactions'. */
static bool
xid_of_txn(ReorderBufferTXN *txn, TransactionId xid)
{
	ReorderBufferTXN *top = TXN_TOPLEVEL(txn);
	dlist_iter	iter;

	if (TransactionIdEquals(xid, top->xid) || TransactionIdEquals(xid, txn->xid))
		return true;
	dlist_foreach(iter, &top->subtxns)
	{
		ReorderBufferTXN *sub = dlist_container(ReorderBufferTXN, node, iter.cur);

		if (TransactionIdEquals(xid, sub->xid))
			return true;
	}
	return false;
}

/*
 * Whether each step's column was changed by this very transaction (its
 * pg_attribute row written by it).  pg_logical_emit_message is open to
 * every role, so a "walstar.ddl" message alone proves nothing; only the
 * catalog change it describes makes it the event trigger's.
 */
static bool
steps_changed_here(ReorderBufferTXN *txn, Oid relid, const Walstar__V1__Ddl *ddl)
{
	size_t		i;

	for (i = 0; i < ddl->n_steps; i++)
	{
		HeapTuple	tup;
		bool		ok;

		if (ddl->steps[i]->attnum == 0)
			return false;
		tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid),
							  Int16GetDatum((int16) ddl->steps[i]->attnum));
		if (!HeapTupleIsValid(tup))
			return false;
		ok = xid_of_txn(txn, HeapTupleHeaderGetXmin(tup->t_data));
		ReleaseSysCache(tup);
		if (!ok)
			return false;
	}
	return ddl->n_steps > 0;
}

/*
 * A captured DDL message (ddl_capture.c) as a DDL record of its relation:
 * the steps, and the relation's columns as they are after the statement
 * (the catalog as of this point of the transaction).  False when the
 * message is not one (bad bytes, relation gone): it is then sent as the
 * MESSAGE it is.
 */
static bool
emit_ddl(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, TxnState *ts,
		 XLogRecPtr lsn, Size size, const char *message, bool streaming)
{
	DecoderState *state = ctx->output_plugin_private;
	ProtobufCAllocator alloc = {pb_palloc, pb_pfree, NULL};
	Walstar__V1__Ddl *ddl;
	Walstar__V1__Change msg;
	RelationEntry *entry;
	Relation	rel;

	ddl = walstar__v1__ddl__unpack(&alloc, size, (const uint8_t *) message);
	if (ddl == NULL || !OidIsValid(ddl->relation_oid))
	{
		ereport(WARNING,
				(errmsg("walstar_decoder: a \"%s\" message at %X/%X is not a captured DDL, sent as a message",
						WALSTAR_DDL_PREFIX, LSN_FORMAT_ARGS(lsn))));
		return false;
	}
	if (!steps_changed_here(txn, ddl->relation_oid, ddl))
	{
		ereport(WARNING,
				(errmsg("walstar_decoder: a \"%s\" message at %X/%X describes column changes this transaction did not make, sent as a message",
						WALSTAR_DDL_PREFIX, LSN_FORMAT_ARGS(lsn))));
		return false;
	}
	rel = RelationIdGetRelation(ddl->relation_oid);
	if (!RelationIsValid(rel))
		return false;
	if (!RelationIsLogicallyLogged(rel) || rel->rd_rel->relkind != RELKIND_RELATION)
	{
		RelationClose(rel);
		return true;			/* no rows of it are sent either */
	}
	entry = relation_cache_get(state, rel);
	RelationClose(rel);
	if (!entry->included)
		return true;

	if (!streaming)
		ensure_begin(ctx, TXN_TOPLEVEL(txn), ts);
	init_change(ctx, &msg, WALSTAR__V1__OP__DDL, txn, streaming);
	msg.schema = entry->schema;
	msg.table = entry->table;
	msg.relation_oid = ddl->relation_oid;
	msg.lsn = lsn;
	msg.n_columns = entry->ncolumns;
	msg.columns = entry->columns;
	ddl->relation_oid = 0;		/* the record has it in Change.relation_oid */
	msg.ddl = ddl;
	msg.position = ++ts->position;
	txn_count_table(ts, msg.relation_oid, entry->schema, entry->table);
	emit_data(ctx, &msg, entry, NULL, streaming);
	return true;
}

/*
 * pg_logical_emit_message.  Transactional messages are records of their
 * transaction (position, change count); the others are sent at once, with
 * position 0 and commit_lsn 0.  Captured DDL becomes a DDL record.
 */
static void
emit_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			 XLogRecPtr lsn, bool transactional, const char *prefix,
			 Size size, const char *message, bool streaming)
{
	DecoderState *state = ctx->output_plugin_private;
	Walstar__V1__Change msg;
	Walstar__V1__LogicalMessage lm = WALSTAR__V1__LOGICAL_MESSAGE__INIT;
	MemoryContext oldcxt;
	TxnState   *ts = NULL;

	oldcxt = MemoryContextSwitchTo(state->context);
	if (transactional && txn != NULL)
	{
		ts = txn_state(ctx, txn);
		if (strcmp(prefix, WALSTAR_DDL_PREFIX) == 0)
		{
			int			level = output_settings_enter();
			bool		done = emit_ddl(ctx, txn, ts, lsn, size, message, streaming);

			output_settings_leave(level);
			if (done)
			{
				MemoryContextSwitchTo(oldcxt);
				MemoryContextReset(state->context);
				return;
			}
		}
		if (!streaming)
			ensure_begin(ctx, TXN_TOPLEVEL(txn), ts);
	}

	init_change(ctx, &msg, WALSTAR__V1__OP__MESSAGE, txn,
				streaming || ts == NULL);
	msg.lsn = lsn;
	lm.transactional = transactional;
	lm.prefix = state->to_utf8 ?
		pg_server_to_any(prefix, strlen(prefix), PG_UTF8) : (char *) prefix;
	lm.content.data = (uint8_t *) message;
	lm.content.len = size;
	msg.message = &lm;

	if (ts != NULL)
	{
		msg.position = ++ts->position;
		emit_data(ctx, &msg, NULL, NULL, streaming);
	}
	else
	{
		msg.xid = txn != NULL ? TXN_TOPLEVEL(txn)->xid : InvalidTransactionId;
		flush_pending(ctx, false, false);
		OutputPluginPrepareWrite(ctx, true);
		render(state, ctx->out, &msg, NULL, NULL);
		OutputPluginWrite(ctx, true);
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(state->context);
}
