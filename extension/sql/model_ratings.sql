-- The model engine's chained references and rankings: ratings whose time
-- is their match's played_at, attributed to the player's version in effect
-- then (SCD2: position, club) and to that club's league (a reference keyed
-- by another reference's attribute); rollups over the whole time (grain
-- all) per season; the top players per season and position (at least 5
-- rated matches; ties by more matches, then lower id).  Random changes:
-- rating corrections, transfers back and forth in time, free agents,
-- league changes, match deletes cascading to their ratings, ratings before
-- their player or match.  Every answer equals plain SQL; verify() is empty.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS walstar;
CREATE SCHEMA league;
CREATE TABLE league.clubs (id bigint PRIMARY KEY, name text, league text);
CREATE TABLE league.players (id bigint PRIMARY KEY, position text, club_id bigint, updated_at timestamptz);
CREATE TABLE league.matches (id bigint PRIMARY KEY, played_at timestamptz, season text);
CREATE TABLE league.ratings (id bigint PRIMARY KEY, match_id bigint REFERENCES league.matches ON DELETE CASCADE,
	player_id bigint, rating numeric(3,1), minutes smallint);
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
CREATE TRIGGER log_row AFTER INSERT OR UPDATE OR DELETE ON league.players FOR EACH ROW EXECUTE FUNCTION log_players();
INSERT INTO league.clubs SELECT g, 'club ' || g, (ARRAY['A', 'B'])[1 + g % 2] FROM generate_series(1, 6) g;
INSERT INTO league.players SELECT g, (ARRAY['GK', 'DF', 'MF', 'FW'])[1 + g % 4], CASE WHEN g % 9 = 0 THEN NULL ELSE 1 + g % 6 END,
	'2023-07-01' FROM generate_series(1, 40) g;
INSERT INTO league.matches SELECT g, '2023-08-01'::timestamptz + g * interval '5 days', CASE WHEN g < 60 THEN '2023/24' ELSE '2024/25' END
FROM generate_series(1, 100) g;

\set decl '{"name": "ratings", "landing_schema": "league", "dimensions": {"club": {"table": "clubs", "attributes": {"league": "league"}}, "player": {"table": "players", "scd": 2, "effective": "updated_at", "attributes": {"position": "position", "club_id": "club_id"}}, "match": {"table": "matches", "attributes": {"played_at": "played_at", "season": "season"}}, "roster": {"table": "players", "attributes": {"current_position": "position"}}}, "facts": {"rating": {"table": "ratings", "time": "match.played_at", "filter": "minutes >= 1", "columns": {"rating": "rating"}, "references": {"match": {"key": "match_id"}, "player": {"key": "player_id", "as_of": "match.played_at"}, "club": {"key": "player.club_id"}}, "measures": {"rated": {"kind": "count"}, "avg_rating": {"kind": "avg", "of": "rating"}, "min_rating": {"kind": "min", "of": "rating"}, "max_rating": {"kind": "max", "of": "rating"}, "median_rating": {"kind": "percentile", "of": "rating", "fraction": 0.5}, "p90_rating": {"kind": "percentile", "of": "rating", "fraction": 0.9}}, "rollups": {"form": {"grain": "all", "by": ["match.season", "player_key"]}, "position": {"grain": "all", "by": ["match.season", "player.position", "player_key"]}, "clubs": {"grain": "all", "by": ["match.season", "club_key"]}, "leagues": {"grain": "all", "by": ["match.season", "club.league"]}}, "rankings": {"top_players": {"rollup": "position", "within": ["match.season", "player.position"], "order": "avg_rating DESC, rated DESC, player_key", "limit": 10, "having": "rated >= 5"}, "top_leagues": {"rollup": "leagues", "within": ["match.season"], "order": "median_rating DESC NULLS LAST, club_league", "limit": 2}, "top_overall": {"rollup": "form", "order": "rated DESC, player_key, match_season", "limit": 3}}}}}'

-- refused: a chain in a circle, a time that is no attribute, a bad ranking
SELECT walstar.create_model(jsonb_set(jsonb_set(:'decl', '{facts,rating,references,match,key}', '"club.league"'),
	'{facts,rating,references,club,key}', '"match.season"'));
