# The claims model's part of demo/run.sh (sourced by it): the Acme insurance
# services, their history (DEMO_CLAIMS claims), walstar_claims attached
# before the subscriptions start, the claims workload, the five questions.
CLAIMS=${DEMO_CLAIMS:-200000}
RATE=${DEMO_RATE:-150}			# pgbench transactions/s on acme_claims (customers 1/5, feedback 2/3 of it)
CUSTOMERS=$(( CLAIMS / 10 > 1000 ? CLAIMS / 10 : 1000 ))
FEEDBACK=$(( CLAIMS / 2 ))
SERVICES="acme_customers acme_claims acme_feedback"
SOURCES=$ROOT/demo/acme_sources.sql
LANDING=acme
EXTENSION=walstar_claims
HISTORY="$CLAIMS claims, $CUSTOMERS customers, $FEEDBACK feedback"
HISTORY_ROWS=$(( CLAIMS * 2 ))
SIZES="CUSTOMERS=$CUSTOMERS CLAIMS=$CLAIMS FEEDBACK=$FEEDBACK"
BENCH_VARS="-D customers=$CUSTOMERS -D claims=$CLAIMS -D feedback=$FEEDBACK"
ATTACH_EARLY=1
ATTACH_LINE="CREATE EXTENSION walstar_claims CASCADE; SELECT walstar_claims.attach('acme'); walstar.create_subscription() x3"

tables() { short "$1"; }

# Row count and a checksum of the columns the metrics use.
fingerprint() {
	case $1 in
	customers) echo "SELECT count(*) || ':' || coalesce(sum(hashtext(id || ':' || country_code || updated_at::text)), 0) FROM" ;;
	claims) echo "SELECT count(*) || ':' || coalesce(sum(hashtext(id || ':' || amount::text || status::text || is_anomaly::text || coalesce(resolved_at::text, '') || updated_at::text)), 0) FROM" ;;
	feedback) echo "SELECT count(*) || ':' || coalesce(sum(hashtext(id || ':' || claim_id || ':' || rating || coalesce(sentiment::text, ''))), 0) FROM" ;;
	esac
}

model_history() {
	src acme_customers -v customers="$CUSTOMERS" -f "$ROOT/demo/history_customers.sql" >/dev/null
	src acme_claims -v claims="$CLAIMS" -v customers="$CUSTOMERS" -f "$ROOT/demo/history_claims.sql" >/dev/null
	src acme_feedback -v feedback="$FEEDBACK" -v claims="$CLAIMS" -v customers="$CUSTOMERS" -f "$ROOT/demo/history_feedback.sql" >/dev/null
}

model_prepare() {
	echo "CREATE EXTENSION walstar_claims CASCADE;"
	echo "SELECT walstar_claims.attach('acme');"
}

model_workload() {
	say "workload: pgbench on the three services for $SECONDS_RUN s (about $(( RATE * 28 / 15 )) transactions/s in all)"
	W=$ROOT/demo/workload
	bench acme_customers $(( RATE / 5 )) -f "$W/customers_new.sql@8" -f "$W/customers_move.sql@3" \
		-f "$W/customers_edit.sql@8" -f "$W/customers_delete.sql@1"
	bench acme_claims "$RATE" -f "$W/claims_new.sql@10" -f "$W/claims_review.sql@4" -f "$W/claims_flag.sql@2" \
		-f "$W/claims_resolve.sql@5" -f "$W/claims_reopen.sql@1" -f "$W/claims_delete.sql@1"
	bench acme_feedback $(( RATE * 2 / 3 )) -f "$W/feedback_new.sql@10" -f "$W/feedback_delete.sql@1"
}

