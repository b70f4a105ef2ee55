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

PORT=""
for p in $(seq 55500 55599); do
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		PORT=$p
		break
	fi
done 2>/dev/null
[ -n "$PORT" ] || { echo "no free port" >&2; exit 1; }

SINK_PID=""
ARCHIVE_PID=""
cleanup() {
	if [ -n "$SINK_PID" ]; then
		kill "$SINK_PID" 2>/dev/null || true
		wait "$SINK_PID" 2>/dev/null || true
	fi
	if [ -f "$DATA/postmaster.pid" ]; then
		pg_ctl -D "$DATA" -m immediate stop >/dev/null 2>&1 || true
	fi
	if [ -n "$ARCHIVE_PID" ]; then
		kill "$ARCHIVE_PID" 2>/dev/null || true
		wait "$ARCHIVE_PID" 2>/dev/null || true
	fi
	"$ROOT/regress/kafka.sh" stop "$KDIR" >/dev/null 2>&1 || true
	"$ROOT/regress/s3.sh" stop "$SDIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

rm -rf "$DATA" "$KDIR" "$SDIR" "$RESULTS/state" "$RESULTS"/*.log
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
ENDPOINT=$("$ROOT/regress/s3.sh" start "$SDIR" | tail -1)

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
echo "load average at the start: $LOAD"
echo "1. sink: writing the backlog ($ROWS inserts, $((ROWS / 5)) updates, $((ROWS / 20)) deletes) ..."
workload 1 "$ROWS" | $PSQL
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
