-- The model installs on top of walstar and attaches to landing tables that
-- already hold rows (the apply worker may have run before the model).
\set VERBOSITY terse
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
CREATE EXTENSION walstar_claims CASCADE;
SELECT e.extname, e.extrelocatable, n.nspname
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname LIKE 'walstar%' ORDER BY 1;

-- A landing table created beforehand (as the apply worker would) is used as it is.
CREATE SCHEMA acme;
CREATE TABLE acme.customers (
	id bigint PRIMARY KEY,
	full_name text NOT NULL,
	email text NOT NULL,
	phone text,
	country_code character(2) NOT NULL,
	created_at timestamp with time zone NOT NULL,
	updated_at timestamp with time zone NOT NULL);
INSERT INTO acme.customers VALUES
	(1, 'Ann', 'ann@example.com', NULL, 'DE', '2023-01-01', '2023-01-01'),
	(2, 'Bob', 'bob@example.com', NULL, 'FR', '2023-01-01', '2023-01-01');

SELECT walstar_claims.attach('acme');

-- The other two were created with exactly the source columns and types.
SELECT table_name, column_name, data_type, character_maximum_length, numeric_precision, numeric_scale
FROM information_schema.columns WHERE table_schema = 'acme'
ORDER BY table_name, ordinal_position;
SELECT conrelid::regclass, pg_get_constraintdef(oid) FROM pg_constraint
WHERE connamespace = 'acme'::regnamespace AND contype = 'p' ORDER BY 1;
SELECT tgrelid::regclass, tgname, tgenabled FROM pg_trigger
WHERE tgrelid IN ('acme.customers'::regclass, 'acme.claims'::regclass, 'acme.feedback'::regclass)
ORDER BY 1, 2;

-- Customers already there are in the dimension.
SELECT d.id, d.country, d.valid_from FROM claims.d_customer d ORDER BY 1;

-- Attaching again is harmless; rebuild keeps the same result.
SELECT walstar_claims.attach('acme');
SELECT walstar_claims.rebuild();
SELECT count(*) FROM claims.d_customer;
SELECT * FROM walstar_claims.verify();

-- Every metric function states its semantics.
SELECT p.proname, obj_description(p.oid, 'pg_proc') IS NOT NULL AS has_comment
FROM pg_proc p WHERE p.pronamespace = 'walstar_claims'::regnamespace
  AND p.proname IN ('total_claims', 'claim_amount_stats', 'positive_feedback_count',
					'anomaly_feedback_sentiment', 'anomaly_resolution_time', 'freshness',
					'verify', 'rebuild', 'attach')
ORDER BY 1;
