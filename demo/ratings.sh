# The ratings model's part of demo/run.sh (sourced by it): the two
# player-ratings services (demo/ratings/), their history (DEMO_MATCHES
# matches over four seasons), walstar_ratings attached once the history has
# landed, the scenario's workloads, its four questions.
MATCHES=${DEMO_MATCHES:-400}
CLUBS=$(( MATCHES / 100 > 10 ? MATCHES / 100 : 10 ))
PLAYERS=$(( CLUBS * 24 ))
RATE=${DEMO_RATE:-30}			# pgbench transactions/s on ratings_matches (clubs 1/3 of it)
SERVICES="ratings_clubs ratings_matches"
SOURCES=$ROOT/demo/ratings/ratings_sources.sql
LANDING=ratings_land
EXTENSION=walstar_ratings
HISTORY="$MATCHES matches, $CLUBS clubs, $PLAYERS players"
HISTORY_ROWS=$(( MATCHES * 32 ))
SIZES="CLUBS=$CLUBS PLAYERS=$PLAYERS MATCHES=$MATCHES"
BENCH_VARS="-D clubs=$CLUBS -D players=$PLAYERS -D matches=$MATCHES"
ATTACH_LINE="CREATE EXTENSION walstar_ratings CASCADE; walstar.create_subscription() x2; once the history has landed, SELECT walstar_ratings.attach('ratings_land')"

tables() {
	case $1 in
	ratings_clubs) echo clubs players ;;
	ratings_matches) echo matches ratings ;;
	esac
}

# The history, then the source's record of every players version from the
# current rows on (player_versions.sql, which answers.sql reads): the model's
# version history starts at attach, with the same rows.
model_history() {
	R=$ROOT/demo/ratings
	src ratings_clubs -v clubs="$CLUBS" -v players="$PLAYERS" -f "$R/history_clubs.sql" >/dev/null
	src ratings_matches -v clubs="$CLUBS" -v players="$PLAYERS" -v matches="$MATCHES" -f "$R/history_matches.sql" >/dev/null
	src ratings_clubs -f "$R/player_versions.sql"
}

model_prepare() {
	echo "CREATE EXTENSION walstar_ratings CASCADE;"
	echo "CREATE SCHEMA ratings_land;"
}
model_attach() { echo "SELECT walstar_ratings.attach('ratings_land');"; }

model_workload() {
	say "workload: pgbench on the two services for $SECONDS_RUN s (about $(( RATE * 4 / 3 )) transactions/s in all)"
	W=$ROOT/demo/ratings/workload
	bench ratings_clubs $(( RATE / 3 )) -f "$W/player_transfer.sql@4" -f "$W/player_release.sql@1" -f "$W/player_new.sql@1"
	bench ratings_matches "$RATE" -f "$W/match_new.sql@3" -f "$W/rating_correct.sql@6" -f "$W/match_delete.sql@1"
}

model_answers() {
	say "the four questions (walstar_ratings metric functions, answered from rollups)"
	ana -P footer=off <<'EOF'
SELECT max(match_season) AS season FROM ratings.rating_by_leagues() \gset
\timing on
\echo '1. Player form: this season''s five best players by average rating (5 matches or more), and their careers'
SELECT player_key AS player, rated AS matches, round(avg_rating, 2) AS avg, min_rating AS min, max_rating AS max,
	   round(median_rating::numeric, 2) AS median, ratings.rated(p_player_key => player_key) AS career_matches,
	   round(ratings.avg_rating(p_player_key => player_key), 2) AS career_avg
FROM (SELECT * FROM ratings.rating_by_form() WHERE match_season = :'season' AND rated >= 5
	  ORDER BY avg_rating DESC, rated DESC, player_key LIMIT 5) AS f;
\echo '2. Top players per position this season (the first three of each top 10):'
SELECT squad_position AS position, rank, player_key AS player, rated AS matches, round(avg_rating, 2) AS avg
FROM ratings.top_players(p_match_season => :'season') WHERE rank <= 3 ORDER BY 1, 2;
\echo '3. Club ratings this season (club none: free agents and players not arrived yet):'
SELECT coalesce(club_key::text, 'none') AS club, ratings, round(ratings_avg, 2) AS avg
FROM ratings.rating_by_clubs() WHERE match_season = :'season' ORDER BY ratings_avg DESC;
\echo '4. The distribution of ratings per league and season:'
SELECT match_season AS season, coalesce(club_league, 'none') AS league, ratings, round(ratings_avg, 2) AS avg,
	   round(ratings_median::numeric, 2) AS median, round(ratings_p90::numeric, 2) AS p90
FROM ratings.rating_by_leagues() ORDER BY 1, 2;
\timing off
\echo 'How far behind the sources is each metric?'
SELECT * FROM ratings.freshness();
EOF
}

model_checks() {
	check "verify(): the model agrees with a full recomputation over the landing tables" "" \
		"$(ana -At -c "SELECT concat_ws(' ', object, problem, detail) FROM ratings.verify() LIMIT 20")"
	copy_tables expected ratings_clubs.player_versions ratings_clubs.clubs ratings_clubs.players \
		ratings_matches.matches ratings_matches.ratings
	want=$(src expected -At -f "$ROOT/demo/ratings/answers.sql")
	got=$(ana -At -c "SELECT a FROM walstar_ratings.answers() a ORDER BY a")
	check "every answer of the model ($(answer_counts "$got")) equals demo/ratings/answers.sql over the sources" "$want" "$got"
}

model_query_more() {
	cat <<'EOF'
  SELECT * FROM ratings.top_players(p_match_season => '2025/26', p_squad_position => 'FW');
  SELECT ratings.avg_rating(p_match_season => '2024/25', p_player_key => 40);
  SELECT * FROM ratings.rating_by_clubs();
  SELECT * FROM walstar_ratings.answers();  -- every answer, as demo/ratings/answers.sql prints them
  \df+ ratings.*                  -- every metric's exact semantics is its COMMENT
  SELECT * FROM walstar.subscription_status;                             -- pipeline progress
  The star schema: ratings.f_rating, d_player (SCD2): \dt ratings.*; extension/walstar_ratings/README.md.
EOF
}