SELECT walstar.create_model(jsonb_set(:'decl', '{facts,rating,time}', '"match.kickoff"'));
SELECT walstar.create_model(jsonb_set(:'decl', '{facts,rating,rankings,top_players,order}', '"goals DESC"'));
SELECT count(*) AS schemas FROM pg_namespace WHERE nspname = 'ratings';
SELECT walstar.create_model(:'decl');
-- two dimensions on players, an SCD2 one among them: the versions are kept
SELECT landing_table, keep_versions FROM walstar.model_sources WHERE model = 'ratings' ORDER BY 1;

CREATE VIEW live_players AS
SELECT DISTINCT ON (l.id, l.updated_at) l.* FROM player_log l
WHERE l.op = 'V' AND NOT EXISTS (SELECT FROM player_log d WHERE d.op = 'D' AND d.id = l.id AND d.seq > l.seq)
ORDER BY l.id, l.updated_at, l.seq DESC;
CREATE VIEW plain_ratings AS
SELECT r.*, m.season, v.position, v.club_id, c.league
FROM league.ratings r LEFT JOIN league.matches m ON m.id = r.match_id
LEFT JOIN LATERAL (SELECT p.* FROM live_players p WHERE p.id = r.player_id
	ORDER BY p.updated_at <= coalesce(m.played_at, 'infinity') DESC,
		CASE WHEN p.updated_at <= coalesce(m.played_at, 'infinity') THEN p.updated_at END DESC NULLS LAST, p.updated_at
	LIMIT 1) v ON true
LEFT JOIN league.clubs c ON c.id = v.club_id
WHERE r.minutes >= 1;

