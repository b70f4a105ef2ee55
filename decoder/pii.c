/*-------------------------------------------------------------------------
 *
 * pii.c
 *		Protection of personal data before it leaves the source server.
 *
 * hash-columns values are replaced by HMAC-SHA256(hash-salt, UTF-8 text
 * form of the value) in lower-case hex: equal values give equal hashes, so
 * hashed columns stay joinable downstream, while the raw value never leaves
 * the server.  mask-columns values are sent as NULL (encode_value.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "utils/resowner.h"

#include "walstar_decoder.h"

/*
 * Lower-case hex HMAC-SHA256 of data keyed with salt, palloc'd in the
 * current memory context.
 */
char *
pii_hash_hex(const char *salt, const char *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	pg_hmac_ctx *hmac;
	char	   *result;
	int			i;

	/*
	 * The OpenSSL implementation registers the context with the current
	 * resource owner; decoding callbacks run inside a transaction, so one
	 * exists, but never crash if that ever changes.
	 */
	if (CurrentResourceOwner == NULL)
		elog(ERROR, "walstar_decoder: no resource owner to hash a column value");

	hmac = pg_hmac_create(PG_SHA256);
	if (hmac == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (pg_hmac_init(hmac, (const uint8 *) salt, strlen(salt)) < 0 ||
		pg_hmac_update(hmac, (const uint8 *) data, len) < 0 ||
		pg_hmac_final(hmac, digest, sizeof(digest)) < 0)
	{
		const char *reason = pg_hmac_error(hmac);

		pg_hmac_free(hmac);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute HMAC-SHA256 of a column value: %s",
						reason)));
	}
	pg_hmac_free(hmac);

	result = palloc(PG_SHA256_DIGEST_LENGTH * 2 + 1);
	for (i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
	{
		result[i * 2] = hex[digest[i] >> 4];
		result[i * 2 + 1] = hex[digest[i] & 0x0f];
	}
	result[PG_SHA256_DIGEST_LENGTH * 2] = '\0';
	return result;
}
