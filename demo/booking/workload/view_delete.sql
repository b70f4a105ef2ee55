-- booking_journey: one page view deleted.
\set id random(1, :sessions)
DELETE FROM page_views WHERE id = :id;
