/*-------------------------------------------------------------------------
 *
 * config.c
 *		Settings from one table: defaults, INI file, command line.
 *
 * The file is INI (parsed by libinih): "name = value" lines for the
 * options below, and a [kafka] section whose lines are passed to
 * librdkafka unchanged (so SASL/TLS settings work).  On the command line
 * every option is also --name=value (or --name value), and --set
 * name=value sets an option or, as kafka.<property>=value, a librdkafka
 * property.  Later settings win: defaults < file < command line.
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>
#include <openssl/crypto.h>

#include "config.h"
#include "log.h"
#include "salt_hmac.h"

typedef enum ConfigType
{
	CT_STRING,
	CT_SECRET,		/* a string never printed */
	CT_SECRET_FILE, /* path of a file holding the secret option secret_of */
	CT_INT,
	CT_BOOL,
	CT_ENUM /* index into choices */
} ConfigType;

typedef struct ConfigOption
{
	const char		  *name; /* as written in the file and after "--" */
	ConfigType		   type; /* how the value is parsed */
	const char		  *default_value; /* text form; NULL for no value */
	bool			   reloadable;	  /* SIGHUP applies it */
	size_t			   offset;		  /* field in Config */
	const char *const *choices;		  /* CT_ENUM: NULL-terminated names */
	int				   min;			  /* CT_INT: smallest accepted value */
	const char		  *help;		  /* one sentence for --help and docs */
	const char		  *secret_of;	  /* CT_SECRET_FILE: the option it sets */
} ConfigOption;

static const char *const snapshot_choices[] = {"initial", "never",
											   "initial_only", NULL};
static const char *const oversize_choices[] = {"stop", "dead-letter", NULL};
static const char *const failover_choices[] = {"recopy", "stop", NULL};
static const char *const level_choices[] = {"debug", "info", "warning",
											"error", NULL};

#define OFF(f) offsetof(Config, f)

