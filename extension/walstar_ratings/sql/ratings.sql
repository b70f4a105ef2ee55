-- walstar_ratings on landing tables (the scenario's columns, no foreign
-- key: ratings may land before their match or player), through a random
-- workload: transfers dated back and forth, free agents, players and
-- matches arriving after their ratings, rating corrections, matches
-- deleted with their ratings one by one, league changes.  Every answer
-- equals plain SQL written here from the scenario (its own version rule
-- over the test's record of every players version); verify() is empty;
-- bad calls are refused; the reader reads, the admin attaches.
\set VERBOSITY terse
SET client_min_messages = warning;
SET timezone = 'UTC';
CREATE EXTENSION walstar_ratings CASCADE;
SELECT extname, extversion FROM pg_extension WHERE extname LIKE 'walstar%' ORDER BY 1;
CREATE ROLE ratings_owner LOGIN IN ROLE walstar_admin;
CREATE ROLE ratings_reader LOGIN IN ROLE walstar_reader;
CREATE ROLE ratings_other LOGIN IN ROLE walstar_admin;
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO ratings_owner, ratings_other', current_database()); END $$;
SET ROLE ratings_owner;
CREATE SCHEMA land;
CREATE SCHEMA test;
SET search_path = test;
GRANT USAGE ON SCHEMA land TO ratings_other;
CREATE TABLE land.clubs (id bigint PRIMARY KEY, name text NOT NULL, country_code char(2) NOT NULL, league text NOT NULL);
CREATE TABLE land.players (id bigint PRIMARY KEY, full_name text NOT NULL, birth_date date, position text NOT NULL,
	club_id bigint, updated_at timestamptz NOT NULL);
CREATE TABLE land.matches (id bigint PRIMARY KEY, played_at timestamptz NOT NULL, competition text NOT NULL, season text NOT NULL);
CREATE TABLE land.ratings (id bigint PRIMARY KEY, match_id bigint NOT NULL, player_id bigint NOT NULL,
	rating numeric(3,1) NOT NULL, minutes smallint NOT NULL, rated_at timestamptz NOT NULL);
-- the test's record of every players version (not the model's)
CREATE TABLE player_log (seq bigserial, op char, id bigint, position text, club_id bigint, updated_at timestamptz);
CREATE FUNCTION log_players() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.id <> NEW.id) THEN
		INSERT INTO player_log (op, id) VALUES ('D', OLD.id);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		INSERT INTO player_log (op, id, position, club_id, updated_at) VALUES ('V', NEW.id, NEW.position, NEW.club_id, NEW.updated_at);
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER log_row AFTER INSERT OR UPDATE OR DELETE ON land.players FOR EACH ROW EXECUTE FUNCTION log_players();
INSERT INTO land.clubs SELECT g, 'Club ' || g, 'GB', (ARRAY['Premier', 'Liga', 'Serie'])[1 + g % 3] FROM generate_series(1, 8) g;
INSERT INTO land.players SELECT g, 'Player ' || g, NULL, (ARRAY['GK', 'DF', 'MF', 'FW'])[1 + g % 4],
	CASE WHEN g % 13 = 0 THEN NULL ELSE 1 + g % 8 END, '2024-07-01' FROM generate_series(1, 60) g;
INSERT INTO land.matches SELECT g, '2024-08-01'::timestamptz + g * interval '3 days', 'League',
	CASE WHEN g < 40 THEN '2024/25' ELSE '2025/26' END FROM generate_series(1, 80) g;
INSERT INTO land.ratings SELECT g, 1 + g % 80, 1 + (g * 7) % 60, (g % 100) / 10.0, CASE WHEN g % 10 = 0 THEN 0 ELSE 90 END, now()
FROM generate_series(1, 1500) g;

