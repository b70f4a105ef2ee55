/*-------------------------------------------------------------------------
 *
 * config.c
 *		Settings from one table: defaults, INI file, command line; the same
 *		rules as walstar-sink's (sink/config.c).
 *
 * The file is INI: "name = value" lines and a [kafka] section passed to
 * librdkafka unchanged.  On the command line every option is also
 * --name=value (or --name value), and --set name=value, also as
 * kafka.<property>=value.  Later settings win: defaults < file < command
 * line.  The first argument may name a command: run (default), replay,
 * expire or status.
 *
 * S3 credentials never come from the file or the command line (others may
 * read both): they come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN, or from an AWS shared credentials file
 * (s3-credentials-file, mode 0600 or less, section s3-profile).
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "config.h"
#include "log.h"

typedef enum ConfigType
{
	CT_STRING,
	CT_INT,
	CT_BOOL,
	CT_ENUM
} ConfigType;

typedef struct ConfigOption
{
	const char		  *name;		  /* as in the file and after "--" */
	ConfigType		   type;		  /* how the value is parsed */
	const char		  *default_value; /* text form; NULL for no value */
	bool			   reloadable;	  /* SIGHUP applies it */
	size_t			   offset;		  /* field in Config */
	const char *const *choices;		  /* CT_ENUM: NULL-terminated names */
	int				   min;			  /* CT_INT: smallest accepted value */
	const char		  *help;		  /* one sentence for --help */
} ConfigOption;

static const char *const compression_choices[] = {"zstd", "gzip", NULL};
static const char *const url_choices[] = {"path", "virtual-host", NULL};
static const char *const level_choices[] = {"debug", "info", "warning",
											"error", NULL};
static const char *const command_names[] = {"run",	  "replay",		  "expire",
											"status", "dead-letters", NULL};

#define OFF(f) offsetof(Config, f)

