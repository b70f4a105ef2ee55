-- Logical messages (outbox pattern) and replication origins.
\set VERBOSITY terse
SET client_min_messages = warning;

SELECT 'init' FROM pg_create_logical_replication_slot('s_msg', 'walstar_decoder');
CREATE TABLE outbox_t (id int PRIMARY KEY);

SELECT 'm' FROM pg_logical_emit_message(false, 'nontx', 'sent at once');
BEGIN;
INSERT INTO outbox_t VALUES (1);
SELECT 'm' FROM pg_logical_emit_message(true, 'orders', '{"order": 1}');
SELECT 'm' FROM pg_logical_emit_message(true, 'bin', '\x00ff'::bytea);
COMMIT;
BEGIN;
SELECT 'm' FROM pg_logical_emit_message(true, 'lost', 'rolled back');
SELECT 'm' FROM pg_logical_emit_message(false, 'kept', 'even if rolled back');
ROLLBACK;
-- an abort does not flush WAL; a commit does
CREATE TABLE flush_wal (); DROP TABLE flush_wal;
SELECT data FROM pg_logical_slot_get_changes('s_msg', NULL, NULL, 'format', 'json');

-- replication origins, and skip-origin
SELECT 'o' FROM pg_replication_origin_create('upstream');
SELECT 'o' FROM pg_replication_origin_session_setup('upstream');
INSERT INTO outbox_t VALUES (2);
SELECT 'o' FROM pg_replication_origin_session_reset();
INSERT INTO outbox_t VALUES (3);
SELECT data FROM pg_logical_slot_peek_changes('s_msg', NULL, NULL, 'format', 'json');
SELECT data FROM pg_logical_slot_get_changes('s_msg', NULL, NULL, 'format', 'json', 'skip-origin', 'true');
SELECT pg_replication_origin_drop('upstream');

SELECT 'stop' FROM pg_drop_replication_slot('s_msg');
DROP TABLE outbox_t;
