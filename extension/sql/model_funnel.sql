-- The model engine's accumulating snapshots and fact dimensions: sessions
-- grouped from page views (first view, platform of the first view, stages
-- reached), attributed to the user's country in effect at the first view
-- (SCD2), and bookings that show their session's first view through a
-- dimension over the session facts (booking time).  Random changes (views
-- deleted, late, moved between sessions; user versions back in time;
-- bookings confirmed and cancelled): every metric equals plain SQL over the
-- landing tables, verify() is empty.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS walstar;
CREATE SCHEMA journey;
CREATE TABLE journey.users (id bigint PRIMARY KEY, country_code char(2), updated_at timestamptz);
CREATE TABLE journey.page_views (id bigint PRIMARY KEY, session_id int, user_id bigint, page text,
	platform text, viewed_at timestamptz);
CREATE TABLE journey.bookings (id bigint PRIMARY KEY, session_id int, amount numeric(12,2), status text,
	confirmed_at timestamptz, user_id bigint);
CREATE TABLE user_log (seq bigserial, op char, id bigint, country char(2), updated_at timestamptz);
CREATE FUNCTION log_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.id <> NEW.id) THEN
		INSERT INTO user_log (op, id) VALUES ('D', OLD.id);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		INSERT INTO user_log (op, id, country, updated_at) VALUES ('V', NEW.id, NEW.country_code, NEW.updated_at);
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER log_row AFTER INSERT OR UPDATE OR DELETE ON journey.users FOR EACH ROW EXECUTE FUNCTION log_users();
INSERT INTO journey.users VALUES (1, 'DE', '2024-01-01'), (2, 'FR', '2024-01-01');
INSERT INTO journey.page_views VALUES (1, 10, 1, 'product', 'web', '2024-02-01 10:00+00'),
	(2, 10, 1, 'cart', 'ios', '2024-02-01 10:05+00'), (3, 11, NULL, 'product', 'android', '2024-02-02');
INSERT INTO journey.bookings VALUES (1, 10, 50, 'confirmed', '2024-02-01 11:00+00', 1);

\set decl '{"name": "funnel", "landing_schema": "journey", "dimensions": {"user": {"table": "users", "scd": 2, "effective": "updated_at", "attributes": {"country": "country_code"}, "unknown": {"country": "??"}}, "session": {"fact": "session", "attributes": {"first_view": "first_view", "platform": "platform"}}}, "facts": {"session": {"table": "page_views", "group_by": "session_id", "time": "min(viewed_at)", "columns": {"first_view": "min(viewed_at)", "platform": "(array_agg(platform ORDER BY viewed_at, id))[1]", "at_product": "bool_or(page = ''product'')", "at_cart": "bool_or(page = ''cart'')", "at_payment": "bool_or(page = ''payment'')"}, "references": {"user": {"key": "(array_agg(user_id ORDER BY viewed_at, id))[1]", "as_of": "min(viewed_at)"}}, "measures": {"sessions": {"kind": "count"}, "product_sessions": {"kind": "count", "filter": "at_product"}, "cart_sessions": {"kind": "count", "filter": "at_cart"}, "cart_conversion": {"kind": "ratio", "numerator": "cart_sessions", "denominator": "product_sessions"}, "cart_dropoff": {"kind": "formula", "of": "1 - cart_conversion"}}, "rollups": {"daily": {"grain": "day", "by": ["platform", "user.country"]}}}, "booking": {"table": "bookings", "time": "confirmed_at", "filter": "status = ''confirmed''", "recompute_by": "user_id", "columns": {"amount": "amount", "confirmed": "confirmed_at", "repeat": "EXISTS (SELECT FROM journey.bookings b WHERE b.user_id = s.user_id AND b.status = ''confirmed'' AND (b.confirmed_at, b.id) < (s.confirmed_at, s.id))"}, "references": {"session": {"key": "session_id"}}, "measures": {"bookings": {"kind": "count"}, "booking_revenue": {"kind": "sum", "of": "amount"}, "median_booking_time": {"kind": "percentile", "of": "confirmed - session_first_view", "fraction": 0.5}, "slowest_booking": {"kind": "max", "of": "confirmed - session_first_view"}, "repeat_bookings": {"kind": "count", "filter": "repeat"}}, "rollups": {"monthly": {"grain": "month", "by": ["session.platform"]}}}}}'