static const ConfigOption options[] = {
	{"brokers", CT_STRING, NULL, false, OFF(brokers), NULL, 0,
	 "Kafka bootstrap servers, host:port[,host:port]"},
	{"group-id", CT_STRING, "walstar-archive", false, OFF(group_id), NULL, 0,
	 "Kafka consumer group; its committed offsets (and cut marks) are the "
	 "archive's progress"},
	{"topics", CT_STRING, NULL, false, OFF(topics), NULL, 0,
	 "comma-separated topics to archive (or topic-pattern)"},
	{"topic-pattern", CT_STRING, NULL, false, OFF(topic_pattern), NULL, 0,
	 "regular expression over topic names, e.g. ^walstar\\. (or topics)"},
	{"s3-endpoint", CT_STRING, NULL, false, OFF(s3_endpoint), NULL, 0,
	 "object store endpoint, http[s]://host[:port]"},
	{"s3-bucket", CT_STRING, NULL, false, OFF(s3_bucket), NULL, 0,
	 "bucket the objects go to"},
	{"s3-region", CT_STRING, "us-east-1", false, OFF(s3_region), NULL, 0,
	 "region in the AWS SigV4 signature"},
	{"s3-url-style", CT_ENUM, "path", false, OFF(s3_url_style), url_choices, 0,
	 "path: endpoint/bucket/key; virtual-host: bucket.endpoint-host/key"},
	{"s3-ca-file", CT_STRING, NULL, false, OFF(s3_ca_file), NULL, 0,
	 "CA certificates (PEM) for an https endpoint; default the system's"},
	{"s3-verify-tls", CT_BOOL, "true", false, OFF(s3_verify_tls), NULL, 0,
	 "verify the https server's certificate and host name"},
	{"s3-credentials-file", CT_STRING, NULL, false, OFF(s3_credentials_file),
	 NULL, 0,
	 "AWS shared credentials file (aws_access_key_id, "
	 "aws_secret_access_key, aws_session_token), mode 0600 or less; default "
	 "the environment's AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
	{"s3-profile", CT_STRING, "default", false, OFF(s3_profile), NULL, 0,
	 "section of s3-credentials-file"},
	{"s3-timeout", CT_INT, "60", true, OFF(s3_timeout), NULL, 1,
	 "seconds per object store request"},
	{"prefix", CT_STRING, "walstar", false, OFF(prefix), NULL, 0,
	 "object keys are <prefix>/<source>/<schema>.<table>/date=YYYY-MM-DD/"
	 "hour=HH/<topic>+<partition>+<first>-<last>.<ext>"},
	{"ndjson-topics", CT_STRING, NULL, false, OFF(ndjson_topics), NULL, 0,
	 "regular expression over topic names whose objects are NDJSON (one "
	 "JSON object per change, for DuckDB or Spark; replay skips them) "
	 "instead of raw walstar records, e.g. ^walstar\\.crm\\.; . for all"},
	{"compression", CT_ENUM, "zstd", false, OFF(compression),
	 compression_choices, 0, "compression of the objects"},
	{"compression-level", CT_INT, "3", false, OFF(compression_level), NULL, 1,
	 "zstd (1-19) or gzip (1-9) level"},
	{"object-max-bytes", CT_INT, "67108864", false, OFF(object_max_bytes),
	 NULL, 1024, "records' bytes (uncompressed) after which an object is cut"},
	{"object-max-records", CT_INT, "1000000", false, OFF(object_max_records),
	 NULL, 1, "records after which an object is cut"},
	{"object-max-age", CT_INT, "60", true, OFF(object_max_age), NULL, 1,
	 "seconds after which an open object is cut and stored"},
	{"retention", CT_STRING, NULL, true, OFF(retention), NULL, 0,
	 "days objects are kept per source for `expire`, e.g. "
	 "crm:730,billing:3650,*:365; sources not named are kept forever"},
	{"metrics-port", CT_INT, "0", false, OFF(metrics_port), NULL, 0,
	 "serve Prometheus metrics on 127.0.0.1:<port>/metrics; 0 disables"},
	{"shutdown-timeout", CT_INT, "30", true, OFF(shutdown_timeout), NULL, 0,
	 "seconds SIGTERM waits to store the open objects"},
	{"log-level", CT_ENUM, "info", true, OFF(log_level), level_choices, 0,
	 "debug, info, warning or error"},
	{"log-timestamps", CT_BOOL, "true", true, OFF(log_timestamps), NULL, 0,
	 "start log lines with the UTC time (journald adds its own)"},
	{"from", CT_STRING, NULL, false, OFF(replay_from), NULL, 0,
	 "replay: records committed at or after this UTC time "
	 "(YYYY-MM-DD[THH[:MM[:SS]]])"},
	{"to", CT_STRING, NULL, false, OFF(replay_to), NULL, 0,
	 "replay: records committed before this UTC time"},
	{"source", CT_STRING, NULL, false, OFF(replay_source), NULL, 0,
	 "replay: only this source"},
	{"table", CT_STRING, NULL, false, OFF(replay_table), NULL, 0,
	 "replay: only this schema.table"},
	{"replay-topic-prefix", CT_STRING, NULL, false, OFF(replay_topic_prefix),
	 NULL, 0,
	 "replay: produce to <replay-topic-prefix>.<original topic> (a replay "
	 "subscription's topics); default the original topics"},
	{"dsn", CT_STRING, NULL, false, OFF(dsn), NULL, 0,
	 "dead-letters: libpq connection string of the analytics database, "
	 "without a password (use ~/.pgpass or PGPASSFILE); its role needs "
	 "only USAGE on schema walstar and SELECT on walstar.dead_letters"},
	{"dry-run", CT_BOOL, "false", false, OFF(dry_run), NULL, 0,
	 "expire: list what would be deleted"},
};

#define NUM_OPTIONS ((int)(sizeof(options) / sizeof(options[0])))

static int	  saved_argc;
static char **saved_argv;

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
	{
		fprintf(stderr, "error config msg=\"out of memory\"\n");
		exit(1);
	}
	return d;
}

