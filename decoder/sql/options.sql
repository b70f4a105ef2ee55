-- Bad options are errors that name the option.
\set VERBOSITY terse
SET client_min_messages = warning;
SELECT 'init' FROM pg_create_logical_replication_slot('s_opt', 'walstar_decoder');
CREATE TABLE opt_t (id int);
INSERT INTO opt_t VALUES (1);

SELECT data FROM pg_logical_slot_peek_changes('s_opt', NULL, NULL, 'format', 'json', 'no-such-option', '1');
SELECT data FROM pg_logical_slot_peek_changes('s_opt', NULL, NULL, 'format', 'json', 'format', 'json');
-- a repeated option is refused by name even when both values are valid,
-- and its values are not echoed
SELECT data FROM pg_logical_slot_peek_changes('s_opt', NULL, NULL, 'format', 'json', 'include-tables', 'public.a', 'include-tables', 'public.b');
SELECT data FROM pg_logical_slot_peek_changes('s_opt', NULL, NULL, 'format', 'json', 'hash-salt-id', '0123456789abcdef', 'hash-salt-id', 'not-echoed-secret');
SELECT data FROM pg_logical_slot_peek_changes('s_opt', NULL, NULL, 'format', 'json', 'skip-origin', 'on', 'include-lsn', 'off', 'skip-origin', 'on');
SELECT data FROM pg_logical_slot_peek_changes('s_opt', NULL, NULL, 'format', 'xml');
SELECT data FROM pg_logical_slot_peek_changes('s_opt', NULL, NULL, 'format', 'json', 'include-transaction', 'maybe');
SELECT data FROM pg_logical_slot_peek_changes('s_opt', NULL, NULL, 'format', 'json', 'skip-origin', 'yes please');
SELECT data FROM pg_logical_slot_peek_changes('s_opt', NULL, NULL, 'format', 'json', 'source-id', '');
SELECT data FROM pg_logical_slot_peek_changes('s_opt', NULL, NULL, 'format', 'json', 'include-tables', 'justatable');
SELECT data FROM pg_logical_slot_peek_changes('s_opt', NULL, NULL, 'format', 'json', 'include-tables', 'a.b.c');
SELECT data FROM pg_logical_slot_peek_changes('s_opt', NULL, NULL, 'format', 'json', 'exclude-tables', 'public.x,,public.y');
SELECT data FROM pg_logical_slot_peek_changes('s_opt', NULL, NULL, 'format', 'json', 'mask-columns', 'public.t');
SELECT data FROM pg_logical_slot_peek_changes('s_opt', NULL, NULL, 'format', 'json', 'hash-columns', 'public.t.c');
SELECT data FROM pg_logical_slot_peek_changes('s_opt', NULL, NULL, 'format', 'json', 'hash-salt', '');
SELECT data FROM pg_logical_slot_peek_changes('s_opt', NULL, NULL, 'format', 'json', 'stream-changes', 'on', 'include-lsn', 'off', 'include-tables', ' public.opt_t ');
-- several patterns, stars in more than one part
SELECT data FROM pg_logical_slot_peek_changes('s_opt', NULL, NULL, 'format', 'json', 'include-tables', 'nosuch.*, p*b*c.opt_*');
-- option names are case-sensitive
SELECT data FROM pg_logical_slot_peek_changes('s_opt', NULL, NULL, 'Format', 'json');
-- a slot with the bad options never advanced
SELECT count(*) FROM pg_logical_slot_get_changes('s_opt', NULL, NULL, 'format', 'json');

SELECT 'stop' FROM pg_drop_replication_slot('s_opt');
DROP TABLE opt_t;
