/*-------------------------------------------------------------------------
 *
 * pii.c
 *		Protection of personal data before it leaves the source server.
 *
 * hash-columns values are replaced by HMAC-SHA256(salt, UTF-8 text form
 * of the value) in lower-case hex: equal values give equal hashes, so hashed
 * columns stay joinable downstream, while the raw value never leaves the
 * server.  mask-columns values are sent as NULL (encode_value.c).
 *
 * The salt is read on the source server from the file named by
 * walstar_decoder.hash_salt_file, never taken from the plugin options: those
 * appear in the server log (log_replication_commands) and in
 * pg_stat_activity, and a salt known to a reader of either makes hashes of
 * low-entropy values (emails, phone numbers) reversible.  A client that
 * hashes on its own (the sink's initial copy) proves it uses the same salt
 * with the option hash-salt-id, a fingerprint that reveals nothing about it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/fd.h"

#include "walstar_decoder.h"

/* Longest salt line read, newline included. */
#define SALT_MAX_LEN 1024


/* GUC walstar_decoder.hash_salt_file */
char	   *pii_hash_salt_file = NULL;

static char *salt_file_path(const char *file);
static char *read_salt(const char *path, const char *name);

/*
 * Lower-case hex HMAC-SHA256 of data keyed with salt, palloc'd in the
 * current memory context (common/salt_hmac.c, which the sink's initial
 * copy hashes with too).
 */
char *
pii_hash_hex(const char *salt, const char *data, size_t len)
{
	char	   *result = palloc(SALT_HMAC_HEX_LEN + 1);

	if (!salt_hmac_hex(salt, data, len, result))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute HMAC-SHA256 of a column value")));
	return result;
}

/*
 * The salt's fingerprint (option hash-salt-id), palloc'd.
 */
char *
pii_salt_id(const char *salt)
{
	char	   *id = palloc(SALT_ID_LEN + 1);

	if (!salt_hmac_id(salt, id))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute the fingerprint of the hash salt")));
	return id;
}

/*
 * The absolute path of file (walstar_decoder.hash_salt_file), palloc'd.
 */
static char *
salt_file_path(const char *file)
{
	if (file == NULL || file[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("walstar_decoder.hash_salt_file is empty"),
				 errhint("Set walstar_decoder.hash_salt_file in postgresql.conf to the file holding the hash salt.")));
	if (is_absolute_path(file))
		return pstrdup(file);
	return psprintf("%s/%s", DataDir, file);
}

/*
 * The first line of the salt file at path, newline stripped, palloc'd.  The
 * file must be a regular file no one but its owner can read, as PostgreSQL
 * requires of ssl_key_file.  Errors name the file as configured (name;
 * relative to the data directory, like PostgreSQL's own messages), never
 * its contents.
 */
static char *
read_salt(const char *path, const char *name)
{
	FILE	   *fp;
	struct stat st;
	char		buf[SALT_MAX_LEN + 1];
	size_t		len;
	bool		read_ok;
	char	   *salt;

	fp = AllocateFile(path, "r");
	if (fp == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open hash salt file \"%s\": %m", name),
				 errhint("Write the salt on one line of that file (mode 0600, owned by the database user) or set walstar_decoder.hash_salt_file.")));

	/* check the file opened, not the name: it may have been replaced */
	if (fstat(fileno(fp), &st) != 0)
	{
		int			save_errno = errno;

		FreeFile(fp);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat hash salt file \"%s\": %m", name)));
	}
	if (!S_ISREG(st.st_mode))
	{
		FreeFile(fp);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("hash salt file \"%s\" is not a regular file", name)));
	}
	if (st.st_uid != geteuid() && st.st_uid != 0)
	{
		FreeFile(fp);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("hash salt file \"%s\" must be owned by the database user or root",
						name)));
	}
	if ((st.st_uid == geteuid() && (st.st_mode & (S_IRWXG | S_IRWXO))) ||
		(st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO))))
	{
		FreeFile(fp);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("hash salt file \"%s\" has group or world access", name),
				 errdetail("File must have permissions u=rw (0600) or less if owned by the database user, or permissions u=rw,g=r (0640) or less if owned by root.")));
	}

	read_ok = fgets(buf, sizeof(buf), fp) != NULL;
	if (!read_ok && ferror(fp))
	{
		int			save_errno = errno;

		FreeFile(fp);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read hash salt file \"%s\": %m", name)));
	}
	FreeFile(fp);

	len = read_ok ? strlen(buf) : 0;
	if (len == SALT_MAX_LEN && buf[len - 1] != '\n')
	{
		explicit_bzero(buf, sizeof(buf));
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("first line of hash salt file \"%s\" is longer than %d bytes",
						name, SALT_MAX_LEN - 1)));
	}
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("hash salt file \"%s\" is empty", name),
				 errdetail("The salt is the first line of the file and must not be empty.")));

	salt = pstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return salt;
}

/*
 * Read the server's hash salt, palloc'd in the current memory context.  With
 * expected_id (option hash-salt-id) the salt's fingerprint must match it.
 *
 * A walsender starts the plugin outside a transaction; the file is then
 * tracked by a short one of our own.
 */
char *
pii_load_salt(const char *expected_id)
{
	MemoryContext cxt = CurrentMemoryContext;
	bool		own_xact = !IsTransactionState();
	const char *name = pii_hash_salt_file;
	char	   *salt;

	if (own_xact)
		StartTransactionCommand();
	salt = read_salt(salt_file_path(name), name);
	if (expected_id != NULL)
	{
		char	   *id = pii_salt_id(salt);

		if (strcmp(id, expected_id) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"hash-salt-id\" does not match the hash salt of this server"),
					 errdetail("The salt in file \"%s\" has fingerprint %s, the client expects %s.",
							   name, id, expected_id),
					 errhint("The client hashes with a different salt: give it the salt of file \"%s\".",
							 name)));
	}
	salt = MemoryContextStrdup(cxt, salt);
	if (own_xact)
	{
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
	}
	return salt;
}