static void
free_secret(char **s)
{
	if (*s != NULL)
		OPENSSL_cleanse(*s, strlen(*s));
	free(*s);
	*s = NULL;
}

static const ConfigOption *
find_option(const char *name)
{
	int i;

	for (i = 0; i < NUM_OPTIONS; i++)
	{
		if (strcmp(options[i].name, name) == 0)
			return &options[i];
	}
	return NULL;
}

static bool
parse_bool(const char *s, bool *out)
{
	if (strcasecmp(s, "true") == 0 || strcasecmp(s, "on") == 0 ||
		strcasecmp(s, "yes") == 0 || strcmp(s, "1") == 0)
		*out = true;
	else if (strcasecmp(s, "false") == 0 || strcasecmp(s, "off") == 0 ||
			 strcasecmp(s, "no") == 0 || strcmp(s, "0") == 0)
		*out = false;
	else
		return false;
	return true;
}

static void
set_kafka(Config *cfg, const char *name, const char *value)
{
	int i;

	for (i = 0; i < cfg->nkafka; i++)
	{
		if (strcmp(cfg->kafka[i].name, name) == 0)
		{
			free(cfg->kafka[i].value);
			cfg->kafka[i].value = xstrdup(value);
			return;
		}
	}
	cfg->kafka =
		realloc(cfg->kafka, sizeof(KafkaProperty) * (cfg->nkafka + 1));
	if (cfg->kafka == NULL)
	{
		fprintf(stderr, "error config msg=\"out of memory\"\n");
		exit(1);
	}
	cfg->kafka[cfg->nkafka].name = xstrdup(name);
	cfg->kafka[cfg->nkafka].value = xstrdup(value);
	cfg->nkafka++;
}

static bool
config_set(Config *cfg, const char *name, const char *value, char *err,
		   size_t errlen)
{
	const ConfigOption *opt;
	char			   *field;

	if (strncmp(name, "kafka.", 6) == 0 && name[6] != '\0')
	{
		set_kafka(cfg, name + 6, value);
		return true;
	}
	opt = find_option(name);
	if (opt == NULL)
	{
		set_err(err, errlen, "unknown option '%s' (see --help)", name);
		return false;
	}
	field = (char *)cfg + opt->offset;
	switch (opt->type)
	{
		case CT_STRING:
			free(*(char **)field);
			*(char **)field = value[0] != '\0' ? xstrdup(value) : NULL;
			break;
		case CT_INT:
		{
			char *end;
			long  v;

			errno = 0;
			v = strtol(value, &end, 10);
			if (errno != 0 || end == value || *end != '\0' || v > INT_MAX ||
				v < opt->min)
			{
				set_err(err, errlen,
						"option '%s' needs an integer >= %d, not '%s'", name,
						opt->min, value);
				return false;
			}
			*(int *)field = (int)v;
			break;
		}
		case CT_BOOL:
			if (!parse_bool(value, (bool *)field))
			{
				set_err(err, errlen,
						"option '%s' needs true or false, not '%s'", name,
						value);
				return false;
			}
			break;
		case CT_ENUM:
		{
			int i;

			for (i = 0; opt->choices[i] != NULL; i++)
			{
				if (strcmp(opt->choices[i], value) == 0)
				{
					*(int *)field = i;
					return true;
				}
			}
			set_err(err, errlen, "option '%s' has no value '%s'", name, value);
			return false;
		}
	}
	return true;
}

static void
config_defaults(Config *cfg)
{
	int	 i;
	char err[256];

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < NUM_OPTIONS; i++)
	{
		if (options[i].default_value != NULL &&
			!config_set(cfg, options[i].name, options[i].default_value, err,
						sizeof(err)))
		{
			fprintf(stderr, "error config msg=\"bad default: %s\"\n", err);
			exit(1);
		}
	}
}

