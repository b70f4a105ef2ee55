/*-------------------------------------------------------------------------
 *
 * model_source.h
 *		Landing tables that models read (model_source.c): one round per
 *		table batch, and the version history the apply worker writes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALSTAR_MODEL_SOURCE_H
#define WALSTAR_MODEL_SOURCE_H

#include "batch.h"

extern bool model_source_lookup(const char *schema, const char *relname,
								char **history);
extern void model_source_write_versions(const char *schema, const char *qualified,
										TableBatch *tb, char **types);
extern void model_source_begin_apply(const char *schema, TableBatch *tb);
extern void model_source_end_apply(void);

#endif							/* WALSTAR_MODEL_SOURCE_H */