-- refused: no landing schema, one that does not exist, a second attach,
-- a detach of nothing, attaching to tables the caller does not own
SELECT walstar_ratings.detach();
SELECT walstar_ratings.attach(NULL);
SELECT walstar_ratings.attach('nowhere');
RESET ROLE;
SET ROLE ratings_other;
SELECT walstar_ratings.attach('land');
RESET ROLE;
SET ROLE ratings_reader;
SELECT walstar_ratings.attach('land');
RESET ROLE;
SELECT count(*) AS schemas FROM pg_namespace WHERE nspname = 'ratings';
SET ROLE ratings_owner;
SET search_path = test;
SELECT walstar_ratings.attach('land');
SELECT walstar_ratings.attach('land');
-- the players' version history is kept for the apply worker too
SELECT landing_table, bool_or(keep_versions) AS kept, bool_and(keep_versions) AS registered_with_versions
FROM walstar.model_sources WHERE model = 'ratings' GROUP BY 1 ORDER BY 1;

-- The plain answers, from the scenario: the version of a player in effect
-- at played_at is the latest with updated_at <= played_at (newest of that
-- time), before the first the first; a rating counts once its match is
-- there.
CREATE VIEW live_players AS
SELECT DISTINCT ON (l.id, l.updated_at) l.* FROM player_log l
WHERE l.op = 'V' AND NOT EXISTS (SELECT FROM player_log d WHERE d.op = 'D' AND d.id = l.id AND d.seq > l.seq)
ORDER BY l.id, l.updated_at, l.seq DESC;
CREATE VIEW plain_ratings AS
SELECT r.*, m.season, v.club_id, c.league, p.position AS position_now
FROM land.ratings r JOIN land.matches m ON m.id = r.match_id
LEFT JOIN LATERAL (SELECT lp.club_id FROM live_players lp WHERE lp.id = r.player_id
	ORDER BY lp.updated_at <= m.played_at DESC,
		CASE WHEN lp.updated_at <= m.played_at THEN lp.updated_at END DESC NULLS LAST, lp.updated_at
	LIMIT 1) v ON true
LEFT JOIN land.clubs c ON c.id = v.club_id
LEFT JOIN land.players p ON p.id = r.player_id;
CREATE VIEW plain_answers AS
WITH form AS (
	SELECT player_id, season, count(*) AS n, avg(rating) AS a, min(rating) AS lo, max(rating) AS hi,
		percentile_cont(0.5) WITHIN GROUP (ORDER BY rating) AS med
	FROM plain_ratings WHERE minutes >= 1 GROUP BY ROLLUP (player_id, season) HAVING player_id IS NOT NULL)
SELECT concat_ws(' | ', 'player_form', player_id, coalesce(season, 'all'), n, a, lo, hi, med) AS line FROM form
UNION ALL
SELECT concat_ws(' | ', 'top_players', season, position_now, place, player_id, n, a) FROM (
	SELECT season, position_now, player_id, count(*) AS n, avg(rating) AS a,
		rank() OVER (PARTITION BY season, position_now ORDER BY avg(rating) DESC, count(*) DESC, player_id) AS place
	FROM plain_ratings WHERE minutes >= 1 AND position_now IS NOT NULL
	GROUP BY season, position_now, player_id HAVING count(*) >= 5) t WHERE place <= 10
UNION ALL
SELECT concat_ws(' | ', 'club_ratings', season, coalesce(club_id::text, 'none'), count(*), avg(rating))
FROM plain_ratings GROUP BY season, club_id
UNION ALL
SELECT concat_ws(' | ', 'league_distribution', season, coalesce(league, 'none'), count(*), avg(rating),
	percentile_cont(0.5) WITHIN GROUP (ORDER BY rating), percentile_cont(0.9) WITHIN GROUP (ORDER BY rating))
FROM plain_ratings GROUP BY season, league;
CREATE FUNCTION check_answers(OUT c text) RETURNS SETOF text LANGUAGE sql AS $$
	(SELECT 'model only: ' || a FROM walstar_ratings.answers() a EXCEPT ALL SELECT 'model only: ' || line FROM plain_answers)
	UNION ALL
	(SELECT 'plain only: ' || line FROM plain_answers EXCEPT ALL SELECT 'plain only: ' || a FROM walstar_ratings.answers() a)
	ORDER BY 1
$$;
SELECT * FROM check_answers() LIMIT 6;
SELECT * FROM ratings.verify() LIMIT 5;

