/*-------------------------------------------------------------------------
 *
 * change_op.c
 *		Op names from the generated enum descriptor, so that every part
 *		(the decoder's json format, the sink's logs and dead-letter headers,
 *		the extension's messages and walstar.decode()) names an op alike.
 *
 * Plain C: built into the sink as well as the PostgreSQL modules.
 *
 *-------------------------------------------------------------------------
 */
#include <stddef.h>

#include "walstar.pb-c.h"

#include "change_op.h"

const char *
change_op_name(int op)
{
	const ProtobufCEnumValue *ev =
		protobuf_c_enum_descriptor_get_value(&walstar__v1__op__descriptor, op);

	return ev != NULL ? ev->name : "UNKNOWN";
}
