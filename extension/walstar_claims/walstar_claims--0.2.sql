/* walstar_claims--0.2.sql: the Acme claims model, version 0.2 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION walstar_claims CASCADE" to load this file. \quit

/*
 * How it works
 *
 * walstar's apply worker keeps three landing tables (customers, claims,
 * feedback) equal to the Acme service tables.  attach() puts statement-level
 * triggers with transition tables on them; every applied statement hands the
 * ids it touched to refresh_customers(), refresh_claims() or
 * refresh_feedback().  Each refresh recomputes the affected fact rows from the
 * landing tables and, in one statement, adds (new contribution - old
 * contribution) to every rollup and stores the new fact rows: set-based, in
 * the apply transaction.  Metric functions read only rollups.
 *
 * All maintenance takes one transaction-level advisory lock (model_lock), so
 * the apply workers of the three services never interleave their model
 * updates: a claim inserted while its customer arrives in another worker's
 * transaction is attributed by whichever of the two commits last.
 *
 * Functions run with jit = off: their statements are many and short, and the
 * planner's cost for calls of PL/pgSQL functions would otherwise make them
 * pay seconds of JIT compilation for milliseconds of work.
 */

-- Where the landing tables are (set by attach()).
CREATE TABLE config (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	landing_schema name NOT NULL,
	writers oid[] NOT NULL DEFAULT '{}'	/* roles attach() gave the writer rights */
);
COMMENT ON TABLE config IS 'the landing schema the model is attached to, and the roles given the model''s writer rights';

-- What the model has absorbed, per landing table.
CREATE TABLE model_state (
	source_table text PRIMARY KEY,
	last_applied_at timestamptz,		/* start of the last transaction that changed it */
	statements bigint NOT NULL DEFAULT 0,	/* applied statements seen by the triggers */
	rows_changed bigint NOT NULL DEFAULT 0	/* rows in their transition tables */
);
INSERT INTO model_state (source_table) VALUES ('customers'), ('claims'), ('feedback');
COMMENT ON TABLE model_state IS 'per landing table: when the model last absorbed a change, and how many';

/*
 * Landing tables are read through these views, so that every function below
 * is plain static SQL whatever the landing schema.  They start empty and
 * attach() points them at <landing_schema>.customers/claims/feedback.  Only
 * the columns the model uses: no personal data enters the star schema.
 * security_invoker: whoever reads them needs the right to read the landing
 * tables themselves (their owner does); the views lend nobody theirs.
 */
CREATE FUNCTION _point_views(landing_schema name) RETURNS void
LANGUAGE plpgsql
SET search_path = walstar_claims, pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	IF landing_schema IS NULL THEN
		CREATE OR REPLACE VIEW walstar_claims.src_customers WITH (security_invoker = true) AS
			SELECT NULL::bigint AS id, NULL::character(2) AS country_code,
				   NULL::timestamptz AS updated_at
			WHERE false;
		CREATE OR REPLACE VIEW walstar_claims.src_claims WITH (security_invoker = true) AS
			SELECT NULL::bigint AS id, NULL::bigint AS customer_id,
				   NULL::numeric(12,2) AS amount, NULL::text AS status,
				   NULL::boolean AS is_anomaly, NULL::timestamptz AS flagged_at,
				   NULL::timestamptz AS created_at, NULL::timestamptz AS resolved_at,
				   NULL::timestamptz AS updated_at
			WHERE false;
		CREATE OR REPLACE VIEW walstar_claims.src_feedback WITH (security_invoker = true) AS
			SELECT NULL::bigint AS id, NULL::bigint AS claim_id,
				   NULL::bigint AS customer_id, NULL::smallint AS rating,
				   NULL::text AS sentiment, NULL::timestamptz AS created_at
			WHERE false;
		CREATE OR REPLACE VIEW walstar_claims.src_customer_versions WITH (security_invoker = true) AS
			SELECT NULL::bigint AS version, NULL::"char" AS op, NULL::bigint AS id,
				   NULL::character(2) AS country_code, NULL::timestamptz AS updated_at
			WHERE false;
		RETURN;
	END IF;
	EXECUTE format($q$CREATE OR REPLACE VIEW walstar_claims.src_customers
		WITH (security_invoker = true) AS
		SELECT id::bigint AS id, country_code::character(2) AS country_code,
			   updated_at::timestamptz AS updated_at
		FROM %I.customers$q$, landing_schema);
	EXECUTE format($q$CREATE OR REPLACE VIEW walstar_claims.src_claims
		WITH (security_invoker = true) AS
		SELECT id::bigint AS id, customer_id::bigint AS customer_id,
			   amount::numeric(12,2) AS amount, status::text AS status,
			   is_anomaly::boolean AS is_anomaly, flagged_at::timestamptz AS flagged_at,
			   created_at::timestamptz AS created_at, resolved_at::timestamptz AS resolved_at,
			   updated_at::timestamptz AS updated_at
		FROM %I.claims$q$, landing_schema);
	EXECUTE format($q$CREATE OR REPLACE VIEW walstar_claims.src_feedback
		WITH (security_invoker = true) AS
		SELECT id::bigint AS id, claim_id::bigint AS claim_id,
			   customer_id::bigint AS customer_id, rating::smallint AS rating,
			   sentiment::text AS sentiment, created_at::timestamptz AS created_at
		FROM %I.feedback$q$, landing_schema);
	EXECUTE format($q$CREATE OR REPLACE VIEW walstar_claims.src_customer_versions
		WITH (security_invoker = true) AS
		SELECT walstar_version AS version, walstar_op AS op, id::bigint AS id,
			   country_code::character(2) AS country_code, updated_at::timestamptz AS updated_at
		FROM walstar_versions.%I$q$,
		(SELECT v.history_table FROM walstar.version_histories v
		 WHERE v.landing_schema = landing_schema AND v.landing_table = 'customers'));
END
$$;
SELECT _point_views(NULL);

------------------------------------------------------------------------------
-- Dimensions
------------------------------------------------------------------------------

CREATE TABLE dim_date (
	date_key date PRIMARY KEY,
	year integer NOT NULL,
	quarter integer NOT NULL,
	month integer NOT NULL,
	day integer NOT NULL,
	iso_week integer NOT NULL,
	iso_day_of_week integer NOT NULL,
	month_start date NOT NULL
);
COMMENT ON TABLE dim_date IS 'calendar days (UTC); facts refer to it by date';
INSERT INTO dim_date
	SELECT d, extract(year FROM d), extract(quarter FROM d), extract(month FROM d),
		   extract(day FROM d), extract(week FROM d), extract(isodow FROM d),
		   date_trunc('month', d)::date
	FROM generate_series(date '2000-01-01', date '2040-12-31', interval '1 day') AS g(t),
		 LATERAL (SELECT t::date) AS x(d);

CREATE TABLE dim_country (
	country_key integer PRIMARY KEY,
	country_code character(2) NOT NULL UNIQUE,
	description text
);
CREATE SEQUENCE dim_country_key_seq START 2 OWNED BY dim_country.country_key;
COMMENT ON TABLE dim_country IS 'countries (ISO 3166-1 alpha-2) seen in customers; key 1 = ''??'' (customer not arrived), key 0 = all countries in rollups';
INSERT INTO dim_country VALUES
	(0, '**', 'all countries (rollup rows only)'),
	(1, '??', 'unknown: the customer has not arrived yet');

/*
 * Customer dimension, SCD type 2 on country.  Every version of a landing
 * row that arrives is kept, at its updated_at (valid_from), in whatever
 * order they arrive: it is in effect until the next version's valid_from
 * (versions of the same country only split an interval).  The first version also covers everything before it
 * (row_from = -infinity), as the scenario attributes claims older than the
 * first known version to that version.
 */
CREATE TABLE dim_customer (
	customer_key bigserial PRIMARY KEY,
	customer_id bigint NOT NULL,		/* source customers.id */
	country_key integer NOT NULL,		/* dim_country */
	valid_from timestamptz NOT NULL,	/* source updated_at that started this version */
	row_from timestamptz NOT NULL,		/* effective start: valid_from, -infinity for the first */
	row_to timestamptz NOT NULL,		/* next version's valid_from, or infinity */
	is_current boolean NOT NULL,
	UNIQUE (customer_id, valid_from)
);
COMMENT ON TABLE dim_customer IS 'customers, SCD type 2 on country: one row per country version';

------------------------------------------------------------------------------
-- Facts
------------------------------------------------------------------------------

-- Accumulating snapshot: one row per claim, milestones filled in as they happen.
CREATE TABLE fact_claim (
	claim_id bigint PRIMARY KEY,
	customer_id bigint NOT NULL,
	customer_key bigint,				/* dim_customer version at created_at; NULL while unknown */
	country_key integer NOT NULL,		/* dim_country; 1 (??) while the customer is unknown */
	created_date date NOT NULL,			/* dim_date, UTC */
	created_year integer NOT NULL,		/* UTC calendar year of created_at */
	created_at timestamptz NOT NULL,
	amount numeric(12,2) NOT NULL,		/* EUR */
	status text NOT NULL,
	is_anomaly boolean NOT NULL,
	flagged_at timestamptz,				/* milestone: flagged as anomaly */
	flagged_date date,
	resolved_at timestamptz,			/* milestone: resolved; NULL again when re-opened */
	resolved_date date,
	resolution_time interval,			/* resolved_at - created_at */
	resolution_us bigint,				/* the same in microseconds */
	updated_at timestamptz NOT NULL
);
CREATE INDEX fact_claim_customer_id ON fact_claim (customer_id);
COMMENT ON TABLE fact_claim IS 'claims, accumulating snapshot (created, flagged as anomaly, resolved, resolution time)';

CREATE TABLE fact_feedback (
	feedback_id bigint PRIMARY KEY,
	claim_id bigint NOT NULL,
	customer_id bigint NOT NULL,
	created_date date NOT NULL,			/* dim_date, UTC */
	created_at timestamptz NOT NULL,
	rating smallint NOT NULL,
	sentiment text NOT NULL,			/* source sentiment, else derived from rating */
	sentiment_derived boolean NOT NULL,	/* true when derived from rating */
	claim_known boolean NOT NULL,		/* the claim has arrived */
	country_key integer NOT NULL,		/* the claim's country; 1 (??) while unknown */
	claim_year integer,					/* the claim's created_year */
	claim_is_anomaly boolean NOT NULL
);
CREATE INDEX fact_feedback_claim_id ON fact_feedback (claim_id);
COMMENT ON TABLE fact_feedback IS 'feedback with effective sentiment (source sentiment, else rating 4-5 positive, 3 neutral, 1-2 negative) and its claim''s attributes';

------------------------------------------------------------------------------
-- Rollups.  A row whose count falls to zero stays (readers skip it) until
-- rebuild(): keeping the counters' columns out of every index lets their
-- updates be HOT, which is most of the apply cost of the model; fillfactor
-- leaves room for that on each page.
------------------------------------------------------------------------------

CREATE TABLE r_claims_day (
	day date NOT NULL,
	country_key integer NOT NULL,
	claims bigint NOT NULL,
	amount_sum numeric NOT NULL,
	PRIMARY KEY (day, country_key)
) WITH (fillfactor = 80);

CREATE TABLE r_claims_month (
	month date NOT NULL,
	country_key integer NOT NULL,
	claims bigint NOT NULL,
	amount_sum numeric NOT NULL,
	PRIMARY KEY (month, country_key)
) WITH (fillfactor = 80);

CREATE TABLE r_feedback_day (
	day date NOT NULL,
	country_key integer NOT NULL,
	sentiment text NOT NULL,
	feedback bigint NOT NULL,
	PRIMARY KEY (day, country_key, sentiment)
) WITH (fillfactor = 80);

CREATE TABLE r_feedback_month (
	month date NOT NULL,
	country_key integer NOT NULL,
	sentiment text NOT NULL,
	feedback bigint NOT NULL,
	PRIMARY KEY (month, country_key, sentiment)
) WITH (fillfactor = 80);

CREATE TABLE r_anomaly_sentiment (
	year integer NOT NULL,				/* claim created_at, UTC */
	country_key integer NOT NULL,		/* claim country */
	sentiment text NOT NULL,
	feedback bigint NOT NULL,
	PRIMARY KEY (year, country_key, sentiment)
) WITH (fillfactor = 80);

