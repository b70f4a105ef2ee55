-- booking_journey: the privacy job deletes every view of one session.
\set s random(1, :sessions)
DELETE FROM page_views WHERE session_id = md5('session ' || :s)::uuid;
