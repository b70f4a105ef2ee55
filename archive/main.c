/*-------------------------------------------------------------------------
 *
 * main.c
 *		walstar-archive: arguments, signals and the commands.
 *
 * Signal handlers only set flags; librdkafka's, libcurl's and
 * libmicrohttpd's threads start with every signal blocked.
 *
 *-------------------------------------------------------------------------
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "archiver.h"
#include "config.h"
#include "dead_letters.h"
#include "log.h"
#include "metrics.h"
#include "replay.h"

static volatile sig_atomic_t stop_requested = 0;
static volatile sig_atomic_t reload_requested = 0;

static void
handle_stop(int sig)
{
	stop_requested = 1;
}

static void
handle_reload(int sig)
{
	reload_requested = 1;
}

static void
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = handle_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = handle_reload;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

int
main(int argc, char **argv)
{
	Config		 cfg;
	char		 err[1024];
	ConfigResult r;
	int			 rc;

	r = config_load(argc, argv, &cfg, err, sizeof(err));
	if (r == CONFIG_EXIT)
	{
		config_free(&cfg);
		return 0;
	}
	if (r == CONFIG_ERROR)
	{
		log_error("config", "msg=%s", LOG_Q(err));
		config_free(&cfg);
		return 2;
	}
	log_set_level((LogLevel)cfg.log_level);
	log_set_timestamps(cfg.log_timestamps);
	install_signals();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (cfg.metrics_port > 0 && cfg.command == COMMAND_RUN &&
		!metrics_start(cfg.metrics_port, err, sizeof(err)))
	{
		log_error("metrics", "msg=%s", LOG_Q(err));
		config_free(&cfg);
		return 1;
	}
	switch (cfg.command)
	{
		case COMMAND_REPLAY:
			rc = replay_run(&cfg, &stop_requested);
			break;
		case COMMAND_EXPIRE:
			rc = expire_run(&cfg);
			break;
		case COMMAND_STATUS:
			rc = archiver_status(&cfg);
			break;
		case COMMAND_DEAD_LETTERS:
			rc = dead_letters_export(&cfg);
			break;
		default:
			rc = archiver_run(&cfg, &stop_requested, &reload_requested);
			break;
	}
	metrics_stop();
	curl_global_cleanup();
	config_free(&cfg);
	return rc;
}