/*
 * Exact histograms for order statistics, cubed over (year, country): year 0
 * means all years, country_key 0 all countries.  kind 1 = claim amount in
 * cents; kind 2 = resolution time of anomaly claims in microseconds.  Three
 * levels, so that a rank is found by summing a few hundred coarse rows, at
 * most ten fine rows and the distinct values of one fine bucket: coarse =
 * value truncated to 2 significant digits, fine = to 3.  Every applied
 * value touches one exact row per cube cell; the coarser levels change far
 * less often.
 */
CREATE TABLE hist_total (
	kind smallint NOT NULL,
	year integer NOT NULL,
	country_key integer NOT NULL,
	n bigint NOT NULL,					/* values */
	total numeric NOT NULL,				/* their sum (EUR for kind 1, microseconds for kind 2) */
	median float8,						/* kind 2: percentile_cont(0.5), cached */
	p90 float8,							/* kind 2: percentile_cont(0.9), cached */
	PRIMARY KEY (kind, year, country_key)
) WITH (fillfactor = 80);

CREATE TABLE hist_coarse (
	kind smallint NOT NULL,
	year integer NOT NULL,
	country_key integer NOT NULL,
	coarse bigint NOT NULL,
	n bigint NOT NULL,
	PRIMARY KEY (kind, year, country_key, coarse)
) WITH (fillfactor = 80);

CREATE TABLE hist_fine (
	kind smallint NOT NULL,
	year integer NOT NULL,
	country_key integer NOT NULL,
	coarse bigint NOT NULL,
	fine bigint NOT NULL,
	n bigint NOT NULL,
	PRIMARY KEY (kind, year, country_key, coarse, fine)
) WITH (fillfactor = 80);

CREATE TABLE hist_exact (
	kind smallint NOT NULL,
	year integer NOT NULL,
	country_key integer NOT NULL,
	fine bigint NOT NULL,
	v bigint NOT NULL,
	n bigint NOT NULL,
	PRIMARY KEY (kind, year, country_key, fine, v)
) WITH (fillfactor = 80);

------------------------------------------------------------------------------
-- Helpers
------------------------------------------------------------------------------

-- The SQL functions have SQL-standard bodies: their names are bound when the
-- extension is created, so no caller's search_path (a public.unnest(date[]),
-- an operator public.*(integer, numeric)) changes what they call, and they
-- still inline.  The PL/pgSQL functions pin their search_path instead.

-- 10^(number of digits of |v| - digits), at least 1.  (Not STRICT, so that
-- the planner inlines these two: they run for every histogram delta row.)
CREATE FUNCTION bucket_width(v bigint, digits integer) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
	SELECT (10::float8 ^ greatest(length(abs(v)::text) - digits, 0))::bigint;
END;

-- v rounded down to its first "digits" significant digits (monotonic in v).
CREATE FUNCTION bucket(v bigint, digits integer) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
	SELECT v - (((v % walstar_claims.bucket_width(v, digits))
				 + walstar_claims.bucket_width(v, digits))
				% walstar_claims.bucket_width(v, digits));
END;

-- Microseconds as an interval, days and hours like timestamptz subtraction.
CREATE FUNCTION us_interval(us float8) RETURNS interval
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
	SELECT justify_hours(round(us) * interval '1 microsecond');
END;

CREATE FUNCTION model_lock() RETURNS void
LANGUAGE sql
BEGIN ATOMIC
	SELECT pg_advisory_xact_lock(1463898963, 1);
END;

-- Landing rows -> fact rows (ids NULL: all).
CREATE FUNCTION claim_rows(ids bigint[]) RETURNS SETOF fact_claim
LANGUAGE sql STABLE
BEGIN ATOMIC
	SELECT c.id, c.customer_id, v.customer_key, coalesce(v.country_key, 1),
		   (c.created_at AT TIME ZONE 'UTC')::date,
		   extract(year FROM c.created_at AT TIME ZONE 'UTC')::integer,
		   c.created_at, c.amount, c.status, c.is_anomaly,
		   c.flagged_at, (c.flagged_at AT TIME ZONE 'UTC')::date,
		   c.resolved_at, (c.resolved_at AT TIME ZONE 'UTC')::date,
		   c.resolved_at - c.created_at,
		   ((extract(epoch FROM c.resolved_at) - extract(epoch FROM c.created_at)) * 1000000)::bigint,
		   c.updated_at
	FROM walstar_claims.src_claims c
	LEFT JOIN walstar_claims.dim_customer v
		ON v.customer_id = c.customer_id
		AND c.created_at >= v.row_from AND c.created_at < v.row_to
	WHERE ids IS NULL OR c.id = ANY (ids);
END;

CREATE FUNCTION feedback_rows(ids bigint[]) RETURNS SETOF fact_feedback
LANGUAGE sql STABLE
BEGIN ATOMIC
	SELECT f.id, f.claim_id, f.customer_id,
		   (f.created_at AT TIME ZONE 'UTC')::date, f.created_at, f.rating,
		   coalesce(f.sentiment,
					CASE WHEN f.rating >= 4 THEN 'positive'
						 WHEN f.rating = 3 THEN 'neutral'
						 ELSE 'negative' END),
		   f.sentiment IS NULL,
		   c.claim_id IS NOT NULL, coalesce(c.country_key, 1), c.created_year,
		   coalesce(c.is_anomaly, false)
	FROM walstar_claims.src_feedback f
	LEFT JOIN walstar_claims.fact_claim c ON c.claim_id = f.claim_id
	WHERE ids IS NULL OR f.id = ANY (ids);
END;

-- Calendar days outside the pre-filled range, as facts reach them; returns
-- how many were added.
CREATE FUNCTION ensure_dates(days date[]) RETURNS integer
LANGUAGE sql
BEGIN ATOMIC
	WITH added AS (
	INSERT INTO walstar_claims.dim_date
		SELECT d, extract(year FROM d), extract(quarter FROM d), extract(month FROM d),
			   extract(day FROM d), extract(week FROM d), extract(isodow FROM d),
			   date_trunc('month', d)::date
		FROM (SELECT DISTINCT d FROM unnest(days) AS u(d) WHERE d IS NOT NULL
				AND d NOT BETWEEN date '2000-01-01' AND date '2040-12-31') AS x
		WHERE NOT EXISTS (SELECT FROM walstar_claims.dim_date t WHERE t.date_key = x.d)
		  AND isfinite(d)
		RETURNING 1)
	SELECT count(*)::integer FROM added;
END;

------------------------------------------------------------------------------
-- Incremental maintenance
------------------------------------------------------------------------------

/*
 * Customers: reconcile the SCD2 versions of the given customers (NULL: all)
 * with their landing rows, then re-attribute the claims of every customer
 * whose versions changed.
 */
