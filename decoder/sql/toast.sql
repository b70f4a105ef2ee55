-- NULL versus unchanged TOAST, and very large values.
\set VERBOSITY terse
SET client_min_messages = warning;

SELECT 'init' FROM pg_create_logical_replication_slot('s_toast', 'walstar_decoder');

CREATE TABLE docs (id int PRIMARY KEY, title text, body text, blob bytea);
-- incompressible, so stored out of line
CREATE FUNCTION noise(n int) RETURNS text LANGUAGE sql AS
$$ SELECT string_agg(md5(i::text), '') FROM generate_series(1, n) i $$;

INSERT INTO docs VALUES (1, 't1', noise(500), decode(noise(300), 'hex'));
INSERT INTO docs VALUES (2, 't2', NULL, NULL);
UPDATE docs SET title = 't1b' WHERE id = 1;          -- body, blob unchanged: not sent
UPDATE docs SET body = noise(400) WHERE id = 1;      -- body sent, blob unchanged
UPDATE docs SET title = NULL, body = NULL WHERE id = 1;  -- NULLs are values
DELETE FROM docs WHERE id = 1;

SELECT d->>'op' AS op,
	d->'key' AS key,
	(SELECT string_agg(k || '=' || CASE WHEN json_typeof(d->'new'->k) = 'string'
		THEN 'len ' || length(d->'new'->>k) ELSE coalesce(d->'new'->>k, 'null') END, ', ')
	 FROM json_object_keys(d->'new') k) AS new_values,
	d->'new_unchanged_toast' AS unchanged_toast,
	d->'old' AS old
FROM (SELECT data::json AS d FROM pg_logical_slot_get_changes('s_toast', NULL, NULL,
	'format', 'json', 'include-transaction', 'false')) s;

-- the body matches what was stored
INSERT INTO docs VALUES (3, 't3', noise(1000), NULL);
SELECT (SELECT md5(body) FROM docs WHERE id = 3) = md5(data::json->'new'->>'body') AS body_intact
FROM pg_logical_slot_get_changes('s_toast', NULL, NULL, 'format', 'json', 'include-transaction', 'false');

-- a TOASTed key left unchanged: the key comes from the old key PostgreSQL logs
CREATE TABLE toastkey (k text PRIMARY KEY, v int);
ALTER TABLE toastkey ALTER k SET STORAGE EXTERNAL;
INSERT INTO toastkey VALUES (noise(78), 1);
UPDATE toastkey SET v = 2;
SELECT d->>'op' AS op, length(d->'key'->>0) AS key_length,
	d->'key'->>0 = (SELECT k FROM toastkey) AS key_is_value,
	d->'new_unchanged_toast' AS unchanged_toast, length(d->'old'->>'k') AS old_key_length
FROM (SELECT data::json AS d FROM pg_logical_slot_get_changes('s_toast', NULL, NULL,
	'format', 'json', 'include-transaction', 'false')) s;
DROP TABLE toastkey;

-- a 100 MB TOASTed value (stored uncompressed, ~50000 chunks)
CREATE TABLE huge (id int PRIMARY KEY, v text);
ALTER TABLE huge ALTER v SET STORAGE EXTERNAL;
INSERT INTO huge VALUES (1, repeat('walstar ', 12500000));
SELECT length(data::json->'new'->>'v') AS json_value_length, data::json->'key' AS key
FROM pg_logical_slot_peek_changes('s_toast', NULL, NULL, 'format', 'json', 'include-transaction', 'false');
SELECT count(*) FILTER (WHERE length(data) > 100000000) AS records_over_100mb,
	count(*) FILTER (WHERE length(data) BETWEEN 1000 AND 100000000) AS other_data_records
FROM pg_logical_slot_get_binary_changes('s_toast', NULL, NULL);
UPDATE huge SET id = 2;   -- the key changes, v unchanged
SELECT data FROM pg_logical_slot_get_changes('s_toast', NULL, NULL, 'format', 'json', 'include-transaction', 'false');

SELECT 'stop' FROM pg_drop_replication_slot('s_toast');
DROP TABLE docs, huge;
DROP FUNCTION noise(int);