-- refused: a group_by that is no column, a fact dimension of no fact
SELECT walstar.create_model(jsonb_set(:'decl', '{facts,session,group_by}', '"sessionid"'));
SELECT walstar.create_model(jsonb_set(:'decl', '{dimensions,session,fact}', '"visit"'));
SELECT walstar.create_model(jsonb_set(:'decl', '{facts,session,columns,platform}', '"platform"'));
SELECT walstar.create_model(jsonb_set(:'decl', '{facts,session,measures,cart_dropoff,of}', '"1 - carts"'));
SELECT walstar.create_model(jsonb_set(:'decl', '{facts,booking,recompute_by}', '"user"'));
SELECT walstar.create_model(jsonb_set(:'decl', '{facts,booking,recompute_since}', '"confirmed"'));
SELECT walstar.create_model(jsonb_set(:'decl', '{facts,booking}', (:'decl'::jsonb->'facts'->'booking') - 'recompute_by' || '{"recompute_since": "confirmed_at"}'));
SELECT count(*) AS schemas FROM pg_namespace WHERE nspname = 'funnel';
-- repeat looks only at the user's bookings confirmed at or before its own
SELECT walstar.create_model(jsonb_set(:'decl', '{facts,booking,recompute_since}', '"confirmed_at"'));

CREATE VIEW live_users AS
SELECT DISTINCT ON (l.id, l.updated_at) l.id, l.country, l.updated_at FROM user_log l
WHERE l.op = 'V' AND l.updated_at IS NOT NULL
  AND NOT EXISTS (SELECT FROM user_log d WHERE d.op = 'D' AND d.id = l.id AND d.seq > l.seq)
ORDER BY l.id, l.updated_at, l.seq DESC;
CREATE VIEW plain_sessions AS
SELECT s.*, (s.first_view AT TIME ZONE 'UTC')::date AS day,
	coalesce((SELECT u.country::text FROM live_users u WHERE u.id = s.user_id
			  AND u.updated_at = (SELECT max(w.updated_at) FROM live_users w WHERE w.id = s.user_id AND w.updated_at <= s.first_view)),
			 (SELECT u.country::text FROM live_users u WHERE u.id = s.user_id
			  AND u.updated_at = (SELECT min(w.updated_at) FROM live_users w WHERE w.id = s.user_id)), '??') AS country
FROM (SELECT v.session_id, min(v.viewed_at) AS first_view,
		(SELECT f.platform FROM journey.page_views f WHERE f.session_id = v.session_id ORDER BY f.viewed_at, f.id LIMIT 1) AS platform,
		(SELECT f.user_id FROM journey.page_views f WHERE f.session_id = v.session_id ORDER BY f.viewed_at, f.id LIMIT 1) AS user_id,
		bool_or(v.page = 'product') AS at_product, bool_or(v.page = 'cart') AS at_cart
	  FROM journey.page_views v WHERE v.session_id IS NOT NULL GROUP BY v.session_id) s;
CREATE VIEW plain_bookings AS
SELECT b.*, (b.confirmed_at AT TIME ZONE 'UTC')::date AS day, b.confirmed_at - s.first_view AS booking_time, s.platform,
	EXISTS (SELECT FROM journey.bookings e WHERE e.user_id = b.user_id AND e.status = 'confirmed'
			AND (e.confirmed_at < b.confirmed_at OR e.confirmed_at = b.confirmed_at AND e.id < b.id)) AS is_repeat
FROM journey.bookings b LEFT JOIN plain_sessions s ON s.session_id = b.session_id
WHERE b.status = 'confirmed';

CREATE FUNCTION check_funnel() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	a record;
	want text;
	have text;
