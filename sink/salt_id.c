/*-------------------------------------------------------------------------
 *
 * salt_id.c
 *		Fingerprint of the PII hash salt (see salt_id.h).
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "salt_id.h"

/* HMAC-SHA256(salt, this) is the fingerprint, truncated. */
#define SALT_ID_INPUT "walstar-salt-id"

void
salt_id_compute(const char *salt, char out[SALT_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	  digest[EVP_MAX_MD_SIZE];
	unsigned int	  dlen = 0;
	int				  i;

	HMAC(EVP_sha256(), salt, (int)strlen(salt),
		 (const unsigned char *)SALT_ID_INPUT, strlen(SALT_ID_INPUT), digest,
		 &dlen);
	for (i = 0; i < SALT_ID_LEN / 2; i++)
	{
		out[i * 2] = hex[digest[i] >> 4];
		out[i * 2 + 1] = hex[digest[i] & 15];
	}
	out[SALT_ID_LEN] = '\0';
	OPENSSL_cleanse(digest, sizeof(digest));
}
