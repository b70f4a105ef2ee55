-- The booking-funnel questions (shared/scenario/README.md, "The booking-funnel
-- scenario") answered in plain SQL, straight from their definitions: the
-- reference that the model's metric functions and the demo are checked
-- against. It reads, from the search_path:
--   page_views, bookings      the services' tables (or copies of them)
--   user_versions (seq bigint, id bigint, country_code text, updated_at timestamptz)
--                             every version of every users row that still
--                             exists, as the source recorded them (seq orders
--                             versions with equal updated_at)
-- and returns one line per answer, 'question | keys | values', in order ('-'
-- for a NULL value). It needs pg_temp.ratio and pg_temp.drop_off, defined
-- at its top in the session's temporary schema.
-- Choices the scenario leaves open, made here:
--   - a session's first view is its earliest viewed_at, ties by the lower
--     page_views.id; its platform and user are those of that view;
--   - a conversion is the stage's sessions / the previous stage's (cart /
--     product, payment / cart, confirmation / payment), numeric division,
--     NULL when the previous is 0; drop-off = 1 - conversion;
--   - a confirmed booking is status 'confirmed' with confirmed_at set;
--   - the funnel by country is per (day, platform, country).
CREATE FUNCTION pg_temp.ratio(a bigint, b bigint) RETURNS text LANGUAGE sql IMMUTABLE
	RETURN coalesce((a::numeric / nullif(b, 0))::text, '-');
CREATE FUNCTION pg_temp.drop_off(a bigint, b bigint) RETURNS text LANGUAGE sql IMMUTABLE
	RETURN coalesce((1 - a::numeric / nullif(b, 0))::text, '-');
WITH s AS (
	SELECT session_id,
		   (array_agg(viewed_at ORDER BY viewed_at, id))[1] AS first_at,
		   (array_agg(platform::text ORDER BY viewed_at, id))[1] AS platform,
		   (array_agg(user_id ORDER BY viewed_at, id))[1] AS user_id,
		   bool_or(page = 'product') AS product, bool_or(page = 'cart') AS cart,
		   bool_or(page = 'payment') AS payment, bool_or(page = 'confirmation') AS confirmation
	FROM page_views GROUP BY session_id),
sc AS (
	SELECT s.*, (s.first_at AT TIME ZONE 'UTC')::date AS day,
		   coalesce((SELECT uv.country_code FROM user_versions uv WHERE uv.id = s.user_id AND uv.updated_at <= s.first_at
					 ORDER BY uv.updated_at DESC, uv.seq DESC LIMIT 1),
					(SELECT uv.country_code FROM user_versions uv WHERE uv.id = s.user_id
					 ORDER BY uv.updated_at, uv.seq LIMIT 1),
					'??') AS country
	FROM s),
stages AS (
	SELECT day, platform, country, count(*) FILTER (WHERE product) AS product, count(*) FILTER (WHERE cart) AS cart,
		   count(*) FILTER (WHERE payment) AS payment, count(*) FILTER (WHERE confirmation) AS confirmation
	FROM sc GROUP BY GROUPING SETS ((day, platform), (day, platform, country))),
cb AS (
	SELECT b.*, date_trunc('month', b.confirmed_at AT TIME ZONE 'UTC')::date AS month,
		   row_number() OVER (PARTITION BY b.user_id ORDER BY b.confirmed_at, b.id) AS n
	FROM bookings b WHERE b.status = 'confirmed' AND b.confirmed_at IS NOT NULL),
bt AS (
	SELECT cb.month, cb.platform::text AS platform, cb.confirmed_at - s.first_at AS d
	FROM cb JOIN s ON s.session_id = cb.session_id),
um AS (
	SELECT month, user_id, min(n) > 1 AS had_before, count(*) FILTER (WHERE n > 1) AS repeats
	FROM cb GROUP BY month, user_id)
SELECT line FROM (
SELECT concat_ws(' | ', CASE WHEN country IS NULL THEN 'funnel' ELSE 'funnel_by_country' END, day, platform, country,
				 product, cart, payment, confirmation,
				 pg_temp.ratio(cart, product), pg_temp.ratio(payment, cart), pg_temp.ratio(confirmation, payment),
				 pg_temp.drop_off(cart, product), pg_temp.drop_off(payment, cart), pg_temp.drop_off(confirmation, payment)) AS line
FROM stages
UNION ALL
SELECT concat_ws(' | ', 'bookings', (confirmed_at AT TIME ZONE 'UTC')::date, platform, currency, count(*), sum(amount))
FROM cb GROUP BY (confirmed_at AT TIME ZONE 'UTC')::date, platform, currency
UNION ALL
SELECT concat_ws(' | ', 'booking_time', month, platform, count(*) FILTER (WHERE d >= interval '0'),
				 coalesce(avg(d) FILTER (WHERE d >= interval '0')::text, '-'),
				 coalesce((percentile_cont(0.5) WITHIN GROUP (ORDER BY d) FILTER (WHERE d >= interval '0'))::text, '-'),
				 coalesce((percentile_cont(0.9) WITHIN GROUP (ORDER BY d) FILTER (WHERE d >= interval '0'))::text, '-'),
				 count(*) FILTER (WHERE d < interval '0'))
FROM bt GROUP BY month, platform
UNION ALL
SELECT concat_ws(' | ', 'repeat_bookings', month, sum(repeats), count(*), count(*) FILTER (WHERE had_before),
				 (count(*) FILTER (WHERE had_before))::numeric / count(*))
FROM um GROUP BY month) AS answers
ORDER BY line;