typedef struct IniContext
{
	Config *cfg;
	char	msg[512];
	bool	failed;
} IniContext;

static int
on_ini_line(void *user, const char *section, const char *name,
			const char *value)
{
	IniContext *ctx = user;

	if (ctx->failed)
		return 0;
	if (section[0] == '\0')
	{
		if (!config_set(ctx->cfg, name, value, ctx->msg, sizeof(ctx->msg)))
			ctx->failed = true;
	}
	else if (strcmp(section, "kafka") == 0)
		set_kafka(ctx->cfg, name, value);
	else
	{
		snprintf(ctx->msg, sizeof(ctx->msg), "unknown section [%s]", section);
		ctx->failed = true;
	}
	return ctx->failed ? 0 : 1;
}

static bool
read_file(Config *cfg, const char *path, char *err, size_t errlen)
{
	IniContext ctx;
	int		   rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = cfg;
	rc = ini_parse(path, on_ini_line, &ctx);
	if (rc == -1)
	{
		set_err(err, errlen, "cannot open config file '%s': %s", path,
				strerror(errno));
		return false;
	}
	if (rc != 0)
	{
		set_err(err, errlen, "config file '%s' line %d: %s", path, rc,
				ctx.msg[0] ? ctx.msg : "syntax error");
		return false;
	}
	return true;
}

static void
print_help(void)
{
	int i;

	printf("walstar-archive keeps every change of walstar topics in an "
		   "S3-compatible\n"
		   "object store, grouped by origin, and replays it into Kafka.\n\n"
		   "Usage: walstar-archive [run|replay|expire|status|dead-letters] "
		   "[--config FILE] "
		   "[--NAME=VALUE ...]\n\n"
		   "  run      consume the topics and store objects (default); Kafka "
		   "offsets are\n"
		   "           committed only after an object is stored and verified\n"
		   "  replay   produce the archived records (--from, --to, --source, "
		   "--table)\n"
		   "           unchanged into the original or the replay topics\n"
		   "  expire   delete objects older than their source's retention\n"
		   "  status   print the group's committed offsets and cut marks\n"
		   "  dead-letters  store walstar.dead_letters rows (--dsn) not yet "
		   "in the store,\n"
		   "           as NDJSON under <prefix>/dead_letters/apply=<db>."
		   "<subscription>/\n\n"
		   "  -c, --config FILE       INI file: NAME = VALUE lines, and a "
		   "[kafka] section\n"
		   "  --set NAME=VALUE        set an option, or kafka.PROPERTY=VALUE\n"
		   "  --check-config          validate the settings (and the "
		   "credentials' presence) and exit\n"
		   "  --print-sample-config   print a commented config file and exit\n"
		   "  -h, --help              this help\n"
		   "  -V, --version           print the version and exit\n\n"
		   "Options (file or --NAME=VALUE; * = applied on SIGHUP):\n");
	for (i = 0; i < NUM_OPTIONS; i++)
	{
		const ConfigOption *o = &options[i];

		printf("  %s%s\n      %s", o->name, o->reloadable ? " *" : "",
			   o->help);
		if (o->type == CT_ENUM)
		{
			int j;

			printf(" [");
			for (j = 0; o->choices[j] != NULL; j++)
				printf("%s%s", j ? "|" : "", o->choices[j]);
			printf("]");
		}
		if (o->default_value != NULL)
			printf(" (default %s)", o->default_value);
		printf("\n");
	}
	printf("\nSignals: SIGTERM/SIGINT store the open objects, commit and "
		   "exit 0; SIGHUP reloads the * options.\n");
}

