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

PORT=""
for p in $(seq 55500 55599); do
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		PORT=$p
		break
	fi
done 2>/dev/null
[ -n "$PORT" ] || { echo "no free port" >&2; exit 1; }

SINK_PID=""
cleanup() {
	if [ -n "$SINK_PID" ]; then
		kill "$SINK_PID" 2>/dev/null || true
		wait "$SINK_PID" 2>/dev/null || true
	fi
	if [ -f "$DATA/postmaster.pid" ]; then
		pg_ctl -D "$DATA" -m immediate stop >/dev/null 2>&1 || true
	fi
	"$ROOT/regress/kafka.sh" stop "$KDIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

rm -rf "$DATA" "$KDIR" "$RESULTS/state" "$RESULTS/sink.log"
initdb -D "$DATA" -A trust -E UTF8 --locale=C >/dev/null
{
	echo "listen_addresses = '127.0.0.1'"
	echo "port = $PORT"
	echo "unix_socket_directories = '$RESULTS'"
	echo "wal_level = logical"
	echo "max_replication_slots = 4"
	echo "max_wal_senders = 4"
	echo "shared_buffers = 512MB"
	echo "max_wal_size = 8GB"
	echo "checkpoint_timeout = 1h"
	echo "fsync = off"
	echo "synchronous_commit = off"
	echo "full_page_writes = off"
	echo "autovacuum = off"
	echo "output_plugin_libraries = 'pgoutput, test_decoding, walstar_decoder'"
} >> "$DATA/postgresql.conf"
pg_ctl -D "$DATA" -l "$RESULTS/server.log" -w start >/dev/null

# broker: the first start writes its config; drop the per-message fsync
"$ROOT/regress/kafka.sh" start "$KDIR" >/dev/null
"$ROOT/regress/kafka.sh" stop "$KDIR" >/dev/null
sed -i '/^log.flush.interval.messages/d' "$KDIR/server.properties"
BOOTSTRAP=$("$ROOT/regress/kafka.sh" start "$KDIR" | tail -1)

PGOPTIONS="-c client_min_messages=warning"
export PGOPTIONS
PSQL="psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $PORT -d postgres"
CONNINFO="host=127.0.0.1 port=$PORT dbname=postgres"

$PSQL -c "CREATE TABLE bench (
	id bigint PRIMARY KEY,
	qty int,
	amount numeric(12,2),
	score float8,
	active bool,
	name text,
	code varchar(32),
	created timestamptz,
	day date,
	ref uuid
)"
$PSQL -c "SELECT 'x' FROM pg_create_logical_replication_slot('bench_sink', 'walstar_decoder')" >/dev/null

# the decoder benchmark's statements for ids first..first+rows-1
workload() {
	local first=$1 rows=$2
	local last=$((first + rows - 1)) tx=1000 i
	i=$first
	while [ "$i" -le "$last" ]; do
		echo "INSERT INTO bench SELECT g, g % 1000, (g % 100000) / 100.0, g * 1.5, g % 2 = 0, 'name ' || g, 'code-' || (g % 977), timestamptz '2024-01-01 00:00+00' + g * interval '1 second', date '2024-01-01' + (g % 365), md5(g::text)::uuid FROM generate_series($i, $((i + tx - 1))) g;"
		i=$((i + tx))
	done
	i=$first
	while [ "$i" -le "$last" ]; do
		echo "UPDATE bench SET qty = qty + 1, name = name || '!', created = created + interval '1 day' WHERE id BETWEEN $i AND $((i + 5 * tx - 1)) AND id % 5 = 0;"
		i=$((i + 5 * tx))
	done
	i=$first
	while [ "$i" -le "$last" ]; do
		echo "DELETE FROM bench WHERE id BETWEEN $i AND $((i + 20 * tx - 1)) AND id % 20 = 1;"
		i=$((i + 20 * tx))
	done
}

# CPU seconds (user + system) of a process
cpu_of() {
	awk -v t="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / t }' "/proc/$1/stat"
}

start_sink() {
	${SINK_WRAPPER:-} walstar-sink --conninfo="$CONNINFO" --brokers="$BOOTSTRAP" --slot=bench_sink --create-slot=false \
		--snapshot=never --state-dir="$RESULTS/state" --topic-partitions="$PARTITIONS" \
		--status-interval=1 "$@" 2>>"$RESULTS/sink.log" &
	SINK_PID=$!
}

wait_confirmed() {
	while [ "$($PSQL -c "SELECT confirmed_flush_lsn >= '$1' FROM pg_replication_slots WHERE slot_name = 'bench_sink'")" != t ]; do
		kill -0 "$SINK_PID" || { echo "the sink died:" >&2; tail -5 "$RESULTS/sink.log" >&2; exit 1; }
		sleep 0.1
	done
}

stop_sink() {
	kill -TERM "$SINK_PID"
	wait "$SINK_PID" || true
	SINK_PID=""
}

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
CHANGES=$((ROWS + ROWS / 5 + ROWS / 20))
echo "1. throughput: writing the backlog ($ROWS inserts, $((ROWS / 5)) updates, $((ROWS / 20)) deletes) ..."
workload 1 "$ROWS" | $PSQL
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
workload $((ROWS + 1)) "$LIVE_ROWS" | $PSQL
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
