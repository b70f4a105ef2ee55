-- Applying real messages (made by walstar_decoder in this instance) into
-- landing tables, through walstar.retry_dead_letter(): the same code as the
-- worker's one-by-one path, without Kafka.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS walstar;
SELECT walstar.create_subscription('apply', '127.0.0.1:1', topic_pattern => '^walstar\.',
	landing_schema => 'landing');

SELECT 'init' FROM pg_create_logical_replication_slot('s_apply', 'walstar_decoder');
CREATE SCHEMA shop;
CREATE TABLE fruit (id int PRIMARY KEY, name text, price numeric(10,2), big text,
	seen timestamptz, tag uuid, blob bytea);
CREATE TABLE shop."Odd ""Name""; drop" ("k 1" int, "K2" text, "v;" text, PRIMARY KEY ("k 1", "K2"));
CREATE TABLE log (at int, what text);
ALTER TABLE log REPLICA IDENTITY FULL;

INSERT INTO fruit VALUES (1, 'apple', 1.50, (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 500) g),
	'2024-05-01 12:00:00.5+02', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x00ff');
INSERT INTO fruit VALUES (2, 'pear', NULL, 'small', NULL, NULL, NULL), (3, 'plum', 3, 'x', NULL, NULL, NULL);
-- unchanged TOAST: big is not sent and must keep its value
UPDATE fruit SET price = 9.99 WHERE id = 1;
-- key change of a row with a TOASTed value: the value comes from the old row
UPDATE fruit SET id = 30, price = 10 WHERE id = 1;
-- key change, delete
UPDATE fruit SET id = 20 WHERE id = 2;
DELETE FROM fruit WHERE id = 3;
INSERT INTO shop."Odd ""Name""; drop" VALUES (1, 'a', 'x'), (2, 'b', 'y');
UPDATE shop."Odd ""Name""; drop" SET "v;" = 'z' WHERE "k 1" = 1;
INSERT INTO log VALUES (1, 'a'), (1, 'a'), (2, 'b');
UPDATE log SET what = 'c' WHERE at = 2;
DELETE FROM log WHERE ctid = (SELECT ctid FROM log WHERE at = 1 LIMIT 1);
-- a column added at the source
ALTER TABLE fruit ADD COLUMN stock int;
INSERT INTO fruit VALUES (4, 'fig', 4, 'f', NULL, NULL, NULL, 7);

INSERT INTO walstar.dead_letters (subscription, topic, partition, "offset", raw, error)
SELECT 'apply', 'walstar.' || (walstar.decode(data)->>'schema') || '.' || (walstar.decode(data)->>'table'),
	0, row_number() OVER (), data, 'test'
FROM pg_logical_slot_get_binary_changes('s_apply', NULL, NULL)
WHERE walstar.decode(data)->>'op' NOT IN ('BEGIN', 'COMMIT')
	AND walstar.decode(data)->>'schema' NOT IN ('landing', 'walstar');
SELECT walstar.retry_dead_letter(id) FROM walstar.dead_letters ORDER BY id;
SELECT count(*) AS left_over FROM walstar.dead_letters;

-- landing tables: source columns, key as primary key, equal rows
\d landing.fruit
\d landing."shop__Odd ""Name""; drop"
\d landing.log
SELECT (SELECT array_agg(t::text ORDER BY id) FROM fruit t) =
	(SELECT array_agg(t::text ORDER BY id) FROM landing.fruit t) AS fruit_equal;
SELECT id, name, price, md5(big), seen, tag, blob, stock FROM landing.fruit ORDER BY id;
SELECT * FROM landing."shop__Odd ""Name""; drop" ORDER BY 1;
SELECT * FROM landing.log ORDER BY 1, 2;

-- TRUNCATE
TRUNCATE fruit;
INSERT INTO fruit (id, name) VALUES (5, 'after truncate');
INSERT INTO walstar.dead_letters (subscription, topic, partition, "offset", raw, error)
SELECT 'apply', 't', 0, 100 + row_number() OVER (), data, 'test'
FROM pg_logical_slot_get_binary_changes('s_apply', NULL, NULL)
WHERE walstar.decode(data)->>'op' NOT IN ('BEGIN', 'COMMIT')
	AND walstar.decode(data)->>'schema' NOT IN ('landing', 'walstar');
SELECT walstar.retry_dead_letter(id) FROM walstar.dead_letters ORDER BY id;
SELECT id, name FROM landing.fruit;

-- a landing table the data does not fit: the retry fails, the letter stays with the error
ALTER TABLE landing.fruit ADD CONSTRAINT short_name CHECK (length(name) <= 5) NOT VALID;
INSERT INTO fruit (id, name) VALUES (6, 'too long');
INSERT INTO walstar.dead_letters (subscription, topic, partition, "offset", raw, error)
SELECT 'apply', 'walstar.public.fruit', 0, 200, data, 'test'
FROM pg_logical_slot_get_binary_changes('s_apply', NULL, NULL)
WHERE walstar.decode(data)->>'op' = 'INSERT'
	AND walstar.decode(data)->>'schema' NOT IN ('landing', 'walstar');
SELECT walstar.retry_dead_letter(id) FROM walstar.dead_letters;
SELECT "offset", error, retries FROM walstar.dead_letters;
ALTER TABLE landing.fruit DROP CONSTRAINT short_name;
SELECT walstar.retry_dead_letter(id) FROM walstar.dead_letters;
SELECT id, name FROM landing.fruit ORDER BY id;

-- undecodable letters stay; discard removes them
INSERT INTO walstar.dead_letters (subscription, topic, partition, "offset", raw, error)
VALUES ('apply', 't', 0, 300, '\xdeadbeef', 'test'), ('apply', 't', 0, 301, '\x0801', 'test');
SELECT "offset", walstar.retry_dead_letter(id) FROM walstar.dead_letters ORDER BY id;
SELECT "offset", error FROM walstar.dead_letters ORDER BY id;
SELECT walstar.discard_dead_letter(min(id)) FROM walstar.dead_letters;
SELECT walstar.discard_dead_letters('apply');
SELECT count(*) FROM walstar.dead_letters;

SELECT 'stop' FROM pg_drop_replication_slot('s_apply');
SELECT walstar.drop_subscription('apply');
DROP TABLE fruit, log, shop."Odd ""Name""; drop";
DROP SCHEMA shop;
DROP SCHEMA landing CASCADE;

-- the order of stream positions: the timeline first, 0 (not known) equal to any
SELECT walstar._position_cmp(2, '0/100', 1, 1, '0/900', 9) AS newer_timeline,
	walstar._position_cmp(1, '0/900', 9, 2, '0/100', 1) AS older_timeline,
	walstar._position_cmp(0, '0/100', 2, 5, '0/100', 1) AS unknown_timeline,
	walstar._position_cmp(3, '0/100', 1, 3, '0/100', 1) AS same,
	walstar._position_cmp(3, '0/100', 1, 3, '0/100', NULL) AS no_position;
