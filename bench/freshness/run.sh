#!/bin/sh
# Freshness through the whole pipeline: how long a committed change takes to
# show in a metric, and whether the applied rate keeps up, at several offered
# rates (issue "Models by declaration", the table in its "Why").
#
#   bench/freshness/run.sh                      rates 1000 4000 5000 20000
#   FRESH_RATES="2000 8000" FRESH_SECONDS=30 bench/freshness/run.sh
#
# 1. The demo's pipeline (demo/run.sh with DEMO_KEEP=1): three service
#    databases with a history of FRESH_CLAIMS claims (default 100000), one
#    walstar-sink each, Kafka, three apply workers, walstar_claims attached.
# 2. A probe customer in country 'ZZ' (no other customer has it).
# 3. For each rate R (changes/s offered, split over the three services as in
#    the demo: claims 15/28, feedback 10/28, customers 3/28), pgbench runs the
#    demo's workload for FRESH_SECONDS (default 60) while probe.pl commits a
#    probe claim at most once a second and polls
#    walstar_claims.total_claims(NULL, NULL, 'ZZ') until it counts it:
#    commit -> metric p50/p99/max, the applied rate (messages/s, every
#    subscription), and the backlog (messages not applied) at start and end.
#    Then it waits (at most FRESH_DRAIN s, default 600) until the backlog is
#    applied before the next rate.
# One line per rate goes to stdout and bench/results/freshness-<date>.txt;
# bench/freshness/RESULTS.md records runs. As root, PostgreSQL runs as the
# postgres OS user (the demo handles that).
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RATES=${FRESH_RATES:-1000 4000 5000 20000}
SECONDS_RUN=${FRESH_SECONDS:-60}
DRAIN=${FRESH_DRAIN:-600}
WORK=${FRESH_WORK:-/var/tmp/walstar-bench-freshness}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
export PATH="$($PG_CONFIG --bindir):$PATH"
mkdir -p "$ROOT/bench/results"
OUT="$ROOT/bench/results/freshness-$(date -u +%Y%m%dT%H%M%S).txt"
USER_RUN=""
[ "$(id -u)" = 0 ] && USER_RUN="runuser -u postgres --"

mkdir -p "$WORK"
[ "$(id -u)" = 0 ] && chown postgres "$WORK"
cleanup() {
	[ -x "$WORK/stop.sh" ] && $USER_RUN "$WORK/stop.sh" >/dev/null 2>&1 || true
	rm -f "$WORK/stop.sh"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== the demo's pipeline ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
DEMO_CLAIMS=${FRESH_CLAIMS:-100000} DEMO_SECONDS=1 DEMO_KEEP=1 DEMO_WORK="$WORK" "$ROOT/demo/run.sh" > "$WORK/demo.out" 2>&1 ||
	{ tail -20 "$WORK/demo.out" >&2; exit 1; }
. "$WORK/pipeline.env"
SRC="host=$WORK port=$SRC_PORT user=postgres"
ANA="host=$WORK port=$ANA_PORT user=postgres dbname=analytics"
PROBE=900000000
$USER_RUN psql -X -q -d "$SRC dbname=acme_customers" -c "INSERT INTO customers (id, full_name, email, country_code, created_at, updated_at)
	VALUES ($PROBE, 'Probe', 'probe@example.invalid', 'ZZ', '2000-01-01', '2000-01-01')"
until [ "$($USER_RUN psql -X -At -d "$ANA" -c "SELECT count(*) FROM acme.customers WHERE id = $PROBE")" = 1 ]; do sleep 0.2; done

W=$ROOT/demo/workload
run_rate() {
	rate=$1
	bench() {
		s=$1; r=$2; shift 2
		[ "$r" -ge 1 ] || r=1
		$USER_RUN pgbench -n -h "$WORK" -p "$SRC_PORT" -U postgres -T "$SECONDS_RUN" -R "$r" -c 4 -j 2 \
			-D customers="$CUSTOMERS" -D claims="$CLAIMS" -D feedback="$FEEDBACK" "$@" "acme_$s" \
			> "$WORK/pgbench_${s}_$rate.log" 2>&1
	}
	bench claims $(( rate * 15 / 28 )) -f "$W/claims_new.sql@10" -f "$W/claims_review.sql@4" -f "$W/claims_flag.sql@2" \
		-f "$W/claims_resolve.sql@5" -f "$W/claims_reopen.sql@1" -f "$W/claims_delete.sql@1" &
	p1=$!
	bench feedback $(( rate * 10 / 28 )) -f "$W/feedback_new.sql@10" -f "$W/feedback_delete.sql@1" &
	p2=$!
	bench customers $(( rate * 3 / 28 )) -f "$W/customers_new.sql@8" -f "$W/customers_move.sql@3" \
		-f "$W/customers_edit.sql@8" -f "$W/customers_delete.sql@1" &
	p3=$!
	probe=$($USER_RUN "$ROOT/bench/freshness/probe.pl" "$SRC dbname=acme_claims" "$ANA" "$SECONDS_RUN" "$PROBE")
	wait $p1 $p2 $p3
	offered=0
	for s in claims feedback customers; do
		tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$WORK/pgbench_${s}_$rate.log" | head -1)
		offered=$(awk "BEGIN { printf \"%.0f\", $offered + ${tps:-0} }")
	done
	line="rate=$rate offered_tps=$offered $probe load=$(cut -d' ' -f1 /proc/loadavg)"
	echo "$line" | tee -a "$OUT"
	i=0
	while [ "$($USER_RUN psql -X -At -d "$ANA" -c "SELECT coalesce(sum(lag_messages), 0) FROM walstar.subscription_status")" != 0 ]; do
		i=$((i + 1))
		[ $i -le "$DRAIN" ] || { echo "rate=$rate: backlog not applied after $DRAIN s" | tee -a "$OUT"; break; }
		sleep 1
	done
	echo "rate=$rate drained_after_s=$i" | tee -a "$OUT"
}
echo "== $SECONDS_RUN s per rate; results in $OUT"
echo "commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown) history_claims=$CLAIMS" >> "$OUT"
for r in $RATES; do run_rate "$r"; done
