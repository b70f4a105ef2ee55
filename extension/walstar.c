/*-------------------------------------------------------------------------
 *
 * walstar.c
 *		Module entry point of the walstar extension.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "walstar.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
}
