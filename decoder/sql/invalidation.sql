-- The relation cache follows renames of what it shows (types, their
-- schemas, the table's schema, domains, enum labels) and is not cleared by
-- catalog changes it does not depend on (a temporary table per transaction).
\set VERBOSITY terse
SET client_min_messages = warning;

SELECT 'init' FROM pg_create_logical_replication_slot('s_inval', 'walstar_decoder');

CREATE SCHEMA inv_types;
CREATE SCHEMA inv_data;
CREATE TYPE inv_types.color AS ENUM ('red', 'green');
CREATE DOMAIN inv_types.code AS text;
CREATE DOMAIN inv_types.code2 AS inv_types.code;
CREATE TYPE inv_types.pt AS (x int, y int);
CREATE TABLE inv_data.t (id int PRIMARY KEY, c inv_types.color, d inv_types.code2,
	p inv_types.pt[]);
CREATE TABLE inv_data.other (id int PRIMARY KEY);

CREATE FUNCTION inv_show() RETURNS SETOF text LANGUAGE sql AS $$
	SELECT data FROM pg_logical_slot_get_changes('s_inval', NULL, NULL,
		'format', 'json', 'include-transaction', 'false', 'include-columns', 'true')
$$;

INSERT INTO inv_data.t VALUES (1, 'red', 'a', ARRAY[ROW(1, 2)::inv_types.pt]);
SELECT * FROM inv_show();

-- unrelated catalog changes in the decoded transactions
BEGIN;
CREATE TEMP TABLE scratch (x int) ON COMMIT DROP;
INSERT INTO inv_data.t VALUES (2, 'green', 'b', NULL);
COMMIT;
BEGIN;
CREATE TYPE inv_types.unused AS ENUM ('x');
INSERT INTO inv_data.other VALUES (1);
INSERT INTO inv_data.t VALUES (3, 'red', 'c', NULL);
COMMIT;
SELECT * FROM inv_show();

-- each rename below changes what the next record says
ALTER TYPE inv_types.color RENAME TO colour;
INSERT INTO inv_data.t VALUES (4, 'red', 'd', NULL);
ALTER TYPE inv_types.colour RENAME VALUE 'red' TO 'crimson';
INSERT INTO inv_data.t VALUES (5, 'crimson', 'e', NULL);
ALTER TYPE inv_types.pt RENAME TO point2;
INSERT INTO inv_data.t VALUES (6, 'green', 'f', NULL);
ALTER SCHEMA inv_types RENAME TO inv_kinds;
INSERT INTO inv_data.t VALUES (7, 'green', 'g', NULL);
ALTER DOMAIN inv_kinds.code2 RENAME TO code3;
INSERT INTO inv_data.t VALUES (8, 'green', 'h', NULL);
ALTER SCHEMA inv_data RENAME TO inv_rows;
INSERT INTO inv_rows.t VALUES (9, 'green', 'i', NULL);
SELECT * FROM inv_show();

SELECT 'stop' FROM pg_drop_replication_slot('s_inval');