CREATE SEQUENCE rating_ids START 2000;
CREATE FUNCTION churn(rounds int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	k int;
BEGIN
	FOR r IN 1 .. rounds LOOP
		k := 1 + (random() * 69)::int;
		CASE (random() * 9)::int
		WHEN 0 THEN	-- a transfer, effective earlier or later, sometimes to no club
			UPDATE land.players SET club_id = CASE WHEN random() < 0.2 THEN NULL ELSE 1 + (random() * 8)::int END,
				updated_at = '2024-06-01'::timestamptz + random() * interval '500 days' WHERE id = k;
		WHEN 1 THEN	-- a league change, a position change
			UPDATE land.clubs SET league = (ARRAY['Premier', 'Liga', 'Serie', 'Bundes'])[1 + (random() * 3)::int] WHERE id = k % 9;
			UPDATE land.players SET position = (ARRAY['GK', 'DF', 'MF', 'FW'])[1 + (random() * 3)::int],
				updated_at = updated_at + interval '1 second' WHERE id = k + 1;
		WHEN 2 THEN	-- a match goes, its ratings one by one as the stream carries them
			DELETE FROM land.ratings WHERE match_id = k AND random() < 0.5;
			DELETE FROM land.ratings WHERE match_id = k;
			DELETE FROM land.matches WHERE id = k;
		WHEN 3 THEN	-- corrections
			UPDATE land.ratings SET rating = round((random() * 10)::numeric, 1), rated_at = now() WHERE id % 23 = k % 23;
		WHEN 4 THEN	-- a player arrives after its ratings (ids 61 to 65; 66 to 70 never do)
			INSERT INTO land.players VALUES (61 + k % 5, 'Late ' || k, NULL, (ARRAY['GK', 'DF', 'MF', 'FW'])[1 + k % 4],
				CASE WHEN k % 3 = 0 THEN NULL ELSE 1 + k % 8 END, '2024-06-01'::timestamptz + random() * interval '400 days')
			ON CONFLICT (id) DO NOTHING;
		WHEN 5 THEN	-- a match arrives after its ratings (ids 81 to 100)
			INSERT INTO land.matches VALUES (80 + k % 21, '2025-01-01'::timestamptz + random() * interval '300 days', 'Cup',
				CASE WHEN random() < 0.5 THEN '2024/25' ELSE '2025/26' END)
			ON CONFLICT (id) DO UPDATE SET played_at = excluded.played_at;
		ELSE	-- new ratings, some of players and matches not there yet
			INSERT INTO land.ratings SELECT nextval('rating_ids'), 1 + (random() * 99)::int, 1 + (random() * 69)::int,
				round((random() * 10)::numeric, 1), CASE WHEN random() < 0.1 THEN 0 ELSE 1 + (random() * 90)::int END, now()
			FROM generate_series(1, 15) ON CONFLICT DO NOTHING;
		END CASE;
	END LOOP;
END $$;
SELECT setseed(0.33);
SELECT churn(250);
-- the features happened
SELECT count(*) > 1500 AS ratings, count(DISTINCT league) >= 3 AS leagues, count(*) FILTER (WHERE club_id IS NULL) > 0 AS free,
	count(*) FILTER (WHERE position_now IS NULL) > 0 AS unknown_players FROM plain_ratings;
SELECT count(*) > 0 AS back_in_time FROM player_log v
WHERE v.op = 'V' AND v.updated_at < (SELECT max(w.updated_at) FROM player_log w WHERE w.id = v.id AND w.seq < v.seq);
SELECT count(*) > 20 AS top_rows, count(DISTINCT match_season) AS seasons FROM ratings.top_players();
SELECT * FROM check_answers() LIMIT 6;
SELECT * FROM ratings.verify() LIMIT 5;
SELECT churn(250);
SELECT * FROM check_answers() LIMIT 6;
SELECT * FROM ratings.verify() LIMIT 5;
SELECT ratings.rebuild();
SELECT * FROM check_answers() LIMIT 6;

-- the scalar metric functions: one player over all seasons and in one
SELECT p.player_id, ratings.rated(p_player_key => p.player_id) = count(*) AS rated,
	ratings.avg_rating(p_player_key => p.player_id) = avg(rating) AS avg_all,
	ratings.median_rating(p_match_season => '2024/25', p_player_key => p.player_id)
		IS NOT DISTINCT FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY rating) FILTER (WHERE season = '2024/25') AS median_season
