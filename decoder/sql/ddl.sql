-- DDL capture: the event trigger function of walstar_decoder.so writes each
-- ALTER TABLE's column steps into the WAL; the decoder sends them as DDL
-- records (here in json), at their place in the transaction.
\set VERBOSITY terse
SET client_min_messages = warning;

CREATE SCHEMA walstar_ddl;
CREATE FUNCTION walstar_ddl.capture() RETURNS event_trigger
	LANGUAGE c AS 'walstar_decoder', 'walstar_ddl_capture';
CREATE EVENT TRIGGER walstar_ddl_capture ON ddl_command_end
	WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION walstar_ddl.capture();

CREATE TABLE ddl_t (id int PRIMARY KEY, n int, s text, gone text);
CREATE TABLE ddl_skip (id int PRIMARY KEY);
INSERT INTO ddl_t VALUES (1, 1, '5', 'x');
SELECT 'init' FROM pg_create_logical_replication_slot('s_ddl', 'walstar_decoder');

BEGIN;
INSERT INTO ddl_t VALUES (2, 2, '6', 'y');
ALTER TABLE ddl_t ADD COLUMN c_null int, ADD COLUMN c_const text DEFAULT 'd',
	ADD COLUMN c_vol float8 DEFAULT random();
INSERT INTO ddl_t (id, n, s, c_vol) VALUES (3, 3, '7', 0.5);
COMMIT;
ALTER TABLE ddl_t RENAME COLUMN n TO n2;
ALTER TABLE ddl_t ALTER COLUMN s TYPE int USING (s::int + 1000), ALTER COLUMN n2 TYPE bigint;
ALTER TABLE ddl_t ALTER COLUMN c_null SET DEFAULT 4, ALTER COLUMN c_const DROP DEFAULT;
ALTER TABLE ddl_t DROP COLUMN gone;
-- no column changed: no record
ALTER TABLE ddl_t ADD CONSTRAINT n2_positive CHECK (n2 > 0);
-- filtered like the table's rows; temporary and unlogged tables send none
ALTER TABLE ddl_skip ADD COLUMN x int;
CREATE TEMP TABLE ddl_temp (id int);
ALTER TABLE ddl_temp ADD COLUMN x int;
CREATE UNLOGGED TABLE ddl_unlogged (id int);
ALTER TABLE ddl_unlogged ADD COLUMN x int;
-- not a captured DDL: sent as the message it is, with a warning
SELECT 'm' FROM pg_logical_emit_message(true, 'walstar.ddl', 'garbage');
-- a well-formed Ddl forged by any role (pg_logical_emit_message is open to
-- all): "ALTER COLUMN n2 TYPE ... USING NULL" that no ALTER TABLE made is
-- sent as a message, not as a DDL record
CREATE FUNCTION varint(n bigint) RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE b bytea := ''; BEGIN
	LOOP
		IF n < 128 THEN RETURN b || set_byte('\x00'::bytea, 0, n::int); END IF;
		b := b || set_byte('\x00'::bytea, 0, (n % 128 + 128)::int);
		n := n / 128;
	END LOOP;
END $$;
CREATE ROLE ddl_forger;
GRANT EXECUTE ON FUNCTION varint(bigint) TO ddl_forger;
SET ROLE ddl_forger;
SELECT 'm' FROM pg_logical_emit_message(true, 'walstar.ddl',
	'\x120e080410021a026e322a044e554c4c18'::bytea || varint('ddl_t'::regclass::oid::bigint));
RESET ROLE;
SET client_min_messages = error;
-- (the forged bytes hold ddl_t's OID: not shown)
SELECT regexp_replace(data, '"content_bytes":"[^"]*"', '"content_bytes":"..."') AS data
FROM pg_logical_slot_get_changes('s_ddl', NULL, NULL, 'format', 'json',
	'include-columns', 'true', 'exclude-tables', 'public.ddl_skip');
SET client_min_messages = warning;

-- the function is an event trigger only
SELECT walstar_ddl.capture();

DROP EVENT TRIGGER walstar_ddl_capture;
DROP SCHEMA walstar_ddl CASCADE;
SELECT pg_drop_replication_slot('s_ddl');
DROP TABLE ddl_t, ddl_skip, ddl_temp, ddl_unlogged;
DROP FUNCTION varint(bigint);
DROP ROLE ddl_forger;