static const ConfigOption options[] = {
	{"conninfo", CT_STRING, NULL, false, OFF(conninfo), NULL, 0,
	 "libpq connection string of the source database (passwords belong in "
	 "~/.pgpass, PGPASSFILE or PGPASSWORD, never here)"},
	{"slot", CT_STRING, "walstar", false, OFF(slot), NULL, 0,
	 "logical replication slot to stream from"},
	{"create-slot", CT_BOOL, "true", false, OFF(create_slot), NULL, 0,
	 "create the slot (plugin walstar_decoder) when it does not exist"},
	{"snapshot", CT_ENUM, "initial", false, OFF(snapshot), snapshot_choices, 0,
	 "initial: copy the selected tables when the slot is created, then "
	 "stream; never: stream only; initial_only: copy, then exit"},
	{"snapshot-chunk-size", CT_INT, "0", false, OFF(snapshot_chunk_size), NULL,
	 0,
	 "> 0: keyed tables of the initial copy are copied in chunks of this "
	 "many rows while streaming, resuming at the next chunk after a "
	 "restart (e.g. 10000); 0: every table is copied in one piece before "
	 "streaming, as tables without a key always are"},
	{"state-dir", CT_STRING, "/var/lib/walstar-sink", false, OFF(state_dir),
	 NULL, 0, "directory recording which slot's initial snapshot is complete"},
	{"on-failover", CT_ENUM, "recopy", false, OFF(on_failover),
	 failover_choices, 0,
	 "the slot is missing on a promoted standby of the source (its system "
	 "identifier, a newer timeline than state-dir records): recopy (create "
	 "the slot, queue a copy of every captured table, stream on) or stop "
	 "(exit non-zero)"},
	{"table", CT_STRING, NULL, false, OFF(snapshot_tables), NULL, 0,
	 "with the snapshot command: schema.table patterns ('*' wildcard, "
	 "comma-separated) that the running sink copies now, while streaming"},
	{"include-tables", CT_STRING, NULL, true, OFF(include_tables), NULL, 0,
	 "comma-separated schema.table patterns to capture ('*' wildcard); "
	 "default all; on SIGHUP streaming restarts with the new selection "
	 "(copy newly included tables with the snapshot command)"},
	{"exclude-tables", CT_STRING, NULL, true, OFF(exclude_tables), NULL, 0,
	 "comma-separated schema.table patterns not to capture"},
	{"mask-columns", CT_STRING, NULL, false, OFF(mask_columns), NULL, 0,
	 "schema.table.column patterns sent as NULL"},
	{"hash-columns", CT_STRING, NULL, false, OFF(hash_columns), NULL, 0,
	 "schema.table.column patterns sent as HMAC-SHA256(salt, value); the "
	 "decoder reads the salt on the source server "
	 "(walstar_decoder.hash_salt_file)"},
	{"hash-salt", CT_SECRET, NULL, false, OFF(hash_salt), NULL, 0,
	 "the source server's hash salt, for hashing the initial copy; only its "
	 "fingerprint (hash-salt-id) is sent, never the salt (secret: never "
	 "logged)"},
	{"hash-salt-file", CT_SECRET_FILE, NULL, false, OFF(hash_salt_file), NULL,
	 0,
	 "file whose first line is hash-salt, instead of writing the salt here "
	 "(mode 0600 or less)",
	 "hash-salt"},
	{"kafka-password-file", CT_SECRET_FILE, NULL, false,
	 OFF(kafka_password_file), NULL, 0,
	 "file whose first line is the Kafka SASL password (librdkafka "
	 "sasl.password), for example a systemd credential, instead of "
	 "[kafka] sasl.password in the config (mode 0600 or less)",
	 "kafka.sasl.password"},
	{"source-id", CT_STRING, NULL, false, OFF(source_id), NULL, 0,
	 "Change.source of every record; default the database name"},
	{"topic-prefix", CT_STRING, "walstar", false, OFF(topic_prefix), NULL, 0,
	 "topics are <prefix>.<schema>.<table>, <prefix>.transactions, "
	 "<prefix>.messages, <prefix>.dead_letters"},
	{"brokers", CT_STRING, NULL, false, OFF(brokers), NULL, 0,
	 "Kafka bootstrap servers, host:port[,host:port]"},
	{"topic-partitions", CT_INT, "-1", false, OFF(topic_partitions), NULL, -1,
	 "partitions of topics the sink creates (-1: broker default); "
	 "<prefix>.transactions always gets 1"},
	{"topic-replication-factor", CT_INT, "-1", false, OFF(topic_replication),
	 NULL, -1, "replication factor of created topics (-1: broker default)"},
	{"kafka-transactions", CT_BOOL, "false", false, OFF(kafka_transactions),
	 NULL, 0,
	 "produce in Kafka transactions, transactional.id "
	 "walstar-sink.<topic-prefix>.<slot> unless [kafka] transactional.id is "
	 "set: a sink that takes the slot over fences the one before it, so two "
	 "sinks configured for one slot never both produce; while the slot is "
	 "active the sink stands by and tries to take it every second"},
	{"transaction-interval", CT_INT, "200", true, OFF(transaction_interval),
	 NULL, 1,
	 "milliseconds between Kafka transaction commits (kafka-transactions); "
	 "only committed positions are confirmed to the slot"},
	{"tombstones", CT_BOOL, "false", false, OFF(tombstones), NULL, 0,
	 "send a null-value message with the key after each DELETE (compacted "
	 "topics)"},
	{"oversize-policy", CT_ENUM, "stop", false, OFF(oversize_policy),
	 oversize_choices, 0,
	 "a message Kafka refuses as too large: stop (exit, confirm nothing "
	 "past it) or dead-letter (describe it in <prefix>.dead_letters)"},
	{"metrics-port", CT_INT, "0", false, OFF(metrics_port), NULL, 0,
	 "serve Prometheus metrics on 127.0.0.1:<port>/metrics; 0 disables"},
	{"status-interval", CT_INT, "10", true, OFF(status_interval), NULL, 1,
	 "seconds between standby status updates (keep below "
	 "wal_sender_timeout)"},
	{"heartbeat-interval", CT_INT, "10", true, OFF(heartbeat_interval), NULL,
	 0,
	 "seconds without a message to a topic after which the sink sends a "
	 "HEARTBEAT record to each of its partitions and to "
	 "<prefix>.transactions, so consumers tell an idle source from a "
	 "stalled pipeline; 0 disables"},
	{"progress-interval", CT_INT, "5", true, OFF(progress_interval), NULL, 1,
	 "seconds between snapshot progress lines"},
	{"startup-timeout", CT_INT, "30", false, OFF(startup_timeout), NULL, 1,
	 "seconds to wait for Kafka at startup before giving up"},
	{"shutdown-timeout", CT_INT, "30", true, OFF(shutdown_timeout), NULL, 0,
	 "seconds to wait for outstanding acknowledgements on SIGTERM"},
	{"reconnect-max-backoff", CT_INT, "30", true, OFF(reconnect_max_backoff),
	 NULL, 1, "seconds, upper bound of the reconnect backoff"},
	{"log-level", CT_ENUM, "info", true, OFF(log_level), level_choices, 0,
	 "debug, info, warning or error"},
	{"log-timestamps", CT_BOOL, "true", true, OFF(log_timestamps), NULL, 0,
	 "start log lines with the UTC time (journald adds its own)"},
};

