#!/bin/sh
# The Acme demo, end to end (make demo runs it after build + install):
#
#   source cluster      acme_customers, acme_claims, acme_feedback (demo/acme_sources.sql)
#        │ one walstar-sink per database (initial snapshot, then streaming)
#   Kafka broker        topics acme_<service>.public.<table>
#        │ walstar apply workers, one subscription per service
#   analytics cluster   landing tables acme.*, walstar_claims star schema + metrics
#
# It loads a history (DEMO_CLAIMS claims, default 200000), starts the
# pipeline, runs a pgbench workload on the three services for DEMO_SECONDS
# (default 60), waits until the analytics side has caught up, prints the
# answers to the five questions with lag and throughput, checks them against
# the sources, and stops everything it started.
#
#   DEMO_CLAIMS=2000000 demo/run.sh     a bigger history
#   DEMO_KEEP=1 demo/run.sh             leave everything running at the end
#                                       ($DEMO_WORK/stop.sh stops it; pipeline.env
#                                       says where it runs)
#   DEMO_WORK=dir                       where clusters, broker and logs live
#   DEMO_BROKERS=3 demo/run.sh          on a 3-node Kafka cluster (replication
#                                       factor 3, min.insync.replicas 2)
#                                       (default .cache/demo)
# As root, PostgreSQL runs as the postgres OS user (it refuses root).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEMO_USER=${DEMO_USER:-postgres}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

if [ "$(id -u)" = 0 ]; then
	if ! runuser -u "$DEMO_USER" -- test -r "$ROOT/demo/run.sh"; then
		copy=/var/tmp/walstar-demo-src
		echo "demo: $ROOT is not readable by $DEMO_USER; running from a copy in $copy"
		rm -rf "$copy"
		mkdir -p "$copy"
		(cd "$ROOT" && tar --exclude=.cache/testrun --exclude=.cache/demo --exclude=.git -cf - .) | (cd "$copy" && tar -xf -)
		chmod -R a+rX "$copy"
		ROOT=$copy
	fi
	work=${DEMO_WORK:-$ROOT/.cache/demo}
	mkdir -p "$work"
	chown "$DEMO_USER" "$work"
	exec runuser -u "$DEMO_USER" -- env HOME="$work" DEMO_WORK="$work" "$ROOT/demo/run.sh" "$@"
fi

WORK=${DEMO_WORK:-$ROOT/.cache/demo}
CLAIMS=${DEMO_CLAIMS:-200000}
SECONDS_RUN=${DEMO_SECONDS:-60}
BROKERS=${DEMO_BROKERS:-1}
case "$BROKERS" in ''|*[!0-9]*|0) echo "demo: DEMO_BROKERS must be a positive number" >&2; exit 1 ;; esac
if [ "$BROKERS" -gt 1 ]; then KAFKA_STOP=stop-cluster; else KAFKA_STOP=stop; fi
RATE=${DEMO_RATE:-150}			# pgbench transactions/s on acme_claims (customers 1/5, feedback 2/3 of it)
CUSTOMERS=$(( CLAIMS / 10 > 1000 ? CLAIMS / 10 : 1000 ))
FEEDBACK=$(( CLAIMS / 2 ))
BINDIR=$($PG_CONFIG --bindir)
export PATH="$BINDIR:$ROOT/sink:$PATH"
SERVICES="customers claims feedback"

say() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.1f\", $* }"; }
free_port() {
	perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1) or die; print $s->sockport'
}

