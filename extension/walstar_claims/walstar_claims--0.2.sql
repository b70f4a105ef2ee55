/* walstar_claims--0.2.sql: the Acme claims model, version 0.2 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION walstar_claims CASCADE" to load this file. \quit

/*
 * The claims scenario (shared/scenario/README.md) as one declaration on
 * walstar's model engine (extension/README.md, "Declaring a model"):
 * attach() hands it to walstar.create_model(), which generates schema
 * "claims" (facts, the customers' SCD2 versions, rollups, measure
 * functions, verify(), rebuild()) and the triggers that keep it in the
 * apply transaction.  The functions below keep the model's public face:
 * thin wrappers over the generated measures with the arguments and result
 * columns the scenario's questions had from the start.  README.md maps
 * each question onto the declaration.
 */

-- Where the model is attached, and the roles given its writer rights.
CREATE TABLE config (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	landing_schema name NOT NULL,
	writers oid[] NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE config IS 'the landing schema the model is attached to, and the roles given the model''s writer rights';

/*
 * The declaration for landing tables customers, claims and feedback of
 * landing_schema.  A claim's country is its customer's country_code as of
 * created_at (before the first version, the first; ?? while unknown); a
 * feedback's claim attributes come from the claim facts (?? and no anomaly
 * while the claim is unknown).  Rollup names sort all < year < daily
 * (jsonb key order), the order in which a measure tries its rollups.  The
 * daily rollup keeps no value histograms: no metric asks for a median over
 * days (claim_amount_stats() takes a year), and they were a third of the
 * model's size and one more upsert per batch.
 */
CREATE FUNCTION declaration(landing_schema name) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN $json${
"name": "claims",
"dimensions": {
  "customer": {"table": "customers", "scd": 2, "effective": "updated_at",
               "attributes": {"country": "country_code"}, "unknown": {"country": "??"}},
  "claim": {"fact": "claim", "attributes": {"country": "customer_country", "year": "year", "is_anomaly": "is_anomaly"},
            "unknown": {"country": "??"}}},
"facts": {
  "claim": {"table": "claims", "time": "created_at",
    "columns": {"amount": "amount", "is_anomaly": "is_anomaly",
                "year": "extract(year FROM created_at AT TIME ZONE 'UTC')::integer",
                "resolution_us": "CASE WHEN resolved_at IS NOT NULL THEN ((extract(epoch FROM resolved_at) - extract(epoch FROM created_at)) * 1000000)::bigint END"},
    "references": {"customer": {"key": "customer_id", "as_of": "created_at"}},
    "measures": {
      "claims": {"kind": "count", "comment": "count of claims"},
      "min_amount": {"kind": "min", "of": "amount", "comment": "min of claims.amount (EUR)"},
      "max_amount": {"kind": "max", "of": "amount", "comment": "max of claims.amount (EUR)"},
      "avg_amount": {"kind": "avg", "of": "amount", "comment": "avg(amount), numeric"},
      "median_amount": {"kind": "percentile", "fraction": 0.5, "of": "amount", "comment": "percentile_cont(0.5) of amount"},
      "resolved_claims": {"kind": "count", "of": "resolution_us", "filter": "is_anomaly",
        "comment": "claims with is_anomaly and resolved_at set"},
      "avg_resolution": {"kind": "avg", "of": "resolution_us", "filter": "is_anomaly",
        "comment": "avg of resolved_at - created_at in microseconds over the resolved anomaly claims"},
      "median_resolution": {"kind": "percentile", "fraction": 0.5, "of": "resolution_us", "filter": "is_anomaly",
        "comment": "percentile_cont(0.5) of resolved_at - created_at in microseconds over the resolved anomaly claims"},
      "p90_resolution": {"kind": "percentile", "fraction": 0.9, "of": "resolution_us", "filter": "is_anomaly",
        "comment": "percentile_cont(0.9) of resolved_at - created_at in microseconds over the resolved anomaly claims"}},
    "rollups": {"all": {"grain": "all", "by": ["customer.country"]},
                "year": {"grain": "year", "by": ["customer.country"]},
                "daily": {"grain": "day", "by": ["customer.country"], "histograms": false}}},
  "feedback": {"table": "feedback", "time": "created_at",
    "columns": {"sentiment": "coalesce(sentiment, CASE WHEN rating >= 4 THEN 'positive' WHEN rating = 3 THEN 'neutral' ELSE 'negative' END)"},
    "references": {"claim": {"key": "claim_id"}},
    "measures": {
      "feedback": {"kind": "count", "comment": "count of feedback, also before its claim arrives"},
      "positive_feedback": {"kind": "count", "filter": "sentiment = 'positive'",
        "comment": "feedback whose sentiment (source sentiment, else rating 4-5 positive, 3 neutral, 1-2 negative) is positive"},
      "anomaly_feedback": {"kind": "count", "filter": "claim_is_anomaly",
        "comment": "feedback whose claim has arrived and has is_anomaly"}},
    "rollups": {"all": {"grain": "all", "by": ["claim.country"]},
                "daily": {"grain": "day", "by": ["claim.country"]},
                "anomaly": {"grain": "all", "by": ["claim.year", "claim.country", "sentiment"]}}}}
}$json$::jsonb || pg_catalog.jsonb_build_object('landing_schema', landing_schema);
END
$$;
COMMENT ON FUNCTION declaration(name) IS
	'the claims model''s declaration for walstar.create_model() on the landing tables customers, claims and feedback of landing_schema';

------------------------------------------------------------------------------
-- Attaching: the landing owner's checks, then the engine
------------------------------------------------------------------------------

-- The model's columns of landing table t: they must have built-in types.
CREATE FUNCTION _landing_columns(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
	SELECT CASE t
		WHEN 'customers' THEN ARRAY['id', 'country_code', 'updated_at']
		WHEN 'claims' THEN ARRAY['id', 'customer_id', 'amount', 'is_anomaly', 'created_at', 'resolved_at']
		WHEN 'feedback' THEN ARRAY['id', 'claim_id', 'rating', 'sentiment', 'created_at'] END;
END;

/*
 * Raises unless the caller may attach the model to (or detach it from)
 * landing table landing_schema.t; returns its oid, NULL if it does not
 * exist.  The caller must own it (be a member of its owner) or be a
 * superuser; to attach, it must be an ordinary table whose model columns
 * have built-in base types: the engine's build reads them as the
 * extension owner, with built-in casts and operators only.
 */
CREATE FUNCTION _check_landing_table(caller oid, landing_schema name, t text, attaching boolean)
RETURNS oid
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	rel oid := pg_catalog.to_regclass(pg_catalog.format('%I.%I', landing_schema, t));
	cls record;
	bad text;
BEGIN
	IF rel IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT c.relkind, c.relowner INTO cls FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rel;
	IF NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) caller)
		AND NOT pg_catalog.pg_has_role(caller, cls.relowner, 'MEMBER') THEN
		RAISE EXCEPTION 'must be owner of table %', rel::regclass
			USING ERRCODE = 'insufficient_privilege',
				DETAIL = pg_catalog.format('The table belongs to role "%s".', pg_catalog.pg_get_userbyid(cls.relowner)),
				HINT = 'Attach the model as the owner of the landing tables (the subscription owner).';
	END IF;
	IF NOT attaching THEN
		RETURN rel;
	END IF;
	IF cls.relkind OPERATOR(pg_catalog.<>) 'r' THEN
		RAISE EXCEPTION '% is not an ordinary table', rel::regclass USING ERRCODE = 'wrong_object_type';
	END IF;
	SELECT pg_catalog.string_agg(pg_catalog.quote_ident(m.col), ', ') INTO bad
	FROM pg_catalog.unnest(walstar_claims._landing_columns(t)) AS m(col)
	WHERE NOT EXISTS (
		SELECT FROM pg_attribute a JOIN pg_type y ON y.oid OPERATOR(pg_catalog.=) a.atttypid
		WHERE a.attrelid OPERATOR(pg_catalog.=) rel AND a.attname OPERATOR(pg_catalog.=) m.col
		  AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
		  AND y.typnamespace OPERATOR(pg_catalog.=) 'pg_catalog'::regnamespace
		  AND y.typtype OPERATOR(pg_catalog.=) 'b');
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'landing table % has no column of a built-in type named %', rel::regclass, bad
			USING ERRCODE = 'datatype_mismatch',
				HINT = 'The model reads these columns; they must exist with built-in types, as walstar creates them.';
	END IF;
	RETURN rel;
