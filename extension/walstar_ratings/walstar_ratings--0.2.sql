/* walstar_ratings--0.2.sql: the player-ratings model, version 0.2 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION walstar_ratings CASCADE" to load this file. \quit

/*
 * The model is one declaration on walstar's model engine
 * (walstar.create_model, extension/README.md "Declaring a model"); README.md
 * beside this file maps each question of the scenario onto it.  attach()
 * creates the model in schema ratings over the landing tables clubs,
 * players, matches and ratings of a landing schema; detach() drops it.
 *
 * Choices the scenario leaves open (as demo/ratings/answers.sql makes them):
 * a rating counts only once its match has arrived; its club is the one of
 * the player's version in effect at the match's played_at (before the
 * first version, the first), that club's league its current one; the top
 * lists group by the player's current position (a player not arrived yet
 * has none and is left out); club ratings and the league distribution take
 * every rating, player form and the top lists those with minutes >= 1.
 *
 * The current-position dimension is named squad, not roster, on purpose:
 * the engine registers each dimension's table in the order of the
 * declaration's keys (jsonb: shorter first), and a later plain dimension on
 * players would register it again without its version history
 * (keep_versions false), after which the apply worker keeps only each
 * batch's last version of a player.  squad sorts before player.
 */
CREATE FUNCTION declaration(landing_schema name) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT pg_catalog.jsonb_set($d${
 "name": "ratings",
 "landing_schema": null,
 "dimensions": {
  "club":   {"table": "clubs", "attributes": {"league": "league"}},
  "player": {"table": "players", "scd": 2, "effective": "updated_at", "attributes": {"club_id": "club_id"}},
  "squad": {"table": "players", "attributes": {"position": "position"}},
  "match":  {"table": "matches", "attributes": {"played_at": "played_at", "season": "season"}}},
 "facts": {"rating": {
  "table": "ratings", "time": "match.played_at",
  "columns": {"rating": "rating", "played": "minutes >= 1"},
  "references": {
   "match":  {"key": "match_id"},
   "player": {"key": "player_id", "as_of": "match.played_at"},
   "squad": {"key": "player_id"},
   "club":   {"key": "player.club_id"}},
  "measures": {
   "rated":         {"kind": "count", "filter": "played AND match_played_at IS NOT NULL",
                     "comment": "player form: rated matches, the ratings with minutes >= 1 (of matches that have arrived)"},
   "avg_rating":    {"kind": "avg", "of": "rating", "filter": "played AND match_played_at IS NOT NULL",
                     "comment": "player form: average rating over the ratings with minutes >= 1 (exact numeric)"},
   "min_rating":    {"kind": "min", "of": "rating", "filter": "played AND match_played_at IS NOT NULL",
                     "comment": "player form: lowest rating over the ratings with minutes >= 1"},
   "max_rating":    {"kind": "max", "of": "rating", "filter": "played AND match_played_at IS NOT NULL",
                     "comment": "player form: highest rating over the ratings with minutes >= 1"},
   "median_rating": {"kind": "percentile", "of": "rating", "fraction": 0.5, "filter": "played AND match_played_at IS NOT NULL",
                     "comment": "player form: median (percentile_cont 0.5) of rating over the ratings with minutes >= 1"},
   "ratings":       {"kind": "count", "filter": "match_played_at IS NOT NULL",
                     "comment": "club ratings, league distribution: number of ratings (any minutes)"},
   "ratings_avg":   {"kind": "avg", "of": "rating", "filter": "match_played_at IS NOT NULL",
                     "comment": "club ratings, league distribution: average rating (any minutes, exact numeric)"},
   "ratings_median": {"kind": "percentile", "of": "rating", "fraction": 0.5, "filter": "match_played_at IS NOT NULL",
                     "comment": "league distribution: median (percentile_cont 0.5) of rating (any minutes)"},
   "ratings_p90":   {"kind": "percentile", "of": "rating", "fraction": 0.9, "filter": "match_played_at IS NOT NULL",
                     "comment": "league distribution: 90th percentile (percentile_cont 0.9) of rating (any minutes)"}},
  "rollups": {
   "career":   {"grain": "all", "by": ["player_key"],
                "comment": "player form over all seasons: per player_key, rated, avg_rating, min_rating, max_rating, median_rating over the player's ratings with minutes >= 1 (period is NULL: grain all)"},
   "form":     {"grain": "all", "by": ["match.season", "player_key"],
                "comment": "player form per season: per (match_season, player_key), rated, avg_rating, min_rating, max_rating, median_rating over the ratings with minutes >= 1"},
   "position": {"grain": "all", "by": ["match.season", "squad.position", "player_key"],
                "comment": "per (match_season, squad_position: the player's current position, player_key): the measures top_players() ranks by"},
   "clubs":    {"grain": "all", "by": ["match.season", "club_key"],
                "comment": "club ratings: per (match_season, club_key), ratings and ratings_avg over every rating, counted for the club of the player's version in effect at the match's played_at; club_key NULL: free agents and players not arrived yet"},
   "leagues":  {"grain": "all", "by": ["match.season", "club.league"],
                "comment": "league distribution: per (match_season, club_league: the current league of the club as in rating_by_clubs, NULL without one), ratings, ratings_avg, ratings_median and ratings_p90 over every rating"},
   "monthly":  {"grain": "month",
                "comment": "per calendar month of played_at (UTC): every measure; it serves the scalar measures called for whole months (p_from, p_to)"}},
  "rankings": {"top_players": {
   "rollup": "position", "within": ["match.season", "squad.position"],
   "order": "avg_rating DESC, rated DESC, player_key", "limit": 10,
   "having": "rated >= 5 AND match_season IS NOT NULL AND squad_position IS NOT NULL",
   "comment": "top players: per season and current position, the 10 players with the highest avg_rating among those with rated >= 5 that season (minutes >= 1); ties by more rated matches, then the lower player id; rank 1 to 10"}}}}
}$d$::jsonb, '{landing_schema}', pg_catalog.to_jsonb(landing_schema))
$$;
COMMENT ON FUNCTION declaration(name) IS
	'the ratings model''s declaration for walstar.create_model over the landing tables clubs, players, matches and ratings of landing_schema';