# Everything this script starts is stopped on exit, by pid or data directory.
SINK_PIDS=""
BENCH_PIDS=""
cleanup() {
	status=$?
	trap - EXIT INT TERM
	if [ -n "${DEMO_KEEP:-}" ] && [ $status = 0 ]; then
		{
			echo "#!/bin/sh"
			echo "# stops what demo/run.sh left running (DEMO_KEEP=1)"
			for p in $SINK_PIDS; do echo "kill -TERM $p"; done
			echo "pg_ctl -D $WORK/analytics -m fast stop"
			echo "pg_ctl -D $WORK/source -m fast stop"
			echo "$ROOT/regress/kafka.sh $KAFKA_STOP $WORK/kafka"
		} > "$WORK/stop.sh"
		chmod +x "$WORK/stop.sh"
		# where everything runs, for scripts that go on from here (bench/freshness)
		{
			echo "SRC_PORT=$SRC_PORT"
			echo "ANA_PORT=$ANA_PORT"
			echo "BROKER=$BROKER"
			echo "SINK_PIDS='$SINK_PIDS'"
			echo "CUSTOMERS=$CUSTOMERS CLAIMS=$CLAIMS FEEDBACK=$FEEDBACK"
		} > "$WORK/pipeline.env"
		echo "DEMO_KEEP: everything keeps running; stop it with $WORK/stop.sh (as $(id -un))"
		exit 0
	fi
	for p in $BENCH_PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $SINK_PIDS; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $SINK_PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -KILL "$p" 2>/dev/null || true
	done
	for c in analytics source; do
		[ -f "$WORK/$c/postmaster.pid" ] && pg_ctl -D "$WORK/$c" -m fast -w stop >/dev/null 2>&1 || true
	done
	"$ROOT/regress/kafka.sh" $KAFKA_STOP "$WORK/kafka" >/dev/null 2>&1 || true
	[ $status = 0 ] || echo "demo: failed (logs in $WORK)" >&2
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A previous run left by DEMO_KEEP or a crash: stop it and start afresh.
for c in analytics source; do
	[ -f "$WORK/$c/postmaster.pid" ] && pg_ctl -D "$WORK/$c" -m immediate -w stop >/dev/null 2>&1 || true
done
"$ROOT/regress/kafka.sh" stop "$WORK/kafka" >/dev/null 2>&1 || true
"$ROOT/regress/kafka.sh" stop-cluster "$WORK/kafka" >/dev/null 2>&1 || true
rm -rf "$WORK/source" "$WORK/analytics" "$WORK/kafka" "$WORK"/sink_* "$WORK"/*.log
mkdir -p "$WORK"
T0=$(now)

say "starting PostgreSQL clusters and Kafka"
SRC_PORT=$(free_port)
ANA_PORT=$(free_port)
for c in source analytics; do
	initdb -D "$WORK/$c" -A trust -U postgres --no-sync >/dev/null
	cat >> "$WORK/$c/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
timezone = 'UTC'
shared_buffers = 256MB
max_wal_size = 4GB
synchronous_commit = off
jit = off
EOF
done
cat >> "$WORK/source/postgresql.conf" <<EOF
port = $SRC_PORT
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
# PostgreSQL 15.20+ loads only the output plugins listed here.
output_plugin_libraries = 'pgoutput, test_decoding, walstar_decoder'
EOF
cat >> "$WORK/analytics/postgresql.conf" <<EOF
port = $ANA_PORT
shared_preload_libraries = 'walstar'
max_worker_processes = 16
EOF
pg_ctl -D "$WORK/source" -l "$WORK/source.log" -w start >/dev/null
pg_ctl -D "$WORK/analytics" -l "$WORK/analytics.log" -w start >/dev/null
if [ "$BROKERS" -gt 1 ]; then
	BROKER=$("$ROOT/regress/kafka.sh" start-cluster "$WORK/kafka" "$BROKERS" | tail -1)
else
	BROKER=$("$ROOT/regress/kafka.sh" start "$WORK/kafka" | tail -1)
fi
echo "source cluster 127.0.0.1:$SRC_PORT, analytics cluster 127.0.0.1:$ANA_PORT, Kafka $BROKER"

src() { db=$1; shift; psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$SRC_PORT" -U postgres -d "acme_$db" "$@"; }
ana() { psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$ANA_PORT" -U postgres -d analytics "$@"; }

say "source databases with a history of $CLAIMS claims, $CUSTOMERS customers, $FEEDBACK feedback"
for s in $SERVICES; do
	createdb -h "$WORK" -p "$SRC_PORT" -U postgres "acme_$s"
	awk -v db="acme_$s" '/^-- \\connect /{on=($3==db)} on' "$ROOT/demo/acme_sources.sql" | src "$s"
done
t=$(now)
src customers -v customers="$CUSTOMERS" -f "$ROOT/demo/history_customers.sql" >/dev/null
src claims -v claims="$CLAIMS" -v customers="$CUSTOMERS" -f "$ROOT/demo/history_claims.sql" >/dev/null
src feedback -v feedback="$FEEDBACK" -v claims="$CLAIMS" -v customers="$CUSTOMERS" -f "$ROOT/demo/history_feedback.sql" >/dev/null
echo "loaded in $(calc "$(now) - $t") s"

say "analytics database: walstar + walstar_claims, one subscription per service"
echo "CREATE EXTENSION walstar_claims CASCADE; SELECT walstar_claims.attach('acme'); walstar.create_subscription() x3"
createdb -h "$WORK" -p "$ANA_PORT" -U postgres analytics
ana -o /dev/null <<EOF
SET client_min_messages = warning;
CREATE EXTENSION walstar_claims CASCADE;
SELECT walstar_claims.attach('acme');
SELECT walstar.create_subscription('acme_customers', '$BROKER',
	topics => ARRAY['acme_customers.public.customers'], landing_schema => 'acme', enabled => true);
SELECT walstar.create_subscription('acme_claims', '$BROKER',
	topics => ARRAY['acme_claims.public.claims'], landing_schema => 'acme', enabled => true);
SELECT walstar.create_subscription('acme_feedback', '$BROKER',
	topics => ARRAY['acme_feedback.public.feedback'], landing_schema => 'acme', enabled => true);
EOF

say "one walstar-sink per service database (initial snapshot, then streaming)"
T_SNAP=$(now)
for s in $SERVICES; do
	mkdir -p "$WORK/sink_$s"
	walstar-sink --conninfo="host=$WORK port=$SRC_PORT dbname=acme_$s user=postgres" \
		--brokers="$BROKER" --slot="walstar_$s" --topic-prefix="acme_$s" \
		--state-dir="$WORK/sink_$s" --status-interval=1 \
		--include-tables="public.$s" >> "$WORK/sink_$s.log" 2>&1 &
	SINK_PIDS="$SINK_PIDS $!"
done

# Caught up: every landing table has the source's row count and checksum
# of (id, updated_at / created_at), and the Kafka lag is zero.
fingerprint() {
	case $1 in
	customers) echo "SELECT count(*) || ':' || coalesce(sum(hashtext(id || ':' || country_code || updated_at::text)), 0) FROM" ;;
	claims) echo "SELECT count(*) || ':' || coalesce(sum(hashtext(id || ':' || amount::text || status::text || is_anomaly::text || coalesce(resolved_at::text, '') || updated_at::text)), 0) FROM" ;;
	feedback) echo "SELECT count(*) || ':' || coalesce(sum(hashtext(id || ':' || claim_id || ':' || rating || coalesce(sentiment::text, ''))), 0) FROM" ;;
	esac
}
wait_caught_up() {
	deadline=$(( $(date +%s) + $1 ))
	while :; do
		behind=""
		for s in $SERVICES; do
			a=$(src "$s" -At -c "$(fingerprint "$s") $s")
			b=$(ana -At -c "$(fingerprint "$s") acme.$s")
			[ "$a" = "$b" ] || behind="$behind $s($b/$a)"
		done
		[ -z "$behind" ] && return 0
		for p in $SINK_PIDS; do
			kill -0 "$p" 2>/dev/null || { echo "a sink exited; see $WORK/sink_*.log" >&2; tail -5 "$WORK"/sink_*.log >&2; return 1; }
		done
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "not caught up after $1 s:$behind" >&2
			ana -c "SELECT subscription, topic, offset_applied, lag_messages, worker_state, last_error FROM walstar.subscription_status" >&2
			return 1
		fi
		sleep 1
	done
}
wait_caught_up $(( 300 + CLAIMS / 500 ))
T_SNAPPED=$(now)
SNAP_ROWS=$(ana -At -c "SELECT (SELECT count(*) FROM acme.customers) + (SELECT count(*) FROM acme.claims) + (SELECT count(*) FROM acme.feedback)")
SNAP_S=$(calc "$T_SNAPPED - $T_SNAP")
echo "history through the pipeline (snapshot, Kafka, apply, model): $SNAP_ROWS rows in $SNAP_S s, $(calc "$SNAP_ROWS / $SNAP_S") rows/s"

say "workload: pgbench on the three services for $SECONDS_RUN s (about $(( RATE * 28 / 15 )) transactions/s in all)"
W=$ROOT/demo/workload
bench() {
	s=$1; rate=$2; shift 2
	pgbench -n -h "$WORK" -p "$SRC_PORT" -U postgres -T "$SECONDS_RUN" -R "$rate" -c 2 -j 1 \
		-D customers="$CUSTOMERS" -D claims="$CLAIMS" -D feedback="$FEEDBACK" \
		"$@" "acme_$s" > "$WORK/pgbench_$s.log" 2>&1
}
bench customers $(( RATE / 5 )) -f "$W/customers_new.sql@8" -f "$W/customers_move.sql@3" \
	-f "$W/customers_edit.sql@8" -f "$W/customers_delete.sql@1" &
BENCH_PIDS="$BENCH_PIDS $!"
bench claims "$RATE" -f "$W/claims_new.sql@10" -f "$W/claims_review.sql@4" -f "$W/claims_flag.sql@2" \
	-f "$W/claims_resolve.sql@5" -f "$W/claims_reopen.sql@1" -f "$W/claims_delete.sql@1" &
BENCH_PIDS="$BENCH_PIDS $!"
bench feedback $(( RATE * 2 / 3 )) -f "$W/feedback_new.sql@10" -f "$W/feedback_delete.sql@1" &
BENCH_PIDS="$BENCH_PIDS $!"
T_W=$(now)
i=0
while [ $i -lt "$SECONDS_RUN" ]; do
	sleep 10
	i=$((i + 10))
	ana -At -F ' ' -c "SELECT 'after ${i}s: lag ' || coalesce(round(max(lag_seconds)::numeric, 1), 0) || ' s, '
		|| coalesce(sum(lag_messages), 0) || ' messages behind, applying '
		|| coalesce(round(sum(messages_per_second)::numeric), 0) || ' changes/s'
		FROM walstar.subscription_status" || true
done
for p in $BENCH_PIDS; do wait "$p" || { echo "pgbench failed:" >&2; cat "$WORK"/pgbench_*.log >&2; exit 1; }; done
BENCH_PIDS=""
T_WEND=$(now)
wait_caught_up 300
T_CAUGHT=$(now)
for s in $SERVICES; do
	printf '%-10s %s\n' "$s" "$(grep -E '^tps' "$WORK/pgbench_$s.log" | head -1)"
done
echo "caught up $(calc "$T_CAUGHT - $T_WEND") s after the workload stopped"

say "the five questions (walstar_claims metric functions, from the rollups and, for percentiles, the facts)"
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

say "checks"
ana -At -c "SELECT CASE WHEN count(*) = 0 THEN 'verify(): the model agrees with a full recomputation over the landing tables'
	ELSE 'verify(): ' || count(*) || ' differences!' END FROM walstar_claims.verify()"
# Claims-only metrics straight from the source database.
want=$(src claims -At -c "SELECT count(*) || ' ' || min(amount) || ' ' || max(amount) || ' ' || avg(amount) FROM claims")
got=$(ana -At -c "SELECT claims || ' ' || min_amount || ' ' || max_amount || ' ' || avg_amount FROM walstar_claims.claim_amount_stats()")
if [ "$want" = "$got" ]; then
	echo "count, min, max, avg of claims equal plain SQL on acme_claims: $got"
else
	echo "MISMATCH with acme_claims: source $want, model $got" >&2
	exit 1
fi
want=$(src feedback -At -c "SELECT count(*) FROM feedback WHERE coalesce(sentiment::text, CASE WHEN rating >= 4 THEN 'positive' WHEN rating = 3 THEN 'neutral' ELSE 'negative' END) = 'positive'")
got=$(ana -At -c "SELECT walstar_claims.positive_feedback_count()")
[ "$want" = "$got" ] && echo "positive feedback equals plain SQL on acme_feedback: $got" || { echo "MISMATCH positive feedback: $want vs $got" >&2; exit 1; }

say "query more"
cat <<EOF
Connect to the analytics database while it runs (DEMO_KEEP=1 demo/run.sh keeps it up):
  psql -h $WORK -p $ANA_PORT -U postgres analytics
  SELECT walstar_claims.total_claims('2024-01-01', '2025-01-01', 'DE');   -- [from, to), country
  SELECT * FROM walstar_claims.claim_amount_stats(2024, 'FR');            -- per year, country
  SELECT * FROM walstar_claims.anomaly_feedback_sentiment(2023, 2025, 'ES');
  SELECT * FROM walstar_claims.anomaly_resolution_time(2025);
  \\df+ walstar_claims.*          -- every metric's exact semantics is its COMMENT
  SELECT * FROM walstar.subscription_status;                             -- pipeline progress
  The star schema (generated by walstar.create_model): claims.f_claim, f_feedback, d_customer (SCD2), r_* rollups.
EOF
printf '\ndemo finished in %s s\n' "$(calc "$(now) - $T0")"
