-- Subscriptions: lifecycle, argument checks, privileges, status, rewind.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS walstar;

SELECT walstar.create_subscription('shop', '127.0.0.1:1', topics => '{walstar.public.items,walstar.shop.orders}');
SELECT walstar.create_subscription('all', 'broker1:9092,broker2:9092', topic_pattern => '^walstar\..*',
	properties => walstar.kafka_properties('{security.protocol=SASL_SSL,sasl.mechanism=PLAIN,sasl.username=u,sasl.password=p=w}'),
	landing_schema => 'lake', batch_size => 500, batch_time => '1s', error_policy => 'stop');
SELECT name, brokers, topics, topic_pattern, properties, landing_schema, batch_size, batch_time,
	error_policy, enabled, config_version
FROM walstar.subscriptions ORDER BY id;

-- alter: NULL keeps a setting; topics replace a pattern and the other way round
SELECT walstar.alter_subscription('shop', batch_size => 2000, error_policy => 'stop');
SELECT walstar.alter_subscription('shop', dropped_columns => 'drop');
SELECT dropped_columns FROM walstar.subscriptions WHERE name = 'shop';
SELECT walstar.alter_subscription('all', topics => '{a,b}');
SELECT name, topics, topic_pattern, batch_size, error_policy, config_version
FROM walstar.subscriptions ORDER BY id;
SELECT walstar.alter_subscription('all', topic_pattern => '^x');
SELECT name, topics, topic_pattern, config_version FROM walstar.subscriptions ORDER BY id;
-- workers: N apply workers; partition p of a topic to (hash of the topic + p) mod N
SELECT walstar.alter_subscription('all', workers => 3);
SELECT name, workers FROM walstar.subscriptions ORDER BY id;
SELECT p, walstar._partition_worker('walstar.public.items', p, 3) AS items,
	walstar._partition_worker('walstar.shop.orders', p, 3) AS orders,
	walstar._partition_worker('walstar.shop.orders', p, 1) AS one
FROM generate_series(0, 5) p ORDER BY p;
SELECT walstar.alter_subscription('all', workers => 1);

-- bad arguments
SELECT walstar.create_subscription('shop', 'b:1', topics => '{t}');
SELECT walstar.create_subscription('bad name', 'b:1', topics => '{t}');
SELECT walstar.create_subscription('', 'b:1', topics => '{t}');
SELECT walstar.create_subscription('x', '', topics => '{t}');
SELECT walstar.create_subscription('x', 'b:1');
SELECT walstar.create_subscription('x', 'b:1', topics => '{t}', topic_pattern => '^t');
SELECT walstar.create_subscription('x', 'b:1', topics => '{}');
SELECT walstar.create_subscription('x', 'b:1', topics => '{"a b"}');
SELECT walstar.create_subscription('x', 'b:1', topics => '{NULL}');
SELECT walstar.create_subscription('x', 'b:1', topic_pattern => 'walstar.*');
SELECT walstar.create_subscription('x', 'b:1', topic_pattern => '^(');
SELECT walstar.create_subscription('x', 'b:1', topics => '{t}', properties => '[1]');
SELECT walstar.create_subscription('x', 'b:1', topics => '{t}', properties => '{"group.id": "g"}');
SELECT walstar.create_subscription('x', 'b:1', topics => '{t}', properties => '{"bootstrap.servers": "h"}');
SELECT walstar.create_subscription('x', 'b:1', topics => '{t}', properties => '{"a": {"b": 1}}');
SELECT walstar.create_subscription('x', 'b:1', topics => '{t}', landing_schema => 'walstar');
SELECT walstar.create_subscription('x', 'b:1', topics => '{t}', landing_schema => 'pg_toast');
SELECT walstar.create_subscription('x', 'b:1', topics => '{t}', batch_size => 0);
SELECT walstar.create_subscription('x', 'b:1', topics => '{t}', batch_time => '0');
SELECT walstar.create_subscription('x', 'b:1', topics => '{t}', batch_time => '2 hours');
SELECT walstar.create_subscription('x', 'b:1', topics => '{t}', error_policy => 'ignore');
SELECT walstar.create_subscription('x', 'b:1', topics => '{t}', dropped_columns => 'forget');
SELECT walstar.create_subscription('x', 'b:1', topics => '{t}', workers => 0);
SELECT walstar.create_subscription('x', 'b:1', topics => '{t}', workers => 65);
SELECT walstar.alter_subscription('shop', workers => -1);
SELECT walstar.kafka_properties('{novalue}');
SELECT walstar.kafka_properties('{=x}');
SELECT walstar.alter_subscription('nope', batch_size => 1);
SELECT walstar.alter_subscription('shop', topics => '{a}', topic_pattern => '^a');
SELECT walstar.alter_subscription('shop', batch_size => -1);
SELECT walstar.drop_subscription('nope');
SELECT walstar.drop_subscription('nope', if_exists => true);
SELECT walstar.start_subscription('nope');
SELECT walstar.stop_subscription('nope');
SELECT walstar.start_worker('nope');
SELECT walstar.start_worker('shop');
SELECT walstar.rewind('nope', 0);
SELECT walstar.rewind('shop', -1);
SELECT walstar.rewind('shop', 'infinity'::timestamptz);
SELECT walstar.retry_dead_letter(12345);
SELECT walstar.discard_dead_letter(12345);
-- nothing changed by the failures
SELECT count(*) FROM walstar.subscriptions;

