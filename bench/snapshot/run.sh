#!/bin/bash
# walstar-sink snapshot benchmark: rows/s of a copy to acknowledged Kafka
# messages, and the WAL the slot retains meanwhile, for the one-shot COPY
# (snapshot-chunk-size = 0, the default) and the chunked copy while
# streaming (snapshot-chunk-size = N, sink/README.md "Chunked copy of
# keyed tables"), each as the initial copy of a new slot and on demand
# (walstar-sink snapshot --table) of the same table:
#
#   1. initial, one-shot (exported snapshot, before streaming)
#   2. on demand, one-shot (streaming pauses, temporary slot's snapshot)
#   3. on demand, chunked (the sink restarted with snapshot-chunk-size=N)
#   4. initial, chunked (slot and state dropped, a new sink with N)
#
#   bench/snapshot/run.sh [rows] [writer_tps] [chunk_size]
#                                     (defaults 2000000, 1000 and 50000)
#
# A throwaway cluster and a Kafka broker (regress/kafka.sh, Kafka's default
# flush policy) under bench/results/snapshot/.  The table is the sink
# benchmark's 10-column mixed-type table.  While the copies run, pgbench
# updates another table at writer_tps (one row per transaction) so that
# the server writes WAL the slot has to keep; every 0.5 s we sample
# pg_current_wal_lsn() - restart_lsn and - confirmed_flush_lsn of the
# sink's slot and report the maxima.  rows/s is the rows copied (the
# initial copies take the writer's 10,000-row table too) over the time
# from the sink's line starting the copy to its "complete and
# acknowledged" line.
# Needs walstar_decoder and walstar-sink installed (make install). Under
# root everything runs as the postgres OS user.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROWS=${1:-2000000}
TPS=${2:-1000}
CHUNK=${3:-50000}
CHURN=10000
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BINDIR=$($PG_CONFIG --bindir)
RESULTS=${WALSTAR_BENCH_DIR:-$ROOT/bench/results/snapshot}
RUN_USER=${WALSTAR_TEST_USER:-postgres}

if [ "$(id -u)" = 0 ]; then
	mkdir -p "$RESULTS"
	chown "$RUN_USER" "$RESULTS"
	exec runuser -u "$RUN_USER" -- env WALSTAR_BENCH_DIR="$RESULTS" PG_CONFIG="$PG_CONFIG" "$0" "$@"
fi

PATH="$BINDIR:$PATH"
export PATH
DATA="$RESULTS/data"
KDIR="$RESULTS/kafka"
LOG="$RESULTS/sink1.log"
mkdir -p "$RESULTS"

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
PORT=$(bench_port 55600)