BEGIN
	FOR a IN SELECT * FROM (VALUES (NULL::date, NULL::date, NULL::text, NULL::text), ('2024-02-01', '2024-02-29', NULL, NULL),
		(NULL, NULL, 'web', NULL), ('2024-01-10', '2024-03-20', 'ios', 'DE'), (NULL, NULL, NULL, '??'),
		('2024-03-01', '2024-03-31', NULL, 'FR')) AS v(f, t, p, c)
	LOOP
		SELECT concat_ws(' ', count(*), count(*) FILTER (WHERE at_product), count(*) FILTER (WHERE at_cart),
			(count(*) FILTER (WHERE at_cart))::numeric / nullif(count(*) FILTER (WHERE at_product), 0),
			1 - (count(*) FILTER (WHERE at_cart))::numeric / nullif(count(*) FILTER (WHERE at_product), 0)) INTO want
		FROM plain_sessions s WHERE (a.f IS NULL OR s.day >= a.f) AND (a.t IS NULL OR s.day <= a.t)
		  AND (a.p IS NULL OR s.platform = a.p) AND (a.c IS NULL OR s.country = a.c);
		have := concat_ws(' ', funnel.sessions(a.f, a.t, a.p, a.c), funnel.product_sessions(a.f, a.t, a.p, a.c),
			funnel.cart_sessions(a.f, a.t, a.p, a.c), funnel.cart_conversion(a.f, a.t, a.p, a.c),
			funnel.cart_dropoff(a.f, a.t, a.p, a.c));
		IF have IS DISTINCT FROM want THEN
			RETURN NEXT format('sessions %s: have %s want %s', a, have, want);
		END IF;
		SELECT concat_ws(' ', count(*), sum(amount), percentile_cont(0.5) WITHIN GROUP (ORDER BY booking_time),
			max(booking_time), count(*) FILTER (WHERE is_repeat)) INTO want
		FROM plain_bookings b WHERE (a.f IS NULL OR b.day >= a.f) AND (a.t IS NULL OR b.day <= a.t)
		  AND (a.p IS NULL OR b.platform = a.p);
		have := concat_ws(' ', funnel.bookings(a.f, a.t, a.p), funnel.booking_revenue(a.f, a.t, a.p),
			funnel.median_booking_time(a.f, a.t, a.p), funnel.slowest_booking(a.f, a.t, a.p),
			funnel.repeat_bookings(a.f, a.t, a.p));
		IF have IS DISTINCT FROM want THEN
			RETURN NEXT format('bookings %s: have %s want %s', a, have, want);
		END IF;
	END LOOP;
END $$;
SELECT * FROM check_funnel();
SELECT * FROM funnel.verify();

-- recompute_since: a change recomputes the user's bookings from the earliest
-- confirmed_at among its old and new rows on; each step moves the user's
-- first booking (the new value earliest, the old value earliest, a cancel,
-- a move to another user, a tie at the same confirmed_at broken by id)
CREATE FUNCTION repeats() RETURNS TABLE (id bigint, is_repeat boolean, model boolean, problems bigint) LANGUAGE sql AS $$
	SELECT b.id, b.is_repeat, f.repeat, (SELECT count(*) FROM funnel.verify()) + (SELECT count(*) FROM check_funnel())
	FROM plain_bookings b LEFT JOIN funnel.f_booking f ON f.id = b.id WHERE b.id > 100 ORDER BY b.id $$;
INSERT INTO journey.bookings VALUES (101, 10, 10, 'confirmed', '2024-03-01', 20), (102, 10, 10, 'confirmed', '2024-03-02', 20),
	(103, 10, 10, 'confirmed', '2024-03-03', 20), (104, 10, 10, 'confirmed', '2024-03-03', 20);
UPDATE journey.bookings SET confirmed_at = '2024-02-01' WHERE id = 103;
SELECT * FROM repeats();
UPDATE journey.bookings SET confirmed_at = '2024-04-01' WHERE id = 103;
SELECT * FROM repeats();
UPDATE journey.bookings SET status = 'cancelled' WHERE id = 101;
UPDATE journey.bookings SET user_id = 21 WHERE id = 102;
SELECT * FROM repeats();
INSERT INTO journey.bookings VALUES (105, 10, 10, 'confirmed', '2024-03-03', 20);
UPDATE journey.bookings SET status = 'cancelled' WHERE id = 104;
SELECT * FROM repeats();
DELETE FROM journey.bookings WHERE id > 100;

