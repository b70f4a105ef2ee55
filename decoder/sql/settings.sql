-- Output-function text does not follow the decoding session's settings, and
-- the session keeps its own settings after decoding.
\set VERBOSITY terse
SET client_min_messages = warning;

SELECT 'init' FROM pg_create_logical_replication_slot('s_settings', 'walstar_decoder');

CREATE EXTENSION pgcrypto;
CREATE EXTENSION adminpack;
CREATE SCHEMA other;
CREATE TYPE dated AS (d date, at timestamptz, n float8);
CREATE TABLE other.settings (id int PRIMARY KEY, dr daterange, tr tstzrange,
	dm datemultirange, tza timestamptz[], da date[], c dated, f8a float8[],
	f4a float4[], ba bytea[], iva interval[], m money, tt timetz, rc regclass,
	pt point, h date);
INSERT INTO other.settings VALUES (1, '[2024-03-10,2024-04-02)',
	'[2024-03-10 01:02:03.5+00,2024-12-01 00:00+00)',
	'{[2024-01-02,2024-01-05),[2024-02-03,2024-02-04)}',
	'{"2024-03-10 01:02:03+00","1999-12-31 23:59:59.999999+00"}',
	'{2024-03-10,2024-12-01}', '(2024-03-02,"2024-03-02 10:00:00+00",0.30000000000000004)',
	'{0.30000000000000004,1e-300}', '{0.1,3.4e38}', '{"\\x00ff","\\x41"}',
	'{"1 year 2 mons -3 days 04:05:06.7","-1 day -00:00:01"}', 1234.56,
	'10:11:12.5+02', 'other.settings', '(0.1,0.30000000000000004)', '2024-03-10');

-- a hostile session: the values above must still come out as ISO, UTC,
-- shortest exact floats, hex bytea and schema-qualified names
SET DateStyle = 'SQL, DMY';
SET IntervalStyle = sql_standard;
SET TimeZone = 'America/Sao_Paulo';
SET extra_float_digits = 0;
SET bytea_output = escape;
SET search_path = other, public;
SELECT data FROM pg_logical_slot_peek_changes('s_settings', NULL, NULL,
	'format', 'json', 'include-transaction', 'false')
WHERE data LIKE '%settings%';

-- hashed text is the fixed-settings text too: HMAC of '2024-03-10', not of '10/03/2024'
SELECT pg_file_write('pii_hash_salt', E'salt\n', false);
SELECT data::json->'new'->>'h' = encode(hmac('2024-03-10', 'salt', 'sha256'), 'hex') AS iso_hashed,
	data::json->'new'->>'c' = encode(hmac('(2024-03-02,"2024-03-02 10:00:00+00",0.30000000000000004)',
		'salt', 'sha256'), 'hex') AS composite_hashed
FROM pg_logical_slot_peek_changes('s_settings', NULL, NULL, 'format', 'json',
	'include-transaction', 'false', 'hash-columns', 'other.settings.h,other.settings.c')
WHERE data LIKE '%settings%';
SELECT pg_file_unlink('pii_hash_salt');

-- decoding left the session's own settings in place
SHOW DateStyle;
SHOW IntervalStyle;
SHOW TimeZone;
SHOW extra_float_digits;
SHOW bytea_output;
SHOW search_path;
SELECT '2024-03-10'::date AS session_date, '1 day 2 hours'::interval AS session_interval;

-- the same in a transaction block (decoding then runs in a subtransaction)
BEGIN;
SET LOCAL DateStyle = 'German';
SELECT count(*) FROM pg_logical_slot_peek_changes('s_settings', NULL, NULL, 'format', 'json');
SHOW DateStyle;
COMMIT;
SHOW DateStyle;

RESET ALL;
SELECT 'stop' FROM pg_drop_replication_slot('s_settings');
DROP TABLE other.settings;
DROP TYPE dated;
DROP SCHEMA other;
DROP EXTENSION adminpack;
DROP EXTENSION pgcrypto;
