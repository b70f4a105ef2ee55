-- The history's sessions, read by the journey and the orders loaders: every
-- property of session s is a function of s (through hashint8), so the two
-- service databases agree on them without a link between them, as the real
-- services would through their ids. A temporary view; load it first:
--   psql -v sessions=N -v users=M -f history_sessions.sql -f history_journey.sql
-- The skew of real traffic: most sessions stop at the product page (62 %),
-- 18 % reach the cart, 8 % payment, 12 % a confirmation; a quarter of the
-- sessions that stop before payment are anonymous; users are drawn with a
-- cubic skew, so a few users have many sessions (and book often); 2 % of
-- sessions show the cart before any product view (a stage counts whatever
-- the order); 1 % of confirmations carry a clock-skewed confirmed_at before
-- the session's first view.
CREATE TEMPORARY VIEW history_sessions AS
SELECT s, md5('session ' || s)::uuid AS session_id,
	   timestamptz '2023-01-01 00:00+00'
		   + (s::float8 / :sessions) * (now() - interval '2 days' - timestamptz '2023-01-01 00:00+00') AS started_at,
	   (ARRAY['web', 'ios', 'android'])[CASE WHEN h[1] < 0.55 THEN 1 WHEN h[1] < 0.80 THEN 2 ELSE 3 END] AS platform,
	   CASE WHEN h[2] < 0.62 THEN 1 WHEN h[2] < 0.80 THEN 2 WHEN h[2] < 0.88 THEN 3 ELSE 4 END AS reached,
	   1 + floor(h[3] * 3)::int AS product_views,
	   CASE WHEN h[4] < 0.25 AND h[2] < 0.80 THEN NULL
			ELSE 1 + floor(:users * h[5] * h[5] * h[5])::bigint END AS user_id,
	   h[6] < 0.02 AS cart_first,
	   h[7] < 0.01 AS clock_skew,
	   round(exp(3 + h[8] * 4)::numeric, 2) AS amount,
	   h[9] AS status_draw,
	   (ARRAY['EUR', 'USD', 'GBP'])[CASE WHEN h[10] < 0.8 THEN 1 WHEN h[10] < 0.95 THEN 2 ELSE 3 END] AS currency
FROM generate_series(1, :sessions) AS s,
	 LATERAL (SELECT array_agg((hashint8(s * 16 + k) & 2147483647)::float8 / 2147483648 ORDER BY k)
			  FROM generate_series(1, 10) AS k) AS d(h);