CREATE SEQUENCE view_ids START 10;
CREATE SEQUENCE booking_ids START 10;
CREATE FUNCTION churn_funnel(rounds int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	k int;
BEGIN
	FOR r IN 1 .. rounds LOOP
		k := (random() * 30)::int;
		CASE (random() * 9)::int
		WHEN 0 THEN
			INSERT INTO journey.users VALUES (k % 12, (ARRAY['DE', 'FR', 'IT'])[1 + (random() * 2)::int],
				'2024-01-01'::timestamptz + random() * interval '120 days')
			ON CONFLICT (id) DO UPDATE SET country_code = excluded.country_code, updated_at = excluded.updated_at;
		WHEN 1 THEN
			UPDATE journey.users SET updated_at = updated_at - random() * interval '60 days',
				country_code = CASE WHEN random() < 0.4 THEN country_code ELSE 'ES' END WHERE id = k % 12;
		WHEN 2 THEN	-- the privacy job
			DELETE FROM journey.page_views WHERE session_id = k AND random() < 0.5;
		WHEN 3 THEN	-- a view moves to another session
			UPDATE journey.page_views SET session_id = session_id + 1 WHERE id = (SELECT min(id) FROM journey.page_views WHERE id > k * 7);
		WHEN 4 THEN
			INSERT INTO journey.bookings SELECT nextval('booking_ids'), (random() * 30)::int, round((random() * 300)::numeric, 2),
				(ARRAY['pending', 'confirmed', 'cancelled'])[1 + (random() * 2)::int],
				'2024-01-15'::timestamptz + random() * interval '100 days', (random() * 6)::int;
		WHEN 5 THEN
			UPDATE journey.bookings SET status = CASE WHEN status = 'confirmed' THEN 'cancelled' ELSE 'confirmed' END
			WHERE id % 5 = k % 5;
		WHEN 6 THEN
			DELETE FROM journey.users WHERE id = k % 12 AND random() < 0.3;
		ELSE	-- views, some late (before the session's first)
			INSERT INTO journey.page_views SELECT nextval('view_ids'), (random() * 30)::int,
				CASE WHEN random() < 0.2 THEN NULL ELSE (random() * 14)::int END,
				(ARRAY['product', 'cart', 'payment', 'confirmation'])[1 + (random() * 3)::int],
				(ARRAY['web', 'ios', 'android'])[1 + (random() * 2)::int],
				'2024-01-10'::timestamptz + random() * interval '90 days'
			FROM generate_series(1, 1 + (random() * 4)::int);
		END CASE;
	END LOOP;
END $$;
SELECT setseed(0.17);
SELECT churn_funnel(500);
SELECT count(*) > 20 AS sessions, count(DISTINCT country) > 2 AS countries FROM plain_sessions;
SELECT count(*) > 10 AS bookings FROM plain_bookings WHERE booking_time IS NOT NULL;
SELECT * FROM check_funnel();
SELECT * FROM funnel.verify();
SELECT count(*) > 5 AS repeats FROM plain_bookings WHERE is_repeat;
-- the funnel per day and platform, with the drop-off, against plain SQL
WITH have AS (SELECT period, platform, user_country, sessions, cart_sessions, cart_conversion, cart_dropoff
			  FROM funnel.session_by_daily()),
want AS (SELECT day, platform, country, count(*), count(*) FILTER (WHERE at_cart),
			(count(*) FILTER (WHERE at_cart))::numeric / nullif(count(*) FILTER (WHERE at_product), 0),
			1 - (count(*) FILTER (WHERE at_cart))::numeric / nullif(count(*) FILTER (WHERE at_product), 0)
		 FROM plain_sessions GROUP BY 1, 2, 3)
SELECT (SELECT count(*) FROM (SELECT * FROM have EXCEPT SELECT * FROM want) a)
	 + (SELECT count(*) FROM (SELECT * FROM want EXCEPT SELECT * FROM have) b) AS differences,
	(SELECT count(*) FROM have) > 10 AS rows;
SELECT churn_funnel(500);
SELECT * FROM check_funnel();
SELECT * FROM funnel.verify();
SELECT funnel.rebuild();
SELECT * FROM check_funnel();
SELECT * FROM funnel.verify();
SELECT count(*) AS model_index FROM pg_indexes WHERE schemaname = 'journey' AND indexname = 'walstar_model_funnel_session';
SELECT walstar.drop_model('funnel');
SELECT count(*) AS model_index FROM pg_indexes WHERE schemaname = 'journey' AND indexname = 'walstar_model_funnel_session';
DROP VIEW plain_bookings, plain_sessions, live_users;
DROP SCHEMA journey CASCADE;
DROP FUNCTION check_funnel(), churn_funnel(int), log_users(), repeats();
DROP TABLE user_log;
DROP SEQUENCE view_ids, booking_ids;