static void
print_sample(void)
{
	int i;

	printf("# walstar-archive configuration (INI). Generated by\n"
		   "#   walstar-archive --print-sample-config\n"
		   "# S3 credentials: the environment (AWS_ACCESS_KEY_ID, "
		   "AWS_SECRET_ACCESS_KEY)\n"
		   "# or s3-credentials-file, never this file.\n\n");
	for (i = 0; i < NUM_OPTIONS; i++)
	{
		const ConfigOption *o = &options[i];

		printf("# %s%s\n#%s = %s\n\n", o->help,
			   o->reloadable ? " (reloadable)" : "", o->name,
			   o->default_value ? o->default_value : "");
	}
	printf("# librdkafka consumer/producer properties, passed through "
		   "unchanged\n[kafka]\n#security.protocol = SASL_SSL\n");
}

static ConfigResult
apply_args(Config *cfg, int argc, char **argv, bool file_only, bool *check,
		   char *err, size_t errlen)
{
	int	 i;
	bool command_seen = false;

	for (i = 1; i < argc; i++)
	{
		const char *arg = argv[i];
		const char *name;
		const char *value;
		char		namebuf[256];
		const char *eq;

		if (arg[0] != '-' && !command_seen)
		{
			int c;

			for (c = 0; command_names[c] != NULL; c++)
			{
				if (strcmp(command_names[c], arg) == 0)
					break;
			}
			if (command_names[c] == NULL)
			{
				set_err(err, errlen, "unknown command '%s' (see --help)", arg);
				return CONFIG_ERROR;
			}
			cfg->command = c;
			command_seen = true;
			continue;
		}
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
		{
			if (!file_only)
				continue;
			print_help();
			return CONFIG_EXIT;
		}
		if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0)
		{
			if (!file_only)
				continue;
			printf("walstar-archive %s\n", ARCHIVE_VERSION);
			return CONFIG_EXIT;
		}
		if (strcmp(arg, "--print-sample-config") == 0)
		{
			if (!file_only)
				continue;
			print_sample();
			return CONFIG_EXIT;
		}
		if (strcmp(arg, "--check-config") == 0)
		{
			if (check)
				*check = true;
			continue;
		}
		if (strcmp(arg, "--dry-run") == 0)
		{
			if (!file_only)
				cfg->dry_run = true;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0 && strcmp(arg, "-c") != 0)
		{
			set_err(err, errlen, "unexpected argument '%s' (see --help)", arg);
			return CONFIG_ERROR;
		}
		name = strcmp(arg, "-c") == 0 ? "config" : arg + 2;
		eq = strchr(name, '=');
		if (eq != NULL)
		{
			size_t n = (size_t)(eq - name);

			if (n >= sizeof(namebuf))
				n = sizeof(namebuf) - 1;
			memcpy(namebuf, name, n);
			namebuf[n] = '\0';
			name = namebuf;
			value = eq + 1;
		}
		else
		{
			if (i + 1 >= argc)
			{
				set_err(err, errlen, "option '%s' needs a value", arg);
				return CONFIG_ERROR;
			}
			value = argv[++i];
		}
		if (strcmp(name, "config") == 0)
		{
			if (file_only)
			{
				free(cfg->config_file);
				cfg->config_file = xstrdup(value);
			}
			continue;
		}
		if (file_only)
		{
			if (strcmp(name, "set") != 0 && find_option(name) == NULL &&
				strncmp(name, "kafka.", 6) != 0)
			{
				set_err(err, errlen, "unknown option '--%s' (see --help)",
						name);
				return CONFIG_ERROR;
			}
			continue;
		}
		if (strcmp(name, "set") == 0)
		{
			const char *e = strchr(value, '=');
			char		key[256];
			size_t		n;

			if (e == NULL || e == value)
			{
				set_err(err, errlen, "--set needs NAME=VALUE, not '%s'",
						value);
				return CONFIG_ERROR;
			}
			n = (size_t)(e - value);
			if (n >= sizeof(key))
				n = sizeof(key) - 1;
			memcpy(key, value, n);
			key[n] = '\0';
			if (!config_set(cfg, key, e + 1, err, errlen))
				return CONFIG_ERROR;
			continue;
		}
		if (!config_set(cfg, name, value, err, errlen))
			return CONFIG_ERROR;
	}
	return CONFIG_OK;
}

