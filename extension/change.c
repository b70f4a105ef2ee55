/*-------------------------------------------------------------------------
 *
 * change.c
 *		Reading walstar.v1.Change messages: unpack and validate.
 *
 * Messages come from outside (a Kafka topic anyone may write to), so
 * unpacking never throws: it returns NULL and a readable reason that the
 * caller reports or stores in walstar.dead_letters. protobuf-c allocates
 * through palloc in the caller's memory context, so an unpacked message is
 * freed with that context.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "change_check.h"
#include "walstar.h"

static void *pb_alloc(void *data, size_t size);
static void pb_free(void *data, void *ptr);

static ProtobufCAllocator pb_allocator = {pb_alloc, pb_free, NULL};

static void *
pb_alloc(void *data, size_t size)
{
	/* NULL makes protobuf-c fail the unpack instead of us throwing. */
	return MemoryContextAllocExtended(CurrentMemoryContext, size,
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

static void
pb_free(void *data, void *ptr)
{
	if (ptr)
		pfree(ptr);
}

/*
 * Unpack and validate one message (every invariant of change_check.c). On
 * failure returns NULL and sets *error to a reason naming the invariant.
 */
Change *
change_unpack(const char *data, size_t len, char **error)
{
	Change	   *c;
	const char *problem;
	char		reason[CHANGE_CHECK_REASON_MAX];

	*error = NULL;
	if (len == 0)
	{
		*error = pstrdup("empty message");
		return NULL;
	}
	c = walstar__v1__change__unpack(&pb_allocator, len, (const uint8_t *) data);
	if (c == NULL)
	{
		*error = psprintf("not a walstar.v1.Change protobuf message (%zu bytes)", len);
		return NULL;
	}
	problem = change_check(c, reason);
	if (problem)
	{
		*error = pstrdup(problem);
		return NULL;
	}
	return c;
}

bool
change_is_row_change(const Change *c)
{
	return c->op == WALSTAR__V1__OP__INSERT ||
		c->op == WALSTAR__V1__OP__UPDATE ||
		c->op == WALSTAR__V1__OP__DELETE ||
		c->op == WALSTAR__V1__OP__READ;
}
