/*-------------------------------------------------------------------------
 *
 * config.h
 *		walstar-archive settings: one declarative table gives parsing,
 *		--help and the sample config file, as in walstar-sink.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ARCHIVE_CONFIG_H
#define ARCHIVE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum ArchiveCommand
{
	COMMAND_RUN,		 /* consume and archive (the daemon) */
	COMMAND_REPLAY,		 /* produce archived records back into Kafka */
	COMMAND_EXPIRE,		 /* delete objects past their source's retention */
	COMMAND_STATUS,		 /* print the group's committed offsets */
	COMMAND_DEAD_LETTERS /* export walstar.dead_letters (dead_letters.h) */
} ArchiveCommand;

typedef enum Compression
{
	COMPRESSION_ZSTD,
	COMPRESSION_GZIP
} Compression;

typedef enum UrlStyle
{
	URL_PATH,		 /* endpoint/bucket/key */
	URL_VIRTUAL_HOST /* bucket.endpoint-host/key */
} UrlStyle;

typedef struct KafkaProperty
{
	char *name;	 /* librdkafka property name */
	char *value; /* its value (may be a secret: never logged) */
} KafkaProperty;

typedef struct Config
{
	int	  command;			   /* ArchiveCommand */
	char *brokers;			   /* bootstrap.servers */
	char *group_id;			   /* consumer group (offsets and cut marks) */
	char *topics;			   /* comma-separated topic names */
	char *topic_pattern;	   /* regular expression over topic names */
	char *s3_endpoint;		   /* scheme://host[:port] of the store */
	char *s3_bucket;		   /* bucket name */
	char *s3_region;		   /* SigV4 region */
	int	  s3_url_style;		   /* UrlStyle */
	char *s3_ca_file;		   /* CA bundle for https, NULL: system's */
	bool  s3_verify_tls;	   /* verify the server certificate and name */
	char *s3_credentials_file; /* AWS shared credentials file, or NULL */
	char *s3_profile;		   /* its section */
	int	  s3_timeout;		   /* seconds per request */
	char *prefix;			   /* object key prefix */
	char *ndjson_topics;	  /* regular expression: topics stored as NDJSON */
	int	  compression;		  /* Compression */
	int	  compression_level;  /* zstd or gzip level */
	int	  object_max_bytes;	  /* records' bytes before an object is cut */
	int	  object_max_records; /* records before an object is cut */
	int	  object_max_age;	  /* seconds an object stays open */
	char *dsn;				  /* dead-letters: the analytics database */
	char *retention;		  /* source:days,...,*:days */
	int	  metrics_port;		  /* Prometheus endpoint, 0 off */
	int	  shutdown_timeout;	  /* seconds to store open objects at exit */
	int	  log_level;		  /* LogLevel */
	bool  log_timestamps;	  /* prefix log lines with the time */
	char *replay_from;		  /* replay: commit time >= (ISO 8601 UTC) */
	char *replay_to;		  /* replay: commit time < */
	char *replay_source;	  /* replay: only this source */
	char *replay_table;		  /* replay: only this schema.table */
	char *replay_topic_prefix;	/* replay: topic prefix to produce to */
	bool  dry_run;				/* expire: list, do not delete */
	KafkaProperty *kafka;		/* pass-through librdkafka properties */
	int			   nkafka;		/* entries in kafka */
	char		  *config_file; /* file the settings came from, or NULL */
	char *access_key;	 /* credentials, from the environment or the file */
	char *secret_key;	 /* (secret: never logged) */
	char *session_token; /* optional (secret) */
} Config;

typedef enum ConfigResult
{
	CONFIG_OK,
	CONFIG_EXIT,
	CONFIG_ERROR
} ConfigResult;

/* Defaults, then the file (--config), then the command line. */
extern ConfigResult config_load(int argc, char **argv, Config *cfg, char *err,
								size_t errlen);

/* Re-read; copy the reloadable settings into cfg (SIGHUP). */
extern bool config_reload(Config *cfg, char *err, size_t errlen);

extern void config_free(Config *cfg);

/*
 * Days of retention for source from the retention setting, -1 when the
 * source has none (kept forever).
 */
extern int config_retention_days(const char *retention, const char *source);

#endif
