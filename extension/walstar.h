/*-------------------------------------------------------------------------
 *
 * walstar.h
 *		Declarations shared by the walstar extension's files.
 *
 * A change's way through the extension: consumer.c copies Kafka messages
 * out of librdkafka, apply_worker.c collects them into batches, apply.c
 * decodes them (change.c) and applies each batch in one transaction into
 * the landing tables, together with the partitions' progress;
 * dead_letters.c keeps what could not be applied. launcher.c starts the
 * workers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALSTAR_H
#define WALSTAR_H

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "change_check.h"
#include "change_op.h"
#include "change_value.h"
#include "epoch.h"
#include "walstar.pb-c.h"

typedef Walstar__V1__Change Change;
typedef Walstar__V1__Value Value;
typedef Walstar__V1__Column Column;
typedef Walstar__V1__Ddl Ddl;
typedef Walstar__V1__DdlStep DdlStep;

/* The only wire format version this reader understands. */
#define WALSTAR_WIRE_VERSION 1

/* Longest Kafka topic name. */
#define WALSTAR_TOPIC_MAX 249

/* A subscription as stored in walstar.subscriptions. */
typedef struct Subscription
{
	int32		id;				/* walstar.subscriptions.id */
	char	   *name;			/* its unique name */
	char	   *brokers;		/* bootstrap.servers */
	List	   *topics;			/* topic names (char *), or NIL */
	char	   *topic_pattern;	/* ^regex over topic names, or NULL */
	List	   *property_names; /* librdkafka settings (char *) ... */
	List	   *property_values;	/* ... and their values (char *) */
	char	   *landing_schema; /* schema of the landing tables */
	int			batch_size;		/* messages per transaction at most */
	int			batch_time_ms;	/* wait at most this long to fill a batch */
	bool		stop_on_error;	/* error_policy = 'stop' */
	bool		enabled;		/* a worker should run */
	int64		config_version; /* bumped by every configuration change */
	bool		rewind_pending; /* rewind_time is set */
	TimestampTz rewind_time;	/* replay from this time (if pending) */
	Oid			owner;			/* the role the worker connects as */
	bool		drop_columns;	/* dropped_columns = 'drop' */
	int			workers;		/* apply workers sharing its partitions */
} Subscription;

/* One Kafka message, copied out of librdkafka. */
typedef struct PartitionState PartitionState;

typedef struct KafkaMessage
{
	const char *topic;			/* topic name (owned by the partition state) */
	int32		partition;		/* partition number */
	int64		offset;			/* offset in the partition */
	char	   *payload;		/* value bytes; NULL for a null value */
	size_t		len;			/* length of payload */
	PartitionState *ps;			/* its partition's progress (NULL: a retry) */
} KafkaMessage;

/* Hash key of a partition's progress. */
typedef struct TopicPartition
{
	char		topic[WALSTAR_TOPIC_MAX + 1];	/* topic name, NUL padded */
	int32		partition;		/* partition number */
} TopicPartition;

/* Progress of one partition, mirrored in walstar.subscription_offsets. */
struct PartitionState
{
	TopicPartition key;			/* hash key: must be first */
	int64		next_offset;	/* next offset to apply, or a librdkafka
								 * logical offset when nothing was applied */
	bool		stored;			/* has a row in subscription_offsets */
	uint32		last_timeline;	/* last applied (timeline, ... */
	uint64		last_commit_lsn;	/* ... commit LSN, ... */
	uint32		last_position;	/* ... position in transaction) */
	int64		last_commit_time;	/* its commit time, us since 1970, or 0 */
	int64		high_watermark; /* offset after the partition's last
								 * message, or -1 when unknown */
	int64		applied_messages;	/* messages applied so far */
	TimestampTz applied_at; /* when this partition last advanced */
	double		rate;			/* messages per second between the last two
								 * batches' ends */
	int64		rate_base;		/* applied_messages when applied_at was set */
	bool		dirty;			/* changed by the batch in progress */
	bool		assigned;		/* part of the consumer's assignment */
	bool		elsewhere;		/* of a subscribed topic, but applied by
								 * another worker of the subscription */
	bool		source_known;	/* source and system_id are set */
	char		source[CHANGE_SOURCE_MAX + 1];	/* Change.source of its changes */
	uint64		system_id;		/* Change.system_id of its changes */
	bool		parked;			/* waits at a DDL record for the topic's other
								 * partitions (ddl_barrier.c) */
	uint32		park_timeline;	/* that record's (timeline, ... */
	uint64		park_lsn;		/* ... commit LSN, ... */
	uint32		park_position;	/* ... position) */
	bool		park_moved;		/* parked instead at a moved UPDATE, for the
								 * old row its old key's partition stashes
								 * (moved_row.c) in ... */
	char		park_schema[NAMEDATALEN];	/* ... this landing schema's ... */
	char		park_relname[NAMEDATALEN];	/* ... landing table */
	bool		pause;			/* parked in this batch: to pause after it */
	bool		resume;			/* released in this batch: to fetch again
								 * from next_offset after it */
	uint32		applied_timeline;	/* newest change this worker applied
									 * into a landing table (timeline, ... */
	uint64		applied_commit_lsn; /* ... commit LSN, ... */
	uint32		applied_position;	/* ... position); the stored one is the
									 * greatest of it and a retry's */
	int64		heartbeat_time; /* the newest HEARTBEAT's commit time, us
								 * since 1970, or 0 */
	uint32		heartbeat_timeline; /* the newest heartbeat position (timeline, */
	uint64		heartbeat_lsn;	/* lsn) seen */
	int64		heartbeat_gap;	/* us between the last two, or 0 unknown */
};