END
$$;

-- The model's writer rights here, given to (or taken back from) role r;
-- the engine gives the landing owners theirs on schema claims.
CREATE FUNCTION _writer_privileges(r oid, do_grant boolean) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	what text;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles x WHERE x.oid OPERATOR(pg_catalog.=) r AND NOT x.rolsuper) THEN
		RETURN;
	END IF;
	FOREACH what IN ARRAY ARRAY['USAGE ON SCHEMA walstar_claims', 'SELECT ON TABLE walstar_claims.config',
		'EXECUTE ON FUNCTION walstar_claims.rebuild(), walstar_claims.verify()']
	LOOP
		EXECUTE pg_catalog.format(CASE WHEN do_grant THEN 'GRANT %s TO %I' ELSE 'REVOKE %s FROM %I' END, what, pg_catalog.pg_get_userbyid(r));
	END LOOP;
END
$$;

-- Undo the current attachment, if the caller may: the model dropped, the
-- writer rights taken back.  Attached again to the same schema, the
-- customers' version history is kept (its walstar_claims registration).
CREATE FUNCTION _detach_locked(caller oid, next_schema name DEFAULT NULL) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	cfg record;
	t text;
	w oid;
BEGIN
	SELECT c.landing_schema, c.writers INTO cfg FROM walstar_claims.config c;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	FOREACH t IN ARRAY ARRAY['customers', 'claims', 'feedback']
	LOOP
		PERFORM walstar_claims._check_landing_table(caller, cfg.landing_schema, t, false);
	END LOOP;
	IF pg_catalog.to_regnamespace('claims') IS NOT NULL THEN
		PERFORM walstar.drop_model('claims');
	END IF;
	IF cfg.landing_schema IS DISTINCT FROM next_schema THEN
		PERFORM walstar.unregister_model_source('walstar_claims', cfg.landing_schema, 'customers');
	END IF;
	FOREACH w IN ARRAY cfg.writers
	LOOP
		PERFORM walstar_claims._writer_privileges(w, false);
	END LOOP;
	DELETE FROM walstar_claims.config;
