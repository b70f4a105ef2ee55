-- History loader, ratings_clubs: :clubs clubs in four leagues and :players
-- players. Positions GK 10 %, DF 35 %, MF 35 %, FW 20 %; 6 % free agents
-- (club NULL). The club of player p is 1 + p % :clubs, a function of p that
-- history_matches.sql knows too, so that each match rates the players of
-- its two clubs; updated_at (from when the club counts) lies in 2022.
--   psql -v clubs=N -v players=M -f history_clubs.sql
INSERT INTO clubs (id, name, country_code, league)
SELECT i, 'Club ' || i, (ARRAY['GB', 'ES', 'IT', 'DE'])[1 + (i - 1) % 4],
	   (ARRAY['Premier', 'Liga', 'Serie', 'Bundes'])[1 + (i - 1) % 4]
FROM generate_series(1, :clubs) AS i;
SELECT setval(pg_get_serial_sequence('clubs', 'id'), :clubs);
INSERT INTO players (id, full_name, birth_date, position, club_id, updated_at)
SELECT p, 'Player ' || p, date '1990-01-01' + (hashint8(p * 4 + 1) & 4095),
	   CASE WHEN h < 0.10 THEN 'GK' WHEN h < 0.45 THEN 'DF' WHEN h < 0.80 THEN 'MF' ELSE 'FW' END,
	   CASE WHEN (hashint8(p * 4 + 2) & 1023) < 61 THEN NULL ELSE 1 + p % :clubs END,
	   timestamptz '2022-01-01 00:00+00' + (hashint8(p * 4 + 3) & 65535) * interval '8 minutes'
FROM generate_series(1, :players) AS p,
	 LATERAL (SELECT (hashint8(p * 4) & 2147483647)::float8 / 2147483648) AS d(h);
SELECT setval(pg_get_serial_sequence('players', 'id'), :players);
ANALYZE clubs, players;