#define NUM_OPTIONS ((int)(sizeof(options) / sizeof(options[0])))

/* The command line, kept for config_reload. */
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

/*
 * Set one option (or kafka.<property>) from its text form.
 */
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
		case CT_SECRET:
		case CT_SECRET_FILE:
			if (opt->type == CT_SECRET && *(char **)field != NULL)
				OPENSSL_cleanse(*(char **)field, strlen(*(char **)field));
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
	Config *cfg; /* being filled */
	char   *err; /* first error */
	size_t	errlen;
	bool	failed;
} IniContext;

static int
on_ini_line(void *user, const char *section, const char *name,
			const char *value)
{
	IniContext *ctx = user;
	char		msg[512];
	bool		ok;

	if (ctx->failed)
		return 0;
	if (section[0] == '\0')
		ok = config_set(ctx->cfg, name, value, msg, sizeof(msg));
	else if (strcmp(section, "kafka") == 0)
	{
		set_kafka(ctx->cfg, name, value);
		ok = true;
	}
	else
	{
		snprintf(msg, sizeof(msg), "unknown section [%s]", section);
		ok = false;
	}
	if (!ok)
	{
		set_err(ctx->err, ctx->errlen, "%s", msg);
		ctx->failed = true;
		return 0;
	}
	return 1;
}

static bool
read_file(Config *cfg, const char *path, char *err, size_t errlen)
{
	IniContext ctx = {cfg, err, errlen, false};
	char	   msg[512];
	int		   rc;

	msg[0] = '\0';
	ctx.err = msg;
	ctx.errlen = sizeof(msg);
	rc = ini_parse(path, on_ini_line, &ctx);
	if (rc == -1)
	{
		set_err(err, errlen, "cannot open config file '%s': %s", path,
				strerror(errno));
		return false;
	}
	if (rc == -2)
	{
		set_err(err, errlen, "out of memory reading '%s'", path);
		return false;
	}
	if (rc != 0)
	{
		set_err(err, errlen, "config file '%s' line %d: %s", path, rc,
				msg[0] ? msg : "syntax error");
		return false;
	}
	return true;
}

