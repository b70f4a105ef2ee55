-- booking_journey: a view that arrives late, dated a minute before the view
-- it follows: the session's first view (its day, platform, country) can move.
\set id random(1, :sessions)
INSERT INTO page_views (session_id, user_id, page, platform, product_id, viewed_at)
SELECT session_id, user_id, 'cart', platform, NULL, viewed_at - interval '1 minute'
FROM page_views WHERE id = :id;
