/*-------------------------------------------------------------------------
 *
 * option_values.c
 *		The text of walstar_decoder's option values, without the server:
 *		formats and salt fingerprints.  Name patterns are parsed by
 *		common/name_pattern.c, which the sink's initial copy shares.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "option_values.h"

bool
option_values_format(const char *text, bool *json)
{
	if (strcmp(text, "protobuf") == 0)
		*json = false;
	else if (strcmp(text, "json") == 0)
		*json = true;
	else
		return false;
	return true;
}

bool
option_values_salt_id(const char *text)
{
	return strlen(text) == SALT_ID_LEN &&
		strspn(text, "0123456789abcdef") == SALT_ID_LEN;
}