model_answers() {
	say "the five questions (walstar_claims metric functions, answered from rollups)"
	ana -P footer=off <<'EOF'
\timing on
\echo '1. How many claims so far?'
SELECT walstar_claims.total_claims() AS claims,
	   walstar_claims.total_claims(date_trunc('year', now())::date) AS this_year;
\echo '2. Minimum, maximum, average and median claim amount (EUR)?'
SELECT * FROM walstar_claims.claim_amount_stats();
\echo '3. How many positive feedbacks?'
SELECT walstar_claims.positive_feedback_count() AS positive_feedback;
\echo '4. Feedback sentiment for anomaly claims over the years across the world:'
SELECT year, count(DISTINCT country_code) AS countries,
	   sum(feedback) FILTER (WHERE sentiment = 'positive') AS positive,
	   sum(feedback) FILTER (WHERE sentiment = 'neutral') AS neutral,
	   sum(feedback) FILTER (WHERE sentiment = 'negative') AS negative
FROM walstar_claims.anomaly_feedback_sentiment() GROUP BY year ORDER BY year;
\echo '   ... and per country this year:'
SELECT country_code,
	   sum(feedback) FILTER (WHERE sentiment = 'positive') AS positive,
	   sum(feedback) FILTER (WHERE sentiment = 'neutral') AS neutral,
	   sum(feedback) FILTER (WHERE sentiment = 'negative') AS negative
FROM walstar_claims.anomaly_feedback_sentiment(extract(year FROM now())::int, extract(year FROM now())::int)
GROUP BY country_code ORDER BY sum(feedback) DESC;
\echo '5. How long does it take to resolve an anomaly claim, per country?'
SELECT country_code, resolved_claims, justify_hours(date_trunc('minute', avg_time)) AS avg,
	   justify_hours(date_trunc('minute', median_time)) AS median,
	   justify_hours(date_trunc('minute', p90_time)) AS p90
FROM walstar_claims.anomaly_resolution_time();
\timing off
\echo 'How far behind the sources is each metric?'
SELECT metric, round(lag_seconds::numeric, 3) AS lag_seconds, lag_messages,
	   last_source_commit, model_applied_at FROM walstar_claims.freshness();
EOF
}

model_checks() {
	ana -At -c "SELECT CASE WHEN count(*) = 0 THEN 'verify(): the model agrees with a full recomputation over the landing tables'
		ELSE 'verify(): ' || count(*) || ' differences!' END FROM walstar_claims.verify()"
	# Claims-only metrics straight from the source database.
	want=$(src acme_claims -At -c "SELECT count(*) || ' ' || min(amount) || ' ' || max(amount) || ' ' || avg(amount) FROM claims")
	got=$(ana -At -c "SELECT claims || ' ' || min_amount || ' ' || max_amount || ' ' || avg_amount FROM walstar_claims.claim_amount_stats()")
	if [ "$want" = "$got" ]; then
		echo "count, min, max, avg of claims equal plain SQL on acme_claims: $got"
	else
		echo "MISMATCH with acme_claims: source $want, model $got" >&2
		exit 1
	fi
	want=$(src acme_feedback -At -c "SELECT count(*) FROM feedback WHERE coalesce(sentiment::text, CASE WHEN rating >= 4 THEN 'positive' WHEN rating = 3 THEN 'neutral' ELSE 'negative' END) = 'positive'")
	got=$(ana -At -c "SELECT walstar_claims.positive_feedback_count()")
	[ "$want" = "$got" ] && echo "positive feedback equals plain SQL on acme_feedback: $got" || { echo "MISMATCH positive feedback: $want vs $got" >&2; exit 1; }
}

model_query_more() {
	cat <<EOF
  SELECT walstar_claims.total_claims('2024-01-01', '2025-01-01', 'DE');   -- [from, to), country
  SELECT * FROM walstar_claims.claim_amount_stats(2024, 'FR');            -- per year, country
  SELECT * FROM walstar_claims.anomaly_feedback_sentiment(2023, 2025, 'ES');
  SELECT * FROM walstar_claims.anomaly_resolution_time(2025);
  \\df+ walstar_claims.*          -- every metric's exact semantics is its COMMENT
  SELECT * FROM walstar.subscription_status;                             -- pipeline progress
  The star schema (generated by walstar.create_model): claims.f_claim, f_feedback, d_customer (SCD2), r_* rollups.
EOF
}