END
$$;

/*
 * attach() as the extension owner, for a caller who owns the landing
 * tables that exist (and may create in the schema, or the database, for
 * those that do not: a new schema belongs to the caller, new tables to the
 * schema's owner when the caller is a member of it, else to the caller).
 * Replaces any previous attachment (which the caller must be allowed to
 * detach), then creates the model, which the engine builds from the rows.
 */
CREATE FUNCTION _attach(landing_schema name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	caller oid := walstar._caller();
	caller_super boolean := (SELECT r.rolsuper FROM pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) caller);
	schema_owner oid;
	table_owner oid;
	t text;
	cols text;
	w oid;
	owners oid[];
	fn regprocedure;
BEGIN
	PERFORM pg_catalog.pg_advisory_xact_lock(22440, pg_catalog.hashtext('claims'));
	IF landing_schema IS NULL OR landing_schema IN ('', 'walstar', 'walstar_claims', 'claims', 'walstar_versions',
			'information_schema') OR landing_schema LIKE 'pg\_%' THEN
		RAISE EXCEPTION 'landing schema "%" is reserved', landing_schema USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM walstar_claims._detach_locked(caller, landing_schema);
	SELECT n.nspowner INTO schema_owner FROM pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) landing_schema;
	IF NOT FOUND THEN
		IF NOT caller_super AND NOT pg_catalog.has_database_privilege(caller, pg_catalog.current_database(), 'CREATE') THEN
			RAISE EXCEPTION 'permission denied to create schema %', landing_schema USING ERRCODE = 'insufficient_privilege';
		END IF;
		EXECUTE pg_catalog.format('CREATE SCHEMA %I AUTHORIZATION %I', landing_schema, pg_catalog.pg_get_userbyid(caller));
		schema_owner := caller;
	ELSIF NOT caller_super AND NOT pg_catalog.has_schema_privilege(caller, landing_schema::text, 'USAGE') THEN
		RAISE EXCEPTION 'permission denied for schema %', landing_schema USING ERRCODE = 'insufficient_privilege';
	END IF;
	table_owner := CASE WHEN pg_catalog.pg_has_role(caller, schema_owner, 'MEMBER') THEN schema_owner ELSE caller END;
	FOR t, cols IN VALUES
		('customers', 'id bigint PRIMARY KEY, full_name text NOT NULL, email text NOT NULL, phone text,'
			' country_code character(2) NOT NULL, created_at timestamp with time zone NOT NULL,'
			' updated_at timestamp with time zone NOT NULL'),
		('claims', 'id bigint PRIMARY KEY, customer_id bigint NOT NULL, amount numeric(12,2) NOT NULL,'
			' status text NOT NULL, is_anomaly boolean NOT NULL, anomaly_reason text,'
			' flagged_at timestamp with time zone, created_at timestamp with time zone NOT NULL,'
			' resolved_at timestamp with time zone, updated_at timestamp with time zone NOT NULL'),
		('feedback', 'id bigint PRIMARY KEY, claim_id bigint NOT NULL, customer_id bigint NOT NULL,'
			' rating smallint NOT NULL, comment text, sentiment text, created_at timestamp with time zone NOT NULL')
	LOOP
		IF walstar_claims._check_landing_table(caller, landing_schema, t, true) IS NULL THEN
			IF NOT caller_super AND NOT pg_catalog.has_schema_privilege(caller, landing_schema::text, 'CREATE') THEN
				RAISE EXCEPTION 'permission denied for schema %', landing_schema
					USING ERRCODE = 'insufficient_privilege',
						DETAIL = pg_catalog.format('%I.%I does not exist, and role "%s" may not create it.',
										landing_schema, t, pg_catalog.pg_get_userbyid(caller));
			END IF;
			EXECUTE pg_catalog.format('CREATE TABLE %I.%I (%s)', landing_schema, t, cols);
			EXECUTE pg_catalog.format('ALTER TABLE %I.%I OWNER TO %I', landing_schema, t, pg_catalog.pg_get_userbyid(table_owner));
		END IF;
	END LOOP;
	-- keeps the customers' versions from one attachment to the next
	PERFORM walstar.register_model_source('walstar_claims', landing_schema, 'customers', true);
	PERFORM walstar.create_model(walstar_claims.declaration(landing_schema));
	-- the admin reads what the reader reads
	EXECUTE 'GRANT USAGE ON SCHEMA claims TO walstar_admin';
	EXECUTE 'GRANT SELECT ON ALL TABLES IN SCHEMA claims TO walstar_admin';
	FOR fn IN SELECT p.oid FROM pg_proc p WHERE p.pronamespace OPERATOR(pg_catalog.=) 'claims'::regnamespace
			AND pg_catalog.has_function_privilege('walstar_reader', p.oid, 'EXECUTE')
	LOOP
		EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO walstar_admin', fn);
	END LOOP;
	SELECT pg_catalog.array_agg(DISTINCT c.relowner) INTO owners FROM pg_class c
	WHERE c.oid IN (pg_catalog.to_regclass(pg_catalog.format('%I.customers', landing_schema)),
					pg_catalog.to_regclass(pg_catalog.format('%I.claims', landing_schema)),
					pg_catalog.to_regclass(pg_catalog.format('%I.feedback', landing_schema)));
	FOREACH w IN ARRAY owners
	LOOP
		PERFORM walstar_claims._writer_privileges(w, true);
	END LOOP;
	INSERT INTO walstar_claims.config (landing_schema, writers) VALUES (landing_schema, owners);
