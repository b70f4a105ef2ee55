-- freshness() tells an idle source from a stalled pipeline as
-- walstar.subscription_status does: source_idle per metric only when every
-- partition feeding its tables is caught up and its last message is a
-- recent heartbeat; last_heartbeat the oldest latest heartbeat of them.
-- The subscription stays disabled: its offsets are written here as its
-- worker would write them.
\set VERBOSITY terse
SET timezone = 'UTC';
SELECT metric, source_tables, lag_seconds, lag_messages, last_source_commit,
	   source_idle, last_heartbeat
FROM walstar_claims.freshness();
SELECT walstar.create_subscription('claims_fresh', '127.0.0.1:9',
	topics => ARRAY['acme.public.customers', 'acme.public.claims', 'acme.public.feedback'],
	landing_schema => 'acme') > 0 AS created;
-- caught up, each partition's last message a heartbeat (2 s old, gap 10 s)
-- after its last change (an hour old)
INSERT INTO walstar.subscription_offsets (subscription_id, topic, partition, next_offset,
	high_watermark, last_commit_lsn, last_commit_time, last_heartbeat_time,
	last_heartbeat_lsn, heartbeat_gap)
SELECT s.id, 'acme.public.' || t, p, 10, 10, '0/1000', now() - interval '1 hour',
	   now() - interval '2 seconds', '0/2000', 10
FROM walstar.subscriptions s, unnest(ARRAY['customers', 'claims', 'feedback']) t,
	 generate_series(0, 1) p
WHERE s.name = 'claims_fresh';
CREATE VIEW fresh AS
SELECT f.metric, f.source_idle, f.lag_seconds < 10 AS lag_small, f.lag_messages,
	   f.last_heartbeat = (SELECT min(o.last_heartbeat_time) FROM walstar.subscription_offsets o
						   WHERE split_part(o.topic, '.', -1) = ANY (f.source_tables)) AS oldest_heartbeat,
	   f.last_source_commit IS NOT NULL AS has_commit
FROM walstar_claims.freshness() f;
SELECT * FROM fresh;
-- the feedback sink stopped five minutes ago (heartbeats stopped): the
-- metrics that read feedback are stalled, not idle
UPDATE walstar.subscription_offsets SET last_heartbeat_time = now() - interval '5 minutes'
WHERE topic = 'acme.public.feedback' AND partition = 1;
SELECT * FROM fresh;
-- claims have messages left to apply: no metric is idle
UPDATE walstar.subscription_offsets SET last_heartbeat_time = now() - interval '2 seconds';
UPDATE walstar.subscription_offsets SET high_watermark = 15 WHERE topic = 'acme.public.claims' AND partition = 0;
SELECT * FROM fresh;
-- a change applied after the last heartbeat: not idle either
UPDATE walstar.subscription_offsets SET high_watermark = 10;
UPDATE walstar.subscription_offsets SET last_commit_lsn = '0/3000'
WHERE topic = 'acme.public.customers' AND partition = 1;
SELECT metric, source_idle FROM fresh;
DROP VIEW fresh;
SELECT walstar.drop_subscription('claims_fresh');
SELECT count(*) AS metrics, bool_or(source_idle IS NOT NULL) AS any_idle_known
FROM walstar_claims.freshness();
