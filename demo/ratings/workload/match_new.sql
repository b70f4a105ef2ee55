-- ratings_matches: a match of the current season with 22 ratings, the
-- players of a run of ids that may reach past the registered ones (ratings
-- before their player).
\set p0 random(0, :players + 30)
INSERT INTO matches (played_at, competition, season) VALUES (now() - random() * interval '3 hours', 'League', '2025/26');
INSERT INTO ratings (match_id, player_id, rating, minutes)
SELECT currval(pg_get_serial_sequence('matches', 'id')), 1 + (:p0 + k) % (:players + 40),
	   round((4 + random() * 6)::numeric, 1), CASE WHEN k % 11 = 10 THEN 0 ELSE 1 + floor(random() * 90)::int END
FROM generate_series(0, 21) AS k;