static void
print_help(void)
{
	int i;

	printf("walstar-sink streams a PostgreSQL logical replication slot "
		   "(walstar_decoder)\n"
		   "into Kafka; a position is confirmed only after Kafka "
		   "acknowledged it.\n\n"
		   "Usage: walstar-sink [--config FILE] [--NAME=VALUE ...] [--set "
		   "NAME=VALUE ...]\n"
		   "       walstar-sink snapshot --table SCHEMA.TABLE[,...] [the "
		   "same settings]\n"
		   "                          ask the running sink (same state-dir "
		   "and slot) to\n"
		   "                          copy these tables now, while it "
		   "streams\n\n"
		   "  -c, --config FILE       INI file: NAME = VALUE lines, and a "
		   "[kafka] section\n"
		   "                          passed to librdkafka\n"
		   "  --set NAME=VALUE        set an option, or kafka.PROPERTY=VALUE\n"
		   "  --check-config          validate the settings and exit\n"
		   "  --install-ddl-capture   install the event trigger that sends "
		   "ALTER TABLE\n"
		   "                          through the slot (superuser conninfo), "
		   "and exit\n"
		   "  --remove-ddl-capture    remove it, and exit\n"
		   "  --print-sample-config   print a commented config file and exit\n"
		   "  -h, --help              this help\n"
		   "  -V, --version           print the version and exit\n\n"
		   "Options (file or --NAME=VALUE; * = applied on SIGHUP):\n");
	for (i = 0; i < NUM_OPTIONS; i++)
	{
		const ConfigOption *o = &options[i];

		printf("  %s%s\n", o->name, o->reloadable ? " *" : "");
		printf("      %s", o->help);
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
	printf("\nSignals: SIGTERM/SIGINT flush, confirm and exit 0; SIGHUP "
		   "reloads the * options.\n");
}

static void
print_sample(void)
{
	int i;

	printf("# walstar-sink configuration (INI). Generated by\n"
		   "#   walstar-sink --print-sample-config\n"
		   "# Every option can also be given as --NAME=VALUE or --set "
		   "NAME=VALUE.\n"
		   "# Options marked (reloadable) take effect on SIGHUP.\n\n");
	for (i = 0; i < NUM_OPTIONS; i++)
	{
		const ConfigOption *o = &options[i];

		printf("# %s%s\n", o->help, o->reloadable ? " (reloadable)" : "");
		if (o->type == CT_ENUM)
		{
			int j;

			printf("# one of:");
			for (j = 0; o->choices[j] != NULL; j++)
				printf(" %s", o->choices[j]);
			printf("\n");
		}
		if (strcmp(o->name, "conninfo") == 0)
			printf("%s = host=127.0.0.1 port=5432 dbname=app user=walstar\n\n",
				   o->name);
		else if (strcmp(o->name, "brokers") == 0)
			printf("%s = 127.0.0.1:9092\n\n", o->name);
		else
			printf("#%s = %s\n\n", o->name,
				   o->default_value ? o->default_value : "");
	}
	printf("# librdkafka properties, passed through unchanged (SASL, TLS, "
		   "tuning).\n"
		   "# The sink sets enable.idempotence=true and acks=all; see the "
		   "README for\n"
		   "# the memory bound (queue.buffering.max.messages/kbytes).\n"
		   "[kafka]\n"
		   "#security.protocol = SASL_SSL\n"
		   "#sasl.mechanisms = SCRAM-SHA-512\n"
		   "#sasl.username = walstar\n"
		   "#sasl.password = secret\n"
		   "#queue.buffering.max.messages = 100000\n"
		   "#queue.buffering.max.kbytes = 262144\n");
}

/*
 * Apply the command line to cfg.  file_only: only look for --config.
 * Returns CONFIG_EXIT for --help/--version/..., CONFIG_ERROR on error.
 */
static ConfigResult
apply_args(Config *cfg, int argc, char **argv, bool file_only, bool *check,
		   char *err, size_t errlen)
{
	int i;

	for (i = 1; i < argc; i++)
	{
		const char *arg = argv[i];
		const char *name;
		const char *value;
		char		namebuf[256];
		const char *eq;

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
			printf("walstar-sink %s\n", SINK_VERSION);
			return CONFIG_EXIT;
		}
		if (strcmp(arg, "--print-sample-config") == 0)
		{
			if (!file_only)
				continue;
			print_sample();
			return CONFIG_EXIT;
		}
		if (strcmp(arg, "--install-ddl-capture") == 0 ||
			strcmp(arg, "--remove-ddl-capture") == 0)
		{
			if (!file_only)
				cfg->ddl_capture = arg[2] == 'i' ? 1 : 2;
			continue;
		}
		if (i == 1 && strcmp(arg, "snapshot") == 0)
		{
			cfg->snapshot_command = true;
			continue;
		}
		if (strcmp(arg, "--check-config") == 0)
		{
			if (check)
				*check = true;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0 && strcmp(arg, "-c") != 0)
		{
			set_err(err, errlen, "unexpected argument '%s' (see --help)", arg);
			return CONFIG_ERROR;
		}
		if (strcmp(arg, "-c") == 0)
			name = "config";
		else
			name = arg + 2;
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
			/* still reject unknown options before touching the file */
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

/*
 * The first line of the file path (newline stripped) into *out.  Like ssh
 * and PostgreSQL with their keys, refuse a file others may read.  Errors
 * name the file, never what it holds.
 */
static bool
read_secret_file(const char *name, const char *path, char **out, char *err,
				 size_t errlen)
{
	FILE	   *fp;
	struct stat st;
	char		buf[1024];
	size_t		len = 0;
	bool		ok = false;

	buf[0] = '\0';
	fp = fopen(path, "r");
	if (fp == NULL)
	{
		set_err(err, errlen, "option '%s': cannot open '%s': %s", name, path,
				strerror(errno));
		return false;
	}
	if (fstat(fileno(fp), &st) != 0)
	{
		set_err(err, errlen, "option '%s': cannot stat '%s': %s", name, path,
				strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode))
	{
		set_err(err, errlen, "option '%s': '%s' is not a regular file", name,
				path);
		goto done;
	}
	if ((st.st_uid != 0 && (st.st_mode & (S_IRWXG | S_IRWXO))) ||
		(st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO))))
	{
		set_err(err, errlen,
				"option '%s': '%s' has group or world access (needs mode "
				"0600 or less, or 0640 or less if owned by root)",
				name, path);
		goto done;
	}
	if (fgets(buf, sizeof(buf), fp) == NULL && ferror(fp))
	{
		set_err(err, errlen, "option '%s': cannot read '%s': %s", name, path,
				strerror(errno));
		goto done;
	}
	len = strlen(buf);
	if (len == sizeof(buf) - 1 && buf[len - 1] != '\n')
	{
		set_err(err, errlen,
				"option '%s': first line of '%s' is longer than %d bytes",
				name, path, (int)sizeof(buf) - 2);
		goto done;
	}
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	if (len == 0)
	{
		set_err(err, errlen, "option '%s': first line of '%s' is empty", name,
				path);
		goto done;
	}
	*out = xstrdup(buf);
	ok = true;
done:
	OPENSSL_cleanse(buf, sizeof(buf));
	fclose(fp);
	return ok;
}

