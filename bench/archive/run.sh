#!/bin/bash
# walstar-archive benchmark: changes/s, MB/s and objects per minute from a
# Kafka backlog into the object store, beside the sink's rate on the same
# backlog.
#
#   bench/archive/run.sh [rows]     (default 800000: about 1M changes)
#
# A throwaway cluster, a Kafka broker (Kafka's default flush policy) and
# the test bed's object store (regress/s3.sh, SeaweedFS, on the same two
# cores) under bench/results/archive/. The workload is the sink
# benchmark's (bench/sink/run.sh): <rows> inserts in 1000-row
# transactions into a 10-column mixed-type table, updates of 20%, deletes
# of 5%.
#  1. the sink drains the slot's backlog into Kafka (timed: slot confirmed
#     to the end), as in bench/sink;
#  2. walstar-archive drains the topic's backlog into objects (timed from
#     the partitions' assignment to every partition's committed offset at
#     its end), default settings (zstd 3,
#     objects of at most 1M records / 64 MiB) but object-max-age=1;
#  3. the same with small objects (object-max-records=20000): the cost per
#     object (PUT, MD5, two commits).
# Needs walstar_decoder, walstar-sink and walstar-archive installed (make
# install) and make deps (SeaweedFS). Under root everything runs as the
# postgres OS user.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROWS=${1:-800000}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BINDIR=$($PG_CONFIG --bindir)
RESULTS=${WALSTAR_BENCH_DIR:-$ROOT/bench/results/archive}
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
SDIR="$RESULTS/s3"
mkdir -p "$RESULTS"

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
PORT=$(bench_port 55500)

ARCHIVE_PID=""
cleanup() {
	stop_sink
	bench_stop_cluster "$DATA"
	if [ -n "$ARCHIVE_PID" ]; then
		kill "$ARCHIVE_PID" 2>/dev/null || true
		wait "$ARCHIVE_PID" 2>/dev/null || true
	fi
	"$ROOT/regress/kafka.sh" stop "$KDIR" >/dev/null 2>&1 || true
	"$ROOT/regress/s3.sh" stop "$SDIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

rm -rf "$KDIR" "$SDIR" "$RESULTS/state" "$RESULTS"/*.log
bench_cluster "$DATA" "$PORT" 4 'pgoutput, test_decoding, walstar_decoder'
bench_broker "$KDIR"
ENDPOINT=$("$ROOT/regress/s3.sh" start "$SDIR" | tail -1)

$PSQL -c "$BENCH_TABLE"
$PSQL -c "SELECT 'x' FROM pg_create_logical_replication_slot('bench_sink', 'walstar_decoder')" >/dev/null


LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
CHANGES=$((ROWS + ROWS / 5 + ROWS / 20))
echo "load average at the start: $LOAD"
echo "1. sink: writing the backlog ($ROWS inserts, $((ROWS / 5)) updates, $((ROWS / 20)) deletes) ..."
bench_workload 1 "$ROWS" | $PSQL
$PSQL -c "CHECKPOINT"
END=$($PSQL -c "SELECT pg_current_wal_lsn()")
t0=$(date +%s.%N)
start_sink
wait_confirmed "$END"
t1=$(date +%s.%N)
SINK_CPU=$(cpu_of "$SINK_PID")
stop_sink
WALL=$(echo "$t1 - $t0" | bc)
echo "   sink: $CHANGES changes into Kafka in $WALL s: $(echo "$CHANGES / $WALL" | bc) changes/s (sink CPU $SINK_CPU s)"

export AWS_ACCESS_KEY_ID=walstar-access AWS_SECRET_ACCESS_KEY=walstar-secret-key
ARGS="--brokers=$BOOTSTRAP --s3-endpoint=$ENDPOINT --s3-bucket=walstar-lake --topics=walstar.public.bench"

# every partition's committed offset at its end offset
caught_up() {
	walstar-archive status $ARGS --group-id="$1" 2>/dev/null | awk -v b="$BOOTSTRAP" '
		{ split($0, f, /[ =]/); topic = f[2]; part = f[4]; committed = f[6];
		  cmd = "kcat -Q -b " b " -t " topic ":" part ":-1"; cmd | getline line; close(cmd);
		  n = split(line, w, " "); if (committed < w[n]) behind = 1; seen = 1 }
		END { exit (seen && !behind) ? 0 : 1 }'
}

run_archive() {
	local name=$1
	shift
	local broker_pid weed_pid broker0 weed0
	broker_pid=$(cat "$KDIR/broker.pid")
	weed_pid=$(cat "$SDIR/weed.pid")
	broker0=$(cpu_of "$broker_pid")
	weed0=$(cpu_of "$weed_pid")
	walstar-archive run $ARGS --group-id="$name" --log-timestamps=false "$@" >"$RESULTS/archive_$name.log" 2>&1 &
	ARCHIVE_PID=$!
	local t0 t1
	# timed from the partitions' assignment (the group join before it takes
	# seconds and does not depend on the backlog)
	until grep -q 'msg="assigned"' "$RESULTS/archive_$name.log"; do
		kill -0 "$ARCHIVE_PID" || { echo "the archive died:" >&2; tail -5 "$RESULTS/archive_$name.log" >&2; exit 1; }
		sleep 0.05
	done
	t0=$(date +%s.%N)
	until caught_up "$name"; do
		kill -0 "$ARCHIVE_PID" || { echo "the archive died:" >&2; tail -5 "$RESULTS/archive_$name.log" >&2; exit 1; }
		sleep 0.2
	done
	t1=$(date +%s.%N)
	local cpu broker_cpu weed_cpu
	cpu=$(cpu_of "$ARCHIVE_PID")
	broker_cpu=$(echo "$(cpu_of "$broker_pid") - $broker0" | bc)
	weed_cpu=$(echo "$(cpu_of "$weed_pid") - $weed0" | bc)
	kill -TERM "$ARCHIVE_PID"
	wait "$ARCHIVE_PID" || true
	ARCHIVE_PID=""
	local wall objects bytes compressed
	wall=$(echo "$t1 - $t0" | bc)
	objects=$(grep -c 'msg="object stored"' "$RESULTS/archive_$name.log")
	bytes=$(sed -n 's/.* bytes=\([0-9]*\) compressed=.*/\1/p' "$RESULTS/archive_$name.log" | paste -sd+ | bc)
	compressed=$(sed -n 's/.* compressed=\([0-9]*\) .*/\1/p' "$RESULTS/archive_$name.log" | paste -sd+ | bc)
	echo "   archive ($name $*): $CHANGES changes in $wall s: $(echo "$CHANGES / $wall" | bc) changes/s," \
		"$(echo "scale=1; $bytes / 1000000 / $wall" | bc) MB/s of records ($(echo "scale=1; $bytes / 1000000" | bc) MB," \
		"$(echo "scale=1; $compressed / 1000000" | bc) MB stored), $objects objects =" \
		"$(echo "scale=0; $objects * 60 / $wall" | bc) objects/min; archive CPU $cpu s" \
		"= $(echo "scale=0; $CHANGES / $cpu" | bc) changes per CPU second; meanwhile CPU s broker $broker_cpu," \
		"object store $weed_cpu (status polls included)"
}

# object-max-age=1: the last, partial object of each partition is cut a
# second after the backlog ends instead of after the default minute
echo "2. archive, default settings (but object-max-age=1) ..."
run_archive defaults --object-max-age=1
echo "3. archive, small objects ..."
run_archive small --object-max-age=1 --object-max-records=20000
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