typedef struct CredContext
{
	Config	   *cfg;
	const char *profile;
} CredContext;

static int
on_cred_line(void *user, const char *section, const char *name,
			 const char *value)
{
	CredContext *ctx = user;
	char	   **dst = NULL;

	if (strcmp(section, ctx->profile) != 0)
		return 1;
	if (strcmp(name, "aws_access_key_id") == 0)
		dst = &ctx->cfg->access_key;
	else if (strcmp(name, "aws_secret_access_key") == 0)
		dst = &ctx->cfg->secret_key;
	else if (strcmp(name, "aws_session_token") == 0)
		dst = &ctx->cfg->session_token;
	if (dst != NULL)
	{
		free_secret(dst);
		*dst = xstrdup(value);
	}
	return 1;
}

/*
 * The credentials: from the file when given (refusing one others may
 * read, like ssh with its keys), else from the environment.  Errors name
 * the file or the variable, never a value.
 */
static bool
read_credentials(Config *cfg, char *err, size_t errlen)
{
	CredContext ctx = {cfg, cfg->s3_profile ? cfg->s3_profile : "default"};

	if (cfg->s3_credentials_file != NULL)
	{
		const char *path = cfg->s3_credentials_file;
		struct stat st;
		FILE	   *fp;
		int			rc;

		fp = fopen(path, "r");
		if (fp == NULL)
		{
			set_err(err, errlen,
					"option 's3-credentials-file': cannot open '%s': %s", path,
					strerror(errno));
			return false;
		}
		if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode) ||
			(st.st_uid != 0 && (st.st_mode & (S_IRWXG | S_IRWXO))) ||
			(st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO))))
		{
			fclose(fp);
			set_err(err, errlen,
					"option 's3-credentials-file': '%s' is not a regular file "
					"of mode 0600 or less (0640 if owned by root)",
					path);
			return false;
		}
		rc = ini_parse_file(fp, on_cred_line, &ctx);
		fclose(fp);
		if (rc != 0)
		{
			set_err(err, errlen,
					"option 's3-credentials-file': '%s' line %d: syntax error",
					path, rc);
			return false;
		}
		if (cfg->access_key == NULL || cfg->secret_key == NULL)
		{
			set_err(err, errlen,
					"option 's3-credentials-file': section [%s] of '%s' needs "
					"aws_access_key_id and aws_secret_access_key",
					ctx.profile, path);
			return false;
		}
		return true;
	}
	if (getenv("AWS_ACCESS_KEY_ID") == NULL ||
		getenv("AWS_SECRET_ACCESS_KEY") == NULL)
	{
		set_err(err, errlen,
				"no S3 credentials: set AWS_ACCESS_KEY_ID and "
				"AWS_SECRET_ACCESS_KEY, or s3-credentials-file");
		return false;
	}
	cfg->access_key = xstrdup(getenv("AWS_ACCESS_KEY_ID"));
	cfg->secret_key = xstrdup(getenv("AWS_SECRET_ACCESS_KEY"));
	if (getenv("AWS_SESSION_TOKEN") != NULL &&
		getenv("AWS_SESSION_TOKEN")[0] != '\0')
		cfg->session_token = xstrdup(getenv("AWS_SESSION_TOKEN"));
	return true;
}

