-- Across the parts, in one server and without Kafka: rows of the Acme
-- services decoded by walstar_decoder, each record applied by the walstar
-- extension (walstar.retry_dead_letter applies a message as the apply
-- worker would), and the walstar_claims model's metrics and verify() over
-- what landed.
\set VERBOSITY terse
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
CREATE EXTENSION walstar_claims CASCADE;
SELECT walstar_claims.attach('acme');
SELECT walstar.create_subscription('cross', 'localhost:9', topics => '{walstar.public.customers,walstar.public.claims,walstar.public.feedback}',
	landing_schema => 'acme') > 0 AS created;

-- the three service databases' tables (demo/acme_sources.sql), here in
-- one database's schema public
\getenv abs_srcdir PG_ABS_SRCDIR
\set acme_sources :abs_srcdir '/demo/acme_sources.sql'
\set ECHO none
\i :acme_sources
\set ECHO all

SELECT 'init' FROM pg_create_logical_replication_slot('cross', 'walstar_decoder');
INSERT INTO customers (full_name, email, country_code, created_at, updated_at) VALUES
	('Ann', 'ann@example.com', 'DE', '2024-01-01', '2024-01-01'),
	('Bob', 'bob@example.com', 'FR', '2024-01-01', '2024-01-01');
INSERT INTO claims (customer_id, amount, created_at, updated_at) VALUES
	(1, 100.00, '2024-02-01', '2024-02-01'),
	(1, 250.50, '2024-03-01', '2024-03-01'),
	(2, 40.00, '2024-03-05', '2024-03-05');
UPDATE claims SET is_anomaly = true, anomaly_reason = 'duplicate', flagged_at = '2024-03-02',
	updated_at = '2024-03-02' WHERE id = 2;
UPDATE claims SET status = 'paid', resolved_at = '2024-03-12', updated_at = '2024-03-12' WHERE id = 2;
INSERT INTO feedback (claim_id, customer_id, rating, sentiment, created_at) VALUES
	(2, 1, 4, 'positive', '2024-03-13'), (3, 2, 1, 'negative', '2024-03-20');
-- a customer moves: SCD2 keeps her earlier claims in DE
UPDATE customers SET country_code = 'AT', updated_at = '2024-04-01' WHERE id = 1;
INSERT INTO claims (customer_id, amount, created_at, updated_at) VALUES (1, 10.00, '2024-04-02', '2024-04-02');
DELETE FROM claims WHERE id = 3;

-- each row record of the slot, in order, handed to the extension
INSERT INTO walstar.dead_letters (subscription, topic, partition, "offset", raw, error)
SELECT 'cross', 'walstar.public.' || (walstar.decode(data)->>'table'), 0, row_number() OVER (), data, 'fixture'
FROM pg_logical_slot_get_binary_changes('cross', NULL, NULL)
WHERE walstar.decode(data)->>'op' NOT IN ('BEGIN', 'COMMIT');
SELECT 'stop' FROM pg_drop_replication_slot('cross');
SELECT walstar.decode(raw)->>'op' AS op, walstar.decode(raw)->>'table' AS "table", count(*)
FROM walstar.dead_letters GROUP BY 1, 2 ORDER BY 2, 1;
SELECT bool_and(walstar.retry_dead_letter(id)) AS all_applied
FROM (SELECT id FROM walstar.dead_letters ORDER BY id) d;
SELECT count(*) AS letters_left FROM walstar.dead_letters;

-- landed as at the source
SELECT id, country_code FROM acme.customers ORDER BY id;
SELECT id, customer_id, amount, status, is_anomaly FROM acme.claims ORDER BY id;
SELECT id, claim_id, rating, sentiment FROM acme.feedback ORDER BY id;

-- the model's answers
SELECT walstar_claims.total_claims() AS total;
SELECT walstar_claims.total_claims(p_country => 'DE') AS de, walstar_claims.total_claims(p_country => 'AT') AS at;
SELECT * FROM walstar_claims.claim_amount_stats();
SELECT walstar_claims.positive_feedback_count() AS positive;
SELECT * FROM walstar_claims.anomaly_feedback_sentiment();
SELECT * FROM walstar_claims.anomaly_resolution_time();
SELECT count(*) AS differences FROM walstar_claims.verify();
