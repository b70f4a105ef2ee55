/*-------------------------------------------------------------------------
 *
 * prefix_check.h
 *		Warn when another source already writes under the default topic
 *		prefix.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_PREFIX_CHECK_H
#define SINK_PREFIX_CHECK_H

#include "config.h"

/*
 * With the default topic-prefix, read the last records of
 * <prefix>.transactions and log a warning when one comes from another
 * source (Change.source, Change.system_id) than source/system_id (decimal).
 * Best effort: a topic that does not exist yet or a broker that does not
 * answer in time says nothing.
 */
extern void prefix_check_warn(const Config *cfg, const char *source,
							  const char *system_id);

#endif