CREATE FUNCTION check_ratings() RETURNS SETOF text LANGUAGE sql AS $$
	(SELECT 'form ' || x::text FROM (
		SELECT to_jsonb(f) - 'period' - 'p90_rating' - 'min_rating' AS x FROM ratings.rating_by_form() f
		EXCEPT SELECT jsonb_build_object('match_season', season, 'player_key', player_id, 'rated', count(*),
			'avg_rating', avg(rating), 'max_rating', max(rating), 'median_rating', percentile_cont(0.5) WITHIN GROUP (ORDER BY rating))
		FROM plain_ratings GROUP BY season, player_id) d)
	UNION ALL
	(SELECT 'form missing ' || x::text FROM (
		SELECT jsonb_build_object('match_season', season, 'player_key', player_id, 'rated', count(*),
			'avg_rating', avg(rating), 'max_rating', max(rating), 'median_rating', percentile_cont(0.5) WITHIN GROUP (ORDER BY rating)) AS x
		FROM plain_ratings GROUP BY season, player_id
		EXCEPT SELECT to_jsonb(f) - 'period' - 'p90_rating' - 'min_rating' FROM ratings.rating_by_form() f) d)
	UNION ALL
	(SELECT 'clubs ' || x::text FROM (
		SELECT jsonb_build_object('s', match_season, 'c', club_key, 'a', avg_rating) AS x FROM ratings.rating_by_clubs()
		EXCEPT SELECT jsonb_build_object('s', season, 'c', club_id, 'a', avg(rating)) FROM plain_ratings GROUP BY season, club_id) d)
	UNION ALL
	(SELECT 'leagues ' || x::text FROM (
		SELECT jsonb_build_object('s', season, 'l', league, 'n', count(*), 'a', avg(rating),
			'm', percentile_cont(0.5) WITHIN GROUP (ORDER BY rating), 'p', percentile_cont(0.9) WITHIN GROUP (ORDER BY rating)) AS x
		FROM plain_ratings GROUP BY season, league
		EXCEPT SELECT jsonb_build_object('s', match_season, 'l', club_league, 'n', rated, 'a', avg_rating, 'm', median_rating,
			'p', p90_rating) FROM ratings.rating_by_leagues()) d)
	UNION ALL
	(SELECT 'top ' || x::text FROM (
		SELECT jsonb_build_object('s', match_season, 'pos', player_position, 'rank', rank, 'p', player_key, 'a', avg_rating) AS x
		FROM ratings.top_players()
		EXCEPT SELECT jsonb_build_object('s', season, 'pos', position, 'rank', rank, 'p', player_id, 'a', a) FROM (
			SELECT season, position, player_id, avg(rating) AS a,
				row_number() OVER (PARTITION BY season, position ORDER BY avg(rating) DESC, count(*) DESC, player_id) AS rank
			FROM plain_ratings GROUP BY season, position, player_id HAVING count(*) >= 5) t WHERE rank <= 10) d)
	UNION ALL
	-- ordered by a percentile computed when read (leagues: bucketed)
	(SELECT 'top leagues ' || x::text FROM (
		SELECT jsonb_build_object('s', match_season, 'l', club_league, 'rank', rank, 'm', median_rating) AS x
		FROM ratings.top_leagues()
		EXCEPT SELECT jsonb_build_object('s', season, 'l', league, 'rank', rank, 'm', m) FROM (
			SELECT season, league, percentile_cont(0.5) WITHIN GROUP (ORDER BY rating) AS m,
				row_number() OVER (PARTITION BY season ORDER BY percentile_cont(0.5) WITHIN GROUP (ORDER BY rating) DESC NULLS LAST,
					league) AS rank
			FROM plain_ratings GROUP BY season, league) t WHERE rank <= 2) d)
	UNION ALL
	-- no "within": the first rows of the whole rollup (from its index)
	(SELECT 'top overall ' || x::text FROM (
		(SELECT jsonb_build_object('s', match_season, 'p', player_key, 'rank', rank, 'n', rated) AS x FROM ratings.top_overall()
		 UNION ALL SELECT jsonb_build_object('rows', count(*)) FROM ratings.top_overall())
		EXCEPT ALL (SELECT jsonb_build_object('s', season, 'p', player_id, 'rank', rank, 'n', n) FROM (
			SELECT season, player_id, count(*) AS n, row_number() OVER (ORDER BY count(*) DESC, player_id, season) AS rank
			FROM plain_ratings GROUP BY season, player_id) t WHERE rank <= 3
		 UNION ALL SELECT jsonb_build_object('rows', least(3, count(DISTINCT (season, player_id)))) FROM plain_ratings)) d)
	UNION ALL
	-- the "within" filters: exactly the rows of their group
	SELECT 'top filtered ' || g.s || ' ' || g.p FROM (SELECT DISTINCT match_season AS s, player_position AS p
		FROM ratings.top_players() WHERE match_season IS NOT NULL AND player_position IS NOT NULL) g
	WHERE (SELECT string_agg(row_to_json(t)::text, ',' ORDER BY t.rank)
		   FROM ratings.top_players(p_match_season => g.s, p_player_position => g.p) t)
		IS DISTINCT FROM (SELECT string_agg(row_to_json(t)::text, ',' ORDER BY t.rank)
		   FROM ratings.top_players() t WHERE t.match_season = g.s AND t.player_position = g.p)
	UNION ALL
	SELECT 'top leagues filtered ' || g.s FROM (SELECT DISTINCT match_season AS s FROM ratings.top_leagues()
		WHERE match_season IS NOT NULL) g
	WHERE (SELECT string_agg(row_to_json(t)::text, ',' ORDER BY t.rank) FROM ratings.top_leagues(p_match_season => g.s) t)
		IS DISTINCT FROM (SELECT string_agg(row_to_json(t)::text, ',' ORDER BY t.rank)
		   FROM ratings.top_leagues() t WHERE t.match_season = g.s)
	UNION ALL
	SELECT 'scalar ' || s FROM (SELECT DISTINCT season, player_id FROM plain_ratings) k,
		LATERAL (SELECT ratings.avg_rating(p_match_season => k.season, p_player_key => k.player_id)::text AS have,
			(SELECT avg(rating) FROM plain_ratings p WHERE p.season IS NOT DISTINCT FROM k.season
			 AND p.player_id = k.player_id)::text AS want) v,
		LATERAL (SELECT format('%s %s: %s %s', k.season, k.player_id, v.have, v.want) AS s) w
	WHERE v.have IS DISTINCT FROM v.want AND k.season IS NOT NULL
