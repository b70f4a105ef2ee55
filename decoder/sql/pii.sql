-- mask-columns and hash-columns: raw personal data never leaves the server.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION pgcrypto;
CREATE EXTENSION adminpack;

SELECT 'init' FROM pg_create_logical_replication_slot('s_pii', 'walstar_decoder');
CREATE TABLE customers (email text PRIMARY KEY, name text, phone text, age int, note text);
INSERT INTO customers VALUES ('ann@example.com', 'Ann', '+49 1', 31, 'vip'),
	('bob@example.com', NULL, NULL, NULL, NULL);
UPDATE customers SET age = 32 WHERE email = 'ann@example.com';
UPDATE customers SET email = 'ann@example.org' WHERE email = 'ann@example.com';
DELETE FROM customers WHERE email = 'bob@example.com';

-- the salt never travels in plugin options (server log, pg_stat_activity):
-- refused without echoing the value
SELECT data FROM pg_logical_slot_peek_changes('s_pii', NULL, NULL,
	'format', 'json', 'hash-columns', 'public.customers.email', 'hash-salt', 's3cret');

-- it is the first line of walstar_decoder.hash_salt_file (regress.conf),
-- relative to the data directory
SHOW walstar_decoder.hash_salt_file;
SELECT data FROM pg_logical_slot_peek_changes('s_pii', NULL, NULL,
	'format', 'json', 'hash-columns', 'public.customers.email');
-- a file others can read is refused (COPY creates it with mode 0644)
DO $$
BEGIN
	EXECUTE format('COPY (SELECT %L) TO %L', 's3cret',
				   current_setting('data_directory') || '/pii_hash_salt');
END
$$;
SELECT data FROM pg_logical_slot_peek_changes('s_pii', NULL, NULL,
	'format', 'json', 'hash-columns', 'public.customers.email');
SELECT pg_file_unlink('pii_hash_salt');
-- an empty salt is refused; adminpack writes files with the server's umask (0600)
SELECT pg_file_write('pii_hash_salt', E'\n', false);
SELECT data FROM pg_logical_slot_peek_changes('s_pii', NULL, NULL,
	'format', 'json', 'hash-columns', 'public.customers.email');
SELECT pg_file_unlink('pii_hash_salt');
SELECT pg_file_write('pii_hash_salt', E's3cret\n', false);

SELECT data FROM pg_logical_slot_peek_changes('s_pii', NULL, NULL,
	'format', 'json', 'include-transaction', 'false', 'include-columns', 'true',
	'mask-columns', 'public.customers.phone, public.*.note',
	'hash-columns', 'public.customers.email,public.customers.name,public.customers.age');

-- the hash is HMAC-SHA256(salt, text) in lower-case hex
SELECT d->'new'->>'email' = encode(hmac('ann@example.com', 's3cret', 'sha256'), 'hex') AS email_ok,
	d->'new'->>'age' = encode(hmac('31', 's3cret', 'sha256'), 'hex') AS int_ok,
	d->'key'->>0 = d->'new'->>'email' AS key_is_hashed
FROM (SELECT data::json AS d FROM pg_logical_slot_peek_changes('s_pii', NULL, NULL,
	'format', 'json', 'include-transaction', 'false',
	'hash-columns', 'public.customers.*')) s
WHERE d->>'op' = 'INSERT' AND d->'new'->>'note' IS NOT NULL;

-- hash-salt-id: a client that hashes too (the sink's snapshot) names the
-- fingerprint of its salt, the start of HMAC-SHA256(salt, 'walstar-salt-id')
SELECT count(*) AS records FROM pg_logical_slot_peek_changes('s_pii', NULL, NULL,
	'format', 'json', 'hash-columns', 'public.customers.*',
	'hash-salt-id', substr(encode(hmac('walstar-salt-id', 's3cret', 'sha256'), 'hex'), 1, 16));
SELECT data FROM pg_logical_slot_peek_changes('s_pii', NULL, NULL,
	'format', 'json', 'hash-columns', 'public.customers.*',
	'hash-salt-id', substr(encode(hmac('walstar-salt-id', 'other', 'sha256'), 'hex'), 1, 16));
SELECT data FROM pg_logical_slot_peek_changes('s_pii', NULL, NULL,
	'format', 'json', 'hash-salt-id', 'S3CRET');

-- the file is read whenever decoding starts: a new salt, new hashes
SELECT pg_file_unlink('pii_hash_salt');
SELECT pg_file_write('pii_hash_salt', E'n3w salt\nignored second line\n', false);
SELECT d->'new'->>'email' = encode(hmac('ann@example.com', 'n3w salt', 'sha256'), 'hex') AS new_salt_ok
FROM (SELECT data::json AS d FROM pg_logical_slot_peek_changes('s_pii', NULL, NULL,
	'format', 'json', 'include-transaction', 'false',
	'hash-columns', 'public.customers.*')) s
WHERE d->>'op' = 'INSERT' AND d->'new'->>'note' IS NOT NULL;

-- masking wins over hashing; nothing raw in the protobuf output either
SELECT count(*) AS records,
	bool_and(position('ann@example'::bytea in data) = 0) AS no_raw_email,
	bool_and(position('+49'::bytea in data) = 0) AS no_raw_phone
FROM pg_logical_slot_get_binary_changes('s_pii', NULL, NULL,
	'mask-columns', 'public.customers.*', 'hash-columns', 'public.customers.email');

SELECT 'stop' FROM pg_drop_replication_slot('s_pii');
SELECT pg_file_unlink('pii_hash_salt');
DROP TABLE customers;
DROP EXTENSION adminpack;
DROP EXTENSION pgcrypto;