/*
 * Fill the secrets given as files (CT_SECRET_FILE); giving both the secret
 * and its file is an error.
 */
static bool
read_secret_files(Config *cfg, char *err, size_t errlen)
{
	int i;

	for (i = 0; i < NUM_OPTIONS; i++)
	{
		const ConfigOption *o = &options[i];
		const ConfigOption *target;
		const char		   *path = *(char **)((char *)cfg + o->offset);
		char			  **secret;

		if (o->type != CT_SECRET_FILE || path == NULL)
			continue;
		if (strncmp(o->secret_of, "kafka.", 6) == 0)
		{
			const char *prop = o->secret_of + 6;
			char	   *value = NULL;
			int			k;

			for (k = 0; k < cfg->nkafka; k++)
			{
				if (strcmp(cfg->kafka[k].name, prop) == 0)
				{
					set_err(err, errlen,
							"options '%s' and '%s' exclude each other",
							o->secret_of, o->name);
					return false;
				}
			}
			if (!read_secret_file(o->name, path, &value, err, errlen))
				return false;
			set_kafka(cfg, prop, value);
			OPENSSL_cleanse(value, strlen(value));
			free(value);
			continue;
		}
		target = find_option(o->secret_of);
		secret = (char **)((char *)cfg + target->offset);
		if (*secret != NULL)
		{
			set_err(err, errlen, "options '%s' and '%s' exclude each other",
					target->name, o->name);
			return false;
		}
		if (!read_secret_file(o->name, path, secret, err, errlen))
			return false;
	}
	return true;
}

