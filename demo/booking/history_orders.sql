-- History loader, booking_orders: a booking for every history session that
-- reached the payment page (history_sessions.sql, loaded first in the same
-- psql session), made at the payment view. Sessions that reached the
-- confirmation are confirmed (90 %; else refunded or cancelled, without
-- confirmed_at), 5 s after the confirmation view or, for clock_skew
-- sessions, 30 s before the session's first view; the others are pending or
-- cancelled. One booking in 200 belongs to a session whose page views never
-- reach the journey service.
--   psql -v sessions=N -v users=M -f history_sessions.sql -f history_orders.sql
INSERT INTO bookings (session_id, user_id, platform, amount, currency, status, created_at, confirmed_at, updated_at)
SELECT session_id, user_id, platform::platform, amount, currency, status::booking_status, created_at,
	   confirmed_at, coalesce(confirmed_at, created_at) + interval '1 minute'
FROM (SELECT hs.*, b.status,
			 hs.started_at + (hs.product_views + 1) * interval '40 seconds' AS created_at,
			 CASE WHEN b.status <> 'confirmed' THEN NULL
				  WHEN hs.clock_skew THEN hs.started_at - interval '30 seconds'
				  ELSE hs.started_at + (hs.product_views + 2) * interval '40 seconds' + interval '5 seconds' END AS confirmed_at
	  FROM history_sessions AS hs,
		   LATERAL (SELECT CASE WHEN hs.reached = 4 THEN
								CASE WHEN hs.status_draw < 0.90 THEN 'confirmed'
									 WHEN hs.status_draw < 0.95 THEN 'refunded' ELSE 'cancelled' END
								WHEN hs.status_draw < 0.5 THEN 'pending' ELSE 'cancelled' END) AS b(status)
	  WHERE hs.reached >= 3) AS x
UNION ALL
SELECT md5('orphan ' || s)::uuid, 1 + s % :users, 'web', 99.00, 'EUR', 'confirmed',
	   timestamptz '2024-01-01 00:00+00' + s * interval '1 hour', timestamptz '2024-01-01 00:01+00' + s * interval '1 hour',
	   timestamptz '2024-01-01 00:02+00' + s * interval '1 hour'
FROM generate_series(1, :sessions / 200) AS s;
ANALYZE bookings;