END
$$;

CREATE FUNCTION attach(landing_schema name DEFAULT 'acme') RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
BEGIN
	PERFORM walstar_claims._attach(landing_schema);
END
$$;
COMMENT ON FUNCTION attach(name) IS
	'creates <landing_schema>.customers, claims and feedback if missing and the model (schema claims) on them, built from the rows already there; gives the landing tables'' owners the model''s writer rights; the caller must own the landing tables';

CREATE FUNCTION detach() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
BEGIN
	PERFORM pg_catalog.pg_advisory_xact_lock(22440, pg_catalog.hashtext('claims'));
	PERFORM walstar_claims._detach_locked(walstar._caller());
END
$$;
COMMENT ON FUNCTION detach() IS
	'drops the model (schema claims and its triggers on the landing tables) and takes back the writer rights; the landing tables stay; the caller must own them';

------------------------------------------------------------------------------
-- The scenario's questions over the generated measures (schema claims)
------------------------------------------------------------------------------

-- Microseconds as an interval, days and hours like timestamptz subtraction.
CREATE FUNCTION us_interval(us float8) RETURNS interval
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
	SELECT pg_catalog.justify_hours(pg_catalog.round(us) * interval '1 microsecond');
END;

CREATE FUNCTION total_claims(p_from date DEFAULT NULL, p_to date DEFAULT NULL, p_country text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN claims.claims(p_from, p_to - 1, p_customer_country => p_country);
END
$$;
COMMENT ON FUNCTION total_claims(date, date, text) IS
	'count of claims; optional filters: created_at (UTC date) in [p_from, p_to), claim country (the customer''s country_code in effect at the claim''s created_at, ''??'' while the customer is unknown)';

CREATE FUNCTION claim_amount_stats(p_year integer DEFAULT NULL, p_country text DEFAULT NULL)
RETURNS TABLE (claims bigint, min_amount numeric, max_amount numeric, avg_amount numeric, median_amount numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	f date := CASE WHEN p_year >= 1 THEN pg_catalog.make_date(p_year, 1, 1) END;
	t date := CASE WHEN p_year >= 1 THEN pg_catalog.make_date(p_year, 12, 31) END;
BEGIN
	claims := CASE WHEN p_year < 1 THEN 0 ELSE claims.claims(f, t, p_customer_country => p_country) END;
	IF claims > 0 THEN
		min_amount := claims.min_amount(f, t, p_customer_country => p_country);
		max_amount := claims.max_amount(f, t, p_customer_country => p_country);
		avg_amount := claims.avg_amount(f, t, p_customer_country => p_country);
		median_amount := pg_catalog.trim_scale(claims.median_amount(f, t, p_customer_country => p_country)::numeric);
	END IF;
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION claim_amount_stats(integer, text) IS
	'over claims.amount (EUR): count, min, max, avg (= avg(amount), numeric) and median (percentile_cont(0.5), exact for amounts of up to 15 significant digits); optional filters: UTC calendar year of created_at, claim country (as in total_claims)';

CREATE FUNCTION positive_feedback_count(p_from date DEFAULT NULL, p_to date DEFAULT NULL, p_country text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN claims.positive_feedback(p_from, p_to - 1, p_claim_country => p_country);
END
$$;
COMMENT ON FUNCTION positive_feedback_count(date, date, text) IS
	'count of feedback whose sentiment is positive, where a NULL sentiment is derived from rating (4-5 positive, 3 neutral, 1-2 negative); all feedback counts, also before its claim arrives; optional filters: feedback created_at (UTC date) in [p_from, p_to), country of the feedback''s claim (''??'' while the claim or its customer is unknown)';

CREATE FUNCTION anomaly_feedback_sentiment(p_from_year integer DEFAULT NULL, p_to_year integer DEFAULT NULL,
										   p_country text DEFAULT NULL)
RETURNS TABLE (year integer, country_code text, sentiment text, feedback bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN QUERY
	SELECT r.claim_year, r.claim_country, r.sentiment, r.anomaly_feedback
	FROM claims.feedback_by_anomaly() r
	WHERE r.anomaly_feedback OPERATOR(pg_catalog.>) 0
	  AND (p_from_year IS NULL OR r.claim_year OPERATOR(pg_catalog.>=) p_from_year)
	  AND (p_to_year IS NULL OR r.claim_year OPERATOR(pg_catalog.<=) p_to_year)
	  AND (p_country IS NULL OR r.claim_country OPERATOR(pg_catalog.=) p_country)
	ORDER BY 1, 2, 3;
END
$$;
COMMENT ON FUNCTION anomaly_feedback_sentiment(integer, integer, text) IS
	'count of feedback per (year, country, sentiment) for feedback whose claim has is_anomaly; year = UTC calendar year of the claim''s created_at, country = the claim''s country (as in total_claims), sentiment as in positive_feedback_count; feedback counts once its claim has arrived; optional filters: years p_from_year..p_to_year inclusive, country';

CREATE FUNCTION anomaly_resolution_time(p_year integer DEFAULT NULL, p_country text DEFAULT NULL)
RETURNS TABLE (country_code text, resolved_claims bigint, avg_time interval, median_time interval, p90_time interval)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	f date := CASE WHEN p_year >= 1 THEN pg_catalog.make_date(p_year, 1, 1) END;
	t date := CASE WHEN p_year >= 1 THEN pg_catalog.make_date(p_year, 12, 31) END;
BEGIN
	IF p_year < 1 THEN
		RETURN;
	END IF;
	-- the measures of each country with resolved anomaly claims
	RETURN QUERY
	SELECT x.c, x.n,
		   walstar_claims.us_interval(pg_catalog.round(claims.avg_resolution(f, t, p_customer_country => x.c))::float8),
		   walstar_claims.us_interval(claims.median_resolution(f, t, p_customer_country => x.c)),
		   walstar_claims.us_interval(claims.p90_resolution(f, t, p_customer_country => x.c))
	FROM (SELECT a.customer_country AS c, claims.resolved_claims(f, t, p_customer_country => a.customer_country) AS n
		  FROM claims.r_claim_all a
		  WHERE a.resolved_claims_n OPERATOR(pg_catalog.>) 0
			AND (p_country IS NULL OR a.customer_country OPERATOR(pg_catalog.=) p_country)
		  OFFSET 0) AS x
	WHERE x.n OPERATOR(pg_catalog.>) 0
	ORDER BY 1;
END
$$;
COMMENT ON FUNCTION anomaly_resolution_time(integer, text) IS
	'per claim country, over claims with is_anomaly and resolved_at set, of d = resolved_at - created_at in microseconds: count, average (avg(d) rounded to the microsecond), median and 90th percentile (percentile_cont(0.5) and percentile_cont(0.9) of d as double precision, rounded to the microsecond); optional filters: UTC calendar year of created_at, country';

CREATE FUNCTION freshness()
RETURNS TABLE (metric text, source_tables text[], lag_seconds double precision, lag_messages bigint,
			   last_source_commit timestamptz, model_applied_at timestamptz, source_idle boolean,
			   last_heartbeat timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	ls name := (SELECT c.landing_schema FROM walstar_claims.config c);
BEGIN
	IF pg_catalog.to_regclass('claims._state') IS NOT NULL THEN
		RETURN QUERY
		WITH m(metric, tables) AS (
			VALUES ('total_claims', ARRAY['claims', 'customers']),
				   ('claim_amount_stats', ARRAY['claims', 'customers']),
				   ('positive_feedback_count', ARRAY['feedback', 'claims', 'customers']),
				   ('anomaly_feedback_sentiment', ARRAY['feedback', 'claims', 'customers']),
				   ('anomaly_resolution_time', ARRAY['claims', 'customers'])),
		-- walstar's progress on the topics <prefix>.public.<table> feeding the landing schema
		src AS (
			SELECT pg_catalog.split_part(st.topic, '.', -1) AS tbl, pg_catalog.max(st.lag_seconds)::float8 AS lag_seconds,
				   pg_catalog.sum(st.lag_messages)::bigint AS lag_messages, pg_catalog.max(st.last_commit_time_applied) AS last_commit,
				   pg_catalog.bool_and(st.source_idle) AS idle, pg_catalog.min(st.last_heartbeat) AS last_heartbeat
			FROM walstar.subscription_status st
			WHERE st.landing_schema OPERATOR(pg_catalog.=) ls
			  AND pg_catalog.split_part(st.topic, '.', -2) OPERATOR(pg_catalog.=) 'public'
			GROUP BY 1)
		SELECT m.metric, m.tables, pg_catalog.max(src.lag_seconds), pg_catalog.sum(src.lag_messages)::bigint,
			   pg_catalog.min(src.last_commit), pg_catalog.min(s.last_change_at),
			   -- idle only if every table is fed and idle in every partition
			   CASE WHEN pg_catalog.count(src.tbl) OPERATOR(pg_catalog.>) 0
					THEN pg_catalog.bool_and(coalesce(src.idle, false)) END,
			   pg_catalog.min(src.last_heartbeat)
		FROM m
		JOIN claims._state s ON s.source::text OPERATOR(pg_catalog.=) ANY (m.tables)
		LEFT JOIN src ON src.tbl OPERATOR(pg_catalog.=) s.source::text
		GROUP BY m.metric, m.tables
		ORDER BY m.metric;
	END IF;
END
$$;
COMMENT ON FUNCTION freshness() IS
	'per metric, over the landing tables it depends on, from walstar.subscription_status of the subscriptions into the attached landing schema: lag_seconds (largest lag in seconds behind the source of any partition feeding them; 0 = caught up), lag_messages (Kafka messages not yet applied), last_source_commit (the oldest, over those tables, of the latest source commit time applied); model_applied_at: the oldest time the model last absorbed a change of one of them; source_idle: true when every partition feeding every one of those tables is caught up and its last message is a recent heartbeat of the sink (walstar.subscription_status.source_idle: the source has nothing newer, as opposed to a stalled pipeline, where heartbeats stop, source_idle turns false and lag_seconds grows), false when any is not or one of the tables is not fed; last_heartbeat: the oldest, over those partitions, of the latest heartbeat applied (the source time up to which an idle source is known to have sent everything; NULL without heartbeats). NULLs where no subscription feeds a table (source_idle: none of them); no rows while the model is not attached';

------------------------------------------------------------------------------
-- Maintenance: for the landing tables' owners (attach() gives them these)
------------------------------------------------------------------------------

/*
 * The engine's verify() (every fact, version and rollup row against a
 * recompute from the landing tables and the version history), then every
 * metric function against plain SQL over those facts.  One row per
 * difference, none when the model agrees.
 */
CREATE FUNCTION verify()
RETURNS TABLE (metric text, key text, model text, expected text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM pg_catalog.pg_advisory_xact_lock(22440, pg_catalog.hashtext('claims'));
	RETURN QUERY SELECT v.object, v.problem, v.detail, NULL::text FROM claims.verify() v;
	RETURN QUERY
	WITH c AS (SELECT f.customer_country AS country, f.year, f.amount, f.resolution_us
			   FROM claims.f_claim f),
	cells AS (SELECT DISTINCT z.y, z.c FROM c, LATERAL (VALUES (c.year, c.country), (c.year, NULL), (NULL, c.country),
				(NULL::integer, NULL::text)) AS z(y, c) UNION SELECT NULL::integer, NULL::text),
	e AS (SELECT cl.y, cl.c, pg_catalog.count(c.amount) AS n, pg_catalog.min(c.amount) AS mn, pg_catalog.max(c.amount) AS mx,
				 pg_catalog.avg(c.amount) AS av,
				 (pg_catalog.percentile_disc(0.5) WITHIN GROUP (ORDER BY c.amount)
				  OPERATOR(pg_catalog.+) pg_catalog.percentile_disc(0.5) WITHIN GROUP (ORDER BY c.amount DESC))
				  OPERATOR(pg_catalog./) 2 AS md
		  FROM cells cl LEFT JOIN c ON (cl.y IS NULL OR c.year OPERATOR(pg_catalog.=) cl.y)
			AND (cl.c IS NULL OR c.country OPERATOR(pg_catalog.=) cl.c)
		  GROUP BY cl.y, cl.c)
	SELECT 'claim_amount_stats', coalesce(e.y::text, '*') || ' ' || coalesce(e.c, '*'),
		   pg_catalog.concat_ws(' ', s.claims, s.min_amount, s.max_amount, s.avg_amount, s.median_amount),
		   pg_catalog.concat_ws(' ', e.n, e.mn, e.mx, e.av, e.md)
	FROM e, LATERAL walstar_claims.claim_amount_stats(e.y, e.c) AS s
	WHERE (s.claims, s.min_amount, s.max_amount, s.avg_amount, s.median_amount) IS DISTINCT FROM (e.n, e.mn, e.mx, e.av, e.md)
	UNION ALL
	SELECT 'total_claims', coalesce(e.c, '*'), walstar_claims.total_claims(NULL, NULL, e.c)::text, e.n::text
	FROM e WHERE e.y IS NULL AND walstar_claims.total_claims(NULL, NULL, e.c) OPERATOR(pg_catalog.<>) e.n;
	RETURN QUERY
	WITH e AS (SELECT pg_catalog.count(*) FILTER (WHERE f.sentiment OPERATOR(pg_catalog.=) 'positive') AS n, z.c
			   FROM claims.f_feedback f, LATERAL (VALUES (f.claim_country), (NULL)) AS z(c) GROUP BY z.c)
	SELECT 'positive_feedback_count', coalesce(e.c, '*'), walstar_claims.positive_feedback_count(NULL, NULL, e.c)::text, e.n::text
	FROM e WHERE walstar_claims.positive_feedback_count(NULL, NULL, e.c) OPERATOR(pg_catalog.<>) e.n;
	RETURN QUERY
	WITH m AS (SELECT * FROM walstar_claims.anomaly_feedback_sentiment()),
	e AS (SELECT f.claim_year AS year, f.claim_country AS country_code, f.sentiment, pg_catalog.count(*) AS feedback
		  FROM claims.f_feedback f WHERE f.claim_is_anomaly GROUP BY 1, 2, 3)
	SELECT 'anomaly_feedback_sentiment', coalesce(m.year, e.year) || ' ' || coalesce(m.country_code, e.country_code)
		   || ' ' || coalesce(m.sentiment, e.sentiment), m.feedback::text, e.feedback::text
	FROM m FULL JOIN e ON e.year OPERATOR(pg_catalog.=) m.year AND e.country_code OPERATOR(pg_catalog.=) m.country_code
		AND e.sentiment OPERATOR(pg_catalog.=) m.sentiment
	WHERE m.feedback IS DISTINCT FROM e.feedback;
	RETURN QUERY
	WITH y AS (SELECT NULL::integer AS y UNION SELECT DISTINCT f.year FROM claims.f_claim f),
	m AS (SELECT y.y, r.* FROM y, LATERAL walstar_claims.anomaly_resolution_time(y.y) AS r),
	e AS (SELECT y.y, f.customer_country AS country_code, pg_catalog.count(*) AS resolved_claims,
				 walstar_claims.us_interval(pg_catalog.round(pg_catalog.avg(f.resolution_us))::float8) AS avg_time,
				 walstar_claims.us_interval(pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY f.resolution_us::float8)) AS median_time,
				 walstar_claims.us_interval(pg_catalog.percentile_cont(0.9) WITHIN GROUP (ORDER BY f.resolution_us::float8)) AS p90_time
		  FROM y JOIN claims.f_claim f ON (y.y IS NULL OR f.year OPERATOR(pg_catalog.=) y.y)
		  WHERE f.is_anomaly AND f.resolution_us IS NOT NULL GROUP BY 1, 2)
	SELECT 'anomaly_resolution_time', coalesce(coalesce(m.y, e.y)::text, '*') || ' ' || coalesce(m.country_code, e.country_code),
		   pg_catalog.concat_ws(' ', m.resolved_claims, m.avg_time, m.median_time, m.p90_time),
		   pg_catalog.concat_ws(' ', e.resolved_claims, e.avg_time, e.median_time, e.p90_time)
	FROM m FULL JOIN e ON m.y IS NOT DISTINCT FROM e.y AND e.country_code OPERATOR(pg_catalog.=) m.country_code
	WHERE (m.resolved_claims, m.avg_time, m.median_time, m.p90_time)
		  IS DISTINCT FROM (e.resolved_claims, e.avg_time, e.median_time, e.p90_time);
END
$$;
COMMENT ON FUNCTION verify() IS
	'recomputes the model from the landing tables (the engine''s verify()) and every metric with plain SQL; one row per difference, none when the model agrees';

/*
 * The engine's rebuild(); with walstar_claims.rebuild_chunk set to n > 0,
 * the facts are emptied and built again through the incremental path in
 * chunks of n ids, with a notice per chunk.
 */
CREATE FUNCTION rebuild() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	setting text := pg_catalog.current_setting('walstar_claims.rebuild_chunk', true);
	chunk integer := 0;
	started timestamptz := pg_catalog.clock_timestamp();
	ls name := (SELECT c.landing_schema FROM walstar_claims.config c);
	what text;
	ids bigint[];
	total bigint;
	done bigint;
	r name;
BEGIN
	IF coalesce(setting, '') <> '' THEN
		IF setting !~ '^\s*[0-9]{1,9}\s*$' THEN
			RAISE EXCEPTION 'walstar_claims.rebuild_chunk must be a whole number of ids (0: no chunks), not "%"', setting
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		chunk := setting::integer;
	END IF;
	IF chunk = 0 THEN
		PERFORM claims.rebuild();
		RETURN;
	END IF;
	PERFORM pg_catalog.pg_advisory_xact_lock(22440, pg_catalog.hashtext('claims'));
	DELETE FROM claims.d_customer;
	INSERT INTO claims.d_customer SELECT * FROM claims._versions_customer(NULL);
	FOR r IN SELECT c.relname FROM pg_catalog.pg_class c
			WHERE c.relnamespace OPERATOR(pg_catalog.=) 'claims'::regnamespace AND c.relkind OPERATOR(pg_catalog.=) 'r'
			  AND c.relname ~ '^(f|r|h|hb)_'	-- facts, rollups, value histograms, bucket counts
	LOOP
		EXECUTE pg_catalog.format('DELETE FROM claims.%I', r);
	END LOOP;
	FOREACH what IN ARRAY ARRAY['claims', 'feedback']
	LOOP
		EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %I.%I', ls, what) INTO total;
		done := 0;
		LOOP
			EXECUTE pg_catalog.format('SELECT ARRAY(SELECT l.id FROM %I.%I l ORDER BY l.id OFFSET $1 LIMIT $2)', ls, what)
				INTO ids USING done, chunk;
			EXIT WHEN pg_catalog.cardinality(ids) = 0;
			EXECUTE pg_catalog.format('SELECT claims.%I($1)', CASE what WHEN 'claims' THEN '_refresh_claim' ELSE '_refresh_feedback' END)
				USING ids;
			done := done + pg_catalog.cardinality(ids);
			RAISE NOTICE 'walstar_claims: % % of % (% s)', what, done, total,
				pg_catalog.round(EXTRACT(epoch FROM pg_catalog.clock_timestamp() - started));
		END LOOP;
	END LOOP;
END
$$;
COMMENT ON FUNCTION rebuild() IS
	'rebuilds the facts, customer versions and rollups from the landing tables and the customers'' version history (setting walstar_claims.rebuild_chunk: 0, the default, in one pass; n, in chunks of n ids with progress notices)';

------------------------------------------------------------------------------
-- Privileges: the reader (and the admin) call the metric functions with
-- their own rights; the admin also attaches and detaches, which needs the
-- ownership of the landing tables; rebuild() and verify() are for the
-- landing tables' owners, who get them from attach().  Nothing is public.
------------------------------------------------------------------------------

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
GRANT USAGE ON SCHEMA @extschema@ TO walstar_reader, walstar_admin;
GRANT SELECT ON config TO walstar_reader, walstar_admin;
GRANT EXECUTE ON FUNCTION
	total_claims(date, date, text), claim_amount_stats(integer, text),
	positive_feedback_count(date, date, text), anomaly_feedback_sentiment(integer, integer, text),
	anomaly_resolution_time(integer, text), freshness(), us_interval(float8), declaration(name)
	TO walstar_reader, walstar_admin;
GRANT EXECUTE ON FUNCTION attach(name), _attach(name), detach() TO walstar_admin;
