-- TRUNCATE: one record per relation, every relation listed, flags.
\set VERBOSITY terse
SET client_min_messages = warning;

SELECT 'init' FROM pg_create_logical_replication_slot('s_trunc', 'walstar_decoder');

CREATE TABLE t_parent (id serial PRIMARY KEY);
CREATE TABLE t_child (id int PRIMARY KEY, p int REFERENCES t_parent);
CREATE TABLE t_solo (id int);
INSERT INTO t_parent DEFAULT VALUES;
INSERT INTO t_child VALUES (1, 1);

TRUNCATE t_solo;
TRUNCATE t_parent CASCADE;
TRUNCATE t_parent, t_solo RESTART IDENTITY;
BEGIN;
INSERT INTO t_solo VALUES (1);
TRUNCATE t_solo;
INSERT INTO t_solo VALUES (2);
COMMIT;

SELECT data FROM pg_logical_slot_get_changes('s_trunc', NULL, NULL, 'format', 'json');

-- filtered relations are listed but get no record
TRUNCATE t_parent, t_child, t_solo;
SELECT data FROM pg_logical_slot_get_changes('s_trunc', NULL, NULL, 'format', 'json',
	'exclude-tables', 'public.t_child', 'include-transaction', 'false');
TRUNCATE t_child;
SELECT data FROM pg_logical_slot_get_changes('s_trunc', NULL, NULL, 'format', 'json',
	'exclude-tables', 'public.t_child');

SELECT 'stop' FROM pg_drop_replication_slot('s_trunc');
DROP TABLE t_child, t_parent, t_solo;
