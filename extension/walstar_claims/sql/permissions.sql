-- walstar_reader calls metric functions and reads the star schema, nothing
-- else; walstar_admin also attaches, rebuilds and verifies.
\set VERBOSITY terse
CREATE ROLE claims_analyst LOGIN IN ROLE walstar_reader;
CREATE ROLE claims_operator LOGIN IN ROLE walstar_admin;
CREATE ROLE claims_nobody LOGIN;

SET ROLE claims_analyst;
SELECT walstar_claims.total_claims();
SELECT claims FROM walstar_claims.claim_amount_stats();
SELECT walstar_claims.positive_feedback_count();
SELECT count(*) FROM walstar_claims.anomaly_feedback_sentiment();
SELECT count(*) FROM walstar_claims.anomaly_resolution_time();
SELECT count(*) FROM walstar_claims.freshness();
SELECT count(*) FROM walstar_claims.fact_claim;
SELECT count(*) FROM walstar_claims.dim_customer;
SELECT count(*) FROM walstar_claims.r_claims_day;
-- Not allowed:
SELECT * FROM walstar_claims.verify();
SELECT walstar_claims.rebuild();
SELECT walstar_claims.attach('acme');
SELECT walstar_claims.detach();
SELECT walstar_claims.refresh_claims(NULL);
SELECT * FROM walstar_claims.claim_rows(NULL);
SELECT walstar_claims.bucket(1, 2);
SELECT count(*) FROM walstar_claims.src_customers;
SELECT count(*) FROM acme.customers;
SELECT count(*) FROM walstar_claims.config;
INSERT INTO walstar_claims.r_claims_day VALUES ('2020-01-01', 1, 1, 1);
DELETE FROM walstar_claims.fact_claim;
CREATE TABLE walstar_claims.mine (i int);
RESET ROLE;

SET ROLE claims_nobody;
SELECT walstar_claims.total_claims();
SELECT count(*) FROM walstar_claims.fact_claim;
RESET ROLE;

SET ROLE claims_operator;
SELECT * FROM walstar_claims.verify();
SELECT walstar_claims.rebuild();
SELECT walstar_claims.total_claims();
RESET ROLE;

-- Every function in the schema is accounted for: nothing executable by PUBLIC,
-- the reader gets exactly the metric functions.
SELECT p.proname,
	   has_function_privilege('walstar_reader', p.oid, 'EXECUTE') AS reader,
	   has_function_privilege('walstar_admin', p.oid, 'EXECUTE') AS admin,
	   has_function_privilege('claims_nobody', p.oid, 'EXECUTE') AS public
FROM pg_proc p WHERE p.pronamespace = 'walstar_claims'::regnamespace
ORDER BY 1;
DROP ROLE claims_analyst, claims_operator, claims_nobody;
