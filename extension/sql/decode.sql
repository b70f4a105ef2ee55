-- walstar.decode(bytea): messages produced by walstar_decoder in this instance.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION walstar;
\dx walstar
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'walstar%' ORDER BY 1;

SELECT 'init' FROM pg_create_logical_replication_slot('s_decode', 'walstar_decoder');
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2), active bool,
	seen timestamptz, born date, at time, tag uuid, blob bytea, f float8, span interval,
	local timestamp);
INSERT INTO items VALUES (1, 'apple "red"', 1.50, true, '2024-05-01 12:00:00.5+02',
	'2024-05-01', '12:34:56.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x00ff10',
	-2.5, '1 mon 2 days 03:04:05.5', '2024-05-01 12:00:00');
UPDATE items SET price = 2.25, name = NULL WHERE id = 1;
UPDATE items SET id = 10 WHERE id = 1;
DELETE FROM items WHERE id = 10;
TRUNCATE items;

CREATE TABLE msgs AS
	SELECT row_number() OVER () AS n, data
	FROM pg_logical_slot_get_binary_changes('s_decode', NULL, NULL)
	WHERE walstar.decode(data)->>'op' NOT IN ('BEGIN', 'COMMIT');
SELECT 'stop' FROM pg_drop_replication_slot('s_decode');

-- everything but LSNs, xids and times, which change from run to run
SELECT n, walstar.decode(data) - '{lsn,commit_lsn,xid,commit_time,relation_oid,system_id}'::text[]
	- 'columns' AS change
FROM msgs ORDER BY n;
SELECT walstar.decode(data)->'columns' FROM msgs WHERE n = 1;
-- transaction fields are there
SELECT n, walstar.decode(data) ?& '{lsn,commit_lsn,xid,commit_time}' AS complete
FROM msgs ORDER BY n;
-- dates and times in UTC whatever the session's time zone
SET TimeZone = 'America/New_York';
SELECT walstar.decode(data)->'new'->>'seen' FROM msgs WHERE n = 1;
RESET TimeZone;
-- every value reads back as the landing type
SELECT (jsonb_populate_record(NULL::items, walstar.decode(data)->'new')).*
FROM msgs WHERE n = 1;

-- malformed input is a clear error, never a crash
SELECT walstar.decode('');
SELECT walstar.decode('\x0a0b0c');
SELECT walstar.decode('\xffffffffffffffffffff');
SELECT walstar.decode(substr(data, 1, length(data) / 2)) FROM msgs WHERE n = 1;
SELECT walstar.decode('\x0863');
SELECT walstar.decode('\x08011863');
SELECT walstar.decode(NULL) IS NULL AS null_in_null_out;
