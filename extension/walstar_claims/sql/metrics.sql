-- Every metric over a small, fully known data set, applied the way the apply
-- worker does it: multi-row INSERT .. ON CONFLICT DO UPDATE and DELETE .. USING.
\set VERBOSITY terse
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
INSERT INTO acme.customers VALUES
	(1, 'Ann', 'ann@example.com', NULL, 'DE', '2023-01-01', '2023-01-01'),
	(2, 'Bob', 'bob@example.com', NULL, 'FR', '2023-01-01', '2023-01-01'),
	(3, 'Cid', 'cid@example.com', NULL, 'ES', '2023-01-01', '2023-01-01'),
	(4, 'Dee', 'dee@example.com', '1', 'DE', '2023-01-01', '2023-01-01')
ON CONFLICT (id) DO UPDATE SET full_name = excluded.full_name, email = excluded.email,
	phone = excluded.phone, country_code = excluded.country_code,
	created_at = excluded.created_at, updated_at = excluded.updated_at;

INSERT INTO acme.claims (id, customer_id, amount, status, is_anomaly, anomaly_reason,
						 flagged_at, created_at, resolved_at, updated_at) VALUES
	(1, 1, 100.00, 'paid', true, 'dup', '2023-03-01 01:00', '2023-03-01 00:00', '2023-03-02 00:00', '2023-03-02'),
	(2, 1, 200.00, 'rejected', true, 'dup', '2023-03-05 01:00', '2023-03-05 00:00', '2023-03-09 00:00', '2023-03-09'),
	(3, 2, 300.00, 'approved', true, 'big', '2023-06-01 01:00', '2023-06-01 00:00', '2023-06-01 12:00', '2023-06-01'),
	(4, 2, 50.25, 'open', false, NULL, NULL, '2023-12-31 23:59:59', NULL, '2023-12-31'),
	(5, 3, 75.50, 'in_review', true, 'odd', '2024-01-01 00:00:01', '2024-01-01 00:00:00', NULL, '2024-01-01'),
	(6, 4, 1000.00, 'paid', true, 'big', '2024-02-10 00:00', '2024-02-10 00:00', '2024-02-20 06:00', '2024-02-20'),
	(7, 4, 20.00, 'paid', false, NULL, NULL, '2024-02-15 00:00', '2024-02-16 00:00', '2024-02-16')
ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, amount = excluded.amount,
	status = excluded.status, is_anomaly = excluded.is_anomaly,
	anomaly_reason = excluded.anomaly_reason, flagged_at = excluded.flagged_at,
	created_at = excluded.created_at, resolved_at = excluded.resolved_at,
	updated_at = excluded.updated_at;

INSERT INTO acme.feedback (id, claim_id, customer_id, rating, comment, sentiment, created_at) VALUES
	(1, 1, 1, 5, 'great', NULL, '2023-03-03'),			-- derived positive
	(2, 1, 1, 2, 'slow', NULL, '2023-03-04'),			-- derived negative
	(3, 2, 1, 3, NULL, NULL, '2023-03-10'),				-- derived neutral
	(4, 3, 2, 1, 'sarcastic', 'positive', '2023-06-02'),	-- source sentiment wins
	(5, 4, 2, 4, NULL, NULL, '2024-01-02'),				-- not an anomaly
	(6, 6, 4, 5, NULL, NULL, '2024-02-21'),
	(7, 6, 4, 4, NULL, 'neutral', '2024-02-22');

SELECT walstar_claims.total_claims();
SELECT walstar_claims.total_claims(p_country => 'DE') AS de,
	   walstar_claims.total_claims(p_country => 'FR') AS fr,
	   walstar_claims.total_claims(p_country => 'XX') AS unknown_code;
-- Periods are [from, to) on the UTC date of created_at; partial and whole months.
SELECT walstar_claims.total_claims('2023-01-01', '2024-01-01') AS y2023,
	   walstar_claims.total_claims('2024-01-01') AS since_2024,
	   walstar_claims.total_claims(NULL, '2023-06-01') AS before_june,
	   walstar_claims.total_claims('2023-03-02', '2023-03-05') AS march_2_to_4,
	   walstar_claims.total_claims('2023-03-05', '2024-02-11', 'DE') AS de_range;

SELECT * FROM walstar_claims.claim_amount_stats();
SELECT * FROM walstar_claims.claim_amount_stats(2023);
SELECT * FROM walstar_claims.claim_amount_stats(p_country => 'DE');
SELECT * FROM walstar_claims.claim_amount_stats(2022);

SELECT walstar_claims.positive_feedback_count() AS all_time,
	   walstar_claims.positive_feedback_count('2024-01-01') AS since_2024,
	   walstar_claims.positive_feedback_count(p_country => 'FR') AS fr;

SELECT * FROM walstar_claims.anomaly_feedback_sentiment();
SELECT * FROM walstar_claims.anomaly_feedback_sentiment(2024, 2024);

SELECT * FROM walstar_claims.anomaly_resolution_time();
SELECT * FROM walstar_claims.anomaly_resolution_time(2023, 'DE');

-- Result columns are typed.
SELECT pg_get_function_result('walstar_claims.claim_amount_stats'::regproc) AS amount_stats,
	   pg_get_function_result('walstar_claims.anomaly_resolution_time'::regproc) AS resolution;

-- The accumulating snapshot.
SELECT id, customer_country, _day, is_anomaly, resolution_us FROM claims.f_claim ORDER BY id;

-- Updates: flag a claim as anomaly, resolve another, change an amount.
INSERT INTO acme.claims (id, customer_id, amount, status, is_anomaly, anomaly_reason,
						 flagged_at, created_at, resolved_at, updated_at) VALUES
	(4, 2, 50.25, 'paid', true, 'late', '2024-01-05', '2023-12-31 23:59:59', '2024-01-06 00:00:01', '2024-01-06'),
	(7, 4, 25.00, 'paid', false, NULL, NULL, '2024-02-15 00:00', '2024-02-16 00:00', '2024-02-17')
ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, amount = excluded.amount,
	status = excluded.status, is_anomaly = excluded.is_anomaly,
	anomaly_reason = excluded.anomaly_reason, flagged_at = excluded.flagged_at,
	created_at = excluded.created_at, resolved_at = excluded.resolved_at,
	updated_at = excluded.updated_at;
SELECT * FROM walstar_claims.anomaly_feedback_sentiment(2023, 2023, 'FR');
SELECT * FROM walstar_claims.anomaly_resolution_time(p_country => 'FR');
SELECT claims, avg_amount FROM walstar_claims.claim_amount_stats();

-- Deletes as the apply worker issues them.
DELETE FROM acme.feedback t USING (VALUES (2::bigint), (7)) AS k(id) WHERE t.id = k.id;
SELECT * FROM walstar_claims.anomaly_feedback_sentiment();
SELECT * FROM walstar_claims.verify();

-- verify() sees a rollup that disagrees with the landing tables (the
-- engine's check and the metric functions'), and rebuild() repairs it.
UPDATE claims.r_claim_all SET claims_n = claims_n + 1 WHERE customer_country = 'DE';
SELECT metric, key FROM walstar_claims.verify() ORDER BY 1, 2;
SELECT walstar_claims.rebuild();
SELECT * FROM walstar_claims.verify();
