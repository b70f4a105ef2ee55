-- The player-ratings questions (shared/scenario/README.md, "The player-ratings
-- scenario") answered in plain SQL, straight from their definitions: the
-- reference that the model's metric functions and the demo are checked
-- against. It reads, from the search_path:
--   clubs, players, matches, ratings   the services' tables (or copies)
--   player_versions (seq bigint, id bigint, club_id bigint, updated_at timestamptz)
--                             every version of every players row that still
--                             exists, as the source recorded them
-- and returns one line per answer, 'question | keys | values', in order.
-- Choices the scenario leaves open, made here:
--   - medians and p90 are percentile_cont over the ratings as double precision;
--   - a rating counts for the club of the player's version in effect at the
--     match's played_at (the latest version with updated_at <= played_at,
--     ties by seq; before the first known version, the first, the newest of
--     its updated_at); its league is
--     that club's current league;
--   - top players rank by average rating (numeric), then more matches, then
--     the lower player id; a player not known yet has no position and is
--     left out of the top lists until it arrives;
--   - club ratings and the league distribution take every rating (the
--     minutes >= 1 condition is the player-form question's).
WITH r AS (
	SELECT r.*, m.season, m.played_at,
		   -- as arrays: a version in effect with club NULL (a free agent) is
		   -- one, not a reason to take the first
		   (coalesce((SELECT ARRAY[pv.club_id] FROM player_versions pv WHERE pv.id = r.player_id AND pv.updated_at <= m.played_at
					  ORDER BY pv.updated_at DESC, pv.seq DESC LIMIT 1),
					 (SELECT ARRAY[pv.club_id] FROM player_versions pv WHERE pv.id = r.player_id
					  ORDER BY pv.updated_at, pv.seq DESC LIMIT 1)))[1] AS club_id
	FROM ratings r JOIN matches m ON m.id = r.match_id),
form AS (
	SELECT player_id, season, count(*) AS matches, avg(rating) AS avg_rating, min(rating) AS min_rating,
		   max(rating) AS max_rating, percentile_cont(0.5) WITHIN GROUP (ORDER BY rating::float8) AS median_rating
	FROM r WHERE minutes >= 1 GROUP BY GROUPING SETS ((player_id), (player_id, season))),
ranked AS (
	SELECT f.*, p.position,
		   row_number() OVER (PARTITION BY f.season, p.position
							  ORDER BY f.avg_rating DESC, f.matches DESC, f.player_id) AS place
	FROM form f JOIN players p ON p.id = f.player_id
	WHERE f.season IS NOT NULL AND f.matches >= 5)
SELECT line FROM (
SELECT concat_ws(' | ', 'player_form', player_id, coalesce(season, 'all'), matches, avg_rating, min_rating, max_rating,
				 median_rating) AS line
FROM form
UNION ALL
SELECT concat_ws(' | ', 'top_players', season, position, place, player_id, matches, avg_rating)
FROM ranked WHERE place <= 10
UNION ALL
SELECT concat_ws(' | ', 'club_ratings', season, coalesce(club_id::text, 'none'), count(*), avg(rating))
FROM r GROUP BY season, club_id
UNION ALL
SELECT concat_ws(' | ', 'league_distribution', r.season, coalesce(c.league, 'none'), count(*), avg(r.rating),
				 percentile_cont(0.5) WITHIN GROUP (ORDER BY r.rating::float8),
				 percentile_cont(0.9) WITHIN GROUP (ORDER BY r.rating::float8))
FROM r LEFT JOIN clubs c ON c.id = r.club_id GROUP BY r.season, c.league) AS answers
ORDER BY line;