static bool
validate(const Config *cfg, char *err, size_t errlen)
{
	const char *p;

	if (cfg->conninfo == NULL)
	{
		set_err(err, errlen, "option 'conninfo' is required");
		return false;
	}
	if (cfg->brokers == NULL)
	{
		bool in_kafka = false;
		int	 i;

		for (i = 0; i < cfg->nkafka; i++)
			in_kafka |= strcmp(cfg->kafka[i].name, "bootstrap.servers") == 0;
		if (!in_kafka)
		{
			set_err(err, errlen, "option 'brokers' is required");
			return false;
		}
	}
	if (cfg->slot == NULL)
	{
		set_err(err, errlen, "option 'slot' must not be empty");
		return false;
	}
	for (p = cfg->slot; *p; p++)
	{
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
			  *p == '_'))
		{
			set_err(err, errlen,
					"option 'slot': '%s' may contain only lower case "
					"letters, digits and underscores",
					cfg->slot);
			return false;
		}
	}
	if (cfg->snapshot_command != (cfg->snapshot_tables != NULL))
	{
		set_err(err, errlen,
				cfg->snapshot_command
					? "the snapshot command needs --table schema.table"
					: "option 'table' belongs to the snapshot command "
					  "(walstar-sink snapshot --table ...)");
		return false;
	}
	if (cfg->topic_prefix == NULL)
	{
		set_err(err, errlen, "option 'topic-prefix' must not be empty");
		return false;
	}
	if (cfg->hash_columns != NULL && cfg->hash_salt == NULL &&
		cfg->snapshot != SNAPSHOT_NEVER)
	{
		set_err(err, errlen,
				"option 'hash-columns' requires 'hash-salt' or "
				"'hash-salt-file' (the source server's salt) to hash the "
				"initial copy");
		return false;
	}
	if (cfg->topic_partitions == 0 || cfg->topic_replication == 0)
	{
		set_err(err, errlen,
				"topic-partitions and topic-replication-factor must be -1 or "
				"positive");
		return false;
	}
	if (cfg->kafka_transactions && cfg->snapshot != SNAPSHOT_NEVER)
	{
		/* the copy runs before the slot is taken over (standby.c) */
		set_err(err, errlen,
				"kafka-transactions needs snapshot = never: create the slot "
				"and run its initial copy once without kafka-transactions");
		return false;
	}
	return true;
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
	if (!read_secret_files(cfg, err, errlen))
		return CONFIG_ERROR;
	if (!validate(cfg, err, errlen))
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
		printf("walstar-sink: configuration is valid\n");
		if (cfg->hash_columns != NULL && cfg->hash_salt != NULL)
		{
			char id[SALT_ID_LEN + 1];

			salt_hmac_id(cfg->hash_salt, id);
			printf("walstar-sink: hash-salt-id %s (the decoder refuses to "
				   "stream if its salt file has another fingerprint)\n",
				   id);
		}
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

		if (o->type == CT_STRING || o->type == CT_SECRET ||
			o->type == CT_SECRET_FILE)
			changed = !same_text(*(char **)oldf, *(char **)newf);
		else if (o->type == CT_BOOL)
			changed = *(bool *)oldf != *(bool *)newf;
		else
			changed = *(int *)oldf != *(int *)newf;
		if (!changed)
			continue;
		if (!o->reloadable)
		{
			log_warning(
				"config",
				"option=%s msg=\"changed in the file; needs a restart, "
				"keeping the running value\"",
				o->name);
			continue;
		}
		if (o->type == CT_STRING || o->type == CT_SECRET ||
			o->type == CT_SECRET_FILE)
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
		if (options[i].type == CT_STRING || options[i].type == CT_SECRET ||
			options[i].type == CT_SECRET_FILE)
		{
			char **f = (char **)((char *)cfg + options[i].offset);

			if (options[i].type == CT_SECRET && *f != NULL)
				OPENSSL_cleanse(*f, strlen(*f));
			free(*f);
			*f = NULL;
		}
	}
	for (i = 0; i < cfg->nkafka; i++)
	{
		free(cfg->kafka[i].name);
		free(cfg->kafka[i].value);
	}
	free(cfg->kafka);
	cfg->kafka = NULL;
	cfg->nkafka = 0;
	free(cfg->config_file);
	cfg->config_file = NULL;
}
