-- Old values and keys for each replica identity.
\set VERBOSITY terse
SET client_min_messages = warning;

SELECT 'init' FROM pg_create_logical_replication_slot('s_ident', 'walstar_decoder');

CREATE TABLE r_default (a int, b int, c text, PRIMARY KEY (b, a));
CREATE TABLE r_nopk (a int, c text);
CREATE TABLE r_index (a int NOT NULL, b int NOT NULL, c text, PRIMARY KEY (a));
CREATE UNIQUE INDEX r_index_b ON r_index (b);
ALTER TABLE r_index REPLICA IDENTITY USING INDEX r_index_b;
CREATE TABLE r_full (a int PRIMARY KEY, c text);
ALTER TABLE r_full REPLICA IDENTITY FULL;
CREATE TABLE r_full_nopk (a int, c text);
ALTER TABLE r_full_nopk REPLICA IDENTITY FULL;
CREATE TABLE r_nothing (a int PRIMARY KEY, c text);
ALTER TABLE r_nothing REPLICA IDENTITY NOTHING;

INSERT INTO r_default VALUES (1, 10, 'x');
UPDATE r_default SET c = 'y';               -- key unchanged: no old values
UPDATE r_default SET a = 2;                 -- key changed: old key
DELETE FROM r_default;

INSERT INTO r_nopk VALUES (1, 'x');
UPDATE r_nopk SET c = 'y';
DELETE FROM r_nopk;

INSERT INTO r_index VALUES (1, 10, 'x');
UPDATE r_index SET c = 'y';
UPDATE r_index SET b = 20;                  -- identity changed
UPDATE r_index SET a = 5;                   -- primary key changed, identity not
DELETE FROM r_index;

INSERT INTO r_full VALUES (1, 'x');
UPDATE r_full SET c = 'y';
UPDATE r_full SET a = 2;
DELETE FROM r_full;

INSERT INTO r_full_nopk VALUES (1, NULL);
UPDATE r_full_nopk SET c = 'y';
DELETE FROM r_full_nopk;

INSERT INTO r_nothing VALUES (1, 'x');
UPDATE r_nothing SET a = 2;
DELETE FROM r_nothing;

SELECT data FROM pg_logical_slot_get_changes('s_ident', NULL, NULL,
	'format', 'json', 'include-transaction', 'false');

-- is_key follows the identity
INSERT INTO r_index VALUES (1, 10, 'x');
INSERT INTO r_full_nopk VALUES (1, 'x');
SELECT data::json->>'table' AS tab, data::json->'columns' AS columns
FROM pg_logical_slot_get_changes('s_ident', NULL, NULL,
	'format', 'json', 'include-transaction', 'false', 'include-columns', 'true');

-- DDL between changes: the relation cache follows
ALTER TABLE r_default ADD COLUMN d int DEFAULT 7;
INSERT INTO r_default VALUES (1, 1, 'a');
ALTER TABLE r_default DROP COLUMN c;
ALTER TABLE r_default RENAME TO r_renamed;
INSERT INTO r_renamed VALUES (2, 2, 3);
ALTER TABLE r_renamed DROP CONSTRAINT r_default_pkey;
ALTER TABLE r_renamed ADD PRIMARY KEY (a);
UPDATE r_renamed SET a = 3 WHERE a = 2;
SELECT data FROM pg_logical_slot_get_changes('s_ident', NULL, NULL,
	'format', 'json', 'include-transaction', 'false');

-- DDL inside the transaction that changes the rows
BEGIN;
INSERT INTO r_renamed VALUES (10, 10, 10);
ALTER TABLE r_renamed ADD COLUMN e text DEFAULT 'e';
INSERT INTO r_renamed VALUES (11, 11, 11, 'x');
ALTER TABLE r_renamed DROP COLUMN d;
UPDATE r_renamed SET e = 'y' WHERE a = 10;
ALTER TABLE r_renamed REPLICA IDENTITY FULL;
DELETE FROM r_renamed WHERE a = 11;
COMMIT;
SELECT data FROM pg_logical_slot_get_changes('s_ident', NULL, NULL,
	'format', 'json', 'include-transaction', 'false');

-- partitions report the leaf relation
CREATE TABLE parted (k int PRIMARY KEY, v text) PARTITION BY RANGE (k);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (100);
CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (100) TO (200);
INSERT INTO parted VALUES (1, 'a'), (150, 'b');
UPDATE parted SET k = 101 WHERE k = 1;      -- moves between partitions
SELECT data FROM pg_logical_slot_get_changes('s_ident', NULL, NULL,
	'format', 'json', 'include-transaction', 'false');

SELECT 'stop' FROM pg_drop_replication_slot('s_ident');
DROP TABLE r_renamed, r_nopk, r_index, r_full, r_full_nopk, r_nothing, parted;