BENCH_PID=""
cleanup() {
	for pid in $SINK_PID $BENCH_PID; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	bench_stop_cluster "$DATA"
	"$ROOT/regress/kafka.sh" stop "$KDIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

rm -rf "$KDIR" "$RESULTS/state" "$RESULTS"/sink*.log "$RESULTS/request.log"
bench_cluster "$DATA" "$PORT" 4 'pgoutput, test_decoding, walstar_decoder'
bench_broker "$KDIR"
SINK_ARGS=(--conninfo="$CONNINFO" --brokers="$BOOTSTRAP" --slot=bench_snap --state-dir="$RESULTS/state"
	--include-tables=public.bench,public.churn --topic-partitions=3 --status-interval=1)

$PSQL <<SQL
$BENCH_TABLE;
$BENCH_INSERT(1, $ROWS) g;
CREATE TABLE churn (id int PRIMARY KEY, n int NOT NULL, pad text);
INSERT INTO churn SELECT g, 0, repeat('p', 200) FROM generate_series(1, $CHURN) g;
VACUUM ANALYZE;
CHECKPOINT;
SQL
echo "\\set id random(1, $CHURN)
UPDATE churn SET n = n + 1 WHERE id = :id;" > "$RESULTS/churn.sql"

writer() {
	pgbench -n -h 127.0.0.1 -p "$PORT" -R "$TPS" -T 3600 -c 1 -f "$RESULTS/churn.sql" postgres \
		>"$RESULTS/pgbench.log" 2>&1 &
	BENCH_PID=$!
}

# seconds between two log lines (ISO timestamps), from line patterns
secs_between() {
	local a b
	a=$(grep -m1 -E "$1" "$LOG" | cut -d' ' -f1)
	b=$(grep -E "$2" "$LOG" | tail -1 | cut -d' ' -f1)
	echo "$(date -d "$b" +%s.%N) - $(date -d "$a" +%s.%N)" | bc
}

# max retained WAL (MB) of the slot until the log matches $1: from
# restart_lsn and from confirmed_flush_lsn
sample_until() {
	local max_r=0 max_c=0 r c
	while ! grep -qE "$1" "$LOG"; do
		kill -0 "$SINK_PID" || { echo "the sink died:" >&2; tail -5 "$LOG" >&2; exit 1; }
		read -r r c <<<"$($PSQL -F' ' -c "SELECT coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint / 1048576,
			coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint / 1048576
			FROM pg_replication_slots WHERE slot_name = 'bench_snap'")"
		[ "${r:-0}" -gt "$max_r" ] && max_r=$r
		[ "${c:-0}" -gt "$max_c" ] && max_c=$c
		sleep 0.5
	done
	echo "$max_r $max_c"
}

start_sink() {
	walstar-sink "${SINK_ARGS[@]}" "$@" 2>>"$LOG" &
	SINK_PID=$!
	while ! grep -q 'msg="streaming"' "$LOG"; do
		kill -0 "$SINK_PID" || { echo "the sink died:" >&2; tail -5 "$LOG" >&2; exit 1; }
		sleep 0.2
	done
}

stop_sink() {
	kill "$SINK_PID"
	wait "$SINK_PID" || true
	SINK_PID=""
}

# report <label> <rows> <start pattern> <end pattern> <max_restart max_confirmed>
report() {
	local secs
	secs=$(secs_between "$3" "$4")
	set -- "$1" "$2" "$secs" $5
	echo "   $1: $2 rows in $3 s: $(echo "$2 / $3" | bc) rows/s; slot retained at most $4 MB (restart_lsn), $5 MB (confirmed_flush_lsn)"
}

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
echo "writer: $TPS tps on another table; chunk size $CHUNK"
writer

echo "1. initial copy, one-shot"
walstar-sink "${SINK_ARGS[@]}" 2>>"$LOG" &
SINK_PID=$!
MAX=$(sample_until 'msg="initial copy complete and acknowledged"')
report "initial, one-shot" $((ROWS + CHURN)) 'msg="initial copy started"' \
	'msg="initial copy complete and acknowledged"' "$MAX"

echo "2. on-demand copy of the same table while streaming, one-shot"
while ! grep -q 'msg="streaming"' "$LOG"; do sleep 0.2; done
sleep 3
walstar-sink snapshot --table=public.bench "${SINK_ARGS[@]}" 2>>"$RESULTS/request.log"
MAX=$(sample_until 'msg="copy complete and acknowledged; streaming resumes"')
report "on demand, one-shot" "$ROWS" 'msg="copy requested; streaming pauses' \
	'msg="copy complete and acknowledged; streaming resumes"' "$MAX"
sleep 5
IDLE=$($PSQL -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint / 1048576 FROM pg_replication_slots WHERE slot_name = 'bench_snap'")
echo "   5 s after streaming resumed: $IDLE MB retained"
stop_sink

echo "3. on-demand copy of the same table while streaming, chunked ($CHUNK rows)"
LOG="$RESULTS/sink3.log"
start_sink --snapshot-chunk-size="$CHUNK"
sleep 3
walstar-sink snapshot --table=public.bench "${SINK_ARGS[@]}" --snapshot-chunk-size="$CHUNK" \
	2>>"$RESULTS/request.log"
MAX=$(sample_until 'msg="chunked copy complete and acknowledged"')
report "on demand, chunked" "$ROWS" 'msg="chunked copy planned' \
	'msg="chunked copy complete and acknowledged"' "$MAX"
stop_sink

echo "4. initial copy of a new slot, chunked ($CHUNK rows)"
$PSQL -c "SELECT pg_drop_replication_slot('bench_snap')" >/dev/null
rm -rf "$RESULTS/state"
LOG="$RESULTS/sink4.log"
walstar-sink "${SINK_ARGS[@]}" --snapshot-chunk-size="$CHUNK" 2>>"$LOG" &
SINK_PID=$!
MAX=$(sample_until 'msg="chunked copy complete and acknowledged"')
report "initial, chunked" $((ROWS + CHURN)) 'msg="chunked copy planned' \
	'msg="chunked copy complete and acknowledged"' "$MAX"
echo "load before: $LOAD; after: $(cut -d' ' -f1-3 /proc/loadavg)"
