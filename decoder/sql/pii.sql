-- mask-columns and hash-columns: raw personal data never leaves the server.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION pgcrypto;

SELECT 'init' FROM pg_create_logical_replication_slot('s_pii', 'walstar_decoder');
CREATE TABLE customers (email text PRIMARY KEY, name text, phone text, age int, note text);
INSERT INTO customers VALUES ('ann@example.com', 'Ann', '+49 1', 31, 'vip'),
	('bob@example.com', NULL, NULL, NULL, NULL);
UPDATE customers SET age = 32 WHERE email = 'ann@example.com';
UPDATE customers SET email = 'ann@example.org' WHERE email = 'ann@example.com';
DELETE FROM customers WHERE email = 'bob@example.com';

SELECT data FROM pg_logical_slot_peek_changes('s_pii', NULL, NULL,
	'format', 'json', 'include-transaction', 'false', 'include-columns', 'true',
	'mask-columns', 'public.customers.phone, public.*.note',
	'hash-columns', 'public.customers.email,public.customers.name,public.customers.age',
	'hash-salt', 's3cret');

-- the hash is HMAC-SHA256(salt, text) in lower-case hex
SELECT d->'new'->>'email' = encode(hmac('ann@example.com', 's3cret', 'sha256'), 'hex') AS email_ok,
	d->'new'->>'age' = encode(hmac('31', 's3cret', 'sha256'), 'hex') AS int_ok,
	d->'key'->>0 = d->'new'->>'email' AS key_is_hashed
FROM (SELECT data::json AS d FROM pg_logical_slot_peek_changes('s_pii', NULL, NULL,
	'format', 'json', 'include-transaction', 'false',
	'hash-columns', 'public.customers.*', 'hash-salt', 's3cret')) s
WHERE d->>'op' = 'INSERT' AND d->'new'->>'note' IS NOT NULL;

-- masking wins over hashing; nothing raw in the protobuf output either
SELECT count(*) AS records,
	bool_and(position('ann@example'::bytea in data) = 0) AS no_raw_email,
	bool_and(position('+49'::bytea in data) = 0) AS no_raw_phone
FROM pg_logical_slot_get_binary_changes('s_pii', NULL, NULL,
	'mask-columns', 'public.customers.*', 'hash-columns', 'public.customers.email',
	'hash-salt', 'x');

SELECT 'stop' FROM pg_drop_replication_slot('s_pii');
DROP TABLE customers;
DROP EXTENSION pgcrypto;
