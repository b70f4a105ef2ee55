#!/bin/sh
# A walstar demo, end to end (make demo runs it after build + install), for one
# of three models (demo/<model>.sh holds what is particular to each):
#
#   claims    (default) the Acme insurance claims: acme_customers, acme_claims,
#             acme_feedback (demo/acme_sources.sql), model walstar_claims
#   booking   the booking funnel: booking_users, booking_journey, booking_orders
#             (demo/booking/), model walstar_booking
#   ratings   the player ratings: ratings_clubs, ratings_matches (demo/ratings/),
#             model walstar_ratings
#
#   source cluster      one database per service of the scenario
#        │ one walstar-sink per database (initial snapshot, then streaming)
#   Kafka broker        topics <database>.public.<table>
#        │ walstar apply workers, one subscription per service
#   analytics cluster   landing tables, the model's star schema + metrics
#
# It loads a history, starts the pipeline, runs a pgbench workload on the
# services for DEMO_SECONDS (default 60), waits until the analytics side has
# caught up, prints the answers to the scenario's questions with lag and
# throughput, checks them against plain SQL over the sources (a difference
# fails the demo), and stops everything it started.
#
#   demo/run.sh [claims|booking|ratings]   the model (make demo MODEL=booking)
#   DEMO_CLAIMS=2000000 demo/run.sh     a bigger claims history (default 200000);
#                                       DEMO_SESSIONS (booking, default 20000) and
#                                       DEMO_MATCHES (ratings, default 400) likewise
#   DEMO_KEEP=1 demo/run.sh             leave everything running at the end
#                                       ($DEMO_WORK/stop.sh stops it; pipeline.env
#                                       says where it runs)
#   DEMO_WORK=dir                       where clusters, broker and logs live
#                                       (default .cache/demo)
#   DEMO_BROKERS=3 demo/run.sh          on a 3-node Kafka cluster (replication
#                                       factor 3, min.insync.replicas 2)
#   DEMO_RATE=n                         pgbench transactions/s on the busiest service
# As root, PostgreSQL runs as the postgres OS user (it refuses root).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODELS="claims booking ratings"
case "${1:-claims}" in
-h|--help)
	sed -n '2,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//;p}' "$0"
	exit 0 ;;
claims|booking|ratings) MODEL=${1:-claims} ;;
*)
	echo "demo: unknown model \"$1\"; the choices are: $MODELS (demo/run.sh --help)" >&2
	exit 2 ;;
esac
[ $# -le 1 ] || { echo "demo: one model at a time (demo/run.sh --help)" >&2; exit 2; }
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
SECONDS_RUN=${DEMO_SECONDS:-60}
BROKERS=${DEMO_BROKERS:-1}
case "$BROKERS" in ''|*[!0-9]*|0) echo "demo: DEMO_BROKERS must be a positive number" >&2; exit 1 ;; esac
if [ "$BROKERS" -gt 1 ]; then KAFKA_STOP=stop-cluster; else KAFKA_STOP=stop; fi
BINDIR=$($PG_CONFIG --bindir)
export PATH="$BINDIR:$ROOT/sink:$PATH"

say() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.1f\", $* }"; }
free_port() {
	perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1) or die; print $s->sockport'
}
# A service's short name: acme_claims -> claims, booking_users -> users.
short() { echo "${1#*_}"; }

# The model: SERVICES (its source databases), LANDING (the landing schema),
# SOURCES (the scenario's DDL), BENCH_VARS (pgbench -D options), SIZES
# (pipeline.env line), HISTORY (heading), ATTACH_EARLY, and the functions tables,
# fingerprint, model_history, model_prepare, model_attach, model_workload,
# model_answers, model_checks, model_query_more.
# Row count and checksum of a table (t), whole rows unless the model says
# otherwise.
fingerprint() { echo "SELECT count(*) || ':' || coalesce(sum(hashtext(t::text)), 0) FROM"; }
# shellcheck source=/dev/null
. "$ROOT/demo/$MODEL.sh"

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
			echo "$SIZES"
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

src() { psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$SRC_PORT" -U postgres -d "$@"; }
ana() { psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$ANA_PORT" -U postgres -d analytics "$@"; }

say "source databases with a history of $HISTORY"
for db in $SERVICES; do
	createdb -h "$WORK" -p "$SRC_PORT" -U postgres "$db"
	"$ROOT/demo/scenario_section.pl" "$SOURCES" "$db" | src "$db"
done
t=$(now)
model_history
echo "loaded in $(calc "$(now) - $t") s"

say "analytics database: walstar + $EXTENSION, one subscription per service"
echo "$ATTACH_LINE"
createdb -h "$WORK" -p "$ANA_PORT" -U postgres analytics
{
	echo "SET client_min_messages = warning;"
	model_prepare
	for db in $SERVICES; do
		topics=""
		for t in $(tables "$db"); do topics="$topics${topics:+, }'$db.public.$t'"; done
		echo "SELECT walstar.create_subscription('$db', '$BROKER',
	topics => ARRAY[$topics], landing_schema => '$LANDING', enabled => true);"
	done
} | ana -o /dev/null

say "one walstar-sink per service database (initial snapshot, then streaming)"
T_SNAP=$(now)
for db in $SERVICES; do
	s=$(short "$db")
	include=""
	for t in $(tables "$db"); do include="$include${include:+,}public.$t"; done
	mkdir -p "$WORK/sink_$s"
	walstar-sink --conninfo="host=$WORK port=$SRC_PORT dbname=$db user=postgres" \
		--brokers="$BROKER" --slot="walstar_$s" --topic-prefix="$db" \
		--state-dir="$WORK/sink_$s" --status-interval=1 \
		--include-tables="$include" >> "$WORK/sink_$s.log" 2>&1 &
	SINK_PIDS="$SINK_PIDS $!"
done

# Caught up: every landing table has its source table's row count and
# checksum (fingerprint), and the Kafka lag is zero.
wait_caught_up() {
	deadline=$(( $(date +%s) + $1 ))
	while :; do
		behind=""
		for db in $SERVICES; do
			for t in $(tables "$db"); do
				a=$(src "$db" -At -c "$(fingerprint "$t") $t AS t")
				# (a landing table the apply worker has not created yet: behind)
				b=$(ana -At -c "$(fingerprint "$t") $LANDING.$t AS t" 2>/dev/null) || b=none
				[ "$a" = "$b" ] || behind="$behind $t($b/$a)"
			done
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
wait_caught_up $(( 300 + HISTORY_ROWS / 1000 ))
if [ -z "${ATTACH_EARLY:-}" ]; then
	t=$(now)
	model_attach | ana -o /dev/null
	echo "$EXTENSION.attach('$LANDING'): the model built from the landed history in $(calc "$(now) - $t") s"
fi
T_SNAPPED=$(now)
SNAP_ROWS=0
for db in $SERVICES; do
	for t in $(tables "$db"); do SNAP_ROWS=$(( SNAP_ROWS + $(ana -At -c "SELECT count(*) FROM $LANDING.$t") )); done
done
SNAP_S=$(calc "$T_SNAPPED - $T_SNAP")
echo "history through the pipeline (snapshot, Kafka, apply, model): $SNAP_ROWS rows in $SNAP_S s, $(calc "$SNAP_ROWS / $SNAP_S") rows/s"

# One pgbench per service database, at RATE transactions/s, with the
# model's BENCH_VARS; its output in pgbench_<service>.log.
bench() {
	db=$1; rate=$2; shift 2
	# shellcheck disable=SC2086
	pgbench -n -h "$WORK" -p "$SRC_PORT" -U postgres -T "$SECONDS_RUN" -R "$rate" -c 2 -j 1 \
		$BENCH_VARS "$@" "$db" > "$WORK/pgbench_$(short "$db").log" 2>&1 &
	BENCH_PIDS="$BENCH_PIDS $!"
}
model_workload
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
for db in $SERVICES; do
	s=$(short "$db")
	printf '%-10s %s\n' "$s" "$(grep -E '^tps' "$WORK/pgbench_$s.log" | head -1)"
done
echo "caught up $(calc "$T_CAUGHT - $T_WEND") s after the workload stopped"

model_answers

say "checks"
# A check: the model's answer and plain SQL's are the same text, or the demo fails.
check() {
	label=$1; want=$2; got=$3
	if [ "$want" = "$got" ]; then
		echo "$label"
	else
		echo "MISMATCH: $label does not hold" >&2
		printf '%s\n' "$want" > "$WORK/check_want.txt"
		printf '%s\n' "$got" > "$WORK/check_got.txt"
		diff "$WORK/check_want.txt" "$WORK/check_got.txt" | head -20 >&2 || true
		exit 1
	fi
}
# Copies of source tables (database.table ...) into one database of the
# source cluster, enums as text (as they land), for the plain-SQL answers
# that join tables of several services.
copy_tables() {
	target=$1; shift
	createdb -h "$WORK" -p "$SRC_PORT" -U postgres "$target"
	for c in "$@"; do
		db=${c%%.*}; t=${c#*.}
		cols=$(src "$db" -At -c "SELECT string_agg(quote_ident(attname) || ' ' ||
			CASE WHEN t.typtype = 'e' THEN 'text' ELSE format_type(atttypid, atttypmod) END, ', ' ORDER BY attnum)
			FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
			WHERE attrelid = '$t'::regclass AND attnum > 0 AND NOT attisdropped")
		src "$target" -c "CREATE TABLE $t ($cols)"
		src "$db" -c "COPY $t TO STDOUT" | src "$target" -c "COPY $t FROM STDIN"
	done
}
# How many answer lines ('question | ...') each question has.
answer_counts() {
	printf '%s\n' "$1" | sed -n 's/ | .*//p' | sort | uniq -c |
		awk '{ s = s sep $2 " " $1; sep = ", "; n += $1 } END { print n " lines: " s }'
}
model_checks

say "query more"
if [ "$MODEL" = claims ]; then run=demo/run.sh; else run="demo/run.sh $MODEL"; fi
echo "Connect to the analytics database while it runs (DEMO_KEEP=1 $run keeps it up):"
echo "  psql -h $WORK -p $ANA_PORT -U postgres analytics"
model_query_more
printf '\ndemo finished in %s s\n' "$(calc "$(now) - $T0")"