CREATE FUNCTION refresh_customers(ids bigint[], cascade_claims boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql
SET search_path = walstar_claims, pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
	gone bigint[];
	added bigint[];
	changed bigint[];
BEGIN
	IF ids IS NOT NULL AND cardinality(ids) = 0 THEN
		RETURN;
	END IF;

	-- Customers deleted at the source lose every version.
	WITH del AS (
		DELETE FROM dim_customer d
		WHERE (ids IS NULL OR d.customer_id = ANY (ids))
		  AND NOT EXISTS (SELECT FROM src_customers c WHERE c.id = d.customer_id)
		RETURNING d.customer_id)
	SELECT array_agg(DISTINCT customer_id) INTO gone FROM del;

	INSERT INTO dim_country (country_key, country_code)
		SELECT nextval('dim_country_key_seq'), x.code
		FROM (SELECT DISTINCT c.country_code AS code FROM src_customers c
			  WHERE ids IS NULL OR c.id = ANY (ids)) AS x
		WHERE NOT EXISTS (SELECT FROM dim_country k WHERE k.country_code = x.code);

	/*
	 * Every version that arrives is kept, at its updated_at: versions may
	 * arrive out of order (updated_at moving backwards), and which one is in
	 * effect at a time depends on all of them, so none may be dropped as
	 * "the same country as the latest".
	 */
	WITH ins AS (
		INSERT INTO dim_customer AS d
			(customer_id, country_key, valid_from, row_from, row_to, is_current)
		SELECT c.id, k.country_key, c.updated_at, c.updated_at, 'infinity', true
		FROM src_customers c
		JOIN dim_country k ON k.country_code = c.country_code
		WHERE (ids IS NULL OR c.id = ANY (ids))
		  AND NOT EXISTS (SELECT FROM dim_customer v
						  WHERE v.customer_id = c.id AND v.valid_from = c.updated_at
							AND v.country_key = k.country_key)
		ON CONFLICT (customer_id, valid_from) DO UPDATE SET country_key = excluded.country_key
		RETURNING d.customer_id)
	SELECT array_agg(DISTINCT customer_id) INTO added FROM ins;

	changed := coalesce(gone, '{}') || coalesce(added, '{}');
	IF cardinality(changed) = 0 THEN
		RETURN;
	END IF;

	UPDATE dim_customer d
	SET row_from = x.rf, row_to = x.rt, is_current = x.cur
	FROM (SELECT customer_key,
				 CASE WHEN lag(valid_from) OVER w IS NULL THEN '-infinity'::timestamptz
					  ELSE valid_from END AS rf,
				 coalesce(lead(valid_from) OVER w, 'infinity'::timestamptz) AS rt,
				 lead(valid_from) OVER w IS NULL AS cur
		  FROM dim_customer
		  WHERE customer_id = ANY (changed)
		  WINDOW w AS (PARTITION BY customer_id ORDER BY valid_from)) AS x
	WHERE d.customer_key = x.customer_key
	  AND (d.row_from, d.row_to, d.is_current) IS DISTINCT FROM (x.rf, x.rt, x.cur);

	IF cascade_claims THEN
		PERFORM refresh_claims(ARRAY(SELECT claim_id FROM fact_claim
									 WHERE customer_id = ANY (changed)));
	END IF;
END
$$;

/*
 * The customers' country versions in effect, from the version history the
 * apply worker keeps of the landing table (walstar.register_model_source):
 * every version at its updated_at (the newest one when two share it), of
 * the customer's versions since its last delete and the table's last
 * truncate.  Versions may arrive in any order of updated_at: which one is in
 * effect at a time depends on all of them.  The truth dim_customer follows,
 * that rebuild() builds from and verify() checks against.
 */
CREATE FUNCTION customer_versions()
RETURNS TABLE (customer_id bigint, country_code character(2), valid_from timestamptz)
LANGUAGE sql STABLE
BEGIN ATOMIC
	WITH cut AS (
		SELECT coalesce(max(h.version) FILTER (WHERE h.op = 'T'), 0) AS t
		FROM walstar_claims.src_customer_versions h),
	gone AS (
		SELECT h.id, max(h.version) AS d
		FROM walstar_claims.src_customer_versions h WHERE h.op = 'D' GROUP BY h.id)
	SELECT DISTINCT ON (h.id, h.updated_at) h.id, h.country_code, h.updated_at
	FROM walstar_claims.src_customer_versions h
	CROSS JOIN cut
	LEFT JOIN gone g ON g.id = h.id
	WHERE h.op IN ('I', 'U', 'R') AND h.version > cut.t AND h.version > coalesce(g.d, 0)
	  AND h.country_code IS NOT NULL AND h.updated_at IS NOT NULL
	ORDER BY h.id, h.updated_at, h.version DESC;
END;

-- row_from, row_to and is_current of the given customers' versions.
CREATE FUNCTION _order_versions(ids bigint[]) RETURNS void
LANGUAGE sql
BEGIN ATOMIC
	UPDATE walstar_claims.dim_customer d
	SET row_from = x.rf, row_to = x.rt, is_current = x.cur
	FROM (SELECT customer_key,
				 CASE WHEN lag(valid_from) OVER w IS NULL THEN '-infinity'::timestamptz
					  ELSE valid_from END AS rf,
				 coalesce(lead(valid_from) OVER w, 'infinity'::timestamptz) AS rt,
				 lead(valid_from) OVER w IS NULL AS cur
		  FROM walstar_claims.dim_customer
		  WHERE ids IS NULL OR customer_id = ANY (ids)
		  WINDOW w AS (PARTITION BY customer_id ORDER BY valid_from)) AS x
	WHERE d.customer_key = x.customer_key
	  AND (d.row_from, d.row_to, d.is_current) IS DISTINCT FROM (x.rf, x.rt, x.cur);
END;

-- dim_customer made equal to customer_versions(), keeping the keys of the
-- versions that stay.
CREATE FUNCTION rebuild_customers() RETURNS void
LANGUAGE plpgsql
SET search_path = walstar_claims, pg_catalog, pg_temp
SET jit = off
AS $$
BEGIN
	CREATE TEMP TABLE want ON COMMIT DROP AS SELECT * FROM customer_versions();
	DELETE FROM dim_customer d
	WHERE NOT EXISTS (SELECT FROM pg_temp.want w
					  WHERE w.customer_id = d.customer_id AND w.valid_from = d.valid_from);
	INSERT INTO dim_country (country_key, country_code)
		SELECT nextval('dim_country_key_seq'), x.code
		FROM (SELECT DISTINCT w.country_code AS code FROM pg_temp.want w) AS x
		WHERE NOT EXISTS (SELECT FROM dim_country k WHERE k.country_code = x.code);
	INSERT INTO dim_customer AS d (customer_id, country_key, valid_from, row_from, row_to, is_current)
		SELECT w.customer_id, k.country_key, w.valid_from, w.valid_from, 'infinity', true
		FROM pg_temp.want w JOIN dim_country k ON k.country_code = w.country_code
		ORDER BY 1, 3
		ON CONFLICT (customer_id, valid_from) DO UPDATE SET country_key = excluded.country_key
		WHERE d.country_key <> excluded.country_key;
	DROP TABLE pg_temp.want;
	PERFORM _order_versions(NULL);
END
$$;

/*
 * The trigger on the customers' version history: the versions of one
 * statement (of the apply worker: a whole table batch), in order.  A
 * truncate drops every version before it, a delete every earlier version of
 * its customer; the versions after those are added at their updated_at.
 * Then the claims of every customer whose versions changed are attributed
 * again.  Not SECURITY DEFINER, as on_landing_change().
 */
CREATE FUNCTION on_customer_versions() RETURNS trigger
LANGUAGE plpgsql
SET search_path = walstar_claims, pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
	cut bigint;
	n bigint;
	gone bigint[];
	added bigint[];
	changed bigint[];
BEGIN
	SELECT max(walstar_version) FILTER (WHERE walstar_op = 'T'), count(*) INTO cut, n FROM new_rows;
	IF n = 0 THEN
		RETURN NULL;
	END IF;
	PERFORM model_lock();
	IF cut IS NOT NULL THEN
		WITH del AS (DELETE FROM dim_customer RETURNING customer_id)
		SELECT array_agg(DISTINCT customer_id) INTO gone FROM del;
	END IF;
	cut := coalesce(cut, 0);

	WITH dels AS (
		SELECT id FROM new_rows WHERE walstar_op = 'D' AND walstar_version > cut GROUP BY id),
	del AS (
		DELETE FROM dim_customer d USING dels WHERE d.customer_id = dels.id
		RETURNING d.customer_id)
	SELECT coalesce(gone, '{}') || coalesce(array_agg(DISTINCT customer_id), '{}') INTO gone FROM del;

	-- every version is kept, at its updated_at (see customer_versions())
	WITH last_del AS (
		SELECT id, max(walstar_version) AS d FROM new_rows WHERE walstar_op = 'D' GROUP BY id),
	live AS (
		SELECT DISTINCT ON (v.id, v.updated_at) v.id, v.country_code, v.updated_at
		FROM new_rows v LEFT JOIN last_del g ON g.id = v.id
		WHERE v.walstar_op IN ('I', 'U', 'R') AND v.walstar_version > cut AND v.walstar_version > coalesce(g.d, 0)
		  AND v.country_code IS NOT NULL AND v.updated_at IS NOT NULL
		ORDER BY v.id, v.updated_at, v.walstar_version DESC),
	codes AS (
		INSERT INTO dim_country (country_key, country_code)
		SELECT nextval('dim_country_key_seq'), x.code
		FROM (SELECT DISTINCT l.country_code AS code FROM live l) AS x
		WHERE NOT EXISTS (SELECT FROM dim_country k WHERE k.country_code = x.code)
		RETURNING country_key, country_code),
	ins AS (
		INSERT INTO dim_customer AS d
			(customer_id, country_key, valid_from, row_from, row_to, is_current)
		SELECT l.id, k.country_key, l.updated_at, l.updated_at, 'infinity', true
		FROM live l
		JOIN (SELECT country_key, country_code FROM dim_country
			  UNION ALL SELECT country_key, country_code FROM codes) AS k
			ON k.country_code = l.country_code
		WHERE NOT EXISTS (SELECT FROM dim_customer v
						  WHERE v.customer_id = l.id AND v.valid_from = l.updated_at
							AND v.country_key = k.country_key)
		ON CONFLICT (customer_id, valid_from) DO UPDATE SET country_key = excluded.country_key
		RETURNING d.customer_id)
	SELECT array_agg(DISTINCT customer_id) INTO added FROM ins;

	changed := gone || coalesce(added, '{}');
	IF cardinality(changed) > 0 THEN
		PERFORM _order_versions(changed);
		PERFORM refresh_claims(ARRAY(SELECT claim_id FROM fact_claim
									 WHERE customer_id = ANY (changed)));
	END IF;
	UPDATE model_state
	SET last_applied_at = now(), statements = statements + 1, rows_changed = rows_changed + n
	WHERE source_table = 'customers';
	RETURN NULL;
END
$$;

/*
 * Claims: recompute the fact rows of the given claims (NULL: all), add the
 * difference between their new and old contributions to every claim rollup
 * and store them (one statement), then refresh the feedback of claims whose
 * country, year, anomaly flag or existence changed.
 */
CREATE FUNCTION refresh_claims(ids bigint[], cascade_feedback boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql
SET search_path = walstar_claims, pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
	moved bigint[];
	pct_years integer[];		/* resolution-time cells this call changed */
	pct_countries integer[];
BEGIN
	IF ids IS NOT NULL AND cardinality(ids) = 0 THEN
		RETURN;
	END IF;

	/*
	 * One statement: the new fact rows (nf) are computed once; every CTE
	 * sees the tables as they were before it, so "of" still reads the old
	 * fact rows while "stored" replaces them.
	 */
	WITH nf AS (SELECT * FROM claim_rows(ids)),
	of AS (SELECT * FROM fact_claim f WHERE ids IS NULL OR f.claim_id = ANY (ids)),
	d AS (
		SELECT 1 AS s, nf.* FROM nf
		UNION ALL
		SELECT -1 AS s, of.* FROM of),
	dates AS (SELECT ensure_dates(ARRAY(SELECT DISTINCT created_date FROM nf)) AS added),
	day AS (
		INSERT INTO r_claims_day AS r (day, country_key, claims, amount_sum)
		SELECT created_date, country_key, sum(s), sum(s * amount)
		FROM d GROUP BY 1, 2
		HAVING sum(s) <> 0 OR sum(s * amount) <> 0
		ON CONFLICT (day, country_key) DO UPDATE
			SET claims = r.claims + excluded.claims,
				amount_sum = r.amount_sum + excluded.amount_sum),
	mon AS (
		INSERT INTO r_claims_month AS r (month, country_key, claims, amount_sum)
		SELECT date_trunc('month', created_date)::date, country_key, sum(s), sum(s * amount)
		FROM d GROUP BY 1, 2
		HAVING sum(s) <> 0 OR sum(s * amount) <> 0
		ON CONFLICT (month, country_key) DO UPDATE
			SET claims = r.claims + excluded.claims,
				amount_sum = r.amount_sum + excluded.amount_sum),
	hv AS (
		SELECT s, 1::smallint AS kind, created_year AS year, country_key,
			   (amount * 100)::bigint AS v
		FROM d
		UNION ALL
		SELECT s, 2::smallint, created_year, country_key, resolution_us
		FROM d WHERE is_anomaly AND resolution_us IS NOT NULL),
	hc AS (
		SELECT kind,
			   CASE WHEN grouping(year) = 1 THEN 0 ELSE year END AS year,
			   CASE WHEN grouping(country_key) = 1 THEN 0 ELSE country_key END AS country_key,
			   v, coarse, fine, sum(s)::bigint AS n
		FROM (SELECT hv.*, bucket(v, 2) AS coarse, bucket(v, 3) AS fine FROM hv) AS b
		GROUP BY GROUPING SETS ((kind, year, country_key, v, coarse, fine),
								(kind, year, v, coarse, fine),
								(kind, country_key, v, coarse, fine),
								(kind, v, coarse, fine))
		HAVING sum(s) <> 0),
	-- Sorted, so that a bulk build stores each cube cell's rows together.
	hx AS (
		INSERT INTO hist_exact AS h (kind, year, country_key, fine, v, n)
		SELECT kind, year, country_key, fine, v, n FROM hc ORDER BY 1, 2, 3, 4, 5
		ON CONFLICT (kind, year, country_key, fine, v) DO UPDATE SET n = h.n + excluded.n),
	hf AS (
		INSERT INTO hist_fine AS h (kind, year, country_key, coarse, fine, n)
		SELECT kind, year, country_key, coarse, fine, sum(n)
		FROM hc GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0 ORDER BY 1, 2, 3, 4, 5
		ON CONFLICT (kind, year, country_key, coarse, fine) DO UPDATE SET n = h.n + excluded.n),
	hk AS (
		INSERT INTO hist_coarse AS h (kind, year, country_key, coarse, n)
		SELECT kind, year, country_key, coarse, sum(n)
		FROM hc GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0 ORDER BY 1, 2, 3, 4
		ON CONFLICT (kind, year, country_key, coarse) DO UPDATE SET n = h.n + excluded.n),
	ht AS (
		INSERT INTO hist_total AS h (kind, year, country_key, n, total)
		SELECT kind, year, country_key, sum(n),
			   sum(n * v::numeric) * CASE WHEN kind = 1 THEN 0.01 ELSE 1 END
		FROM hc GROUP BY 1, 2, 3
		ON CONFLICT (kind, year, country_key) DO UPDATE
			SET n = h.n + excluded.n, total = h.total + excluded.total),
	gone AS (
		DELETE FROM fact_claim f USING of
		WHERE f.claim_id = of.claim_id
		  AND NOT EXISTS (SELECT FROM nf WHERE nf.claim_id = of.claim_id)),
	stored AS (
		INSERT INTO fact_claim AS f SELECT * FROM nf
		ON CONFLICT (claim_id) DO UPDATE SET
			customer_id = excluded.customer_id, customer_key = excluded.customer_key,
			country_key = excluded.country_key, created_date = excluded.created_date,
			created_year = excluded.created_year, created_at = excluded.created_at,
			amount = excluded.amount, status = excluded.status,
			is_anomaly = excluded.is_anomaly, flagged_at = excluded.flagged_at,
			flagged_date = excluded.flagged_date, resolved_at = excluded.resolved_at,
			resolved_date = excluded.resolved_date, resolution_time = excluded.resolution_time,
			resolution_us = excluded.resolution_us, updated_at = excluded.updated_at
		WHERE (f.*) IS DISTINCT FROM (excluded.*))
	SELECT mv.claim_ids, cells.years, cells.countries
	INTO moved, pct_years, pct_countries
	FROM (SELECT array_agg(coalesce(nf.claim_id, of.claim_id)) AS claim_ids
		  FROM nf FULL JOIN of ON of.claim_id = nf.claim_id
		  WHERE ids IS NOT NULL AND cascade_feedback
			AND (nf.country_key, nf.created_year, nf.is_anomaly)
				IS DISTINCT FROM (of.country_key, of.created_year, of.is_anomaly)) AS mv,
		 (SELECT array_agg(year) AS years, array_agg(country_key) AS countries
		  FROM (SELECT DISTINCT year, country_key FROM hc WHERE kind = 2) AS z) AS cells,
		 dates;

	IF cardinality(pct_years) > 0 THEN
		PERFORM cache_resolution_percentiles(pct_years, pct_countries);
	END IF;

	IF cascade_feedback AND cardinality(moved) > 0 THEN
		PERFORM refresh_feedback(ARRAY(SELECT feedback_id FROM fact_feedback
									   WHERE claim_id = ANY (moved)));
	END IF;
END
$$;

-- Feedback: the same for the given feedback rows (NULL: all).
CREATE FUNCTION refresh_feedback(ids bigint[]) RETURNS void
LANGUAGE plpgsql
SET search_path = walstar_claims, pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
	new_days integer;
BEGIN
	IF ids IS NOT NULL AND cardinality(ids) = 0 THEN
		RETURN;
	END IF;

	-- One statement, as in refresh_claims.
	WITH nf AS (SELECT * FROM feedback_rows(ids)),
	of AS (SELECT * FROM fact_feedback f WHERE ids IS NULL OR f.feedback_id = ANY (ids)),
	d AS (
		SELECT 1 AS s, nf.* FROM nf
		UNION ALL
		SELECT -1 AS s, of.* FROM of),
	dates AS (SELECT ensure_dates(ARRAY(SELECT DISTINCT created_date FROM nf)) AS added),
	day AS (
		INSERT INTO r_feedback_day AS r (day, country_key, sentiment, feedback)
		SELECT created_date, country_key, sentiment, sum(s)
		FROM d GROUP BY 1, 2, 3 HAVING sum(s) <> 0
		ON CONFLICT (day, country_key, sentiment) DO UPDATE
			SET feedback = r.feedback + excluded.feedback),
	mon AS (
		INSERT INTO r_feedback_month AS r (month, country_key, sentiment, feedback)
		SELECT date_trunc('month', created_date)::date, country_key, sentiment, sum(s)
		FROM d GROUP BY 1, 2, 3 HAVING sum(s) <> 0
		ON CONFLICT (month, country_key, sentiment) DO UPDATE
			SET feedback = r.feedback + excluded.feedback),
	anomaly AS (
		INSERT INTO r_anomaly_sentiment AS r (year, country_key, sentiment, feedback)
		SELECT claim_year, country_key, sentiment, sum(s)
		FROM d WHERE claim_known AND claim_is_anomaly
		GROUP BY 1, 2, 3 HAVING sum(s) <> 0
		ON CONFLICT (year, country_key, sentiment) DO UPDATE
			SET feedback = r.feedback + excluded.feedback),
	gone AS (
		DELETE FROM fact_feedback f USING of
		WHERE f.feedback_id = of.feedback_id
		  AND NOT EXISTS (SELECT FROM nf WHERE nf.feedback_id = of.feedback_id)),
	stored AS (
		INSERT INTO fact_feedback AS f SELECT * FROM nf
		ON CONFLICT (feedback_id) DO UPDATE SET
			claim_id = excluded.claim_id, customer_id = excluded.customer_id,
			created_date = excluded.created_date, created_at = excluded.created_at,
			rating = excluded.rating, sentiment = excluded.sentiment,
			sentiment_derived = excluded.sentiment_derived, claim_known = excluded.claim_known,
			country_key = excluded.country_key, claim_year = excluded.claim_year,
			claim_is_anomaly = excluded.claim_is_anomaly
		WHERE (f.*) IS DISTINCT FROM (excluded.*))
	SELECT added INTO new_days FROM dates;
END
$$;

/*
 * Facts and rollups of one landing table ('claims' or 'feedback') into the
 * emptied model: in one statement, or in chunks of ids through the same
 * incremental path, with a NOTICE per chunk.  One statement is faster (a
 * chunk updates the histogram rows the previous ones wrote); chunks show
 * progress.  A build of 100000 rows or more says when it starts and ends.
 */
CREATE FUNCTION build_facts(what text, chunk integer, started timestamptz) RETURNS void
LANGUAGE plpgsql
SET search_path = walstar_claims, pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
	ids bigint[];
	last_id bigint := -9223372036854775808;
	total bigint;
	done bigint := 0;
BEGIN
	IF what IS NULL OR what NOT IN ('claims', 'feedback') THEN
		RAISE EXCEPTION 'build_facts: unknown landing table "%"', what;
	END IF;
	EXECUTE format('SELECT count(*) FROM %I', 'src_' || what) INTO total;
	IF chunk = 0 OR total <= chunk THEN
		IF total >= 100000 THEN
			RAISE NOTICE 'walstar_claims: building the facts and rollups of % % (% s)', total, what,
				round(extract(epoch FROM clock_timestamp() - started));
		END IF;
		IF what = 'claims' THEN
			PERFORM refresh_claims(NULL, false);
		ELSE
			PERFORM refresh_feedback(NULL);
		END IF;
		IF total >= 100000 THEN
			RAISE NOTICE 'walstar_claims: % % built (% s)', total, what,
				round(extract(epoch FROM clock_timestamp() - started));
		END IF;
		RETURN;
	END IF;
	LOOP
		EXECUTE format('SELECT ARRAY(SELECT id FROM %I WHERE id > $1 ORDER BY id LIMIT $2)',
					   'src_' || what)
			INTO ids USING last_id, chunk;
		EXIT WHEN cardinality(ids) = 0;
		IF what = 'claims' THEN
			PERFORM refresh_claims(ids, false);
		ELSE
			PERFORM refresh_feedback(ids);
		END IF;
		done := done + cardinality(ids);
		last_id := ids[cardinality(ids)];
		RAISE NOTICE 'walstar_claims: % % of % (% s)', what, done, total,
			round(extract(epoch FROM clock_timestamp() - started));
	END LOOP;
END
$$;

-- Everything from the landing tables; customer versions are kept (history
-- exists only here) and reconciled with the landing rows.  Setting
-- walstar_claims.rebuild_chunk: 0 (default) builds claims and feedback in one
-- statement each, n in chunks of n ids with progress notices.
CREATE FUNCTION rebuild_locked() RETURNS void
LANGUAGE plpgsql
SET search_path = walstar_claims, pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
	setting text := current_setting('walstar_claims.rebuild_chunk', true);
	chunk integer := 0;
	started timestamptz := clock_timestamp();
BEGIN
	IF coalesce(setting, '') <> '' THEN
		IF setting !~ '^\s*[0-9]{1,9}\s*$' THEN
			RAISE EXCEPTION 'walstar_claims.rebuild_chunk must be a whole number of ids (0: no chunks), not "%"', setting;
		END IF;
		chunk := setting::integer;
	END IF;
	IF EXISTS (SELECT FROM src_claims WHERE id IS NULL) OR EXISTS (SELECT FROM src_feedback WHERE id IS NULL) THEN
		RAISE EXCEPTION 'walstar_claims: the landing tables claims and feedback must not hold rows with a NULL id'
			USING HINT = 'The model keys facts by id; give the landing table a primary key.';
	END IF;

	PERFORM rebuild_customers();
	TRUNCATE fact_claim, fact_feedback, r_claims_day, r_claims_month,
		r_feedback_day, r_feedback_month, r_anomaly_sentiment,
		hist_total, hist_coarse, hist_fine, hist_exact;
	PERFORM build_facts('claims', chunk, started);
	PERFORM build_facts('feedback', chunk, started);
END
$$;

CREATE FUNCTION rebuild() RETURNS void
LANGUAGE plpgsql
SET search_path = walstar_claims, pg_catalog, pg_temp
SET jit = off
AS $$
BEGIN
	PERFORM model_lock();
	PERFORM rebuild_locked();
END
$$;
COMMENT ON FUNCTION rebuild() IS
	'rebuilds facts and rollups from the landing tables; customer country versions are kept and reconciled with the landing rows';

-- The triggers attach() puts on the landing tables; TG_ARGV[0] names the table.
-- Not SECURITY DEFINER: it runs as the role that changed the landing table
-- (walstar's apply worker connects as the subscription owner, who owns the
-- landing tables), with the writer rights attach() gave that owner.
CREATE FUNCTION on_landing_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = walstar_claims, pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
	ids bigint[];
BEGIN
	IF TG_OP = 'TRUNCATE' THEN
		PERFORM model_lock();
		PERFORM rebuild_locked();
		ids := '{}';
	ELSE
		IF TG_OP = 'INSERT' THEN
			ids := ARRAY(SELECT id FROM new_rows);
		ELSIF TG_OP = 'UPDATE' THEN
			ids := ARRAY(SELECT id FROM new_rows UNION SELECT id FROM old_rows);
		ELSE
			ids := ARRAY(SELECT id FROM old_rows);
		END IF;
		IF cardinality(ids) = 0 THEN
			RETURN NULL;
		END IF;
		PERFORM model_lock();
		IF TG_ARGV[0] = 'customers' THEN
			PERFORM refresh_customers(ids);
		ELSIF TG_ARGV[0] = 'claims' THEN
			PERFORM refresh_claims(ids);
		ELSE
			PERFORM refresh_feedback(ids);
		END IF;
	END IF;
	UPDATE model_state
	SET last_applied_at = now(), statements = statements + 1,
		rows_changed = rows_changed + cardinality(ids)
	WHERE source_table = TG_ARGV[0];
	RETURN NULL;
END
$$;

------------------------------------------------------------------------------
-- Administration
------------------------------------------------------------------------------

/*
 * Privileges.  The model is fed by the owners of its landing tables: the
 * triggers run as whoever changes a landing table (walstar's apply worker
 * connects as the subscription owner, who owns the landing tables), so
 * attach() gives those owners the model's writer rights below, and nothing
 * on anything else.  Nothing of the model runs as the extension owner except
 * _attach() and detach(), which check that the caller owns what they
 * change, do DDL only and read no landing row: no code of a landing table's
 * owner (column types, policies, index expressions) ever runs with rights
 * that owner lacks.
 */

-- The model's columns of landing table t.
CREATE FUNCTION _landing_columns(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
	SELECT CASE t
		WHEN 'customers' THEN ARRAY['id', 'country_code', 'updated_at']
		WHEN 'claims' THEN ARRAY['id', 'customer_id', 'amount', 'status', 'is_anomaly',
								 'flagged_at', 'created_at', 'resolved_at', 'updated_at']
		WHEN 'feedback' THEN ARRAY['id', 'claim_id', 'customer_id', 'rating', 'sentiment',
								   'created_at'] END;
END;

/*
 * Raises unless the caller may attach the model to (or detach it from)
 * landing table landing_schema.t; returns its oid, NULL if it does not exist.
 * The caller must own it (be a member of its owner) or be a superuser; to
 * attach, it must be an ordinary table whose model columns have built-in
 * base types, so that the views read it with built-in casts only.
 */
CREATE FUNCTION _check_landing_table(caller oid, landing_schema name, t text, attaching boolean)
RETURNS oid
LANGUAGE plpgsql STABLE
SET search_path = walstar_claims, pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	rel oid := to_regclass(format('%I.%I', landing_schema, t));
	cls record;
	bad text;
BEGIN
	IF rel IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT c.relkind, c.relowner INTO cls FROM pg_class c WHERE c.oid = rel;
	IF NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.oid = caller)
		AND NOT pg_has_role(caller, cls.relowner, 'MEMBER') THEN
		RAISE EXCEPTION 'must be owner of table %', rel::regclass
			USING ERRCODE = 'insufficient_privilege',
				DETAIL = format('The table belongs to role "%s".', pg_get_userbyid(cls.relowner)),
				HINT = 'Attach the model as the owner of the landing tables (the subscription owner).';
	END IF;
	IF NOT attaching THEN
		RETURN rel;
	END IF;
	IF cls.relkind <> 'r' THEN
		RAISE EXCEPTION '% is not an ordinary table', rel::regclass
			USING ERRCODE = 'wrong_object_type';
	END IF;
	SELECT string_agg(quote_ident(m.col), ', ') INTO bad
	FROM unnest(_landing_columns(t)) AS m(col)
	WHERE NOT EXISTS (
		SELECT FROM pg_attribute a JOIN pg_type y ON y.oid = a.atttypid
		WHERE a.attrelid = rel AND a.attname = m.col AND a.attnum > 0 AND NOT a.attisdropped
		  AND y.typnamespace = 'pg_catalog'::regnamespace AND y.typtype = 'b');
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'landing table % has no column of a built-in type named %', rel::regclass, bad
			USING ERRCODE = 'datatype_mismatch',
				HINT = 'The model reads these columns; they must exist with built-in types, as walstar creates them.';
	END IF;
	RETURN rel;
END
$$;

-- The model's writer rights, given to (or taken back from) role r: what the
-- triggers, rebuild() and verify() use.  Superusers need none.
CREATE FUNCTION _writer_privileges(r oid, do_grant boolean) RETURNS void
LANGUAGE plpgsql
SET search_path = walstar_claims, pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	what text;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles x WHERE x.oid = r AND NOT x.rolsuper) THEN
		RETURN;
	END IF;
	FOREACH what IN ARRAY ARRAY[
		'USAGE ON SCHEMA walstar_claims',
		'SELECT, INSERT ON TABLE walstar_claims.dim_date, walstar_claims.dim_country',
		'SELECT, INSERT, UPDATE, DELETE ON TABLE walstar_claims.dim_customer',
		'SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLE walstar_claims.fact_claim,
			walstar_claims.fact_feedback',
		'SELECT, INSERT, UPDATE, TRUNCATE ON TABLE walstar_claims.r_claims_day,
			walstar_claims.r_claims_month, walstar_claims.r_feedback_day,
			walstar_claims.r_feedback_month, walstar_claims.r_anomaly_sentiment,
			walstar_claims.hist_total, walstar_claims.hist_coarse, walstar_claims.hist_fine,
			walstar_claims.hist_exact',
		'SELECT, UPDATE ON TABLE walstar_claims.model_state',
		'SELECT ON TABLE walstar_claims.config, walstar_claims.src_customers,
			walstar_claims.src_claims, walstar_claims.src_feedback,
			walstar_claims.src_customer_versions',
		'USAGE ON SEQUENCE walstar_claims.dim_country_key_seq,
			walstar_claims.dim_customer_customer_key_seq',
		'EXECUTE ON FUNCTION walstar_claims.bucket_width(bigint, integer),
			walstar_claims.bucket(bigint, integer), walstar_claims.us_interval(float8),
			walstar_claims.model_lock(), walstar_claims.claim_rows(bigint[]),
			walstar_claims.feedback_rows(bigint[]), walstar_claims.ensure_dates(date[]),
			walstar_claims.refresh_customers(bigint[], boolean),
			walstar_claims.customer_versions(), walstar_claims._order_versions(bigint[]),
			walstar_claims.rebuild_customers(),
			walstar_claims.refresh_claims(bigint[], boolean),
			walstar_claims.refresh_feedback(bigint[]),
			walstar_claims.build_facts(text, integer, timestamptz),
			walstar_claims.rebuild_locked(), walstar_claims.rebuild(), walstar_claims.verify(),
			walstar_claims.country_key_of(text),
			walstar_claims.hist_pick(smallint, integer[], integer[], float8[]),
			walstar_claims.cache_resolution_percentiles(integer[], integer[]),
			walstar_claims.total_claims(date, date, text),
			walstar_claims.claim_amount_stats(integer, text),
			walstar_claims.positive_feedback_count(date, date, text),
			walstar_claims.anomaly_feedback_sentiment(integer, integer, text),
			walstar_claims.anomaly_resolution_time(integer, text)']
	LOOP
		IF do_grant THEN
			EXECUTE format('GRANT %s TO %I', what, pg_get_userbyid(r));
		ELSE
			EXECUTE format('REVOKE %s FROM %I', what, pg_get_userbyid(r));
		END IF;
	END LOOP;
END
$$;

-- The version history walstar keeps of a landing table, or NULL.
CREATE FUNCTION _history(landing_schema name, t name) RETURNS name
LANGUAGE sql STABLE
BEGIN ATOMIC
	SELECT v.history_table FROM walstar.version_histories v
	WHERE v.landing_schema = _history.landing_schema AND v.landing_table = _history.t;
END;

-- Undo the current attachment, if the caller may: triggers dropped, views
-- emptied (the model no longer refers to the landing tables), writer rights
-- taken back.
CREATE FUNCTION _detach_locked(caller oid, next_schema name DEFAULT NULL) RETURNS void
LANGUAGE plpgsql
SET search_path = walstar_claims, pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	cfg record;
	t text;
	trig name;
	w oid;
BEGIN
	SELECT c.landing_schema, c.writers INTO cfg FROM config c;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	FOREACH t IN ARRAY ARRAY['customers', 'claims', 'feedback']
	LOOP
		IF _check_landing_table(caller, cfg.landing_schema, t, false) IS NOT NULL THEN
			FOR trig IN SELECT g.tgname FROM pg_trigger g
						WHERE g.tgrelid = format('%I.%I', cfg.landing_schema, t)::regclass
						  AND g.tgname LIKE 'walstar\_claims\_%'
			LOOP
				EXECUTE format('DROP TRIGGER %I ON %I.%I', trig, cfg.landing_schema, t);
			END LOOP;
			IF to_regclass(format('walstar_versions.%I', coalesce(_history(cfg.landing_schema, t), ''))) IS NOT NULL THEN
				EXECUTE format('DROP TRIGGER IF EXISTS walstar_claims_versions ON walstar_versions.%I',
							   _history(cfg.landing_schema, t));
			END IF;
		END IF;
	END LOOP;
	PERFORM _point_views(NULL);
	-- attached again to the same schema: the versions go on being recorded
	IF cfg.landing_schema IS DISTINCT FROM next_schema THEN
		FOREACH t IN ARRAY ARRAY['customers', 'claims', 'feedback']
		LOOP
			PERFORM walstar.unregister_model_source('walstar_claims', cfg.landing_schema, t);
		END LOOP;
	END IF;
	FOREACH w IN ARRAY cfg.writers
	LOOP
		PERFORM _writer_privileges(w, false);
	END LOOP;
	DELETE FROM config;
END
$$;

/*
 * The privileged half of attach(), as the extension owner: the caller must
 * own the landing tables that exist (and may create in the schema, or the
 * database, for those that do not).  A new schema belongs to the caller, new
 * tables to the schema's owner when the caller is a member of it, else to
 * the caller.  Replaces any previous attachment (which the caller must be
 * allowed to detach), installs the triggers and gives the tables' owners the
 * writer rights.  Reads no landing row.
 */
CREATE FUNCTION _attach(landing_schema name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = walstar_claims, pg_catalog, pg_temp
SET jit = off
AS $$
#variable_conflict use_variable
DECLARE
	caller oid := walstar._caller();
	caller_super boolean := (SELECT r.rolsuper FROM pg_roles r WHERE r.oid = caller);
	schema_owner oid;
	table_owner oid;
	t text;
	cols text;
	op text;
	w oid;
	owners oid[];
	caller_messages text := current_setting('client_min_messages');
BEGIN
	PERFORM model_lock();
	IF landing_schema IS NULL OR landing_schema = ''
		OR landing_schema IN ('walstar', 'walstar_claims', 'information_schema')
		OR landing_schema LIKE 'pg\_%' THEN
		RAISE EXCEPTION 'landing schema "%" is reserved', landing_schema
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM _detach_locked(caller, landing_schema);
	-- No "already exists, skipping" notices.
	PERFORM set_config('client_min_messages', 'warning', true);

	SELECT n.nspowner INTO schema_owner FROM pg_namespace n WHERE n.nspname = landing_schema;
	IF NOT FOUND THEN
		IF NOT caller_super
			AND NOT has_database_privilege(caller, current_database(), 'CREATE') THEN
			RAISE EXCEPTION 'permission denied to create schema %', landing_schema
				USING ERRCODE = 'insufficient_privilege';
		END IF;
		EXECUTE format('CREATE SCHEMA %I AUTHORIZATION %I', landing_schema, pg_get_userbyid(caller));
		schema_owner := caller;
	ELSIF NOT caller_super AND NOT has_schema_privilege(caller, landing_schema::text, 'USAGE') THEN
		RAISE EXCEPTION 'permission denied for schema %', landing_schema
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	table_owner := CASE WHEN pg_has_role(caller, schema_owner, 'MEMBER') THEN schema_owner
						ELSE caller END;

	FOR t, cols IN VALUES
		('customers', $c$id bigint PRIMARY KEY,
			full_name text NOT NULL,
			email text NOT NULL,
			phone text,
			country_code character(2) NOT NULL,
			created_at timestamp with time zone NOT NULL,
			updated_at timestamp with time zone NOT NULL$c$),
		('claims', $c$id bigint PRIMARY KEY,
			customer_id bigint NOT NULL,
			amount numeric(12,2) NOT NULL,
			status text NOT NULL,
			is_anomaly boolean NOT NULL,
			anomaly_reason text,
			flagged_at timestamp with time zone,
			created_at timestamp with time zone NOT NULL,
			resolved_at timestamp with time zone,
			updated_at timestamp with time zone NOT NULL$c$),
		('feedback', $c$id bigint PRIMARY KEY,
			claim_id bigint NOT NULL,
			customer_id bigint NOT NULL,
			rating smallint NOT NULL,
			comment text,
			sentiment text,
			created_at timestamp with time zone NOT NULL$c$)
	LOOP
		IF _check_landing_table(caller, landing_schema, t, true) IS NULL THEN
			IF NOT caller_super
				AND NOT has_schema_privilege(caller, landing_schema::text, 'CREATE') THEN
				RAISE EXCEPTION 'permission denied for schema %', landing_schema
					USING ERRCODE = 'insufficient_privilege',
						DETAIL = format('%I.%I does not exist, and role "%s" may not create it.',
										landing_schema, t, pg_get_userbyid(caller));
			END IF;
			EXECUTE format('CREATE TABLE %I.%I (%s)', landing_schema, t, cols);
			EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', landing_schema, t,
						   pg_get_userbyid(table_owner));
		END IF;
	END LOOP;

	/*
	 * The apply worker applies the three tables in one round per batch; the
	 * customers' versions, which the SCD2 dimension needs all of, reach it
	 * through their version history, as one set per batch.
	 */
	PERFORM walstar.register_model_source('walstar_claims', landing_schema, 'customers', true);
	PERFORM walstar.register_model_source('walstar_claims', landing_schema, 'claims', false);
	PERFORM walstar.register_model_source('walstar_claims', landing_schema, 'feedback', false);
	PERFORM _point_views(landing_schema);
	EXECUTE format($q$CREATE TRIGGER walstar_claims_versions AFTER INSERT ON walstar_versions.%I
		REFERENCING NEW TABLE AS new_rows
		FOR EACH STATEMENT EXECUTE FUNCTION walstar_claims.on_customer_versions()$q$,
		_history(landing_schema, 'customers'));
	EXECUTE format('ALTER TABLE walstar_versions.%I ENABLE ALWAYS TRIGGER walstar_claims_versions',
				   _history(landing_schema, 'customers'));

	FOREACH t IN ARRAY ARRAY['claims', 'feedback']
	LOOP
		EXECUTE format($q$CREATE TRIGGER walstar_claims_insert AFTER INSERT ON %I.%I
			REFERENCING NEW TABLE AS new_rows
			FOR EACH STATEMENT EXECUTE FUNCTION walstar_claims.on_landing_change(%L)$q$,
			landing_schema, t, t);
		EXECUTE format($q$CREATE TRIGGER walstar_claims_update AFTER UPDATE ON %I.%I
			REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
			FOR EACH STATEMENT EXECUTE FUNCTION walstar_claims.on_landing_change(%L)$q$,
			landing_schema, t, t);
		EXECUTE format($q$CREATE TRIGGER walstar_claims_delete AFTER DELETE ON %I.%I
			REFERENCING OLD TABLE AS old_rows
			FOR EACH STATEMENT EXECUTE FUNCTION walstar_claims.on_landing_change(%L)$q$,
			landing_schema, t, t);
		EXECUTE format($q$CREATE TRIGGER walstar_claims_truncate AFTER TRUNCATE ON %I.%I
			FOR EACH STATEMENT EXECUTE FUNCTION walstar_claims.on_landing_change(%L)$q$,
			landing_schema, t, t);
		-- Fire also when the apply worker runs with session_replication_role = replica.
		FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete', 'truncate']
		LOOP
			EXECUTE format('ALTER TABLE %I.%I ENABLE ALWAYS TRIGGER %I',
						   landing_schema, t, 'walstar_claims_' || op);
		END LOOP;
	END LOOP;

	SELECT array_agg(DISTINCT c.relowner) INTO owners
	FROM pg_class c
	WHERE c.oid IN (to_regclass(format('%I.customers', landing_schema)),
					to_regclass(format('%I.claims', landing_schema)),
					to_regclass(format('%I.feedback', landing_schema)));
	FOREACH w IN ARRAY owners
	LOOP
		PERFORM _writer_privileges(w, true);
	END LOOP;
	INSERT INTO config (landing_schema, writers) VALUES (landing_schema, owners);

	PERFORM set_config('client_min_messages', caller_messages, true);
END
$$;

-- Not SECURITY DEFINER: the build reads the landing tables with the
-- caller's rights (which _attach() has just extended by the writer rights
-- when the caller owns them).
CREATE FUNCTION attach(landing_schema name DEFAULT 'acme') RETURNS void
LANGUAGE plpgsql
SET search_path = walstar_claims, pg_catalog, pg_temp
SET jit = off
AS $$
BEGIN
	PERFORM _attach(landing_schema);
	PERFORM rebuild();
END
$$;
COMMENT ON FUNCTION attach(name) IS
	'creates <landing_schema>.customers, claims and feedback if missing, installs the triggers that maintain the star schema, gives the landing tables'' owners the model''s writer rights, and builds it from the rows already there; the caller must own the landing tables';

CREATE FUNCTION detach() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = walstar_claims, pg_catalog, pg_temp
SET jit = off
AS $$
BEGIN
	PERFORM model_lock();
	PERFORM _detach_locked(walstar._caller());
END
$$;
COMMENT ON FUNCTION detach() IS
	'removes the triggers from the landing tables and takes back the writer rights; the star schema stops following them; the caller must own the landing tables';

------------------------------------------------------------------------------
-- Metric functions (read rollups only)
------------------------------------------------------------------------------

-- country code -> key; NULL code -> 0 (all countries); unknown code -> NULL.
CREATE FUNCTION country_key_of(code text) RETURNS integer
LANGUAGE sql STABLE
BEGIN ATOMIC
	SELECT CASE WHEN code IS NULL THEN 0
				ELSE (SELECT country_key FROM walstar_claims.dim_country
					  WHERE country_code = code::character(2) AND country_key <> 0) END;
END;

/*
 * Values at given percentiles from the histograms of one kind, for the
 * given cube cells (p_years[i], p_countries[i]): the two values at 0-based
 * ranks floor(p * (n - 1)) and ceil(p * (n - 1)) and the interpolation
 * fraction, exactly as percentile_cont computes them.  Running sums add the
 * counts as integer (a bigint sum is numeric and costs several times more);
 * one histogram row would need more than 2^31 equal values to overflow it.
 */
CREATE FUNCTION hist_pick(p_kind smallint, p_years integer[], p_countries integer[],
						  p_pcts float8[])
RETURNS TABLE (year integer, country_key integer, n bigint, total numeric, pct float8,
			   v_lo bigint, v_hi bigint, frac float8)
LANGUAGE sql STABLE
BEGIN ATOMIC
	WITH t AS (
		SELECT h.year, h.country_key, h.n, h.total, p.pct,
			   floor(p.pct * (h.n - 1)::float8)::bigint AS r_lo,
			   ceil(p.pct * (h.n - 1)::float8)::bigint AS r_hi,
			   p.pct * (h.n - 1)::float8 - floor(p.pct * (h.n - 1)::float8) AS frac
		FROM unnest(p_years, p_countries) AS cell(year, country_key)
		JOIN walstar_claims.hist_total h
			ON h.kind = p_kind AND h.year = cell.year AND h.country_key = cell.country_key,
			unnest(p_pcts) AS p(pct)
		WHERE h.n > 0),
	r AS (
		SELECT t.year, t.country_key, t.r_lo AS rank FROM t
		UNION
		SELECT t.year, t.country_key, t.r_hi FROM t),
	c AS (
		SELECT DISTINCT ON (r.year, r.country_key, r.rank)
			   r.year, r.country_key, r.rank, x.coarse, r.rank - (x.cum - x.n) AS rr
		FROM r
		JOIN LATERAL (
			SELECT h.coarse, h.n,
				   sum(h.n::integer) OVER (ORDER BY h.coarse ROWS UNBOUNDED PRECEDING) AS cum
			FROM walstar_claims.hist_coarse h
			WHERE h.kind = p_kind AND h.year = r.year AND h.country_key = r.country_key) AS x
			ON x.cum > r.rank
		ORDER BY r.year, r.country_key, r.rank, x.coarse),
	f AS (
		SELECT DISTINCT ON (c.year, c.country_key, c.rank)
			   c.year, c.country_key, c.rank, x.fine, c.rr - (x.cum - x.n) AS rr
		FROM c
		JOIN LATERAL (
			SELECT h.fine, h.n, sum(h.n::integer) OVER (ORDER BY h.fine ROWS UNBOUNDED PRECEDING) AS cum
			FROM walstar_claims.hist_fine h
			WHERE h.kind = p_kind AND h.year = c.year
			  AND h.country_key = c.country_key AND h.coarse = c.coarse) AS x
			ON x.cum > c.rr
		ORDER BY c.year, c.country_key, c.rank, x.fine),
	e AS (
		SELECT DISTINCT ON (f.year, f.country_key, f.rank)
			   f.year, f.country_key, f.rank, x.v
		FROM f
		JOIN LATERAL (
			SELECT h.v, h.n, sum(h.n::integer) OVER (ORDER BY h.v ROWS UNBOUNDED PRECEDING) AS cum
			FROM walstar_claims.hist_exact h
			WHERE h.kind = p_kind AND h.year = f.year
			  AND h.country_key = f.country_key AND h.fine = f.fine) AS x
			ON x.cum > f.rr
		ORDER BY f.year, f.country_key, f.rank, x.v)
	SELECT t.year, t.country_key, t.n, t.total, t.pct, lo.v, hi.v, t.frac
	FROM t
	JOIN e AS lo ON lo.year = t.year AND lo.country_key = t.country_key AND lo.rank = t.r_lo
	JOIN e AS hi ON hi.year = t.year AND hi.country_key = t.country_key AND hi.rank = t.r_hi;
END;

/*
 * Resolution-time percentiles of the given cells, cached in hist_total:
 * anomaly_resolution_time() reads every country at once, which would
 * otherwise walk every country's histogram per call.  Few cells change per
 * batch: only anomaly claims that are resolved, re-opened, deleted, flagged
 * or unflagged, or that move to another year or country, touch them.
 */
CREATE FUNCTION cache_resolution_percentiles(p_years integer[], p_countries integer[])
RETURNS void
LANGUAGE sql
BEGIN ATOMIC
	UPDATE walstar_claims.hist_total h
	SET median = m.med, p90 = m.p90
	FROM unnest(p_years, p_countries) AS cell(year, country_key)
	LEFT JOIN (
		SELECT p.year, p.country_key,
			   max(p.v_lo + (p.v_hi::float8 - p.v_lo::float8) * p.frac) FILTER (WHERE p.pct = 0.5) AS med,
			   max(p.v_lo + (p.v_hi::float8 - p.v_lo::float8) * p.frac) FILTER (WHERE p.pct = 0.9) AS p90
		FROM walstar_claims.hist_pick(2::smallint, p_years, p_countries, ARRAY[0.5, 0.9]::float8[]) p
		GROUP BY 1, 2) AS m
		ON m.year = cell.year AND m.country_key = cell.country_key
	WHERE h.kind = 2 AND h.year = cell.year AND h.country_key = cell.country_key
	  AND (h.median, h.p90) IS DISTINCT FROM (m.med, m.p90);
END;

CREATE FUNCTION total_claims(p_from date DEFAULT NULL, p_to date DEFAULT NULL,
							 p_country text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = walstar_claims, pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
	ck integer := country_key_of(p_country);
	m_lo date;
	m_hi date;
	result bigint;
BEGIN
	IF ck IS NULL THEN
		RETURN 0;
	END IF;
	IF p_from IS NULL AND p_to IS NULL THEN
		SELECT n INTO result FROM hist_total WHERE kind = 1 AND year = 0 AND country_key = ck;
		RETURN coalesce(result, 0);
	END IF;
	IF p_from IS NOT NULL AND p_to IS NOT NULL AND p_from >= p_to THEN
		RETURN 0;
	END IF;
	-- Whole months from the monthly rollup, the days around them from the daily one.
	m_lo := CASE WHEN p_from = date_trunc('month', p_from)::date THEN p_from
				 ELSE (date_trunc('month', p_from) + interval '1 month')::date END;
	m_hi := date_trunc('month', p_to)::date;
	IF m_lo IS NOT NULL AND m_hi IS NOT NULL AND m_lo >= m_hi THEN
		SELECT sum(claims) INTO result FROM r_claims_day
		WHERE day >= p_from AND day < p_to AND (ck = 0 OR country_key = ck);
		RETURN coalesce(result, 0);
	END IF;
	SELECT coalesce((SELECT sum(claims) FROM r_claims_month
					 WHERE (m_lo IS NULL OR month >= m_lo) AND (m_hi IS NULL OR month < m_hi)
					   AND (ck = 0 OR country_key = ck)), 0)
		 + coalesce((SELECT sum(claims) FROM r_claims_day
					 WHERE p_from IS NOT NULL AND day >= p_from AND day < m_lo
					   AND (ck = 0 OR country_key = ck)), 0)
		 + coalesce((SELECT sum(claims) FROM r_claims_day
					 WHERE p_to IS NOT NULL AND day >= m_hi AND day < p_to
					   AND (ck = 0 OR country_key = ck)), 0)
	INTO result;
	RETURN result;
END
$$;
COMMENT ON FUNCTION total_claims(date, date, text) IS
	'count of claims; optional filters: created_at (UTC date) in [p_from, p_to), claim country (the customer''s country_code in effect at the claim''s created_at, ''??'' while the customer is unknown)';

CREATE FUNCTION claim_amount_stats(p_year integer DEFAULT NULL, p_country text DEFAULT NULL)
RETURNS TABLE (claims bigint, min_amount numeric, max_amount numeric,
			   avg_amount numeric, median_amount numeric)
LANGUAGE plpgsql STABLE
SET search_path = walstar_claims, pg_catalog, pg_temp
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
	ck integer := country_key_of(p_country);
	yr integer := coalesce(p_year, 0);
BEGIN
	claims := 0;
	IF ck IS NOT NULL AND (p_year IS NULL OR p_year <> 0) THEN
		SELECT t.n, t.total / t.n INTO claims, avg_amount
		FROM hist_total t WHERE t.kind = 1 AND t.year = yr AND t.country_key = ck AND t.n > 0;
	END IF;
	IF coalesce(claims, 0) = 0 THEN
		claims := 0;
		RETURN NEXT;
		RETURN;
	END IF;
	SELECT h.v * 0.01 INTO min_amount FROM hist_exact h
	WHERE h.kind = 1 AND h.year = yr AND h.country_key = ck AND h.n > 0
	ORDER BY h.fine, h.v LIMIT 1;
	SELECT h.v * 0.01 INTO max_amount FROM hist_exact h
	WHERE h.kind = 1 AND h.year = yr AND h.country_key = ck AND h.n > 0
	ORDER BY h.fine DESC, h.v DESC LIMIT 1;
	SELECT trim_scale((p.v_lo + p.v_hi) * 0.005) INTO median_amount
	FROM hist_pick(1::smallint, ARRAY[yr], ARRAY[ck], ARRAY[0.5::float8]) p;
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION claim_amount_stats(integer, text) IS
	'over claims.amount (EUR): count, min, max, avg (= avg(amount), numeric) and exact median (the middle amount, or the mean of the two middle amounts, as percentile_cont(0.5) without rounding); optional filters: UTC calendar year of created_at, claim country (as in total_claims)';

CREATE FUNCTION positive_feedback_count(p_from date DEFAULT NULL, p_to date DEFAULT NULL,
										p_country text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = walstar_claims, pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
	ck integer := country_key_of(p_country);
	m_lo date;
	m_hi date;
	result bigint;
BEGIN
	IF ck IS NULL OR (p_from IS NOT NULL AND p_to IS NOT NULL AND p_from >= p_to) THEN
		RETURN 0;
	END IF;
	m_lo := CASE WHEN p_from = date_trunc('month', p_from)::date THEN p_from
				 ELSE (date_trunc('month', p_from) + interval '1 month')::date END;
	m_hi := date_trunc('month', p_to)::date;
	IF m_lo IS NOT NULL AND m_hi IS NOT NULL AND m_lo >= m_hi THEN
		SELECT sum(feedback) INTO result FROM r_feedback_day
		WHERE sentiment = 'positive' AND day >= p_from AND day < p_to
		  AND (ck = 0 OR country_key = ck);
		RETURN coalesce(result, 0);
	END IF;
	SELECT coalesce((SELECT sum(feedback) FROM r_feedback_month
					 WHERE sentiment = 'positive'
					   AND (m_lo IS NULL OR month >= m_lo) AND (m_hi IS NULL OR month < m_hi)
					   AND (ck = 0 OR country_key = ck)), 0)
		 + coalesce((SELECT sum(feedback) FROM r_feedback_day
					 WHERE sentiment = 'positive' AND p_from IS NOT NULL
					   AND day >= p_from AND day < m_lo
					   AND (ck = 0 OR country_key = ck)), 0)
		 + coalesce((SELECT sum(feedback) FROM r_feedback_day
					 WHERE sentiment = 'positive' AND p_to IS NOT NULL
					   AND day >= m_hi AND day < p_to
					   AND (ck = 0 OR country_key = ck)), 0)
	INTO result;
	RETURN result;
END
$$;
COMMENT ON FUNCTION positive_feedback_count(date, date, text) IS
	'count of feedback whose sentiment is positive, where a NULL sentiment is derived from rating (4-5 positive, 3 neutral, 1-2 negative); all feedback counts, also before its claim arrives; optional filters: feedback created_at (UTC date) in [p_from, p_to), country of the feedback''s claim (''??'' while the claim or its customer is unknown)';

CREATE FUNCTION anomaly_feedback_sentiment(p_from_year integer DEFAULT NULL,
										   p_to_year integer DEFAULT NULL,
										   p_country text DEFAULT NULL)
RETURNS TABLE (year integer, country_code text, sentiment text, feedback bigint)
LANGUAGE plpgsql STABLE
SET search_path = walstar_claims, pg_catalog, pg_temp
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
	ck integer := country_key_of(p_country);
BEGIN
	RETURN QUERY
	SELECT r.year, k.country_code::text, r.sentiment, r.feedback
	FROM r_anomaly_sentiment r
	JOIN dim_country k ON k.country_key = r.country_key
	WHERE r.feedback <> 0
	  AND (p_from_year IS NULL OR r.year >= p_from_year)
	  AND (p_to_year IS NULL OR r.year <= p_to_year)
	  AND (ck = 0 OR r.country_key = ck)
	ORDER BY r.year, k.country_code, r.sentiment;
END
$$;
COMMENT ON FUNCTION anomaly_feedback_sentiment(integer, integer, text) IS
	'count of feedback per (year, country, sentiment) for feedback whose claim has is_anomaly; year = UTC calendar year of the claim''s created_at, country = the claim''s country (as in total_claims), sentiment as in positive_feedback_count; feedback counts once its claim has arrived; optional filters: years p_from_year..p_to_year inclusive, country';

CREATE FUNCTION anomaly_resolution_time(p_year integer DEFAULT NULL, p_country text DEFAULT NULL)
RETURNS TABLE (country_code text, resolved_claims bigint, avg_time interval,
			   median_time interval, p90_time interval)
LANGUAGE plpgsql STABLE
SET search_path = walstar_claims, pg_catalog, pg_temp
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
	ck integer := country_key_of(p_country);
	yr integer := coalesce(p_year, 0);
BEGIN
	IF ck IS NULL OR p_year = 0 THEN
		RETURN;
	END IF;
	RETURN QUERY
	SELECT k.country_code::text, t.n, us_interval(round(t.total / t.n)::float8),
		   us_interval(t.median), us_interval(t.p90)
	FROM hist_total t
	JOIN dim_country k ON k.country_key = t.country_key
	WHERE t.kind = 2 AND t.year = yr AND t.n > 0
	  AND (CASE WHEN ck = 0 THEN t.country_key <> 0 ELSE t.country_key = ck END)
	ORDER BY k.country_code;
END
$$;
COMMENT ON FUNCTION anomaly_resolution_time(integer, text) IS
	'per claim country, over claims with is_anomaly and resolved_at set, of d = resolved_at - created_at in microseconds: count, average (avg(d) rounded to the microsecond), median and 90th percentile (percentile_cont(0.5) and percentile_cont(0.9) of d as double precision, rounded to the microsecond); optional filters: UTC calendar year of created_at, country';

CREATE FUNCTION freshness()
RETURNS TABLE (metric text, source_tables text[], lag_seconds double precision,
			   lag_messages bigint, last_source_commit timestamptz,
			   model_applied_at timestamptz, source_idle boolean,
			   last_heartbeat timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = walstar_claims, pg_catalog, pg_temp
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
	ls name := (SELECT c.landing_schema FROM config c);
BEGIN
	RETURN QUERY
	WITH m(metric, tables) AS (
		VALUES ('total_claims', ARRAY['claims', 'customers']),
			   ('claim_amount_stats', ARRAY['claims', 'customers']),
			   ('positive_feedback_count', ARRAY['feedback', 'claims', 'customers']),
			   ('anomaly_feedback_sentiment', ARRAY['feedback', 'claims', 'customers']),
			   ('anomaly_resolution_time', ARRAY['claims', 'customers'])),
	-- walstar's progress on the topics <prefix>.public.<table> that feed
	-- the landing schema, per landing table.
	src AS (
		SELECT split_part(st.topic, '.', -1) AS tbl,
			   max(st.lag_seconds)::float8 AS lag_seconds,
			   sum(st.lag_messages)::bigint AS lag_messages,
			   max(st.last_commit_time_applied) AS last_commit,
			   bool_and(st.source_idle) AS idle,
			   min(st.last_heartbeat) AS last_heartbeat
		FROM walstar.subscription_status st
		WHERE st.landing_schema = ls AND split_part(st.topic, '.', -2) = 'public'
		GROUP BY 1)
	SELECT m.metric, m.tables, max(src.lag_seconds), sum(src.lag_messages)::bigint,
		   min(src.last_commit), min(s.last_applied_at),
		   -- idle only if every table is fed and idle in every partition
		   CASE WHEN count(src.tbl) > 0
				THEN bool_and(coalesce(src.idle, false)) END,
		   min(src.last_heartbeat)
	FROM m
	JOIN model_state s ON s.source_table = ANY (m.tables)
	LEFT JOIN src ON src.tbl = s.source_table
	GROUP BY m.metric, m.tables
	ORDER BY m.metric;
END
$$;
COMMENT ON FUNCTION freshness() IS
	'per metric, over the landing tables it depends on, from walstar.subscription_status of the subscriptions into the attached landing schema: lag_seconds (largest lag in seconds behind the source of any partition feeding them; 0 = caught up), lag_messages (Kafka messages not yet applied), last_source_commit (the oldest, over those tables, of the latest source commit time applied); model_applied_at: the oldest time the model last absorbed a change of one of them; source_idle: true when every partition feeding every one of those tables is caught up and its last message is a recent heartbeat of the sink (walstar.subscription_status.source_idle: the source has nothing newer, as opposed to a stalled pipeline, where heartbeats stop, source_idle turns false and lag_seconds grows), false when any is not or one of the tables is not fed; last_heartbeat: the oldest, over those partitions, of the latest heartbeat applied (the source time up to which an idle source is known to have sent everything; NULL without heartbeats). NULLs where no subscription feeds a table (source_idle: none of them)';

------------------------------------------------------------------------------
-- Verification against the landing tables
------------------------------------------------------------------------------

/*
 * Recomputes every metric from the landing tables with plain SQL and returns
 * one row per difference (no rows: the model agrees).  The customers'
 * country versions come from the version history walstar keeps of the
 * landing table (customer_versions()), not from dim_customer, which is
 * checked against them; the claim country is re-derived from them here
 * independently of the facts.
 */
CREATE FUNCTION verify()
RETURNS TABLE (metric text, key text, model text, expected text)
LANGUAGE plpgsql
SET search_path = walstar_claims, pg_catalog, pg_temp
SET jit = off
SET client_min_messages = warning
AS $$
#variable_conflict use_column
DECLARE
	y integer;
	c text;
BEGIN
	PERFORM model_lock();
	DROP TABLE IF EXISTS pg_temp.verify_claims;
	DROP TABLE IF EXISTS pg_temp.verify_feedback;
	DROP TABLE IF EXISTS pg_temp.verify_versions;
	CREATE TEMP TABLE verify_versions ON COMMIT DROP AS SELECT * FROM customer_versions();
	CREATE INDEX ON verify_versions (customer_id, valid_from);
	ANALYZE verify_versions;
	CREATE TEMP TABLE verify_claims ON COMMIT DROP AS
		SELECT cl.id, cl.amount, cl.is_anomaly,
			   (cl.created_at AT TIME ZONE 'UTC')::date AS day,
			   extract(year FROM cl.created_at AT TIME ZONE 'UTC')::integer AS year,
			   coalesce(
				 (SELECT v.country_code::text FROM pg_temp.verify_versions v
				  WHERE v.customer_id = cl.customer_id AND v.valid_from <= cl.created_at
				  ORDER BY v.valid_from DESC LIMIT 1),
				 (SELECT v.country_code::text FROM pg_temp.verify_versions v
				  WHERE v.customer_id = cl.customer_id
				  ORDER BY v.valid_from LIMIT 1),
				 '??') AS country,
			   CASE WHEN cl.is_anomaly AND cl.resolved_at IS NOT NULL THEN
				 ((extract(epoch FROM cl.resolved_at) - extract(epoch FROM cl.created_at))
				  * 1000000)::bigint END AS resolution_us
		FROM src_claims cl;
	CREATE TEMP TABLE verify_feedback ON COMMIT DROP AS
		SELECT f.id, (f.created_at AT TIME ZONE 'UTC')::date AS day,
			   coalesce(f.sentiment, CASE WHEN f.rating >= 4 THEN 'positive'
										  WHEN f.rating = 3 THEN 'neutral'
										  ELSE 'negative' END) AS sentiment,
			   x.id IS NOT NULL AS claim_known, coalesce(x.country, '??') AS country,
			   x.year, coalesce(x.is_anomaly, false) AS is_anomaly
		FROM src_feedback f LEFT JOIN verify_claims x ON x.id = f.claim_id;
	ANALYZE verify_claims;
	ANALYZE verify_feedback;

	-- Every customer's landing row is one of its versions (at its updated_at).
	RETURN QUERY
	SELECT 'dim_customer', s.id::text, k.country_code::text, s.country_code::text
	FROM src_customers s
	LEFT JOIN dim_customer v ON v.customer_id = s.id AND v.valid_from = s.updated_at
	LEFT JOIN dim_country k ON k.country_key = v.country_key
	WHERE k.country_code IS DISTINCT FROM s.country_code
	UNION ALL
	SELECT 'dim_customer', v.customer_id::text, 'version', 'no landing row'
	FROM dim_customer v
	WHERE NOT EXISTS (SELECT FROM src_customers s WHERE s.id = v.customer_id)
	UNION ALL
	-- and every version is the one the version history puts there
	SELECT 'dim_customer', coalesce(m.customer_id, e.customer_id) || ' ' || coalesce(m.valid_from, e.valid_from),
		   m.country_code::text, e.country_code::text
	FROM (SELECT v.customer_id, v.valid_from, k.country_code
		  FROM dim_customer v JOIN dim_country k ON k.country_key = v.country_key) AS m
	FULL JOIN pg_temp.verify_versions e
		ON e.customer_id = m.customer_id AND e.valid_from = m.valid_from
	WHERE m.country_code IS DISTINCT FROM e.country_code
	UNION ALL
	SELECT 'dim_customer', v.customer_id || ' ' || v.valid_from, 'row ' || v.row_from || '..' || v.row_to,
		   'row ' || x.rf || '..' || x.rt
	FROM dim_customer v
	JOIN (SELECT customer_key,
				 CASE WHEN lag(valid_from) OVER w IS NULL THEN '-infinity'::timestamptz
					  ELSE valid_from END AS rf,
				 coalesce(lead(valid_from) OVER w, 'infinity'::timestamptz) AS rt
		  FROM dim_customer WINDOW w AS (PARTITION BY customer_id ORDER BY valid_from)) AS x
		USING (customer_key)
	WHERE (v.row_from, v.row_to) IS DISTINCT FROM (x.rf, x.rt);

	-- Rollups, cell by cell.
	RETURN QUERY
	WITH m AS (SELECT r.day, k.country_code::text AS country, r.claims, r.amount_sum
			   FROM r_claims_day r JOIN dim_country k ON k.country_key = r.country_key
			   WHERE r.claims <> 0 OR r.amount_sum <> 0),
	e AS (SELECT x.day, x.country, count(*) AS claims, sum(x.amount) AS amount_sum
		  FROM verify_claims x GROUP BY 1, 2)
	SELECT 'r_claims_day', coalesce(m.day, e.day) || ' ' || coalesce(m.country, e.country),
		   m.claims || ' ' || m.amount_sum, e.claims || ' ' || e.amount_sum
	FROM m FULL JOIN e ON e.day = m.day AND e.country = m.country
	WHERE (m.claims, m.amount_sum) IS DISTINCT FROM (e.claims, e.amount_sum);

	RETURN QUERY
	WITH m AS (SELECT r.month, k.country_code::text AS country, r.claims, r.amount_sum
			   FROM r_claims_month r JOIN dim_country k ON k.country_key = r.country_key
			   WHERE r.claims <> 0 OR r.amount_sum <> 0),
	e AS (SELECT date_trunc('month', x.day)::date AS month, x.country, count(*) AS claims,
				 sum(x.amount) AS amount_sum
		  FROM verify_claims x GROUP BY 1, 2)
	SELECT 'r_claims_month', coalesce(m.month, e.month) || ' ' || coalesce(m.country, e.country),
		   m.claims || ' ' || m.amount_sum, e.claims || ' ' || e.amount_sum
	FROM m FULL JOIN e ON e.month = m.month AND e.country = m.country
	WHERE (m.claims, m.amount_sum) IS DISTINCT FROM (e.claims, e.amount_sum);

	RETURN QUERY
	WITH m AS (SELECT r.day, k.country_code::text AS country, r.sentiment, r.feedback
			   FROM r_feedback_day r JOIN dim_country k ON k.country_key = r.country_key
			   WHERE r.feedback <> 0),
	e AS (SELECT x.day, x.country, x.sentiment, count(*) AS feedback
		  FROM verify_feedback x GROUP BY 1, 2, 3)
	SELECT 'r_feedback_day',
		   coalesce(m.day, e.day) || ' ' || coalesce(m.country, e.country) || ' ' || coalesce(m.sentiment, e.sentiment),
		   m.feedback::text, e.feedback::text
	FROM m FULL JOIN e ON e.day = m.day AND e.country = m.country AND e.sentiment = m.sentiment
	WHERE m.feedback IS DISTINCT FROM e.feedback;

	-- Metric functions.
	RETURN QUERY
	SELECT 'total_claims', coalesce(x.c, '*'),
		   total_claims(NULL, NULL, x.c)::text,
		   (SELECT count(*) FROM verify_claims v WHERE x.c IS NULL OR v.country = x.c)::text
	FROM (SELECT NULL::text AS c UNION SELECT DISTINCT country FROM verify_claims
		  UNION SELECT country_code::text FROM dim_country WHERE country_key <> 0) AS x
	WHERE total_claims(NULL, NULL, x.c)
		  <> (SELECT count(*) FROM verify_claims v WHERE x.c IS NULL OR v.country = x.c);

	-- Periods: whole years, and ranges cutting through months.
	RETURN QUERY
	SELECT 'total_claims', p.f || '..' || p.t || ' ' || coalesce(x.c, '*'),
		   total_claims(p.f, p.t, x.c)::text,
		   (SELECT count(*) FROM verify_claims v
			WHERE v.day >= p.f AND v.day < p.t AND (x.c IS NULL OR v.country = x.c))::text
	FROM (SELECT make_date(yy, 1, 1) AS f, make_date(yy + 1, 1, 1) AS t
		  FROM (SELECT DISTINCT year AS yy FROM verify_claims) AS ys
		  UNION ALL
		  SELECT min(day) + 3, max(day) - 17 FROM verify_claims HAVING count(*) > 0
		  UNION ALL
		  SELECT min(day) + 40, min(day) + 50 FROM verify_claims HAVING count(*) > 0) AS p,
		 (SELECT NULL::text AS c UNION SELECT DISTINCT country FROM verify_claims) AS x
	WHERE total_claims(p.f, p.t, x.c)
		  <> (SELECT count(*) FROM verify_claims v
			  WHERE v.day >= p.f AND v.day < p.t AND (x.c IS NULL OR v.country = x.c));

	RETURN QUERY
	WITH cells AS (
		SELECT DISTINCT cy AS y, cc AS c
		FROM verify_claims v,
			 LATERAL (VALUES (v.year, v.country), (v.year, NULL), (NULL, v.country),
							 (NULL::integer, NULL::text)) AS z(cy, cc)
		UNION
		SELECT NULL::integer, NULL::text),
	e AS (
		SELECT cl.y, cl.c, count(v.id) AS n, min(v.amount) AS mn, max(v.amount) AS mx,
			   avg(v.amount) AS av,
			   (percentile_disc(0.5) WITHIN GROUP (ORDER BY v.amount)
				+ percentile_disc(0.5) WITHIN GROUP (ORDER BY v.amount DESC)) / 2 AS md
		FROM cells cl
		LEFT JOIN verify_claims v
			ON (cl.y IS NULL OR v.year = cl.y) AND (cl.c IS NULL OR v.country = cl.c)
		GROUP BY cl.y, cl.c),
	m AS (SELECT e.*, s.* FROM e, LATERAL claim_amount_stats(e.y, e.c) AS s)
	SELECT 'claim_amount_stats', coalesce(m.y::text, '*') || ' ' || coalesce(m.c, '*'),
		   concat_ws(' ', m.claims, m.min_amount, m.max_amount, m.avg_amount, m.median_amount),
		   concat_ws(' ', m.n, m.mn, m.mx, m.av, m.md)
	FROM m
	WHERE (m.claims, m.min_amount, m.max_amount, m.avg_amount, m.median_amount)
		  IS DISTINCT FROM (m.n, m.mn, m.mx, m.av, m.md);

	RETURN QUERY
	SELECT 'positive_feedback_count', p.f || '..' || p.t || ' ' || coalesce(x.c, '*'),
		   positive_feedback_count(p.f, p.t, x.c)::text,
		   (SELECT count(*) FROM verify_feedback v
			WHERE v.sentiment = 'positive' AND (p.f IS NULL OR v.day >= p.f)
			  AND (p.t IS NULL OR v.day < p.t) AND (x.c IS NULL OR v.country = x.c))::text
	FROM (SELECT NULL::date AS f, NULL::date AS t
		  UNION ALL
		  SELECT make_date(yy, 1, 1), make_date(yy + 1, 1, 1)
		  FROM (SELECT DISTINCT extract(year FROM day)::integer AS yy FROM verify_feedback) AS ys
		  UNION ALL
		  SELECT min(day) + 3, max(day) - 17 FROM verify_feedback HAVING count(*) > 0) AS p,
		 (SELECT NULL::text AS c UNION SELECT DISTINCT country FROM verify_feedback) AS x
	WHERE positive_feedback_count(p.f, p.t, x.c)
		  <> (SELECT count(*) FROM verify_feedback v
			  WHERE v.sentiment = 'positive' AND (p.f IS NULL OR v.day >= p.f)
				AND (p.t IS NULL OR v.day < p.t) AND (x.c IS NULL OR v.country = x.c));

	RETURN QUERY
	WITH m AS (SELECT * FROM anomaly_feedback_sentiment()),
	e AS (SELECT v.year, v.country AS country_code, v.sentiment, count(*) AS feedback
		  FROM verify_feedback v WHERE v.claim_known AND v.is_anomaly GROUP BY 1, 2, 3)
	SELECT 'anomaly_feedback_sentiment',
		   coalesce(m.year, e.year) || ' ' || coalesce(m.country_code, e.country_code)
		   || ' ' || coalesce(m.sentiment, e.sentiment),
		   m.feedback::text, e.feedback::text
	FROM m FULL JOIN e ON e.year = m.year AND e.country_code = m.country_code
		AND e.sentiment = m.sentiment
	WHERE m.feedback IS DISTINCT FROM e.feedback;

	FOR y IN SELECT NULL::integer UNION ALL SELECT DISTINCT year FROM verify_claims
	LOOP
		RETURN QUERY
		WITH m AS (SELECT * FROM anomaly_resolution_time(y)),
		e AS (SELECT v.country AS country_code, count(*) AS resolved_claims,
					 us_interval(round(avg(v.resolution_us))::float8) AS avg_time,
					 us_interval(percentile_cont(0.5) WITHIN GROUP (ORDER BY v.resolution_us::float8)) AS median_time,
					 us_interval(percentile_cont(0.9) WITHIN GROUP (ORDER BY v.resolution_us::float8)) AS p90_time
			  FROM verify_claims v
			  WHERE v.resolution_us IS NOT NULL AND (y IS NULL OR v.year = y)
			  GROUP BY 1)
		SELECT 'anomaly_resolution_time',
			   coalesce(y::text, '*') || ' ' || coalesce(m.country_code, e.country_code),
			   concat_ws(' ', m.resolved_claims, m.avg_time, m.median_time, m.p90_time),
			   concat_ws(' ', e.resolved_claims, e.avg_time, e.median_time, e.p90_time)
		FROM m FULL JOIN e ON e.country_code = m.country_code
		WHERE (m.resolved_claims, m.avg_time, m.median_time, m.p90_time)
			  IS DISTINCT FROM (e.resolved_claims, e.avg_time, e.median_time, e.p90_time);
	END LOOP;
	FOR c IN SELECT DISTINCT country FROM verify_claims
	LOOP
		RETURN QUERY
		WITH m AS (SELECT * FROM anomaly_resolution_time(NULL, c)),
		e AS (SELECT v.country AS country_code, count(*) AS resolved_claims
			  FROM verify_claims v
			  WHERE v.resolution_us IS NOT NULL AND v.country = c GROUP BY 1)
		SELECT 'anomaly_resolution_time', '* ' || c,
			   coalesce(m.resolved_claims, 0)::text, coalesce(e.resolved_claims, 0)::text
		FROM m FULL JOIN e ON e.country_code = m.country_code
		WHERE m.resolved_claims IS DISTINCT FROM e.resolved_claims;
	END LOOP;
END
$$;
COMMENT ON FUNCTION verify() IS
	'recomputes every metric from the landing tables with plain SQL; one row per difference, none when the model agrees';

------------------------------------------------------------------------------
-- Privileges: the reader calls metric functions (with its own rights: they
-- are not SECURITY DEFINER) and reads the star schema; the admin also
-- attaches and detaches, which needs the ownership of the landing tables.
-- rebuild(), verify() and the maintenance functions are for the landing
-- tables' owners, who get them from attach().  Nothing is public.
------------------------------------------------------------------------------

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
GRANT USAGE ON SCHEMA @extschema@ TO walstar_reader, walstar_admin;
GRANT SELECT ON dim_date, dim_country, dim_customer, fact_claim, fact_feedback,
	r_claims_day, r_claims_month, r_feedback_day, r_feedback_month, r_anomaly_sentiment,
	hist_total, hist_coarse, hist_fine, hist_exact, model_state, config
	TO walstar_reader, walstar_admin;
GRANT EXECUTE ON FUNCTION
	total_claims(date, date, text), claim_amount_stats(integer, text),
	positive_feedback_count(date, date, text),
	anomaly_feedback_sentiment(integer, integer, text),
	anomaly_resolution_time(integer, text), freshness(),
	country_key_of(text), hist_pick(smallint, integer[], integer[], float8[]),
	us_interval(float8)
	TO walstar_reader, walstar_admin;
GRANT EXECUTE ON FUNCTION attach(name), _attach(name), detach() TO walstar_admin;
