-- Min / max right after the extreme row is deleted or changed; the median
-- for odd and even counts and ties; re-opened claims leave the resolution times.
\set VERBOSITY terse
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
CREATE TEMP TABLE before AS SELECT * FROM walstar_claims.claim_amount_stats();
INSERT INTO acme.claims VALUES
	(700, 1, 0.00, 'open', false, NULL, NULL, '2025-01-01', NULL, '2025-01-01'),
	(701, 1, 9999999999.99, 'open', false, NULL, NULL, '2025-01-02', NULL, '2025-01-02'),
	(702, 1, 9999999999.99, 'open', false, NULL, NULL, '2025-01-03', NULL, '2025-01-03');
SELECT * FROM walstar_claims.claim_amount_stats(2025);
SELECT min_amount, max_amount FROM walstar_claims.claim_amount_stats();
-- One of two equal maxima goes: the max stays.
DELETE FROM acme.claims t USING (VALUES (702::bigint)) AS k(id) WHERE t.id = k.id;
SELECT * FROM walstar_claims.claim_amount_stats(2025);
-- The other goes too, and the minimum in the same statement.
DELETE FROM acme.claims t USING (VALUES (700::bigint), (701)) AS k(id) WHERE t.id = k.id;
SELECT * FROM walstar_claims.claim_amount_stats(2025);
SELECT (SELECT row(b.*)::text FROM before b) = (SELECT row(s.*)::text FROM walstar_claims.claim_amount_stats() s) AS back_to_before;

-- Median: odd count, even count (mean of the two middle amounts), ties.
INSERT INTO acme.claims
SELECT 800 + i, 1, amount, 'open', false, NULL, NULL, '2026-01-01'::timestamptz + i * interval '1 hour', NULL, '2026-01-01'
FROM unnest(ARRAY[5.00, 1.00, 3.00, 3.00, 100.00]) WITH ORDINALITY AS u(amount, i);
SELECT claims, median_amount FROM walstar_claims.claim_amount_stats(2026);
UPDATE acme.claims SET amount = 4.01 WHERE id = 805;
INSERT INTO acme.claims VALUES (810, 1, 4.00, 'open', false, NULL, NULL, '2026-02-01', NULL, '2026-02-01');
SELECT * FROM walstar_claims.claim_amount_stats(2026);
-- Amounts spread over many magnitudes and buckets.
INSERT INTO acme.claims
SELECT 1000 + i, 1 + i % 4, round((i * i * 37 % 1000003) / 7.0, 2), 'open', false, NULL, NULL,
	   '2026-03-01'::timestamptz + i * interval '1 minute', NULL, '2026-03-01'
FROM generate_series(1, 2000) AS i;
SELECT claims, min_amount, max_amount, median_amount FROM walstar_claims.claim_amount_stats(2026);
SELECT median_amount = (SELECT (percentile_disc(0.5) WITHIN GROUP (ORDER BY amount)
							   + percentile_disc(0.5) WITHIN GROUP (ORDER BY amount DESC)) / 2
						FROM acme.claims WHERE created_at >= '2026-01-01' AND created_at < '2027-01-01') AS exact
FROM walstar_claims.claim_amount_stats(2026);

-- Resolution times; then a claim is re-opened: resolved_at cleared.
INSERT INTO acme.claims
SELECT 5000 + i, 4, 10.00, 'paid', true, 'r', '2026-04-01', '2026-04-01'::timestamptz,
	   '2026-04-01'::timestamptz + i * interval '1 hour' + i * interval '1.5 second', '2026-04-01'
FROM generate_series(1, 11) AS i;
SELECT * FROM walstar_claims.anomaly_resolution_time(2026);
UPDATE acme.claims SET status = 'open', resolved_at = NULL WHERE id IN (5011, 5010);
SELECT * FROM walstar_claims.anomaly_resolution_time(2026);
SELECT id AS claim_id, is_anomaly, resolution_us FROM claims.f_claim WHERE id = 5011;
-- Resolved again later; an anomaly flag removed.
UPDATE acme.claims SET status = 'paid', resolved_at = '2026-05-01' WHERE id = 5011;
UPDATE acme.claims SET is_anomaly = false WHERE id = 5001;
SELECT * FROM walstar_claims.anomaly_resolution_time(2026);
SELECT * FROM walstar_claims.verify();
