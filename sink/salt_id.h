/*-------------------------------------------------------------------------
 *
 * salt_id.h
 *		The fingerprint of the PII hash salt (decoder option hash-salt-id).
 *
 * The sink hashes the rows of its initial copy itself, with its own copy
 * of the salt; the decoder reads the server's salt from a file and never
 * receives it.  The sink sends this fingerprint instead, and the decoder
 * refuses to stream when its salt has another one, so the two never
 * produce hashes that disagree.  The fingerprint reveals nothing usable
 * about the salt: the lower-case hex of the first 8 bytes of
 * HMAC-SHA256(salt, "walstar-salt-id").
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_SALT_ID_H
#define SINK_SALT_ID_H

/* Hex digits of a fingerprint. */
#define SALT_ID_LEN 16

/* Write the fingerprint of salt, NUL-terminated, into out. */
extern void salt_id_compute(const char *salt, char out[SALT_ID_LEN + 1]);

#endif
