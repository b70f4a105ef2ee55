-- include-tables / exclude-tables patterns.
\set VERBOSITY terse
SET client_min_messages = warning;

CREATE SCHEMA app;
CREATE SCHEMA audit;
CREATE TABLE app.users (id int PRIMARY KEY);
CREATE TABLE app.user_roles (id int PRIMARY KEY);
CREATE TABLE app.orders (id int PRIMARY KEY);
CREATE TABLE audit.log (id int PRIMARY KEY);
CREATE TABLE public."odd.name" (id int PRIMARY KEY);

SELECT 'init' FROM pg_create_logical_replication_slot('s_filt', 'walstar_decoder');

BEGIN;
INSERT INTO app.users VALUES (1);
INSERT INTO app.user_roles VALUES (1);
INSERT INTO app.orders VALUES (1);
INSERT INTO audit.log VALUES (1);
INSERT INTO public."odd.name" VALUES (1);
COMMIT;

CREATE FUNCTION tables_sent(VARIADIC opts text[]) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg((data::json->>'schema') || '.' || (data::json->>'table'), ', ')
	FROM pg_logical_slot_peek_changes('s_filt', NULL, NULL,
		VARIADIC array['format', 'json', 'include-transaction', 'false'] || opts)
$$;

SELECT tables_sent('include-tables', 'app.*');
SELECT tables_sent('include-tables', 'app.user*, audit.log');
SELECT tables_sent('exclude-tables', 'app.user*');
SELECT tables_sent('include-tables', '*.*', 'exclude-tables', 'audit.*,app.orders');
SELECT tables_sent('include-tables', 'public.odd\.name');
SELECT tables_sent('include-tables', 'nomatch.*');
SELECT tables_sent('include-tables', '*.*s');

-- COMMIT counts only what was sent
SELECT data FROM pg_logical_slot_peek_changes('s_filt', NULL, NULL,
	'format', 'json', 'include-tables', 'app.users, audit.log')
WHERE data::json->>'op' = 'COMMIT';

SELECT 'stop' FROM pg_drop_replication_slot('s_filt');
DROP FUNCTION tables_sent(text[]);
DROP SCHEMA app, audit CASCADE;
DROP TABLE public."odd.name";
