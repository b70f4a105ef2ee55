-- Transactions, row changes and the json rendering of walstar.v1.Change.
\set VERBOSITY terse
SET client_min_messages = warning;

SELECT 'init' FROM pg_create_logical_replication_slot('s_basic', 'walstar_decoder');

CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2), active bool);
INSERT INTO items VALUES (1, 'apple', 1.50, true), (2, 'pear', NULL, false);
BEGIN;
UPDATE items SET price = 2.25 WHERE id = 1;
DELETE FROM items WHERE id = 2;
COMMIT;
UPDATE items SET id = 10 WHERE id = 1;

SELECT data FROM pg_logical_slot_get_changes('s_basic', NULL, NULL, 'format', 'json');

-- column descriptions
INSERT INTO items VALUES (3, 'plum', 0.99, NULL);
SELECT data FROM pg_logical_slot_get_changes('s_basic', NULL, NULL,
	'format', 'json', 'include-columns', 'true', 'include-transaction', 'false');

-- source-id
INSERT INTO items VALUES (4, 'fig', 3, true);
SELECT data FROM pg_logical_slot_get_changes('s_basic', NULL, NULL,
	'format', 'json', 'source-id', 'shop-db', 'include-transaction', 'false');

-- transactions whose changes are all filtered leave no json trace
CREATE TABLE other (a int);
INSERT INTO other VALUES (1);
SELECT data FROM pg_logical_slot_get_changes('s_basic', NULL, NULL,
	'format', 'json', 'exclude-tables', 'public.other');

-- protobuf (default) is binary: the text interface refuses it
SELECT data FROM pg_logical_slot_peek_changes('s_basic', NULL, NULL);
-- one binary record per BEGIN, change and COMMIT
INSERT INTO items VALUES (5, 'kiwi', 1, true), (6, 'lime', 2, false);
SELECT count(*), bool_and(length(data) > 0) FROM pg_logical_slot_get_binary_changes('s_basic', NULL, NULL);
-- empty transactions still give BEGIN and COMMIT in protobuf
INSERT INTO other VALUES (2);
SELECT count(*) FROM pg_logical_slot_get_binary_changes('s_basic', NULL, NULL, 'exclude-tables', 'public.other');

SELECT 'stop' FROM pg_drop_replication_slot('s_basic');
DROP TABLE items, other;
