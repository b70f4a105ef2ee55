-- A table with the maximum of 1600 columns.
\set VERBOSITY terse
SET client_min_messages = warning;

SELECT 'init' FROM pg_create_logical_replication_slot('s_wide', 'walstar_decoder');
DO $$
BEGIN
	EXECUTE 'CREATE TABLE wide (c1 int PRIMARY KEY, ' ||
		(SELECT string_agg(format('c%s %s', i, CASE i % 3 WHEN 0 THEN 'int' WHEN 1 THEN 'text' ELSE 'bool' END), ', ')
		 FROM generate_series(2, 1600) i) || ')';
END $$;
INSERT INTO wide (c1, c2, c3, c1599, c1600) VALUES (1, true, 3, 1599, 'last text');
UPDATE wide SET c1 = 2, c1600 = NULL;
DELETE FROM wide;

SELECT d->>'op' AS op,
	(SELECT count(*) FROM json_object_keys(d->'new')) AS new_columns,
	(SELECT count(*) FROM json_object_keys(d->'old')) AS old_columns,
	d->'new'->>'c1599' AS c1599, d->'new'->>'c1600' AS c1600,
	json_array_length(d->'columns') AS described
FROM (SELECT data::json AS d FROM pg_logical_slot_get_changes('s_wide', NULL, NULL,
	'format', 'json', 'include-transaction', 'false', 'include-columns', 'true')) s;

INSERT INTO wide (c1) VALUES (5);
SELECT count(*), min(length(data)) > 1600 * 4 AS columns_described
FROM pg_logical_slot_get_binary_changes('s_wide', NULL, NULL) WHERE length(data) > 100;

SELECT 'stop' FROM pg_drop_replication_slot('s_wide');
DROP TABLE wide;
