/*-------------------------------------------------------------------------
 *
 * ddl_capture.h
 *		walstar-sink --install-ddl-capture / --remove-ddl-capture: the
 *		source database's event trigger that captures ALTER TABLE.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_DDL_CAPTURE_H
#define SINK_DDL_CAPTURE_H

#include <stdbool.h>

#include "config.h"

/*
 * Install (or remove) DDL capture in the database of cfg->conninfo, in one
 * transaction; prints what was done.  Returns the exit status.
 */
extern int ddl_capture_run(const Config *cfg, bool install);

#endif
