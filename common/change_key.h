/*-------------------------------------------------------------------------
 *
 * change_key.h
 *		Change.key, the Kafka message key of a row: a walstar.v1.Key of the
 *		row's key values in key order, packed one way by every writer.
 *
 * The key decides the partition, so a row's READ records (the sink's
 * initial copy) and its streamed records (the decoder) must carry the same
 * bytes: both pack through here, byte for byte as protobuf-c would.  Readers (walstar.decode(), the sink's
 * logs) unpack through here too.  Plain C: built into the sink as well as
 * the PostgreSQL modules.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALSTAR_CHANGE_KEY_H
#define WALSTAR_CHANGE_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "walstar.pb-c.h"

/* Bytes change_key_pack writes for these n key values. */
extern size_t change_key_size(Walstar__V1__Value **values, size_t n);

/* Write the key of these n values into out (change_key_size bytes). */
extern size_t change_key_pack(Walstar__V1__Value **values, size_t n,
							  uint8_t *out);

/*
 * Read a key; NULL if the bytes are not one.  The result is malloc'd by
 * protobuf-c: give it back with change_key_free.
 */
extern Walstar__V1__Key *change_key_unpack(const uint8_t *data, size_t len);
extern void change_key_free(Walstar__V1__Key *key);

#endif							/* WALSTAR_CHANGE_KEY_H */
