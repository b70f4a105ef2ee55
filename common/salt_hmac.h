/*-------------------------------------------------------------------------
 *
 * salt_hmac.h
 *		HMAC-SHA256 keyed with the PII hash salt: hashed column values and
 *		the salt's fingerprint, one implementation (OpenSSL's) for the
 *		decoder and the sink's initial copy, so their hashes are the same
 *		bytes.
 *
 * The fingerprint (decoder option hash-salt-id) is the lower-case hex of
 * the first 8 bytes of HMAC-SHA256(salt, "walstar-salt-id"): the sink sends
 * it instead of the salt, and the decoder refuses to stream when its own
 * salt has another one.  It reveals nothing usable about the salt.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALSTAR_SALT_HMAC_H
#define WALSTAR_SALT_HMAC_H

#include <stdbool.h>
#include <stddef.h>

/* Hex digits of a hashed value (HMAC-SHA256). */
#define SALT_HMAC_HEX_LEN 64

/* Hex digits of a salt fingerprint. */
#define SALT_ID_LEN 16

/*
 * Lower-case hex of HMAC-SHA256(salt, data[0..len)), NUL-terminated, into
 * out.  False only if the crypto library fails (out is then empty).
 */
extern bool salt_hmac_hex(const char *salt, const void *data, size_t len,
						  char out[SALT_HMAC_HEX_LEN + 1]);

/* The salt's fingerprint, NUL-terminated, into out; false as above. */
extern bool salt_hmac_id(const char *salt, char out[SALT_ID_LEN + 1]);

#endif							/* WALSTAR_SALT_HMAC_H */