FROM plain_ratings p WHERE minutes >= 1 AND player_id IN (7, 13, 64) GROUP BY p.player_id ORDER BY 1;
SELECT ratings.ratings_p90(p_match_season => '2025/26', p_club_league => 'Liga')
	= (SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY rating) FROM plain_ratings WHERE season = '2025/26' AND league = 'Liga')
	AS p90_league;
-- the rollup functions' filters: the rows of the whole answer with those
-- values, and one player's career against plain SQL
SELECT (SELECT array_agg(f ORDER BY f::text) FROM ratings.rating_by_form(p_player_key => 13) f)
	= (SELECT array_agg(f ORDER BY f::text) FROM ratings.rating_by_form() f WHERE f.player_key = 13) AS form_by_player,
	(SELECT array_agg(f ORDER BY f::text) FROM ratings.rating_by_clubs(p_match_season => '2024/25', p_club_key => 2) f)
	= (SELECT array_agg(f ORDER BY f::text) FROM ratings.rating_by_clubs() f WHERE f.match_season = '2024/25' AND f.club_key = 2)
	AS clubs_by_season_club,
	(SELECT count(*) FROM ratings.rating_by_leagues(p_match_season => '2024/25'))
	= (SELECT count(*) FROM ratings.rating_by_leagues() f WHERE f.match_season = '2024/25') AS leagues_by_season;
SELECT c.rated = p.n AND c.avg_rating = p.a AND c.median_rating = p.m AS career_by_player
FROM ratings.rating_by_career(p_player_key => 7) c,
	(SELECT count(*) AS n, avg(rating) AS a, percentile_cont(0.5) WITHIN GROUP (ORDER BY rating) AS m
	 FROM plain_ratings WHERE minutes >= 1 AND player_id = 7) p;
SELECT obj_description('ratings.top_players'::regproc);
SELECT obj_description('ratings.avg_rating'::regproc);
SELECT obj_description('ratings.rating_by_clubs'::regproc);

-- the reader reads answers and metrics, and changes nothing
RESET ROLE;
SET ROLE ratings_reader;
SELECT count(*) > 100 AS answers FROM walstar_ratings.answers();
SELECT ratings.rated() > 0 AS rated;
SELECT ratings.rebuild();
SELECT walstar_ratings.detach();
RESET ROLE;
SET ROLE ratings_other;
SELECT walstar_ratings.detach();
RESET ROLE;
SET ROLE ratings_owner;
SET search_path = test;
SELECT walstar_ratings.detach();
SELECT count(*) AS schemas FROM pg_namespace WHERE nspname = 'ratings';
SELECT count(*) AS model_triggers FROM pg_trigger WHERE tgname LIKE 'walstar_model_ratings%';
-- attached again, it is built from the landing tables as they are; the
-- players' version history went with the model, so the clubs follow the
-- current versions now, but form and top lists do not depend on it
SELECT walstar_ratings.attach('land');
SELECT * FROM check_answers() WHERE split_part(c, ' | ', 1) IN ('model only: player_form', 'plain only: player_form',
	'model only: top_players', 'plain only: top_players') LIMIT 6;
SELECT count(*) > 0 AS clubs_differ FROM check_answers() WHERE c LIKE '% club_ratings %';
SELECT * FROM ratings.verify() LIMIT 5;
SELECT walstar_ratings.detach();
DROP SCHEMA land, test CASCADE;
RESET ROLE;
DROP EXTENSION walstar_ratings;
DO $$ BEGIN EXECUTE format('REVOKE CREATE ON DATABASE %I FROM ratings_owner, ratings_other', current_database()); END $$;
DROP ROLE ratings_owner, ratings_reader, ratings_other;