/* stream_position.c: resends, other sources, unbelievable positions */
typedef enum StreamVerdict
{
	STREAM_NEW,					/* apply it */
	STREAM_RESEND,				/* at or below the last applied change: skip */
	STREAM_REFUSED				/* dead letter (or stop), with a reason */
} StreamVerdict;
extern StreamVerdict stream_position_check(HTAB *parts, const PartitionState *ps,
										   const Change *c, char **reason);
extern void stream_position_advance(PartitionState *ps, const Change *c);
extern int	stream_position_cmp(uint32 timeline_a, uint64 lsn_a, uint32 position_a,
								uint32 timeline_b, uint64 lsn_b, uint32 position_b);

/* landing_state.c: a landing table's row in walstar.landing_tables */
typedef struct LandingState
{
	bool		found;			/* the row exists */
	/* the source table it holds (landing_names.c) */
	char	   *source;			/* Change.source */
	uint64		system_id;		/* Change.system_id */
	char	   *schema;			/* source schema */
	char	   *table;			/* source table */
	uint64		copy_lsn;		/* commit LSN of the copy that filled it, or 0 */
	uint32		copy_timeline;	/* and its timeline (0: unknown) */
	/* the source column layout last applied (landing_table.c) */
	bool		has_layout;
	int			ncolumns;
	int32	   *attnums;		/* source attnums */
	char	  **names;			/* column names */
	char	  **types;			/* landing types (Column.landing_type) */
	/* the last captured DDL record applied (landing_ddl.c), or 0/0 */
	uint32		ddl_timeline;
	uint64		ddl_lsn;
	int64		ddl_position;
} LandingState;
extern bool landing_state_read(const char *schema, const char *relname, LandingState *st);
extern bool landing_state_claim(const char *schema, const char *relname, const Change *c);
extern void landing_state_lock_copy(const char *schema, const char *relname,
									uint32 *timeline, uint64 *lsn);
extern void landing_state_write_copy_lsn(const char *schema, const char *relname,
										 uint32 timeline, uint64 lsn);
extern void landing_state_write_layout(const char *schema, const char *relname, int n,
									   const int32 *attnums, char **names, char **types);
extern void landing_state_write_ddl(const char *schema, const char *relname, const Change *c);

/* landing_table.c: landing-table DDL, following the source's column layout */
extern char **landing_table_prepare(const char *schema, const char *relname,
									const char *qualified, int ncols,
									Column **columns, int nkeys,
									const int *keycols, const Change *rec,
									Oid **typids);
extern bool landing_table_has_triggers(const char *schema, const char *relname);

/* landing_ddl.c: captured schema changes (DDL records) */
extern const DdlStep *landing_ddl_step(const Change *ddl, int action, int32 attnum);
extern void landing_ddl_convert(const char *qualified, Oid relid, const char *column,
								const char *type_sql, const char *using_expression);
extern void landing_ddl_apply(const char *schema, const char *relname,
							  const char *qualified, const Change *c,
							  bool drop_columns);

/* landing_names.c: which landing table holds a source table */
typedef struct LandingHolder LandingHolder;
extern char *landing_name_of(const Change *c);
extern LandingHolder *landing_name_claim(const char *landing_schema,
										 const char *relname, const Change *c);
extern bool landing_name_holds(const LandingHolder *h, const Change *c);
extern char *landing_name_clash(const char *landing_schema, const char *relname,
								const LandingHolder *h, const Change *c);
