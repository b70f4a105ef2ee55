-- History loader, booking_journey: the page views of the history's sessions
-- (history_sessions.sql, loaded first in the same psql session): 1 to 3
-- product views, then one view per further stage the session reached, 40 s
-- apart; the sessions with cart_first show the cart 20 s before the first
-- product view.
--   psql -v sessions=N -v users=M -f history_sessions.sql -f history_journey.sql
INSERT INTO page_views (session_id, user_id, page, platform, product_id, viewed_at, ip_address)
SELECT hs.session_id, hs.user_id, v.page::page, hs.platform::platform,
	   CASE WHEN v.page = 'product' THEN 1 + (hashint8(hs.s * 7 + v.ord) & 4095) END,
	   CASE WHEN v.page = 'cart' AND hs.cart_first THEN hs.started_at - interval '20 seconds'
			ELSE hs.started_at + v.ord * interval '40 seconds' END,
	   ('10.' || (hs.s >> 16) % 256 || '.' || (hs.s >> 8) % 256 || '.' || hs.s % 256)::inet
FROM history_sessions AS hs,
	 LATERAL (SELECT 'product', k - 1 FROM generate_series(1, hs.product_views) AS k
			  UNION ALL
			  SELECT (ARRAY['cart', 'payment', 'confirmation'])[st - 1], hs.product_views + st - 2
			  FROM generate_series(2, hs.reached) AS st) AS v(page, ord);
ANALYZE page_views;