static bool
validate(const Config *cfg, char *err, size_t errlen)
{
	bool in_kafka = false;
	int	 i;

	for (i = 0; i < cfg->nkafka; i++)
		in_kafka |= strcmp(cfg->kafka[i].name, "bootstrap.servers") == 0;
	if (cfg->brokers == NULL && !in_kafka && cfg->command != COMMAND_EXPIRE &&
		cfg->command != COMMAND_DEAD_LETTERS)
	{
		set_err(err, errlen, "option 'brokers' is required");
		return false;
	}
	if (cfg->s3_endpoint == NULL || cfg->s3_bucket == NULL)
	{
		set_err(err, errlen,
				"options 's3-endpoint' and 's3-bucket' are "
				"required");
		return false;
	}
	if (strncmp(cfg->s3_endpoint, "http://", 7) != 0 &&
		strncmp(cfg->s3_endpoint, "https://", 8) != 0)
	{
		set_err(err, errlen,
				"option 's3-endpoint': '%s' is not http://host[:port] or "
				"https://host[:port]",
				cfg->s3_endpoint);
		return false;
	}
	if ((cfg->command == COMMAND_RUN || cfg->command == COMMAND_STATUS) &&
		(cfg->topics == NULL) == (cfg->topic_pattern == NULL))
	{
		set_err(err, errlen,
				"exactly one of 'topics' and 'topic-pattern' is "
				"required");
		return false;
	}
	if (cfg->prefix == NULL || strchr(cfg->prefix, '+') != NULL ||
		cfg->prefix[strlen(cfg->prefix) - 1] == '/')
	{
		set_err(err, errlen,
				"option 'prefix' must be non-empty, without '+' and not end "
				"in '/'");
		return false;
	}
	if (cfg->ndjson_topics != NULL)
	{
		regex_t re;

		if (regcomp(&re, cfg->ndjson_topics, REG_EXTENDED | REG_NOSUB) != 0)
		{
			set_err(err, errlen,
					"option 'ndjson-topics': '%s' is not a regular expression",
					cfg->ndjson_topics);
			return false;
		}
		regfree(&re);
	}
	if (cfg->compression == COMPRESSION_GZIP && cfg->compression_level > 9)
	{
		set_err(err, errlen, "option 'compression-level': gzip takes 1-9");
		return false;
	}
	if (cfg->compression_level > 19)
	{
		set_err(err, errlen, "option 'compression-level': zstd takes 1-19");
		return false;
	}
	if (cfg->retention != NULL &&
		config_retention_days(cfg->retention, "\x01") == -2)
	{
		set_err(err, errlen,
				"option 'retention': '%s' is not source:days[,source:days...]",
				cfg->retention);
		return false;
	}
	if (cfg->command == COMMAND_DEAD_LETTERS && cfg->dsn == NULL)
	{
		set_err(err, errlen, "dead-letters needs --dsn");
		return false;
	}
	if (cfg->dsn != NULL)
	{
		PQconninfoOption *opts = PQconninfoParse(cfg->dsn, NULL);
		PQconninfoOption *o;
		bool			  secret = false;

		if (opts == NULL)
		{
			/* not quoted: the string may hold a password */
			set_err(err, errlen, "option 'dsn' is not a connection string");
			return false;
		}
		for (o = opts; o->keyword != NULL; o++)
			secret |= strcmp(o->keyword, "password") == 0 && o->val != NULL;
		PQconninfoFree(opts);
		if (secret)
		{
			set_err(err, errlen,
					"option 'dsn' holds a password: others may read the "
					"config file and the command line; use ~/.pgpass, "
					"PGPASSFILE or PGPASSWORD");
			return false;
		}
	}
	if (cfg->command == COMMAND_REPLAY &&
		(cfg->replay_from == NULL || cfg->replay_to == NULL))
	{
		set_err(err, errlen, "replay needs --from and --to");
		return false;
	}
	return true;
}

/*
 * -2: malformed; -1: not named (and no "*"); else the days.  A source
 * named explicitly wins over "*".
 */
int
config_retention_days(const char *retention, const char *source)
{
	const char *p = retention;
	int			star = -1;

	while (*p)
	{
		const char *colon = strchr(p, ':');
		const char *end;
		char	   *numend;
		long		days;
		size_t		n;

		if (colon == NULL || colon == p)
			return -2;
		n = (size_t)(colon - p);
		errno = 0;
		days = strtol(colon + 1, &numend, 10);
		if (errno != 0 || numend == colon + 1 || days < 0 || days > 1000000 ||
			(*numend != ',' && *numend != '\0'))
			return -2;
		end = numend;
		if (n == 1 && p[0] == '*')
			star = (int)days;
		else if (strlen(source) == n && strncmp(p, source, n) == 0)
			return (int)days;
		p = *end == ',' ? end + 1 : end;
	}
	return star;
}

