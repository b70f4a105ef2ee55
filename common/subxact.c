/*-------------------------------------------------------------------------
 *
 * subxact.c
 *		Internal subtransactions that turn an error into text.
 *
 * Used where one failure must not take the surrounding work with it: a
 * table batch of the apply worker (a dead letter instead), a landing
 * column conversion (widened to text instead), the source's DDL capture
 * (the user's ALTER TABLE goes on).  Interrupts are not failures of the
 * work: they go on up; nor is a deadlock, which another session had a part in
 * (two apply workers): the whole transaction has to go.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "subxact.h"

char *
subxact_try(void (*fn) (void *arg), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorContextCallback *errstack = error_context_stack;
	char	   *volatile error = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		error_context_stack = errstack;
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
			edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN ||
			edata->sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED)
			ReThrowError(edata);
		error = edata->detail
			? psprintf("%s (%s)", edata->message, edata->detail)
			: pstrdup(edata->message);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	error_context_stack = errstack;
	return error;
}
