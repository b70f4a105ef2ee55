-- History loader, ratings_matches: :matches matches over the seasons 2022/23
-- to 2025/26 (August to May), each between two clubs (drawn by hash), with a rating for up
-- to 16 players of each club (the players p with 1 + p % :clubs = the club,
-- as history_clubs.sql assigns them). Ratings centre on 6.5; one player in
-- 40 is a star (+1.4); 5 % of the rated players did not play (minutes 0),
-- 15 % came on as substitutes.
--   psql -v clubs=N -v players=M -v matches=K -f history_matches.sql
INSERT INTO matches (id, played_at, competition, season)
SELECT m, make_timestamptz(2022 + se, 8, 1, 18, 0, 0, 'UTC')
		   + ((m / 4)::float8 / greatest(:matches / 4, 1)) * interval '290 days',
	   CASE WHEN m % 7 = 0 THEN 'Cup' ELSE 'League' END,
	   (2022 + se) || '/' || lpad(((23 + se) % 100)::text, 2, '0')
FROM generate_series(1, :matches) AS m, LATERAL (SELECT m % 4) AS s(se);
SELECT setval(pg_get_serial_sequence('matches', 'id'), :matches);
INSERT INTO ratings (match_id, player_id, rating, minutes, rated_at)
SELECT m.id, p, least(10, greatest(0, round((6.5 + CASE WHEN p % 40 = 0 THEN 1.4 ELSE 0 END + (h - 0.5) * 3)::numeric, 1))),
	   CASE WHEN h2 < 0.05 THEN 0 WHEN h2 < 0.20 THEN 1 + floor(h2 * 300)::int ELSE 90 END,
	   m.played_at + interval '2 hours'
FROM matches AS m,
	 LATERAL (SELECT 1 + (hashint8(m.id * 2) & 65535) % :clubs) AS home(club),
	 LATERAL (SELECT home.club UNION ALL
			  SELECT 1 + (home.club + (hashint8(m.id * 2 + 1) & 65535) % (:clubs - 1)) % :clubs) AS c(club),
	 LATERAL (SELECT c.club - 1 + :clubs * k FROM generate_series(0, 15) AS k) AS q(p0),
	 LATERAL (SELECT CASE WHEN q.p0 = 0 THEN :clubs * 16 ELSE q.p0 END) AS r(p),
	 LATERAL (SELECT (hashint8(m.id * 64 + r.p) & 2147483647)::float8 / 2147483648,
					 (hashint8(m.id * 64 + r.p + 1000003) & 2147483647)::float8 / 2147483648) AS d(h, h2)
WHERE r.p <= :players;
ANALYZE matches, ratings;
