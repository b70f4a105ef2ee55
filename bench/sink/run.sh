#!/bin/bash
# walstar-sink benchmark: changes/s from the slot to acknowledged Kafka
# messages, and commit-to-ack latency, on the decoder benchmark's workload.
#
#   bench/sink/run.sh [rows] [live_rows]   (defaults 800000 and 200000)
#
# A throwaway cluster and a Kafka broker (regress/kafka.sh, with the Kafka
# default flush policy: the test bed's fsync-per-message line is removed)
# under bench/results/sink/. The workload is the decoder benchmark's: <rows>
# inserts in 1000-row transactions into a 10-column mixed-type table, then
# updates of 20% and deletes of 5% of the rows in 1000-row transactions
# (about 1M changes for the default).
#  1. throughput: the workload is written with the slot in place and the
#     sink stopped; then the sink starts and we time until the slot is
#     confirmed up to the end (every change decoded, produced, acknowledged).
#  2. latency: the sink runs while a smaller copy of the workload
#     (<live_rows> inserts + 20% updates + 5% deletes) is written as fast as
#     psql goes; the sink's exit line gives commit -> ack p50/p99 (source
#     commit timestamp to the acknowledgement of the transaction's last
#     message; includes any queueing behind the writer).
# Needs walstar_decoder and walstar-sink installed (make install). Under root
# everything runs as the postgres OS user.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROWS=${1:-800000}
LIVE_ROWS=${2:-200000}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BINDIR=$($PG_CONFIG --bindir)
RESULTS=${WALSTAR_BENCH_DIR:-$ROOT/bench/results/sink}
RUN_USER=${WALSTAR_TEST_USER:-postgres}
PARTITIONS=${PARTITIONS:-3}

if [ "$(id -u)" = 0 ]; then
	mkdir -p "$RESULTS"
	chown "$RUN_USER" "$RESULTS"
	exec runuser -u "$RUN_USER" -- env WALSTAR_BENCH_DIR="$RESULTS" PG_CONFIG="$PG_CONFIG" \
		PARTITIONS="$PARTITIONS" "$0" "$@"
fi

PATH="$BINDIR:$PATH"
export PATH
DATA="$RESULTS/data"
KDIR="$RESULTS/kafka"
mkdir -p "$RESULTS"

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
PORT=$(bench_port 55500)

cleanup() {
	stop_sink
	bench_stop_cluster "$DATA"
	"$ROOT/regress/kafka.sh" stop "$KDIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

rm -rf "$KDIR" "$RESULTS/state" "$RESULTS/sink.log"
bench_cluster "$DATA" "$PORT" 4 'pgoutput, test_decoding, walstar_decoder'
bench_broker "$KDIR"

$PSQL -c "$BENCH_TABLE"
$PSQL -c "SELECT 'x' FROM pg_create_logical_replication_slot('bench_sink', 'walstar_decoder')" >/dev/null

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
CHANGES=$((ROWS + ROWS / 5 + ROWS / 20))
echo "1. throughput: writing the backlog ($ROWS inserts, $((ROWS / 5)) updates, $((ROWS / 20)) deletes) ..."
bench_workload 1 "$ROWS" | $PSQL
$PSQL -c "CHECKPOINT"
END=$($PSQL -c "SELECT pg_current_wal_lsn()")
WAL=$($PSQL -c "SELECT pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) FROM pg_replication_slots")
echo "   backlog: $CHANGES changes, $WAL of WAL; starting the sink"
BROKER_PID=$(cat "$KDIR/broker.pid")
BROKER_CPU0=$(cpu_of "$BROKER_PID")
t0=$(date +%s.%N)
start_sink
wait_confirmed "$END"
t1=$(date +%s.%N)
SINK_CPU=$(cpu_of "$SINK_PID")
BROKER_CPU=$(echo "$(cpu_of "$BROKER_PID") - $BROKER_CPU0" | bc)
WALSENDER_PID=$($PSQL -c "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'bench_sink'")
WS_CPU=$(cpu_of "$WALSENDER_PID")
stop_sink
WALL=$(echo "$t1 - $t0" | bc)
RATE=$(echo "$CHANGES / $WALL" | bc)
echo "   $CHANGES changes confirmed in $WALL s: $RATE changes/s (CPU s: sink $SINK_CPU, walsender $WS_CPU, broker $BROKER_CPU)"

LIVE_CHANGES=$((LIVE_ROWS + LIVE_ROWS / 5 + LIVE_ROWS / 20))
echo "2. latency: live workload ($LIVE_CHANGES changes) with the sink running ..."
start_sink
sleep 2
t0=$(date +%s.%N)
bench_workload $((ROWS + 1)) "$LIVE_ROWS" | $PSQL
END=$($PSQL -c "SELECT pg_current_wal_lsn()")
t1=$(date +%s.%N)
wait_confirmed "$END"
t2=$(date +%s.%N)
stop_sink
SUMMARY=$(grep 'msg="stopped"' "$RESULTS/sink.log" | tail -1)
P50=$(echo "$SUMMARY" | sed -n 's/.*commit_latency_p50_ms=\([0-9.]*\).*/\1/p')
P99=$(echo "$SUMMARY" | sed -n 's/.*commit_latency_p99_ms=\([0-9.]*\).*/\1/p')
LIVE_RATE=$(echo "$LIVE_CHANGES / ($t2 - $t0)" | bc)
echo "   writer took $(echo "$t1 - $t0" | bc) s, everything confirmed $(echo "$t2 - $t0" | bc) s after its start ($LIVE_RATE changes/s)"
echo "   commit -> ack latency per transaction: p50 $P50 ms, p99 $P99 ms"

echo
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); $(postgres --version); librdkafka $(dpkg-query -W -f '${Version}' librdkafka1 2>/dev/null); load average at start: $LOAD"
echo
echo "| measure | value |"
echo "|---|---:|"
echo "| backlog: changes | $CHANGES |"
echo "| backlog: slot -> acknowledged, changes/s | $RATE |"
echo "| backlog: CPU s of sink / walsender (decoder) / Kafka broker | $SINK_CPU / $WS_CPU / $BROKER_CPU |"
echo "| backlog: changes per sink CPU second | $(echo "$CHANGES / $SINK_CPU" | bc) |"
echo "| live: changes | $LIVE_CHANGES |"
echo "| live: write -> all acknowledged, changes/s | $LIVE_RATE |"
echo "| live: commit -> ack p50 (ms) | $P50 |"
echo "| live: commit -> ack p99 (ms) | $P99 |"