$$;
SELECT * FROM check_ratings() LIMIT 5;
SELECT * FROM ratings.verify();

CREATE SEQUENCE rating_ids START 1;
CREATE FUNCTION churn_ratings(rounds int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	k int;
BEGIN
	FOR r IN 1 .. rounds LOOP
		k := (random() * 50)::int;
		CASE (random() * 9)::int
		WHEN 0 THEN	-- a transfer, effective earlier or later, sometimes to no club
			UPDATE league.players SET club_id = CASE WHEN random() < 0.15 THEN NULL ELSE 1 + (random() * 6)::int END,
				updated_at = '2023-07-01'::timestamptz + random() * interval '600 days' WHERE id = k;
		WHEN 1 THEN
			UPDATE league.clubs SET league = (ARRAY['A', 'B', 'C'])[1 + (random() * 2)::int] WHERE id = k % 7;
		WHEN 2 THEN	-- a match goes with its ratings
			DELETE FROM league.matches WHERE id = k + 50 * (random() < 0.5)::int AND random() < 0.3;
		WHEN 3 THEN	-- corrections
			UPDATE league.ratings SET rating = round((random() * 10)::numeric, 1) WHERE id % 11 = k % 11;
		WHEN 4 THEN	-- a player arrives late
			INSERT INTO league.players VALUES (40 + k % 8, (ARRAY['GK', 'DF', 'MF', 'FW'])[1 + k % 4], 1 + k % 6,
				'2023-06-01'::timestamptz + random() * interval '300 days') ON CONFLICT (id) DO NOTHING;
		WHEN 5 THEN
			INSERT INTO league.matches VALUES (100 + k, '2024-01-01'::timestamptz + random() * interval '200 days', '2024/25')
			ON CONFLICT (id) DO UPDATE SET played_at = excluded.played_at;
		ELSE
			INSERT INTO league.ratings SELECT nextval('rating_ids'), m.id, (random() * 47)::int,
				round((random() * 10)::numeric, 1), CASE WHEN random() < 0.1 THEN 0 ELSE 90 END
			FROM league.matches m WHERE random() < 0.1 ON CONFLICT DO NOTHING;
		END CASE;
	END LOOP;
END $$;
SELECT setseed(0.33);
SELECT churn_ratings(300);
SELECT count(*) > 500 AS ratings, count(DISTINCT league) >= 2 AS leagues, count(*) FILTER (WHERE club_id IS NULL) > 0 AS free
FROM plain_ratings;
SELECT count(*) > 10 AS top_rows FROM ratings.top_players();
SELECT count(DISTINCT match_season) > 1 AS seasons, count(*) > 2 AS top_league_rows FROM ratings.top_leagues();
-- top_players' order is of plain columns and measures: an index by its
-- groups and order serves it (and one for the groups with a NULL key);
-- top_leagues orders by a percentile computed when read: none; top_overall
-- (no "within") by its order alone
SELECT tablename, regexp_replace(indexdef, '^.* USING ', '') FROM pg_indexes
WHERE schemaname = 'ratings' AND tablename IN ('r_rating_position', 'r_rating_leagues', 'r_rating_form') ORDER BY 1, 2;
SELECT * FROM check_ratings() LIMIT 5;
SELECT * FROM ratings.verify() LIMIT 5;
SELECT churn_ratings(300);
SELECT * FROM check_ratings() LIMIT 5;
SELECT * FROM ratings.verify() LIMIT 5;
SELECT ratings.rebuild();
SELECT * FROM check_ratings() LIMIT 5;
SELECT * FROM ratings.verify() LIMIT 5;
SELECT obj_description('ratings.top_players(date, date, text, text)'::regprocedure);
SELECT walstar.drop_model('ratings');
DROP VIEW plain_ratings, live_players;
DROP SCHEMA league CASCADE;
DROP FUNCTION check_ratings(), churn_ratings(int), log_players();
DROP TABLE player_log;
DROP SEQUENCE rating_ids;
