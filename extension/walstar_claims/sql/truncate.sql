-- TRUNCATE of a landing table (the source truncated it) empties what
-- depends on it; customer history of remaining customers is kept.
\set VERBOSITY terse
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SELECT walstar_claims.total_claims() > 0 AS has_claims,
	   walstar_claims.positive_feedback_count() > 0 AS has_feedback;
TRUNCATE acme.feedback;
SELECT walstar_claims.positive_feedback_count(), count(*) FROM walstar_claims.anomaly_feedback_sentiment();
SELECT * FROM walstar_claims.verify();
TRUNCATE acme.claims;
SELECT walstar_claims.total_claims(), (SELECT claims FROM walstar_claims.claim_amount_stats()),
	   (SELECT count(*) FROM walstar_claims.anomaly_resolution_time());
SELECT count(*) AS rollup_rows FROM claims.r_claim_daily;
SELECT * FROM walstar_claims.verify();
TRUNCATE acme.customers;
SELECT count(*) AS versions FROM claims.d_customer;

-- Reload after the truncates (a new snapshot) and the model follows.
INSERT INTO acme.customers VALUES
	(1, 'Ann', 'ann@example.com', NULL, 'DE', '2023-01-01', '2023-01-01'),
	(2, 'Bob', 'bob@example.com', NULL, 'FR', '2023-01-01', '2023-01-01');
INSERT INTO acme.claims VALUES
	(1, 1, 100.00, 'paid', true, 'dup', '2023-03-01 01:00', '2023-03-01 00:00', '2023-03-02 00:00', '2023-03-02'),
	(2, 2, 300.00, 'approved', true, 'big', '2023-06-01 01:00', '2023-06-01 00:00', '2023-06-01 12:00', '2023-06-01'),
	(3, 3, 7.00, 'open', false, NULL, NULL, '2023-07-01', NULL, '2023-07-01');
INSERT INTO acme.feedback VALUES (1, 1, 1, 5, NULL, NULL, '2023-03-03'), (2, 2, 2, 4, NULL, NULL, '2023-06-03');
SELECT walstar_claims.total_claims(), walstar_claims.positive_feedback_count();
SELECT * FROM walstar_claims.anomaly_feedback_sentiment();
SELECT * FROM walstar_claims.verify();
