/*-------------------------------------------------------------------------
 *
 * config.h
 *		walstar-sink settings: one declarative table gives parsing, --help,
 *		the sample config file and the README's option list.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_CONFIG_H
#define SINK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum SnapshotMode
{
	SNAPSHOT_INITIAL,	  /* copy the tables once, then stream */
	SNAPSHOT_NEVER,		  /* stream only */
	SNAPSHOT_INITIAL_ONLY /* copy the tables, then exit */
} SnapshotMode;

typedef enum OversizePolicy
{
	OVERSIZE_STOP,		 /* log and exit non-zero, confirm nothing more */
	OVERSIZE_DEAD_LETTER /* send a description to <prefix>.dead_letters */
} OversizePolicy;

/* The slot is missing on a promoted standby of the source (failover.c). */
typedef enum FailoverPolicy
{
	FAILOVER_RECOPY, /* create the slot, queue a copy of every table */
	FAILOVER_STOP	 /* log and exit non-zero */
} FailoverPolicy;

typedef struct KafkaProperty
{
	char *name;	 /* librdkafka property name */
	char *value; /* its value (may be a secret: never logged) */
} KafkaProperty;

typedef struct Config
{
	char *conninfo;				 /* libpq connection string of the source */
	char *slot;					 /* replication slot name */
	bool  create_slot;			 /* create the slot when it is missing */
	int	  snapshot;				 /* SnapshotMode */
	int	  snapshot_chunk_size;	 /* rows per chunk; 0: one-shot copies */
	char *state_dir;			 /* where snapshot completion is recorded */
	int	  on_failover;			 /* FailoverPolicy */
	char *include_tables;		 /* decoder option include-tables */
	char *exclude_tables;		 /* decoder option exclude-tables */
	char *mask_columns;			 /* decoder option mask-columns */
	char *hash_columns;			 /* decoder option hash-columns */
	char *hash_salt;			 /* HMAC key of the initial copy (secret) */
	char *hash_salt_file;		 /* file hash_salt was read from, or NULL */
	char *kafka_password_file;	 /* file kafka.sasl.password was read from */
	char *source_id;			 /* decoder option source-id */
	char *topic_prefix;			 /* topics are <prefix>.<schema>.<table> */
	char *brokers;				 /* bootstrap.servers */
	int	  topic_partitions;		 /* partitions of created topics, -1 broker */
	int	  topic_replication;	 /* replication factor, -1 broker default */
	bool  kafka_transactions;	 /* transactional producer, standby sinks */
	int	  transaction_interval;	 /* ms between Kafka transaction commits */
	bool  tombstones;			 /* null-value message after each DELETE */
	int	  oversize_policy;		 /* OversizePolicy */
	int	  metrics_port;			 /* Prometheus endpoint on 127.0.0.1, 0 off */
	int	  status_interval;		 /* seconds between standby status updates */
	int	  heartbeat_interval;	 /* idle seconds before a HEARTBEAT, 0 off */
	int	  progress_interval;	 /* seconds between snapshot progress lines */
	int	  startup_timeout;		 /* seconds to wait for Kafka at startup */
	int	  shutdown_timeout;		 /* seconds to wait for acks at shutdown */
	int	  reconnect_max_backoff; /* seconds, cap of the retry backoff */
	int	  log_level;			 /* LogLevel */
	bool  log_timestamps;		 /* prefix log lines with the time */
	KafkaProperty *kafka;		 /* pass-through librdkafka properties */
	int			   nkafka;		 /* entries in kafka */
	char		  *config_file;	 /* file the settings came from, or NULL */
	int			   ddl_capture;	 /* --install-ddl-capture 1, --remove- 2 */
	bool  snapshot_command;		 /* `walstar-sink snapshot`: queue a copy */
	char *snapshot_tables;		 /* --table: the patterns it queues; in
									  * an on-demand copy, what it copies */
} Config;

/* What config_load asks the caller to do. */
typedef enum ConfigResult
{
	CONFIG_OK,	 /* run with the loaded config */
	CONFIG_EXIT, /* --help, --version, ... printed: exit 0 */
	CONFIG_ERROR /* err says why: exit non-zero */
} ConfigResult;

/*
 * Defaults, then the file (--config), then the command line.  argv is kept
 * by reference for config_reload.
 */
extern ConfigResult config_load(int argc, char **argv, Config *cfg, char *err,
								size_t errlen);

/*
 * Re-read the file and the command line; copy the reloadable settings into
 * cfg.  On error cfg is unchanged and err says why.  Changed settings that
 * need a restart are logged and ignored.
 */
extern bool config_reload(Config *cfg, char *err, size_t errlen);

extern void config_free(Config *cfg);

#endif