-- status: one row per subscription until partitions have progress
INSERT INTO walstar.subscription_offsets (subscription_id, topic, partition, next_offset,
	high_watermark, last_commit_time)
SELECT id, 'walstar.public.items', p, 100 * (p + 1), 100 * (p + 1) + 5, now() - interval '1 minute'
FROM walstar.subscriptions, generate_series(0, 1) p WHERE name = 'shop';
SELECT subscription, topic, partition, offset_applied, high_watermark, lag_messages,
	lag_seconds >= 60 AS lag_over_a_minute, worker_state, last_error, enabled
FROM walstar.subscription_status ORDER BY 1, 2, 3;

-- heartbeats, caught up: the last message a recent heartbeat (its lsn above
-- the last change's) is an idle source, its age the lag; an old one is a
-- stalled pipeline, whose lag grows
UPDATE walstar.subscription_offsets SET high_watermark = next_offset,
	last_commit_lsn = '1/0', last_commit_time = now() - interval '10 minutes',
	last_heartbeat_lsn = '1/10', heartbeat_gap = 10,
	last_heartbeat_time = now() - CASE partition WHEN 0 THEN interval '2 seconds'
		ELSE interval '5 minutes' END;
SELECT partition, source_idle, lag_seconds BETWEEN 1 AND 5 AS lag_small,
	lag_seconds >= 300 AS lag_grown, last_heartbeat IS NOT NULL AS heartbeat_seen
FROM walstar.subscription_status WHERE topic IS NOT NULL ORDER BY partition;
-- a change after the heartbeat, or messages left to apply: not idle
UPDATE walstar.subscription_offsets SET last_commit_lsn = '1/20' WHERE partition = 0;
UPDATE walstar.subscription_offsets SET high_watermark = next_offset + 1,
	last_heartbeat_time = now() WHERE partition = 1;
SELECT partition, source_idle FROM walstar.subscription_status
WHERE topic IS NOT NULL ORDER BY partition;
UPDATE walstar.subscription_offsets SET high_watermark = next_offset + 5;

-- rewind to an offset: every partition, last applied position reset
UPDATE walstar.subscription_offsets SET last_commit_lsn = '1/0', last_position = 7;
SELECT walstar.rewind('shop', 42);
SELECT topic, partition, next_offset, last_commit_lsn, last_position
FROM walstar.subscription_offsets ORDER BY 1, 2;
-- never past a partition's end
SELECT walstar.rewind('shop', 150);
SELECT topic, partition, next_offset FROM walstar.subscription_offsets ORDER BY 1, 2;
-- rewind to a time: left to the worker, which resolves it with the broker
SELECT walstar.rewind('shop', '2024-01-01 00:00:00+00'::timestamptz);
SELECT name, rewind_time IS NOT NULL AS rewind_pending FROM walstar.subscriptions ORDER BY id;
SELECT walstar.stop_subscription('shop');
SELECT name, enabled FROM walstar.subscriptions ORDER BY id;

-- privileges: the reader reads the status and nothing else
CREATE ROLE regress_walstar_reader IN ROLE walstar_reader;
CREATE ROLE regress_walstar_admin LOGIN IN ROLE walstar_admin;
CREATE ROLE regress_walstar_nologin IN ROLE walstar_admin;
CREATE SCHEMA regress_vault;
CREATE TABLE regress_vault.payroll (id int PRIMARY KEY, salary int);
DO $$BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO regress_walstar_admin', current_database()); END$$;
SET ROLE regress_walstar_reader;
SELECT count(*) FROM walstar.subscription_status;
SELECT walstar.create_subscription('evil', 'b:1', topics => '{t}');
SELECT walstar.alter_subscription('shop', batch_size => 1);
SELECT walstar.drop_subscription('shop');
SELECT walstar.start_subscription('shop');
SELECT walstar.stop_subscription('shop');
SELECT walstar.rewind('shop', 0);
SELECT walstar.start_worker('shop');
SELECT count(*) FROM walstar.subscriptions;
SELECT count(*) FROM walstar.dead_letters;
UPDATE walstar.subscriptions SET enabled = true;
DELETE FROM walstar.subscription_offsets;
RESET ROLE;
INSERT INTO walstar.dead_letters (subscription, topic, partition, "offset", raw, error)
VALUES ('shop', 'walstar.public.items', 0, 1, '\x00', 'regress');
-- the admin configures, but does not read stored secrets
SET ROLE regress_walstar_admin;
-- the landing schema must be one the owner may create in
SELECT walstar.create_subscription('by_admin', 'b:1', topics => '{t}');
SELECT walstar.create_subscription('vault', 'b:1', topics => '{t}', landing_schema => 'regress_vault');
SELECT walstar.alter_subscription('by_admin', landing_schema => 'regress_vault');
SELECT walstar.alter_subscription('by_admin', batch_size => 7);
SELECT name, batch_size, owner::regrole FROM walstar.subscriptions WHERE name = 'by_admin';
SELECT properties FROM walstar.subscriptions;
-- only a superuser gives a subscription to another role
SELECT walstar.alter_subscription_owner('by_admin', 'regress_walstar_reader');
-- another role's subscription is not the admin's to change, replay, stop,
-- drop, or to retry or discard its letters
SELECT walstar.alter_subscription('shop', brokers => 'mine:9092');
SELECT walstar.stop_subscription('shop');
SELECT walstar.start_subscription('shop');
SELECT walstar.rewind('shop', 0::bigint);
SELECT walstar.rewind('shop', now());
SELECT walstar.drop_subscription('shop');
SELECT walstar.retry_dead_letter(id) FROM walstar.dead_letters WHERE error = 'regress';
SELECT walstar.discard_dead_letter(id) FROM walstar.dead_letters WHERE error = 'regress';
SELECT walstar.discard_dead_letters('shop');
SELECT walstar.discard_dead_letters('no_such_subscription');
SELECT walstar.drop_subscription('by_admin');
RESET ROLE;
SELECT walstar.discard_dead_letters('shop');
-- the worker connects as the owner: a role that cannot log in may not own one
SET ROLE regress_walstar_nologin;
SELECT walstar.create_subscription('nologin', 'b:1', topics => '{t}');
RESET ROLE;

-- a dropped subscription's stashed moved rows go with it, unless another
-- subscription lands in the same schema
SELECT walstar.create_subscription('stash_a', 'b:1', topics => '{t}', landing_schema => 'regress_stash') IS NOT NULL;
SELECT walstar.create_subscription('stash_b', 'b:1', topics => '{u}', landing_schema => 'regress_stash') IS NOT NULL;
INSERT INTO walstar.moved_rows (landing_schema, landing_table, timeline, commit_lsn, position, column_names)
	VALUES ('regress_stash', 't', 1, '0/10', 1, '{a}'), ('regress_elsewhere', 't', 1, '0/10', 1, '{a}');
SELECT walstar.drop_subscription('stash_a');
SELECT landing_schema FROM walstar.moved_rows ORDER BY 1;
SELECT walstar.drop_subscription('stash_b');
SELECT landing_schema FROM walstar.moved_rows ORDER BY 1;
DELETE FROM walstar.moved_rows;

-- drop removes progress too
SELECT walstar.drop_subscription('shop');
SELECT count(*) FROM walstar.subscription_offsets;
SELECT name FROM walstar.subscriptions ORDER BY id;
SELECT walstar.drop_subscription('all');
DROP SCHEMA regress_vault CASCADE;
DO $$BEGIN EXECUTE format('REVOKE CREATE ON DATABASE %I FROM regress_walstar_admin', current_database()); END$$;
DROP ROLE regress_walstar_reader, regress_walstar_admin, regress_walstar_nologin;
