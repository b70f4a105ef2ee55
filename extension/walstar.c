/*-------------------------------------------------------------------------
 *
 * walstar.c
 *		Module entry point of the walstar extension: GUCs and, when
 *		preloaded, the launcher.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "compat.h"
#include "walstar.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(walstar_launcher_running);
PG_FUNCTION_INFO_V1(walstar_caller);

void		_PG_init(void);

/* loaded through shared_preload_libraries: the launcher runs */
bool		walstar_preloaded = false;

/* seconds between the launcher's looks for new databases */
int			walstar_launcher_naptime = 5;

void
_PG_init(void)
{
	DefineCustomIntVariable("walstar.launcher_naptime",
							"Seconds between the walstar launcher's checks for databases.",
							NULL,
							&walstar_launcher_naptime,
							5, 1, 3600,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	RESERVE_GUC_PREFIX("walstar");

	if (!process_shared_preload_libraries_in_progress)
		return;
	walstar_preloaded = true;
	launcher_register();
	launcher_drop_database_hook_install();
}

/* walstar.launcher_running(): whether the launcher starts the workers */
Datum
walstar_launcher_running(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(walstar_preloaded);
}

/*
 * walstar._caller(): the role that called, also inside a SECURITY DEFINER
 * function (the outer user ID, which only SET ROLE and SET SESSION
 * AUTHORIZATION change): the owner of a subscription it creates.
 */
Datum
walstar_caller(PG_FUNCTION_ARGS)
{
	PG_RETURN_OID(GetOuterUserId());
}