extern int	landing_name_copy_cmp(const LandingHolder *h, const Change *c);
extern bool landing_name_start_copy(const char *landing_schema, const char *relname,
									LandingHolder *h, const Change *c);

/* change.c: reading walstar.v1.Change messages */
extern Change *change_unpack(const char *data, size_t len, char **error);
extern bool change_is_row_change(const Change *change);

/* subscription.c: reading walstar's configuration tables */
extern Subscription *subscription_load(int32 id, bool missing_ok);
extern HTAB *partition_table_create(MemoryContext cxt);
extern PartitionState *partition_state_get(HTAB *parts, const char *topic,
										   int32 partition, bool create);
extern void partition_table_load(HTAB *parts, int32 subscription_id);
extern void subscription_set_worker_state(int32 subscription_id, int worker,
										  const char *state, const char *error);
extern void subscription_forget_worker(int32 subscription_id, int worker);
extern int	subscription_partition_worker(const char *topic, int32 partition, int workers);

/*
 * walstar's own tables are read and written as the extension's owner, the
 * landing tables as the subscription's owner: bookkeeping_begin switches
 * to the former until bookkeeping_end (an error's abort switches back).
 */
typedef struct BookkeepingUser
{
	Oid			saved_user;		/* user ID before the switch */
	int			saved_sec;		/* security context before the switch */
} BookkeepingUser;
extern void bookkeeping_begin(BookkeepingUser *save);
extern void bookkeeping_end(const BookkeepingUser *save);

/* consumer.c: the librdkafka consumer of one apply worker */
typedef struct Consumer Consumer;
extern Consumer *consumer_create(const Subscription *sub);
extern void consumer_destroy(Consumer *consumer);
extern int	consumer_wait_fd(Consumer *consumer);
extern bool consumer_refresh_assignment(Consumer *consumer, const Subscription *sub,
										int worker, HTAB *parts, bool force);
extern int	consumer_poll(Consumer *consumer, HTAB *parts, KafkaMessage *out,
						  int max, MemoryContext cxt);
extern void consumer_forward_logs(Consumer *consumer);
extern char *consumer_take_error(Consumer *consumer, bool *lasting);
extern void consumer_update_watermarks(Consumer *consumer, HTAB *parts);
extern void consumer_apply_barriers(Consumer *consumer, HTAB *parts);

/* copy_epoch.c: a chunked copy's epoch completes (SNAPSHOT_BEGIN/END) */
extern bool copy_epoch_begin(const char *schema, const char *relname, const Change *c,
							 int32 partition);
extern List *copy_epoch_begun(const char *schema, const char *relname, char **epoch);
extern void copy_epoch_end(const char *schema, const char *relname, Oid owner,
						   const Change *c, int32 partition);

/* ddl_barrier.c: a DDL record waits for every partition of its topic */
extern void ddl_barrier_init(int32 subscription_id);
extern bool ddl_barrier_pass(HTAB *parts, PartitionState *ps, const Change *c);
extern bool ddl_barrier_parked(HTAB *parts);
extern bool ddl_barrier_poll(HTAB *parts);
extern void ddl_barrier_park_moved(PartitionState *ps, const Change *c, const char *schema,
								   const char *relname);
extern void consumer_rewind_to_time(Consumer *consumer, HTAB *parts,
									TimestampTz when);

/* apply.c: one batch into the landing tables */
typedef struct ApplyResult
{
	int			applied;		/* changes applied */
	int			skipped;		/* resends and records without data */
	int			dead;			/* messages put into dead_letters */
	char	   *stop_error;		/* error_policy stop: why, or NULL */
} ApplyResult;
extern void apply_batch(const Subscription *sub, HTAB *parts, KafkaMessage *msgs,
						int n, ApplyResult *result);
extern char *apply_one_change(const char *landing_schema, Oid owner, Change *c);

/* dead_letters.c */
extern int64 dead_letter_add(const char *subscription, const KafkaMessage *msg,
							 const char *error);

/* apply_worker.c, launcher.c */
struct BackgroundWorkerHandle;
extern struct BackgroundWorkerHandle *apply_worker_register(int32 id, const char *name,
															 Oid owner, int number);
extern PGDLLEXPORT void walstar_apply_main(Datum arg);
extern PGDLLEXPORT void walstar_launcher_main(Datum arg);
extern PGDLLEXPORT void walstar_manager_main(Datum arg);
extern void launcher_register(void);
extern void launcher_drop_database_hook_install(void);
extern bool walstar_preloaded;
extern int	walstar_launcher_naptime;

#endif							/* WALSTAR_H */
