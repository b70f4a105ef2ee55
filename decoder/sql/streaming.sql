-- Streaming of in-progress transactions (stream-changes), and two-phase.
\set VERBOSITY terse
SET client_min_messages = warning;

SELECT 'init' FROM pg_create_logical_replication_slot('s_stream', 'walstar_decoder');
CREATE TABLE big (id int PRIMARY KEY, pad text);

-- larger than logical_decoding_work_mem (64kB): streamed in chunks
BEGIN;
INSERT INTO big SELECT i, repeat('p', 100) FROM generate_series(1, 3000) i;
SAVEPOINT s1;
INSERT INTO big SELECT i, repeat('q', 100) FROM generate_series(3001, 5000) i;
ROLLBACK TO s1;
DELETE FROM big WHERE id <= 10;
COMMIT;

CREATE TEMP TABLE streamed AS
SELECT row_number() OVER () AS n, data::json AS d
FROM pg_logical_slot_get_changes('s_stream', NULL, NULL,
	'format', 'json', 'stream-changes', 'true', 'include-lsn', 'true', 'include-xids', 'true');
-- chunks, then the commit; data records without commit LSN; how many of the
-- rolled back subtransaction's rows were streamed before its abort depends
-- on memory accounting, so only bounds are checked
SELECT d->>'op' AS op, count(*) > 1 AS several,
	bool_and(d->>'commit_lsn' = '0/0') AS no_commit_lsn
FROM streamed GROUP BY 1 ORDER BY 1;
SELECT (SELECT count(*) FROM streamed WHERE d->>'op' = 'INSERT') BETWEEN 3000 AND 5000 AS inserts,
	(SELECT count(*) FROM streamed WHERE d->>'op' = 'DELETE') AS deletes,
	(SELECT (d->>'change_count')::int FROM streamed WHERE d->>'op' = 'STREAM_COMMIT') =
	(SELECT max((d->>'position')::int) FROM streamed) AS change_count_is_last_position,
	(SELECT count(DISTINCT (d->>'position')::int) = max((d->>'position')::int) FROM streamed) AS positions_dense,
	(SELECT (d->>'subxid')::xid <> (d->>'xid')::xid FROM streamed WHERE d->>'op' = 'STREAM_ABORT') AS abort_names_subxact,
	(SELECT d->>'op' FROM streamed ORDER BY n DESC LIMIT 1) AS last_record;

-- without stream-changes the same kind of transaction comes whole, spilled to disk
BEGIN;
INSERT INTO big SELECT i, repeat('r', 100) FROM generate_series(10001, 13000) i;
COMMIT;
SELECT d->>'op' AS op, count(*), max(d->>'change_count') AS change_count,
	sum((d->>'last')::bool::int) AS last_flags
FROM (SELECT data::json AS d FROM pg_logical_slot_get_changes('s_stream', NULL, NULL,
	'format', 'json')) s
GROUP BY 1 ORDER BY 1;

-- an aborted streamed transaction
BEGIN;
INSERT INTO big SELECT i, repeat('s', 100) FROM generate_series(20001, 23000) i;
ROLLBACK;
-- an abort does not flush WAL; a commit does
CREATE TABLE flush_wal (); DROP TABLE flush_wal;
SELECT d->>'op' AS op, count(*) > 0 AS seen
FROM (SELECT data::json AS d FROM pg_logical_slot_get_changes('s_stream', NULL, NULL,
	'format', 'json', 'stream-changes', 'true')) s
GROUP BY 1 ORDER BY 1;
SELECT 'stop' FROM pg_drop_replication_slot('s_stream');

-- two-phase commit: decoded at PREPARE time
SELECT 'init' FROM pg_create_logical_replication_slot('s_2pc', 'walstar_decoder', false, true);
BEGIN;
INSERT INTO big VALUES (-1, 'prepared');
PREPARE TRANSACTION 'gid-1';
SELECT data FROM pg_logical_slot_get_changes('s_2pc', NULL, NULL, 'format', 'json');
COMMIT PREPARED 'gid-1';
BEGIN;
INSERT INTO big VALUES (-2, 'rolled back');
PREPARE TRANSACTION 'gid-2';
ROLLBACK PREPARED 'gid-2';
SELECT data FROM pg_logical_slot_get_changes('s_2pc', NULL, NULL, 'format', 'json');
-- a large prepared transaction, streamed before its PREPARE
BEGIN;
INSERT INTO big SELECT i, repeat('t', 100) FROM generate_series(30001, 33000) i;
PREPARE TRANSACTION 'gid-3';
SELECT d->>'op' AS op, count(*) > 0 AS seen, max(d->>'gid') AS gid, max(d->>'change_count') AS change_count
FROM (SELECT data::json AS d FROM pg_logical_slot_get_changes('s_2pc', NULL, NULL,
	'format', 'json', 'stream-changes', 'true')) s
GROUP BY 1 ORDER BY 1;
COMMIT PREPARED 'gid-3';
SELECT data FROM pg_logical_slot_get_changes('s_2pc', NULL, NULL, 'format', 'json', 'stream-changes', 'true');
SELECT 'stop' FROM pg_drop_replication_slot('s_2pc');
DROP TABLE big;
