-- walstar_reader calls metric functions and reads the star schema, nothing
-- else; walstar_admin also attaches and detaches, but only landing tables it
-- owns; rebuild and verify are the landing tables' owners'.
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
SELECT count(*) FROM claims.f_claim;
SELECT count(*) FROM claims.d_customer;
SELECT count(*) FROM claims.r_claim_daily;
-- Not allowed:
SELECT * FROM walstar_claims.verify();
SELECT walstar_claims.rebuild();
SELECT walstar_claims.attach('acme');
SELECT walstar_claims.detach();
SELECT claims._refresh_claim(NULL);
SELECT * FROM claims._rows_claim(NULL);
SELECT walstar_claims._writer_privileges(0, false);
SELECT count(*) FROM walstar_versions.acme__customers;
SELECT count(*) FROM acme.customers;
SELECT count(*) FROM walstar_claims.config;
INSERT INTO claims.r_claim_daily (period, customer_country, n) VALUES ('2020-01-01', 'DE', 1);
DELETE FROM claims.f_claim;
CREATE TABLE walstar_claims.mine (i int);
RESET ROLE;

SET ROLE claims_nobody;
SELECT walstar_claims.total_claims();
SELECT count(*) FROM claims.f_claim;
RESET ROLE;

SET ROLE claims_operator;
SELECT * FROM walstar_claims.verify();
SELECT walstar_claims.rebuild();
SELECT walstar_claims.total_claims();
-- acme's tables are not the operator's: it can neither take the model away
-- from them nor detach it
SELECT walstar_claims.attach('claims_mine');
SELECT walstar_claims.detach();
SELECT landing_schema FROM walstar_claims.config;
RESET ROLE;

-- A landing owner attaches the model to its own tables, never to another
-- role's, and only to tables whose model columns have built-in types.
SELECT walstar_claims.detach();
CREATE ROLE claims_owner LOGIN IN ROLE walstar_admin;
CREATE SCHEMA claims_vault;
CREATE TABLE claims_vault.claims (id bigint PRIMARY KEY, customer_id bigint, amount numeric(12,2),
	status text, is_anomaly boolean, flagged_at timestamptz, created_at timestamptz,
	resolved_at timestamptz, updated_at timestamptz);
SET ROLE claims_owner;
SELECT walstar_claims.attach('claims_vault');
RESET ROLE;
GRANT USAGE, CREATE ON SCHEMA claims_vault TO claims_owner;
SET ROLE claims_owner;
SELECT walstar_claims.attach('claims_vault');
RESET ROLE;
SELECT has_table_privilege('claims_owner', 'claims_vault.claims', 'INSERT') AS may_write_vault,
	(SELECT count(*) FROM pg_trigger WHERE tgrelid = 'claims_vault.claims'::regclass) AS triggers,
	(SELECT count(*) FROM pg_class WHERE relnamespace = 'claims_vault'::regnamespace AND relkind = 'r') AS tables,
	(SELECT count(*) FROM walstar_claims.config) AS attached;
CREATE SCHEMA claims_mine AUTHORIZATION claims_owner;
SET ROLE claims_owner;
CREATE DOMAIN claims_mine.euros AS numeric;
CREATE TABLE claims_mine.claims (id bigint PRIMARY KEY, customer_id bigint, amount claims_mine.euros,
	status text, is_anomaly boolean, flagged_at timestamptz, created_at timestamptz,
	resolved_at timestamptz, updated_at timestamptz);
SELECT walstar_claims.attach('claims_mine');
ALTER TABLE claims_mine.claims ALTER amount TYPE numeric(12,2);
CREATE VIEW claims_mine.feedback AS SELECT 1::bigint AS id;
SELECT walstar_claims.attach('claims_mine');
DROP VIEW claims_mine.feedback;
SELECT walstar_claims.attach('claims_mine');
RESET ROLE;
SELECT c.relname, pg_get_userbyid(c.relowner) AS owner,
	(SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid) AS triggers
FROM pg_class c WHERE c.relnamespace = 'claims_mine'::regnamespace AND c.relkind = 'r' ORDER BY 1;
-- the triggers run as whoever changes the landing tables: the owner, with
-- the writer rights attach() gave it
SET ROLE claims_owner;
INSERT INTO claims_mine.customers VALUES (1, 'n', 'e', NULL, 'DE', '2024-01-01', '2024-01-01');
INSERT INTO claims_mine.claims VALUES (1, 1, 10.50, 'open', false, NULL, '2024-02-01', NULL, '2024-02-01'),
	(2, 1, 3.25, 'open', true, NULL, '2024-02-02', NULL, '2024-02-02');
SELECT walstar_claims.total_claims(NULL, NULL, 'DE'), (walstar_claims.claim_amount_stats()).median_amount;
SELECT * FROM walstar_claims.verify();
SELECT walstar_claims.rebuild();
RESET ROLE;
SET ROLE claims_operator;
SELECT walstar_claims.rebuild();
SELECT walstar_claims.detach();
INSERT INTO claims_mine.claims VALUES (3, 1, 1, 'open', false, NULL, '2024-02-03', NULL, '2024-02-03');
RESET ROLE;
SET ROLE claims_owner;
SELECT walstar_claims.detach();
RESET ROLE;
SELECT has_function_privilege('claims_owner', 'walstar_claims.rebuild()', 'EXECUTE') AS writer_after_detach,
	(SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
	 WHERE c.relnamespace = 'claims_mine'::regnamespace) AS triggers_after_detach,
	(SELECT count(*) FROM walstar_claims.config) AS attached_after_detach;
SELECT walstar_claims.attach('acme');
SELECT walstar_claims.total_claims();
DROP SCHEMA claims_vault, claims_mine CASCADE;

-- Every function in the schema is accounted for: nothing executable by PUBLIC,
-- the reader gets exactly the metric functions.
SELECT p.proname,
	   has_function_privilege('walstar_reader', p.oid, 'EXECUTE') AS reader,
	   has_function_privilege('walstar_admin', p.oid, 'EXECUTE') AS admin,
	   has_function_privilege('claims_nobody', p.oid, 'EXECUTE') AS public
FROM pg_proc p WHERE p.pronamespace = 'walstar_claims'::regnamespace
ORDER BY 1;
DROP ROLE claims_analyst, claims_operator, claims_nobody, claims_owner;
