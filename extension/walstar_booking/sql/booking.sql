-- The booking model on landing tables written directly (their version
-- history through walstar's statement triggers), through a random workload:
-- page views deleted, late (before the session's first view), for sessions
-- whose booking came first; users arriving after their sessions, moving
-- country (also back in time), deleted; bookings confirmed, cancelled,
-- confirmed before their session's first view.  Every answer of the
-- scenario equals demo/booking/answers.sql's plain SQL, every metric
-- function equals plain SQL per period, platform, country and currency,
-- verify() is empty; bad calls are refused.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION walstar_booking CASCADE;
SELECT extname, extversion FROM pg_extension WHERE extname LIKE 'walstar%' ORDER BY 1;
CREATE ROLE regress_booker IN ROLE walstar_admin;
CREATE ROLE regress_other_admin IN ROLE walstar_admin;
CREATE ROLE regress_analyst IN ROLE walstar_reader;
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO regress_booker, regress_other_admin', current_database()); END $$;

-- refused: no or a reserved landing schema, detach with nothing attached,
-- attach by a reader
SELECT walstar_booking.attach(NULL);
SELECT walstar_booking.attach('booking');
SELECT walstar_booking.attach('pg_catalog');
SELECT walstar_booking.detach();
SET ROLE regress_analyst;
SELECT walstar_booking.attach('land');
RESET ROLE;

-- the landing tables, as the subscription owner; the test's own record of
-- every users version (as the source keeps it: a delete removes the user's)
SET ROLE regress_booker;
CREATE SCHEMA land;
CREATE TABLE land.users (id bigint PRIMARY KEY, email text, full_name text, country_code character(2),
	created_at timestamptz, updated_at timestamptz);
CREATE TABLE land.page_views (id bigint PRIMARY KEY, session_id uuid, user_id bigint, page text, platform text,
	product_id bigint, viewed_at timestamptz, ip_address inet);
CREATE TABLE land.bookings (id bigint PRIMARY KEY, session_id uuid, user_id bigint, platform text,
	amount numeric(12,2), currency character(3), status text, created_at timestamptz, confirmed_at timestamptz,
	updated_at timestamptz);
RESET ROLE;
CREATE SCHEMA test;
CREATE TABLE test.user_versions (seq bigserial, id bigint, country_code text, updated_at timestamptz);
CREATE FUNCTION test.record_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		DELETE FROM test.user_versions WHERE id = OLD.id;
		RETURN OLD;
	END IF;
	INSERT INTO test.user_versions (id, country_code, updated_at) VALUES (NEW.id, NEW.country_code, NEW.updated_at);
	RETURN NEW;
END $$;
CREATE TRIGGER record_version AFTER INSERT OR UPDATE OR DELETE ON land.users
	FOR EACH ROW EXECUTE FUNCTION test.record_version();

-- a random workload on the landing tables
CREATE SEQUENCE test.ids START 1000;
CREATE FUNCTION test.sid(k int) RETURNS uuid LANGUAGE sql IMMUTABLE RETURN md5('session ' || k)::uuid;
CREATE FUNCTION test.churn(rounds int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	k int;
	t0 timestamptz;
BEGIN
	FOR r IN 1 .. rounds LOOP
		k := (random() * 60)::int;
		t0 := '2024-01-20'::timestamptz + random() * interval '100 days';
		CASE (random() * 14)::int
		WHEN 0 THEN	-- a user registers (sessions and bookings may name them already)
			INSERT INTO land.users VALUES (k % 25, 'u@x', 'U', (ARRAY['DE', 'FR', 'IT', 'ES'])[1 + (random() * 3)::int],
				t0, t0) ON CONFLICT (id) DO NOTHING;
		WHEN 1 THEN	-- moves country, effective now or back in time
			UPDATE land.users SET updated_at = CASE WHEN random() < 0.5 THEN t0 ELSE updated_at - random() * interval '50 days' END,
				country_code = CASE WHEN random() < 0.3 THEN country_code ELSE (ARRAY['DE', 'FR', 'IT', 'ES', 'NL'])[1 + (random() * 4)::int] END
			WHERE id = k % 25;
		WHEN 2 THEN
			DELETE FROM land.users WHERE id = k % 25 AND random() < 0.3;
		WHEN 3 THEN	-- the privacy job: one view or a whole session
			DELETE FROM land.page_views WHERE id = (SELECT min(id) FROM land.page_views WHERE id >= k * 13);
		WHEN 4 THEN
			DELETE FROM land.page_views WHERE session_id = test.sid(k) AND random() < 0.4;
		WHEN 5 THEN	-- a late view, before the view it follows
			INSERT INTO land.page_views SELECT nextval('test.ids'), session_id, user_id, 'cart', platform, NULL,
				viewed_at - random() * interval '2 days', NULL
			FROM land.page_views WHERE id = (SELECT min(id) FROM land.page_views WHERE id >= k * 13);
		WHEN 6, 7 THEN	-- a booking, maybe before its session's views or for one never viewed
			INSERT INTO land.bookings SELECT nextval('test.ids'), test.sid(k + (random() * 8)::int),
				(random() * 30)::int, (ARRAY['web', 'ios', 'android'])[1 + (random() * 2)::int],
				round((random() * 300)::numeric, 2), (ARRAY['EUR', 'EUR', 'USD', 'GBP'])[1 + (random() * 3)::int],
				s.status, t0, CASE WHEN s.status = 'confirmed' THEN t0 END, t0
			FROM (SELECT (ARRAY['pending', 'confirmed', 'confirmed', 'cancelled'])[1 + (random() * 3)::int] AS status) s;
		WHEN 8 THEN	-- confirmed, now or (clock skew) before the session's first view
			UPDATE land.bookings b SET status = 'confirmed', confirmed_at = CASE WHEN random() < 0.8 THEN t0
				ELSE coalesce((SELECT min(v.viewed_at) FROM land.page_views v WHERE v.session_id = b.session_id), t0) - interval '30 seconds' END
			WHERE id = (SELECT min(id) FROM land.bookings WHERE id >= 1000 + k * 7 AND status <> 'confirmed');
		WHEN 9 THEN	-- cancelled or refunded
			UPDATE land.bookings SET status = CASE WHEN status = 'confirmed' THEN 'refunded' ELSE 'cancelled' END, confirmed_at = NULL
			WHERE id = (SELECT max(id) FROM land.bookings WHERE id <= 1000 + k * 9);
		WHEN 10 THEN
			DELETE FROM land.bookings WHERE id = (SELECT min(id) FROM land.bookings WHERE id >= 1000 + k * 11);
		ELSE	-- a session's views: most stop at the product page; some anonymous, some of users not there yet
			INSERT INTO land.page_views SELECT nextval('test.ids'), test.sid(k), u.id, v.page,
				p.platform, NULL, t0 + v.n * interval '1 minute', '10.0.0.1'
			FROM (SELECT CASE WHEN random() < 0.2 THEN NULL ELSE (random() * 30)::bigint END AS id) u,
				 (SELECT (ARRAY['web', 'ios', 'android'])[1 + (random() * 2)::int] AS platform) p,
				 unnest(CASE WHEN random() < 0.1 THEN ARRAY['cart', 'product', 'payment']
					ELSE (ARRAY['product', 'cart', 'payment', 'confirmation'])[1 : 1 + floor(random() * random() * 4)::int] END)
					WITH ORDINALITY AS v(page, n);
		END CASE;
	END LOOP;
END $$;
SELECT setseed(0.42);
SELECT test.churn(150);

-- attached by an admin who may not act as the landing tables' owner: refused
GRANT USAGE ON SCHEMA land TO regress_other_admin;
SET ROLE regress_other_admin;
SELECT walstar_booking.attach('land');
RESET ROLE;
SELECT count(*) AS model_schemas FROM pg_namespace WHERE nspname = 'booking';
-- by their owner: built from the rows there
SET ROLE regress_booker;
SELECT walstar_booking.attach('land');
SELECT walstar_booking.attach('land');
RESET ROLE;

-- the answers of demo/booking/answers.sql, run as it is, and the model's
-- answers in the same lines (demo/booking/model_answers.sql, which the demo
-- compares too)
\getenv abs_srcdir PG_ABS_SRCDIR
\set answers_file :abs_srcdir '/../../demo/booking/answers.sql'
SELECT pg_read_file(:'answers_file') AS answers_sql \gset
CREATE FUNCTION test.plain_answers(script text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	parts text[] := regexp_split_to_array(regexp_replace(script, '^\s*--[^\n]*\n', '', 'gn'), ';\s*\n');
BEGIN
	IF to_regprocedure('pg_temp.ratio(bigint, bigint)') IS NULL THEN
		EXECUTE parts[1];
		EXECUTE parts[2];
	END IF;
	SET LOCAL search_path = test, land, pg_catalog;
	RETURN QUERY EXECUTE parts[3];
END $$;
\set model_file :abs_srcdir '/../../demo/booking/model_answers.sql'
SELECT format('CREATE FUNCTION test.model_answers() RETURNS SETOF text LANGUAGE sql AS %L', pg_read_file(:'model_file')) \gexec
CREATE FUNCTION test.differences(script text) RETURNS SETOF text LANGUAGE sql AS $$
(SELECT 'model only: ' || m FROM test.model_answers() m EXCEPT ALL SELECT 'model only: ' || p FROM test.plain_answers(script) p)
UNION ALL
(SELECT 'plain only: ' || p FROM test.plain_answers(script) p EXCEPT ALL SELECT 'plain only: ' || m FROM test.model_answers() m)
ORDER BY 1 LIMIT 10
$$;

-- every metric function against plain SQL from the definitions, per
-- period, platform, country (sessions) and currency (bookings)
CREATE VIEW test.plain_sessions AS
SELECT s.*, (s.first_at AT TIME ZONE 'UTC')::date AS day,
	coalesce((SELECT uv.country_code FROM test.user_versions uv WHERE uv.id = s.user_id AND uv.updated_at <= s.first_at
			  ORDER BY uv.updated_at DESC, uv.seq DESC LIMIT 1),
			 (SELECT uv.country_code FROM test.user_versions uv WHERE uv.id = s.user_id ORDER BY uv.updated_at, uv.seq LIMIT 1),
			 '??') AS country
FROM (SELECT session_id, min(viewed_at) AS first_at,
		(array_agg(platform ORDER BY viewed_at, id))[1] AS platform, (array_agg(user_id ORDER BY viewed_at, id))[1] AS user_id,
		bool_or(page = 'product') AS product, bool_or(page = 'cart') AS cart,
		bool_or(page = 'payment') AS payment, bool_or(page = 'confirmation') AS confirmation
	  FROM land.page_views GROUP BY session_id) s;
CREATE VIEW test.plain_bookings AS
SELECT b.*, (b.confirmed_at AT TIME ZONE 'UTC')::date AS day,
	b.confirmed_at - (SELECT s.first_at FROM test.plain_sessions s WHERE s.session_id = b.session_id) AS d,
	EXISTS (SELECT FROM land.bookings e WHERE e.user_id = b.user_id AND e.status = 'confirmed' AND e.confirmed_at IS NOT NULL
			AND (e.confirmed_at < b.confirmed_at OR e.confirmed_at = b.confirmed_at AND e.id < b.id)) AS is_repeat,
	EXISTS (SELECT FROM land.bookings e WHERE e.user_id = b.user_id AND e.status = 'confirmed' AND e.confirmed_at IS NOT NULL
			AND date_trunc('month', e.confirmed_at AT TIME ZONE 'UTC') < date_trunc('month', b.confirmed_at AT TIME ZONE 'UTC')) AS before_month
FROM land.bookings b WHERE b.status = 'confirmed' AND b.confirmed_at IS NOT NULL;
CREATE FUNCTION test.check_metrics() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	a record;
	want text;
	have text;
BEGIN
	FOR a IN SELECT * FROM (VALUES (NULL::date, NULL::date, NULL::text, NULL::text, NULL::text),
		('2024-02-01', '2024-02-29', NULL, NULL, NULL), ('2024-03-01', '2024-03-31', 'web', NULL, 'EUR'),
		('2024-01-25', '2024-03-10', 'ios', 'DE', 'USD'), (NULL, NULL, NULL, '??', NULL),
		('2024-04-01', '2024-04-30', 'android', 'FR', 'GBP'), ('2024-02-10', '2024-02-10', NULL, NULL, NULL),
		(NULL, NULL, 'web', 'IT', 'EUR')) AS v(f, t, p, c, cur)
	LOOP
		SELECT concat_ws(' ', count(*), count(*) FILTER (WHERE product), count(*) FILTER (WHERE cart),
			count(*) FILTER (WHERE payment), count(*) FILTER (WHERE confirmation),
			(count(*) FILTER (WHERE cart))::numeric / nullif(count(*) FILTER (WHERE product), 0),
			(count(*) FILTER (WHERE payment))::numeric / nullif(count(*) FILTER (WHERE cart), 0),
			(count(*) FILTER (WHERE confirmation))::numeric / nullif(count(*) FILTER (WHERE payment), 0),
			1 - (count(*) FILTER (WHERE cart))::numeric / nullif(count(*) FILTER (WHERE product), 0),
			1 - (count(*) FILTER (WHERE payment))::numeric / nullif(count(*) FILTER (WHERE cart), 0),
			1 - (count(*) FILTER (WHERE confirmation))::numeric / nullif(count(*) FILTER (WHERE payment), 0)) INTO want
		FROM test.plain_sessions s WHERE (a.f IS NULL OR s.day >= a.f) AND (a.t IS NULL OR s.day <= a.t)
		  AND (a.p IS NULL OR s.platform = a.p) AND (a.c IS NULL OR s.country = a.c);
		have := concat_ws(' ', booking.sessions(a.f, a.t, a.p, a.c), booking.product_sessions(a.f, a.t, a.p, a.c),
			booking.cart_sessions(a.f, a.t, a.p, a.c), booking.payment_sessions(a.f, a.t, a.p, a.c),
			booking.confirmation_sessions(a.f, a.t, a.p, a.c), booking.cart_conversion(a.f, a.t, a.p, a.c),
			booking.payment_conversion(a.f, a.t, a.p, a.c), booking.confirmation_conversion(a.f, a.t, a.p, a.c),
			booking.cart_dropoff(a.f, a.t, a.p, a.c), booking.payment_dropoff(a.f, a.t, a.p, a.c),
			booking.confirmation_dropoff(a.f, a.t, a.p, a.c));
		IF have IS DISTINCT FROM want THEN
			RETURN NEXT format('sessions %s: have %s want %s', a, have, want);
		END IF;
		SELECT concat_ws(' ', count(*), CASE WHEN a.cur IS NOT NULL THEN sum(amount) END, count(*) FILTER (WHERE d >= interval '0'),
			avg(d) FILTER (WHERE d >= interval '0'),
			percentile_cont(0.5) WITHIN GROUP (ORDER BY d) FILTER (WHERE d >= interval '0'),
			percentile_cont(0.9) WITHIN GROUP (ORDER BY d) FILTER (WHERE d >= interval '0'),
			count(*) FILTER (WHERE d < interval '0'), count(*) FILTER (WHERE is_repeat),
			count(DISTINCT user_id), count(DISTINCT user_id) FILTER (WHERE before_month),
			(count(DISTINCT user_id) FILTER (WHERE before_month))::numeric / nullif(count(DISTINCT user_id), 0)) INTO want
		FROM test.plain_bookings b WHERE (a.f IS NULL OR b.day >= a.f) AND (a.t IS NULL OR b.day <= a.t)
		  AND (a.p IS NULL OR b.platform = a.p) AND (a.cur IS NULL OR b.currency = a.cur);
		have := concat_ws(' ', booking.bookings(a.f, a.t, a.p, a.cur),
			CASE WHEN a.cur IS NOT NULL THEN booking.revenue(a.f, a.t, a.p, a.cur) END,
			booking.booking_times(a.f, a.t, a.p, a.cur), booking.avg_booking_time(a.f, a.t, a.p, a.cur),
			booking.median_booking_time(a.f, a.t, a.p, a.cur), booking.p90_booking_time(a.f, a.t, a.p, a.cur),
			booking.negative_booking_times(a.f, a.t, a.p, a.cur), booking.repeat_bookings(a.f, a.t, a.p, a.cur),
			booking.booking_users(a.f, a.t, a.p, a.cur), booking.returning_users(a.f, a.t, a.p, a.cur),
			booking.returning_user_share(a.f, a.t, a.p, a.cur));
		IF have IS DISTINCT FROM want THEN
			RETURN NEXT format('bookings %s: have %s want %s', a, have, want);
		END IF;
	END LOOP;
END $$;

SELECT * FROM test.differences(:'answers_sql');
SELECT * FROM test.check_metrics();
SELECT * FROM booking.verify();

SELECT test.churn(600);
-- the workload did what it is for
SELECT count(*) > 30 AS sessions, count(DISTINCT country) > 3 AS countries, count(*) FILTER (WHERE country = '??') > 3 AS unknown,
	count(*) FILTER (WHERE confirmation) > 3 AS confirmed FROM test.plain_sessions;
SELECT count(*) FILTER (WHERE d >= interval '0') > 5 AS timed, count(*) FILTER (WHERE d < interval '0') > 0 AS negative,
	count(*) FILTER (WHERE is_repeat) > 5 AS repeats, count(*) FILTER (WHERE before_month) > 3 AS returning,
	count(DISTINCT currency) AS currencies FROM test.plain_bookings;
SELECT count(*) > 100 AS answers, count(DISTINCT split_part(l, ' | ', 1)) AS questions FROM test.plain_answers(:'answers_sql') l;
SELECT * FROM test.differences(:'answers_sql');
SELECT * FROM test.check_metrics();
SELECT * FROM booking.verify();
SET ROLE regress_booker;
SELECT booking.rebuild();
RESET ROLE;
SELECT * FROM test.differences(:'answers_sql');
SELECT * FROM booking.verify();

-- every metric function says what it means; the reader calls them and
-- reads the star schema, and may not rebuild, attach or detach
SELECT count(*) AS metric_functions, count(*) FILTER (WHERE obj_description(p.oid, 'pg_proc') IS NULL) AS without_comment
FROM pg_proc p WHERE p.pronamespace = 'booking'::regnamespace AND has_function_privilege('regress_analyst', p.oid, 'EXECUTE');
SELECT obj_description('booking.returning_user_share'::regproc, 'pg_proc');
SELECT obj_description('booking.median_booking_time'::regproc, 'pg_proc');
SET ROLE regress_analyst;
SELECT booking.sessions() = (SELECT count(*) FROM booking.f_session) AS reader_calls;
SELECT booking.rebuild();
SELECT walstar_booking.detach();
RESET ROLE;

-- detached: the schema, its triggers and its index go; the landing tables stay
SET ROLE regress_booker;
SELECT walstar_booking.detach();
SELECT walstar_booking.detach();
RESET ROLE;
SELECT count(*) AS model_schemas FROM pg_namespace WHERE nspname = 'booking';
SELECT count(*) AS model_triggers FROM pg_trigger WHERE tgname LIKE 'walstar\_model\_booking%';
SELECT count(*) AS model_indexes FROM pg_indexes WHERE indexname LIKE 'walstar\_model\_booking%';
SELECT count(*) AS landing_rows FROM land.page_views;
-- attach also creates the landing tables where they are missing
SET ROLE regress_booker;
SELECT walstar_booking.attach('fresh');
SELECT string_agg(tablename, ', ' ORDER BY tablename) AS created FROM pg_tables WHERE schemaname = 'fresh';
SELECT booking.sessions(), booking.bookings();
INSERT INTO fresh.page_views VALUES (1, md5('session 1')::uuid, 7, 'product', 'web', NULL, '2024-05-01 10:00+00', NULL);
INSERT INTO fresh.bookings VALUES (1, md5('session 1')::uuid, 7, 'web', 10, 'EUR', 'confirmed', '2024-05-01', '2024-05-01 10:30+00', '2024-05-01');
SELECT booking.sessions(), booking.median_booking_time(), booking.bookings(p_currency => 'EUR');
-- revenue only per currency: NULL is an error, the COMMENT says so
SELECT booking.revenue(p_currency => 'EUR');
SELECT booking.revenue('2024-05-01', '2024-05-31');
SELECT obj_description('booking.revenue(date, date, text, text)'::regprocedure) ~ 'required \(NULL is an error\): p_currency$' AS says_required;
SELECT walstar_booking.detach();
RESET ROLE;