/*
 * Every answer of the scenario from the model's functions, one line each
 * in the format of demo/ratings/answers.sql ('question | keys | values',
 * 'all' for every season, 'none' for no club or league), in order: the demo
 * prints it and the tests compare it with that plain SQL.
 */
CREATE FUNCTION answers() RETURNS SETOF text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN QUERY
	SELECT line FROM (
		SELECT pg_catalog.concat_ws(' | ', 'player_form', player_key, 'all', rated, avg_rating, min_rating, max_rating,
									median_rating) AS line
		FROM ratings.rating_by_career() WHERE rated > 0
		UNION ALL
		SELECT pg_catalog.concat_ws(' | ', 'player_form', player_key, match_season, rated, avg_rating, min_rating,
									max_rating, median_rating)
		FROM ratings.rating_by_form() WHERE rated > 0
		UNION ALL
		SELECT pg_catalog.concat_ws(' | ', 'top_players', match_season, squad_position, rank, player_key, rated, avg_rating)
		FROM ratings.top_players()
		UNION ALL
		SELECT pg_catalog.concat_ws(' | ', 'club_ratings', match_season, coalesce(club_key::text, 'none'), ratings, ratings_avg)
		FROM ratings.rating_by_clubs() WHERE ratings > 0
		UNION ALL
		SELECT pg_catalog.concat_ws(' | ', 'league_distribution', match_season, coalesce(club_league, 'none'), ratings,
									ratings_avg, ratings_median, ratings_p90)
		FROM ratings.rating_by_leagues() WHERE ratings > 0) AS a
	ORDER BY line;
END
$$;
COMMENT ON FUNCTION answers() IS
	'every answer of the player-ratings scenario from the model''s functions, one line each as demo/ratings/answers.sql prints them';

CREATE FUNCTION attach(landing_schema name DEFAULT 'ratings_land') RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	IF landing_schema IS NULL THEN
		RAISE EXCEPTION 'walstar_ratings.attach: landing_schema must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF pg_catalog.to_regnamespace('ratings') IS NOT NULL THEN
		RAISE EXCEPTION 'walstar_ratings.attach: schema ratings already exists'
			USING ERRCODE = 'duplicate_schema', HINT = 'walstar_ratings.detach() drops the model first';
	END IF;
	PERFORM walstar.create_model(walstar_ratings.declaration(landing_schema));
	RETURN 'ratings';
END
$$;
COMMENT ON FUNCTION attach(name) IS
	'creates the ratings model (schema ratings) over <landing_schema>.clubs, players, matches and ratings and builds it from the rows already there; the caller must own the landing tables and may create schemas';

CREATE FUNCTION detach() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM walstar.drop_model('ratings');
END
$$;
COMMENT ON FUNCTION detach() IS
	'drops the ratings model: its schema, its triggers on the landing tables and its version-history registrations';

-- Privileges: attaching and detaching are the admin's (who must also own
-- the landing tables); the reader calls answers() and, by the engine's
-- grants, the model's metric functions.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
GRANT USAGE ON SCHEMA @extschema@ TO walstar_admin, walstar_reader;
GRANT EXECUTE ON FUNCTION declaration(name), attach(name), detach() TO walstar_admin;
GRANT EXECUTE ON FUNCTION answers() TO walstar_admin, walstar_reader;
