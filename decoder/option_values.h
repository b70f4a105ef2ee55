/*-------------------------------------------------------------------------
 *
 * option_values.h
 *		The text of walstar_decoder's option values: formats and salt
 *		fingerprints (name patterns: common/name_pattern.h).
 *
 * Plain C without the server (no palloc, no ereport), so that a fuzz
 * target links it alone.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OPTION_VALUES_H
#define OPTION_VALUES_H

#include <stdbool.h>

#include "name_pattern.h"
#include "salt_hmac.h"

/* "protobuf" -> false, "json" -> true; false when neither. */
extern bool option_values_format(const char *text, bool *json);

/* Whether text is a salt fingerprint: SALT_ID_LEN lower-case hex digits. */
extern bool option_values_salt_id(const char *text);

#endif							/* OPTION_VALUES_H */
