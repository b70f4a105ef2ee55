-- Feedback before its claim, a claim before its customer: kept, counted under
-- '??' where a country is asked for, and attached when the missing row arrives.
\set VERBOSITY terse
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';

-- Feedback 100 and 101 for claim 100, which has not arrived.
INSERT INTO acme.feedback VALUES
	(100, 100, 50, 5, NULL, NULL, '2024-05-02'),
	(101, 100, 50, 1, NULL, 'negative', '2024-05-03');
SELECT walstar_claims.positive_feedback_count() AS positive,
	   walstar_claims.positive_feedback_count(p_country => '??') AS positive_unknown;
SELECT * FROM walstar_claims.anomaly_feedback_sentiment(2024, 2024, '??');

-- Claim 100 arrives, for customer 50 who has not arrived either.
INSERT INTO acme.claims VALUES
	(100, 50, 999.99, 'approved', true, 'x', '2024-05-01 01:00', '2024-05-01 00:00', '2024-05-01 03:00', '2024-05-01');
SELECT * FROM walstar_claims.anomaly_feedback_sentiment(2024, 2024, '??');
SELECT walstar_claims.total_claims(p_country => '??') AS unknown_country_claims;
SELECT * FROM walstar_claims.anomaly_resolution_time(2024, '??');
SELECT * FROM walstar_claims.verify();

-- Customer 50 arrives (in NL): claim and feedback move from ?? to NL.
INSERT INTO acme.customers VALUES (50, 'Eve', 'eve@example.com', NULL, 'NL', '2024-06-01', '2024-06-01');
SELECT walstar_claims.total_claims(p_country => '??') AS unknown, walstar_claims.total_claims(p_country => 'NL') AS nl;
SELECT * FROM walstar_claims.anomaly_feedback_sentiment(2024, 2024, 'NL');
SELECT walstar_claims.positive_feedback_count(p_country => 'NL') AS positive_nl;
SELECT * FROM walstar_claims.anomaly_resolution_time(2024, 'NL');
SELECT * FROM walstar_claims.verify();

-- The claim leaves again: its feedback stays counted, but no longer per anomaly.
DELETE FROM acme.claims t USING (VALUES (100::bigint)) AS k(id) WHERE t.id = k.id;
SELECT * FROM walstar_claims.anomaly_feedback_sentiment(2024, 2024, 'NL');
SELECT walstar_claims.positive_feedback_count(p_country => '??') AS positive_unknown;
-- ... and comes back in one transaction with another change of its customer.
BEGIN;
INSERT INTO acme.claims VALUES
	(100, 50, 999.99, 'approved', true, 'x', '2024-05-01 01:00', '2024-05-01 00:00', '2024-05-01 03:00', '2024-05-01');
UPDATE acme.customers SET phone = '123', updated_at = '2024-06-02' WHERE id = 50;
COMMIT;
SELECT * FROM walstar_claims.anomaly_feedback_sentiment(2024, 2024, 'NL');
SELECT * FROM walstar_claims.verify();
