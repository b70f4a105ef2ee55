-- booking_orders: a booking for a session of the workload's range; it can
-- arrive before the session's page views, or for a session never viewed.
\set s random(:sessions + 1, :sessions * 2)
\set u random_exponential(1, :users + 200, 6)
\set plat random(1, 3)
INSERT INTO bookings (session_id, user_id, platform, amount, currency)
VALUES (md5('session ' || :s)::uuid, :u, (ARRAY['web', 'ios', 'android'])[:plat]::platform,
		round((exp(3 + random() * 4))::numeric, 2), CASE WHEN :s % 5 = 0 THEN 'USD' ELSE 'EUR' END);