static ConfigResult
load_into(Config *cfg, int argc, char **argv, bool *check, char *err,
		  size_t errlen)
{
	ConfigResult r;

	config_defaults(cfg);
	r = apply_args(cfg, argc, argv, true, NULL, err, errlen);
	if (r != CONFIG_OK)
		return r;
	if (cfg->config_file != NULL &&
		!read_file(cfg, cfg->config_file, err, errlen))
		return CONFIG_ERROR;
	r = apply_args(cfg, argc, argv, false, check, err, errlen);
	if (r != CONFIG_OK)
		return r;
	if (!validate(cfg, err, errlen))
		return CONFIG_ERROR;
	if (!read_credentials(cfg, err, errlen))
		return CONFIG_ERROR;
	return CONFIG_OK;
}

ConfigResult
config_load(int argc, char **argv, Config *cfg, char *err, size_t errlen)
{
	bool		 check = false;
	ConfigResult r;

	saved_argc = argc;
	saved_argv = argv;
	r = load_into(cfg, argc, argv, &check, err, errlen);
	if (r == CONFIG_OK && check)
	{
		printf("walstar-archive: configuration is valid\n");
		return CONFIG_EXIT;
	}
	return r;
}

static bool
same_text(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

bool
config_reload(Config *cfg, char *err, size_t errlen)
{
	Config fresh;
	int	   i;

	if (load_into(&fresh, saved_argc, saved_argv, NULL, err, errlen) !=
		CONFIG_OK)
	{
		config_free(&fresh);
		return false;
	}
	for (i = 0; i < NUM_OPTIONS; i++)
	{
		const ConfigOption *o = &options[i];
		char			   *oldf = (char *)cfg + o->offset;
		char			   *newf = (char *)&fresh + o->offset;
		bool				changed;

		if (o->type == CT_STRING)
			changed = !same_text(*(char **)oldf, *(char **)newf);
		else if (o->type == CT_BOOL)
			changed = *(bool *)oldf != *(bool *)newf;
		else
			changed = *(int *)oldf != *(int *)newf;
		if (!changed)
			continue;
		if (!o->reloadable)
		{
			log_warning("config",
						"option=%s msg=\"changed; needs a restart, keeping "
						"the running value\"",
						o->name);
			continue;
		}
		if (o->type == CT_STRING)
		{
			char *tmp = *(char **)oldf;

			*(char **)oldf = *(char **)newf;
			*(char **)newf = tmp;
		}
		else if (o->type == CT_BOOL)
			*(bool *)oldf = *(bool *)newf;
		else
			*(int *)oldf = *(int *)newf;
		log_info("config", "option=%s msg=\"reloaded\"", o->name);
	}
	config_free(&fresh);
	return true;
}

void
config_free(Config *cfg)
{
	int i;

	for (i = 0; i < NUM_OPTIONS; i++)
	{
		if (options[i].type == CT_STRING)
		{
			char **f = (char **)((char *)cfg + options[i].offset);

			free(*f);
			*f = NULL;
		}
	}
	for (i = 0; i < cfg->nkafka; i++)
	{
		free(cfg->kafka[i].name);
		free_secret(&cfg->kafka[i].value);
	}
	free(cfg->kafka);
	cfg->kafka = NULL;
	cfg->nkafka = 0;
	free(cfg->config_file);
	cfg->config_file = NULL;
	free(cfg->access_key);
	cfg->access_key = NULL;
	free_secret(&cfg->secret_key);
	free_secret(&cfg->session_token);
}
