-- Model sources: registration, the version history and its triggers, refusals.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS walstar;
CREATE SCHEMA "land ""x""";
CREATE TABLE "land ""x""".items (id int PRIMARY KEY, "v;drop" text, big text);
CREATE TABLE "land ""x""".nokey (a int, b text);
INSERT INTO "land ""x""".items VALUES (1, 'a', NULL), (2, 'b', 'B');

-- refused: no such table, no model name, no primary key for a history
SELECT walstar.register_model_source('m', 'land "x"', 'missing');
SELECT walstar.register_model_source('', 'land "x"', 'items');
SELECT walstar.register_model_source('m', 'land "x"', 'nokey', true);
SELECT count(*) AS registered FROM walstar.model_sources;

-- final state only: no history
SELECT walstar.register_model_source('m', 'land "x"', 'nokey');
-- with versions: the history starts with the rows as they are
SELECT walstar.register_model_source('m', 'land "x"', 'items', true);
SELECT landing_schema, landing_table, model, keep_versions FROM walstar.model_sources ORDER BY 2;
SELECT * FROM walstar.version_histories;
SELECT walstar_version, walstar_commit_lsn, walstar_position, walstar_op, id, "v;drop", big FROM walstar_versions."land ""x""__items" ORDER BY walstar_version;

-- writes other than the apply worker's are recorded, a key change as a
-- delete of the old key first
UPDATE "land ""x""".items SET "v;drop" = 'a2' WHERE id = 1;
UPDATE "land ""x""".items SET id = 3 WHERE id = 2;
DELETE FROM "land ""x""".items WHERE id = 1;
INSERT INTO "land ""x""".items VALUES (1, 'again', NULL);
TRUNCATE "land ""x""".items;
SELECT walstar_version, walstar_op, id, "v;drop", big FROM walstar_versions."land ""x""__items" ORDER BY walstar_version;
SELECT walstar._applying_versions('"land ""x""".items');

-- a landing table with columns named like the history's bookkeeping ones:
-- kept, but for a column of one of the four walstar_ names
CREATE TABLE "land ""x""".clash (id int PRIMARY KEY, version int, op text, "position" text, commit_lsn text,
	walstar_op text);
INSERT INTO "land ""x""".clash VALUES (1, 7, 'o', 'GK', 'c', 'w');
SELECT walstar.register_model_source('m', 'land "x"', 'clash', true);
UPDATE "land ""x""".clash SET version = 8, walstar_op = 'x';
SELECT walstar_version, walstar_op, id, version, op, "position", commit_lsn FROM walstar_versions."land ""x""__clash" ORDER BY 1;
SELECT walstar.unregister_model_source('m', 'land "x"', 'clash');
DROP TABLE "land ""x""".clash;

-- a second model keeps the history going; the last one takes it away
SELECT walstar.register_model_source('m2', 'land "x"', 'items', true);
SELECT walstar.unregister_model_source('m', 'land "x"', 'items');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = '"land ""x""".items'::regclass;
SELECT walstar.unregister_model_source('m2', 'land "x"', 'items');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = '"land ""x""".items'::regclass;
SELECT to_regclass('walstar_versions."land ""x""__items"') AS history, count(*) AS histories
FROM walstar.version_histories;

-- only the landing table's owner (or a member of its role) registers it
CREATE ROLE model_stranger;
GRANT walstar_admin TO model_stranger;
SET ROLE model_stranger;
SELECT walstar.register_model_source('m', 'land "x"', 'items', true);
SELECT walstar.unregister_model_source('m', 'land "x"', 'nokey');
RESET ROLE;
-- nobody else may call them
SET ROLE walstar_reader;
SELECT walstar.register_model_source('m', 'land "x"', 'items', true);
RESET ROLE;
SELECT walstar.unregister_model_source('m', 'land "x"', 'nokey');
DROP ROLE model_stranger;
DROP SCHEMA "land ""x""" CASCADE;
SELECT count(*) FROM walstar.model_sources;
