/*-------------------------------------------------------------------------
 *
 * salt_hmac.c
 *		HMAC-SHA256 with the PII hash salt (see salt_hmac.h).
 *
 * OpenSSL's one-shot HMAC(): the sink links libcrypto anyway, and the
 * decoder can link it without PostgreSQL's pg_hmac, whose OpenSSL flavour
 * needs a resource owner.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "salt_hmac.h"

/* HMAC-SHA256(salt, this) gives the salt's fingerprint. */
#define SALT_ID_INPUT "walstar-salt-id"

bool
salt_hmac_hex(const char *salt, const void *data, size_t len,
			  char out[SALT_HMAC_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	unsigned int i;

	out[0] = '\0';
	if (HMAC(EVP_sha256(), salt, (int) strlen(salt),
			 (const unsigned char *) data, len, digest, &dlen) == NULL ||
		dlen * 2 != SALT_HMAC_HEX_LEN)
		return false;
	for (i = 0; i < dlen; i++)
	{
		out[i * 2] = hex[digest[i] >> 4];
		out[i * 2 + 1] = hex[digest[i] & 0x0f];
	}
	out[SALT_HMAC_HEX_LEN] = '\0';
	OPENSSL_cleanse(digest, sizeof(digest));
	return true;
}

bool
salt_hmac_id(const char *salt, char out[SALT_ID_LEN + 1])
{
	char		full[SALT_HMAC_HEX_LEN + 1];

	if (!salt_hmac_hex(salt, SALT_ID_INPUT, strlen(SALT_ID_INPUT), full))
	{
		out[0] = '\0';
		return false;
	}
	memcpy(out, full, SALT_ID_LEN);
	out[SALT_ID_LEN] = '\0';
	return true;
}
