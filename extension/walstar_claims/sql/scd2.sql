-- Customer country history (SCD type 2): a claim takes the country in effect
-- at its created_at; claims older than the first known version take it.
\set VERBOSITY terse
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
INSERT INTO acme.customers VALUES (60, 'Flo', 'flo@example.com', NULL, 'IT', '2024-03-01', '2024-03-01');
INSERT INTO acme.claims VALUES
	(600, 60, 10.00, 'open', false, NULL, NULL, '2024-01-15', NULL, '2024-01-15'),	-- before the first version
	(601, 60, 20.00, 'open', false, NULL, NULL, '2024-04-01', NULL, '2024-04-01'),
	(602, 60, 30.00, 'open', false, NULL, NULL, '2024-08-01', NULL, '2024-08-01');
SELECT walstar_claims.total_claims(p_country => 'IT') AS it;

-- Flo moves to PT on 2024-07-01: only the claim after that moves.
INSERT INTO acme.customers VALUES (60, 'Flo', 'flo@example.com', NULL, 'PT', '2024-03-01', '2024-07-01')
ON CONFLICT (id) DO UPDATE SET country_code = excluded.country_code, updated_at = excluded.updated_at;
SELECT walstar_claims.total_claims(p_country => 'IT') AS it, walstar_claims.total_claims(p_country => 'PT') AS pt;
-- A non-country change makes a version of the same country: no claim moves.
UPDATE acme.customers SET phone = '555', updated_at = '2024-07-15' WHERE id = 60;
-- Back to IT on 2024-09-01, then a claim on that day.
UPDATE acme.customers SET country_code = 'IT', updated_at = '2024-09-01' WHERE id = 60;
INSERT INTO acme.claims VALUES (603, 60, 40.00, 'open', false, NULL, NULL, '2024-09-01', NULL, '2024-09-01');
SELECT d.valid_from, d.country FROM claims.d_customer d WHERE d.id = 60 ORDER BY d.valid_from;
SELECT f.id AS claim_id, f.customer_country AS country_code
FROM claims.f_claim f WHERE f.customer_key = 60 ORDER BY 1;
SELECT * FROM walstar_claims.claim_amount_stats(2024, 'PT');
SELECT * FROM walstar_claims.verify();

-- Versions out of order: DE from 2023-01-01, FR from 2023-07-01, then an
-- update to FR with updated_at 2023-04-01 (moving backwards): FR is in
-- effect from April, so a claim of 2023-05-01 counts under FR.
INSERT INTO acme.customers VALUES (61, 'Gus', 'gus@example.com', NULL, 'DE', '2023-01-01', '2023-01-01');
INSERT INTO acme.claims VALUES
	(610, 61, 5.00, 'open', false, NULL, NULL, '2023-05-01', NULL, '2023-05-01'),
	(611, 61, 6.00, 'open', false, NULL, NULL, '2023-02-01', NULL, '2023-02-01');
UPDATE acme.customers SET country_code = 'FR', updated_at = '2023-07-01' WHERE id = 61;
UPDATE acme.customers SET country_code = 'FR', updated_at = '2023-04-01' WHERE id = 61;
SELECT f.id AS claim_id, f.customer_country AS country_code
FROM claims.f_claim f WHERE f.customer_key = 61 ORDER BY 1;
-- two more versions from the past: DE from 2022-06-01 (the first now) and
-- FR from 2023-01-15, which the February claim takes
UPDATE acme.customers SET country_code = 'DE', updated_at = '2022-06-01' WHERE id = 61;
UPDATE acme.customers SET country_code = 'FR', updated_at = '2023-01-15' WHERE id = 61;
SELECT d.valid_from, d.country FROM claims.d_customer d WHERE d.id = 61 ORDER BY d.valid_from;
SELECT f.id AS claim_id, f.customer_country AS country_code
FROM claims.f_claim f WHERE f.customer_key = 61 ORDER BY 1;
SELECT * FROM walstar_claims.verify();
DELETE FROM acme.claims WHERE id IN (610, 611);
DELETE FROM acme.customers WHERE id = 61;

-- A claim moves to another customer; its created_at changes.
UPDATE acme.claims SET customer_id = 1, created_at = '2023-05-05' WHERE id = 602;
SELECT f.id AS claim_id, f.year, f.customer_country AS country_code
FROM claims.f_claim f WHERE f.id = 602;

-- The customer is deleted at the source: its history goes, its claims go to ??.
DELETE FROM acme.customers t USING (VALUES (60::bigint)) AS k(id) WHERE t.id = k.id;
SELECT count(*) AS versions FROM claims.d_customer WHERE id = 60;
SELECT walstar_claims.total_claims(p_country => 'IT') AS it, walstar_claims.total_claims(p_country => 'PT') AS pt;
SELECT * FROM walstar_claims.verify();

-- Back with a new first version: every claim takes it.
INSERT INTO acme.customers VALUES (60, 'Flo', 'flo@example.com', NULL, 'AT', '2024-03-01', '2025-01-01');
SELECT f.id AS claim_id, f.customer_country AS country_code
FROM claims.f_claim f WHERE f.customer_key = 60 ORDER BY 1;
SELECT * FROM walstar_claims.verify();
