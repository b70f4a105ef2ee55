#!/bin/bash
# walstar-sink versus Debezium's PostgreSQL connector, side by side: the same
# source cluster, the same WAL, the same Kafka broker, one pipeline after the
# other, each into its own topics. One command; prints one table.
#
#   bench/debezium/run.sh
#
# Settings (environment):
#   BENCH_ROWS=800000        rows inserted; +20% updates +5% deletes = 1.25x changes
#   BENCH_WARMUP_ROWS=40000  rows of the warm-up run every pipeline drains first
#   BENCH_RATE=2000          offered rate of the latency run (changes/s)
#   BENCH_SECONDS=30         length of the latency run
#   BENCH_COMPRESSION=lz4    producer compression of both sides (none, lz4, ...)
#   BENCH_BATCH_BYTES=1048576 BENCH_LINGER_MS=5   producer batching, both sides
#   BENCH_PARTITIONS=1       partitions of every table topic, both sides
#   BENCH_PIPELINES="walstar dbz_pgoutput dbz_decoderbufs"
#   BENCH_KEEP=1             keep the cluster's and the broker's data afterwards
#   BENCH_BUILD=0            use walstar as already built and installed
#
# What it does (README.md explains the choices):
#   1. deps (regress/deps.sh), Debezium + Kafka Connect jars (fetch.sh),
#      make decoder sink (the decoder is loaded from the tree, or installed);
#   2. a source cluster and a Kafka broker of its own on 127.0.0.1, under
#      .cache/bench-debezium/run.*;
#   3. one replication slot per pipeline, created before any workload;
#   4. every pipeline started and warmed up on BENCH_WARMUP_ROWS, then frozen
#      (SIGSTOP) with its connection open;
#   5. the workload, committed once, while every pipeline is frozen;
#   6. per pipeline: thaw, time the backlog drain (until its table topic holds
#      every change), CPU of the pipeline process and of its walsender, then a
#      latency run at BENCH_RATE for BENCH_SECONDS read by a live consumer,
#      peak RSS, stop;
#   7. completeness of every table topic (count, sum and max of ids per
#      operation against the expected changes), bytes in Kafka per change;
#   8. the table, also saved in .cache/bench-debezium/last-results.txt.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BENCH_ROWS=${BENCH_ROWS:-800000}
BENCH_WARMUP_ROWS=${BENCH_WARMUP_ROWS:-40000}
BENCH_RATE=${BENCH_RATE:-2000}
BENCH_SECONDS=${BENCH_SECONDS:-30}
BENCH_COMPRESSION=${BENCH_COMPRESSION:-lz4}
BENCH_BATCH_BYTES=${BENCH_BATCH_BYTES:-1048576}
BENCH_LINGER_MS=${BENCH_LINGER_MS:-5}
BENCH_PARTITIONS=${BENCH_PARTITIONS:-1}
BENCH_PIPELINES=${BENCH_PIPELINES:-walstar dbz_pgoutput dbz_decoderbufs}
BENCH_DRAIN_TIMEOUT=${BENCH_DRAIN_TIMEOUT:-600}
BENCH_KEEP=${BENCH_KEEP:-0}
BENCH_BUILD=${BENCH_BUILD:-1}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
KAFKA_HOME=${KAFKA_HOME:-$ROOT/.cache/kafka}
DEBEZIUM_HOME=${DEBEZIUM_HOME:-$ROOT/.cache/debezium}
BENCH_HOME=$ROOT/.cache/bench-debezium
export KAFKA_HOME DEBEZIUM_HOME
# No AddressSanitizer preload (make asan-test) in a benchmark, least of all in JVMs.
unset LD_PRELOAD

say() { printf '%s bench: %s\n' "$(date -u +%T)" "$*" >&2; }
die() { say "error: $*"; exit 1; }
now_ms() { date +%s%3N; }

#
# 1. What the run needs.
#
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "installing what is missing (regress/deps.sh, bench/debezium/fetch.sh)"
"$ROOT/regress/deps.sh"
"$HERE/fetch.sh"
BINDIR=$("$PG_CONFIG" --bindir)

# walstar is benchmarked only once its sink exists in this tree.
pipelines=()
for p in $BENCH_PIPELINES; do
	if [ "$p" = walstar ] && [ ! -f "$ROOT/sink/Makefile" ]; then
		say "no sink/ in this tree yet: skipping walstar"
		continue
	fi
	pipelines+=("$p")
done
[ ${#pipelines[@]} -gt 0 ] || die "no pipeline to run"
# The source cluster loads walstar_decoder from the tree when its server can
# read it (dynamic_library_path): the run then installs nothing and replaces
# no one's installed build; otherwise make install puts it in place.
DECODER_DIR=""
if [[ " ${pipelines[*]} " == *" walstar "* ]]; then
	if [ "$BENCH_BUILD" = 1 ]; then
		# Only the two parts the benchmark runs (the top-level Makefile's
		# part targets), so work in progress elsewhere cannot stop it.
		say "building walstar's decoder and sink (make decoder sink)"
		make -s -C "$ROOT" decoder sink >/dev/null
		so=$ROOT/decoder/walstar_decoder.so
		if { [ "$(id -u)" = 0 ] && runuser -u postgres -- test -r "$so"; } ||
			{ [ "$(id -u)" != 0 ] && [ -r "$so" ]; }; then
			DECODER_DIR=$ROOT/decoder
		else
			say "installing walstar_decoder (make -C decoder install)"
			make -s -C "$ROOT/decoder" install >/dev/null
		fi
	fi
	SINK_BIN=$ROOT/sink/walstar-sink
	[ -x "$SINK_BIN" ] || SINK_BIN=$BINDIR/walstar-sink
	[ -x "$SINK_BIN" ] || die "no walstar-sink (build it: make && make install)"
	[ -n "$DECODER_DIR" ] || [ -f "$("$PG_CONFIG" --pkglibdir)/walstar_decoder.so" ] ||
		die "walstar_decoder is not installed (make install)"
fi

#
# 2. Work directory, source cluster, broker.
#
mkdir -p "$BENCH_HOME"
W=$(mktemp -d "$BENCH_HOME/run.XXXXXX")
chmod 755 "$W"
# The cluster's directory: data, socket, server log.
PGW=$W/postgres
AS_PG=()
if [ "$(id -u)" = 0 ]; then
	# PostgreSQL refuses to run as root: its server runs as postgres.
	AS_PG=(runuser -u postgres --)
	if ! runuser -u postgres -- test -x "$W"; then
		# The checkout is closed to postgres (e.g. under /root).
		PGW=$(mktemp -d /var/tmp/walstar-bench-pg.XXXXXX)
	fi
fi
mkdir -p "$PGW"
[ ${#AS_PG[@]} -eq 0 ] || chown postgres "$PGW"
PGDATA_DIR=$PGW/data
SOCK=$PGW

declare -A PID=() WALSENDER=()
CONSUMER_PID=""
LOAD_PID=""
BROKER_STARTED=0
PG_STARTED=0

cleanup()
{
	local rc=$? p pid i
	set +e
	[ -z "$CONSUMER_PID" ] || kill -TERM "$CONSUMER_PID" 2>/dev/null
	[ -z "$LOAD_PID" ] || kill -TERM "$LOAD_PID" 2>/dev/null
	for p in "${!PID[@]}"; do
		pid=${PID[$p]}
		kill -CONT "$pid" 2>/dev/null
		kill -TERM "$pid" 2>/dev/null
	done
	for p in "${!PID[@]}"; do
		pid=${PID[$p]}
		for ((i = 0; i < 200; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
	done
	[ "$BROKER_STARTED" = 0 ] || "$ROOT/regress/kafka.sh" stop "$W/kafka"
	[ "$PG_STARTED" = 0 ] || "${AS_PG[@]}" "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null
	if [ "$BENCH_KEEP" != 1 ]; then
		rm -rf "$PGDATA_DIR" "$W/kafka/data"
		[ "$PGW" = "$W/postgres" ] || rm -rf "$PGW"
	fi
	[ $rc = 0 ] || say "failed; logs in $W"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port()
{
	perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1) or die; print $s->sockport'
}

PGPORT=$(free_port)
say "source cluster on 127.0.0.1:$PGPORT ($PGDATA_DIR)"
"${AS_PG[@]}" "$BINDIR/initdb" -D "$PGDATA_DIR" -U postgres -A trust -E UTF8 --locale=C \
	--no-sync >"$W/initdb.log" 2>&1 || { cat "$W/initdb.log" >&2; die "initdb failed"; }
cat >>"$PGDATA_DIR/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$SOCK'
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
# The pipelines are frozen for minutes while the workload is written.
wal_sender_timeout = 0
output_plugin_libraries = 'pgoutput, test_decoding, walstar_decoder, decoderbufs'
track_commit_timestamp = on
shared_buffers = 512MB
max_wal_size = 8GB
checkpoint_timeout = 30min
# A throwaway cluster: no fsync, but commits are still written synchronously
# so walsenders see each commit at once.
fsync = off
synchronous_commit = on
CONF
[ -z "$DECODER_DIR" ] || echo "dynamic_library_path = '$DECODER_DIR:\$libdir'" >>"$PGDATA_DIR/postgresql.conf"
"${AS_PG[@]}" "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$PGW/server.log" -w start >/dev/null ||
	{ tail -20 "$PGW/server.log" >&2; die "PostgreSQL did not start"; }
PG_STARTED=1

export PGOPTIONS='-c client_min_messages=warning'
psql_bench() { "$BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d bench "$@"; }
"$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres \
	-c 'CREATE DATABASE bench'

say "Kafka broker ($W/kafka)"
BOOT=$("$ROOT/regress/kafka.sh" start "$W/kafka")
BROKER_STARTED=1
BROKER_PID=$(cat "$W/kafka/broker.pid")
# Broker-wide topic defaults for this run: Kafka's own flush policy (the test
# bed fsyncs every append), and broker time stamps so that the drain window
# is read from the log itself.
java -cp "$KAFKA_HOME/libs/*" -Dlog4j2.configurationFile="$W/kafka/log4j2.properties" \
	kafka.admin.ConfigCommand --bootstrap-server "$BOOT" --entity-type brokers --entity-default \
	--alter --add-config 'log.message.timestamp.type=LogAppendTime,log.flush.interval.messages=9223372036854775807' \
	>"$W/kafka-config.log" 2>&1 || { cat "$W/kafka-config.log" >&2; die "broker config failed"; }
say "broker on $BOOT"

#
# 3. Tables, publication, slots: all before any workload.
#
psql_bench -f "$HERE/workload.sql"
for p in "${pipelines[@]}"; do
	psql_bench <<SQL
CREATE TABLE public.bench_lat_$p (LIKE public.bench_items INCLUDING ALL);
ALTER TABLE public.bench_lat_$p ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY;
SQL
done

# Per pipeline: topic prefix, slot, output plugin.
declare -A PREFIX=([walstar]=ws [dbz_pgoutput]=dbzpg [dbz_decoderbufs]=dbzdb)
declare -A PLUGIN=([walstar]=walstar_decoder [dbz_pgoutput]=pgoutput [dbz_decoderbufs]=decoderbufs)
declare -A LABEL=([walstar]=walstar [dbz_pgoutput]="Debezium pgoutput" [dbz_decoderbufs]="Debezium decoderbufs")
tables_of() { echo "public.bench_items,public.bench_warmup,public.bench_lat_$1"; }
topic() { echo "${PREFIX[$1]}.public.$2"; }

for p in "${pipelines[@]}"; do
	[ -n "${PREFIX[$p]:-}" ] || die "unknown pipeline $p"
	# The same partitions for every table topic, created before any pipeline
	# runs (no auto-creation inside a measured window).
	for tbl in bench_items bench_warmup "bench_lat_$p"; do
		java -cp "$KAFKA_HOME/libs/*" -Dlog4j2.configurationFile="$W/kafka/log4j2.properties" \
			org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOT" --create \
			--topic "$(topic "$p" "$tbl")" --partitions "$BENCH_PARTITIONS" --replication-factor 1 \
			>>"$W/kafka-topics.log" 2>&1 || { cat "$W/kafka-topics.log" >&2; die "topic creation failed"; }
	done
	if [ "$p" = dbz_pgoutput ]; then
		psql_bench -c "CREATE PUBLICATION bench_$p FOR TABLE $(tables_of "$p")"
	fi
	# decoderbufs greets with an INFO line that client_min_messages cannot hide.
	psql_bench -c "SELECT 1 FROM pg_create_logical_replication_slot('bench_$p', '${PLUGIN[$p]}')" \
		2> >(grep -v 'Exiting startup callback' >&2) >/dev/null
done

#
# Pipelines.
#
fill()
{
	# fill TEMPLATE OUT VAR=VALUE...: replace @VAR@ in TEMPLATE.
	local in=$1 out=$2 kv args=()
	shift 2
	for kv in "$@"; do
		args+=(-e "s|@${kv%%=*}@|${kv#*=}|g")
	done
	sed "${args[@]}" "$in" >"$out"
}

start_pipeline()
{
	local p=$1 d=$W/$1
	mkdir -p "$d"
	case $p in
	walstar)
		fill "$HERE/walstar-sink.conf.in" "$d/sink.conf" \
			PGPORT="$PGPORT" BOOTSTRAP="$BOOT" SLOT="bench_$p" PREFIX="${PREFIX[$p]}" \
			TABLES="$(tables_of "$p")" COMPRESSION="$BENCH_COMPRESSION" \
			BATCH_BYTES="$BENCH_BATCH_BYTES" LINGER_MS="$BENCH_LINGER_MS" DIR="$d" \
			PARTITIONS="$BENCH_PARTITIONS"
		mkdir -p "$d/state"
		"$SINK_BIN" --config "$d/sink.conf" >"$d/sink.log" 2>&1 </dev/null &
		;;
	dbz_*)
		local publication=""
		[ "$p" = dbz_pgoutput ] && publication="bench_$p"
		fill "$HERE/connect-worker.properties.in" "$d/worker.properties" \
			BOOTSTRAP="$BOOT" REST_PORT="$(free_port)" DIR="$d" \
			COMPRESSION="$BENCH_COMPRESSION" BATCH_BYTES="$BENCH_BATCH_BYTES" \
			LINGER_MS="$BENCH_LINGER_MS"
		fill "$HERE/debezium-postgres.properties.in" "$d/connector.properties" \
			NAME="$p" PGPORT="$PGPORT" PREFIX="${PREFIX[$p]}" PLUGIN="${PLUGIN[$p]}" \
			SLOT="bench_$p" PUBLICATION="$publication" TABLES="$(tables_of "$p")" \
			LINGER_MS="$BENCH_LINGER_MS"
		fill "$HERE/log4j2-connect.properties.in" "$d/log4j2.properties" DIR="$d"
		# The JVM options of Kafka's connect-standalone.sh / kafka-run-class.sh.
		java -Xms256M -Xmx2G -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
			-XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
			-XX:MaxInlineLevel=15 -Djava.awt.headless=true \
			-Dlog4j2.configurationFile="$d/log4j2.properties" \
			-cp "$DEBEZIUM_HOME/libs/*" org.apache.kafka.connect.cli.ConnectStandalone \
			"$d/worker.properties" "$d/connector.properties" \
			>"$d/stdout.log" 2>&1 </dev/null &
		;;
	esac
	PID[$p]=$!
}

alive() { kill -0 "${PID[$1]}" 2>/dev/null; }

pipeline_log()
{
	case $1 in
	walstar) tail -20 "$W/$1/sink.log" ;;
	*) grep -E 'ERROR|Exception' "$W/$1/connect.log" | tail -10; tail -5 "$W/$1/stdout.log" ;;
	esac
}

# Messages in a topic: the sum of its partitions' end offsets (0 when missing).
topic_end()
{
	local t=$1 q=() i
	for ((i = 0; i < BENCH_PARTITIONS; i++)); do q+=(-t "$t:$i:-1"); done
	kcat -Q -b "$BOOT" "${q[@]}" 2>/dev/null | awk '{ s += $NF } END { print s + 0 }'
}
partitions()
{
	kcat -L -b "$BOOT" -t "$1" -X allow.auto.create.topics=false 2>/dev/null | grep -c '^ *partition [0-9]' || true
}

# wait_topic PIPELINE TOPIC COUNT TIMEOUT: until TOPIC holds COUNT messages.
wait_topic()
{
	local p=$1 t=$2 want=$3 deadline=$(($(date +%s) + $4)) have
	while :; do
		have=$(topic_end "$t")
		[ "$have" -lt "$want" ] || return 0
		alive "$p" || { pipeline_log "$p" >&2; die "${LABEL[$p]} exited ($t: $have of $want)"; }
		[ "$(date +%s)" -lt "$deadline" ] || die "${LABEL[$p]}: $t holds $have of $want messages after $4 s"
		sleep 0.5
	done
}

# Bytes in the broker's log segments of topics matching a glob.
log_bytes()
{
	find "$W/kafka/data" -path "$W/kafka/data/$1-[0-9]*" -name '*.log' -printf '%s\n' |
		awk '{ s += $1 } END { print s + 0 }'
}

# CPU seconds (user + system) of a process, from /proc/PID/stat.
TICKS=$(getconf CLK_TCK)
cpu_s()
{
	sed 's/^.*) //' "/proc/$1/stat" | awk -v hz="$TICKS" '{ printf "%.2f", ($12 + $13) / hz }'
}
hwm_mib() { awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
walsender_pid()
{
	psql_bench -c "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'bench_$1'"
}
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }

#
# 4. Start and warm up every pipeline, then freeze it.
#
for p in "${pipelines[@]}"; do
	say "starting ${LABEL[$p]}"
	start_pipeline "$p"
done
say "warm-up: $BENCH_WARMUP_ROWS rows into bench_warmup"
psql_bench -c "CALL public.bench_load('public.bench_warmup', $BENCH_WARMUP_ROWS, 1000)"
read -r warm_ins warm_upd warm_del < <(psql_bench -F ' ' -c \
	"SELECT ins_count, upd_count, del_count FROM public.bench_expected($BENCH_WARMUP_ROWS)")
warm_total=$((warm_ins + warm_upd + warm_del))
for p in "${pipelines[@]}"; do
	wait_topic "$p" "$(topic "$p" bench_warmup)" "$warm_total" 300
	WALSENDER[$p]=$(walsender_pid "$p")
	[ -n "${WALSENDER[$p]}" ] || die "${LABEL[$p]}: no walsender on slot bench_$p"
	kill -STOP "${PID[$p]}"
	say "${LABEL[$p]} warmed up ($warm_total changes), frozen"
done

#
# 5. The workload, once, while every pipeline is frozen.
#
declare -A WS_CPU0=()
for p in "${pipelines[@]}"; do WS_CPU0[$p]=$(cpu_s "${WALSENDER[$p]}"); done
say "workload: $BENCH_ROWS rows inserted, 20% updated, 5% deleted, 1000 rows per transaction"
t=$(now_ms)
psql_bench -c "CALL public.bench_load('public.bench_items', $BENCH_ROWS, 1000)"
read -r e_ins_count e_ins_sum e_ins_max e_upd_count e_upd_sum e_upd_max e_del_count e_del_sum e_del_max \
	< <(psql_bench -F ' ' -c "SELECT * FROM public.bench_expected($BENCH_ROWS)")
total=$((e_ins_count + e_upd_count + e_del_count))
# The workload did what bench_expected says.
read -r rows_left id_sum < <(psql_bench -F ' ' -c "SELECT count(*), coalesce(sum(id), 0) FROM public.bench_items")
[ "$rows_left" = $((e_ins_count - e_del_count)) ] && [ "$id_sum" = $((e_ins_sum - e_del_sum)) ] ||
	die "workload check failed: $rows_left rows, id sum $id_sum"
wal_bytes=$(psql_bench -c "SELECT pg_current_wal_lsn() - confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'bench_${pipelines[0]}'")
say "workload done: $total changes in $(($(now_ms) - t)) ms, WAL behind the slots: $((wal_bytes / 1048576)) MiB"

#
# 6. Per pipeline: drain, latency run, stop.
#
declare -A DRAIN_S=() RATE=() CPU=() WSCPU=() SUMCPU=() BCPU=() BYTES_ALL=() LAG=() RSS=() P50=() P99=() PMAX=() LATN=() OFFERED=()
for p in "${pipelines[@]}"; do
	pid=${PID[$p]}
	main=$(topic "$p" bench_items)
	cpu0=$(cpu_s "$pid")
	bcpu0=$(cpu_s "$BROKER_PID")
	all0=$(log_bytes "${PREFIX[$p]}.*")
	t0=$(now_ms)
	kill -CONT "$pid"
	say "${LABEL[$p]}: draining $total changes"
	wait_topic "$p" "$main" "$total" "$BENCH_DRAIN_TIMEOUT"
	cpu1=$(cpu_s "$pid")
	bcpu1=$(cpu_s "$BROKER_PID")
	ws1=$(cpu_s "${WALSENDER[$p]}")
	all1=$(log_bytes "${PREFIX[$p]}.*")
	BYTES_ALL[$p]=$(awk -v b="$((all1 - all0))" -v n="$total" 'BEGIN { printf "%.1f", b / n }')
	# The drain ends with the broker's append of the last message.
	last=$(kcat -C -q -b "$BOOT" -t "$main" -o -1 -e -f '%T\n' 2>/dev/null | sort -n | tail -1)
	DRAIN_S[$p]=$(awk -v a="$last" -v b="$t0" 'BEGIN { printf "%.2f", (a - b) / 1000 }')
	RATE[$p]=$(awk -v n="$total" -v s="${DRAIN_S[$p]}" 'BEGIN { printf "%.0f", n / s }')
	CPU[$p]=$(fsub "$cpu1" "$cpu0")
	WSCPU[$p]=$(fsub "$ws1" "${WS_CPU0[$p]}")
	SUMCPU[$p]=$(awk -v a="${CPU[$p]}" -v b="${WSCPU[$p]}" 'BEGIN { printf "%.2f", a + b }')
	BCPU[$p]=$(fsub "$bcpu1" "$bcpu0")
	say "${LABEL[$p]}: drained in ${DRAIN_S[$p]} s (${RATE[$p]} changes/s), CPU ${CPU[$p]} s, walsender ${WSCPU[$p]} s"

	# Latency: a marker row first; once it has reached the consumer, the
	# pipeline has caught up and the consumer is live.
	lat=$(topic "$p" "bench_lat_$p")
	arrivals=$W/$p/arrivals.tsv
	: >"$arrivals"
	marker=$(psql_bench -c "INSERT INTO public.bench_lat_$p (name) VALUES ('marker') RETURNING id")
	wait_topic "$p" "$lat" 1 300
	perl "$HERE/kstream.pl" arrivals "$BOOT" "$lat" "$arrivals" &
	CONSUMER_PID=$!
	deadline=$(($(date +%s) + 300))
	until grep -q "^$marker	" "$arrivals"; do
		alive "$p" || { pipeline_log "$p" >&2; die "${LABEL[$p]} exited"; }
		[ "$(date +%s)" -lt "$deadline" ] || die "${LABEL[$p]}: latency marker not delivered"
		sleep 0.2
	done
	cat >"$W/$p/pgbench.sql" <<SQL
\set a random(1, 100000)
INSERT INTO public.bench_lat_$p (qty, amount, score, active, name, code, created, day, ref) VALUES (:a % 1000, :a / 100.0, :a * 1.5, :a % 2 = 0, 'name ' || :a, 'code-' || (:a % 977), now(), current_date, md5(:a::text)::uuid);
SQL
	say "${LABEL[$p]}: latency run, $BENCH_RATE changes/s for $BENCH_SECONDS s"
	"$BINDIR/pgbench" -n -h 127.0.0.1 -p "$PGPORT" -U postgres -c 8 -j 2 -R "$BENCH_RATE" \
		-T "$BENCH_SECONDS" -f "$W/$p/pgbench.sql" bench >"$W/$p/pgbench.log" 2>&1 &
	LOAD_PID=$!
	# wait, unlike a foreground command, lets a signal's trap run at once.
	wait "$LOAD_PID" || { cat "$W/$p/pgbench.log" >&2; die "pgbench failed"; }
	LOAD_PID=""
	OFFERED[$p]=$(awk '/^tps = / { printf "%.0f", $3 }' "$W/$p/pgbench.log")
	# How late pgbench ran behind its schedule: a starved load generator
	# commits in bursts, which shows in every pipeline's latency.
	LAG[$p]=$(awk '/^rate limit schedule lag:/ { printf "%.0f", $6 }' "$W/$p/pgbench.log")
	rows=$(psql_bench -c "SELECT count(*) FROM public.bench_lat_$p")
	deadline=$(($(date +%s) + 120))
	while [ "$(wc -l <"$arrivals")" -lt "$rows" ]; do
		[ "$(date +%s)" -lt "$deadline" ] || { say "${LABEL[$p]}: only $(wc -l <"$arrivals") of $rows latency rows arrived"; break; }
		sleep 0.2
	done
	kill -TERM "$CONSUMER_PID"
	wait "$CONSUMER_PID" 2>/dev/null || true
	CONSUMER_PID=""
	read -r LATN[$p] P50[$p] P99[$p] PMAX[$p] < <(psql_bench -F ' ' <<SQL
CREATE TEMP TABLE arrivals (id bigint, at_us bigint);
\copy arrivals FROM '$arrivals'
SELECT count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1), round(max(ms)::numeric, 1)
FROM (SELECT (min(a.at_us) - extract(epoch FROM pg_xact_commit_timestamp(t.xmin)) * 1e6) / 1000 AS ms
      FROM public.bench_lat_$p t JOIN arrivals a USING (id)
      WHERE t.id <> $marker
      GROUP BY t.id, t.xmin) s;
SQL
	)
	say "${LABEL[$p]}: latency p50 ${P50[$p]} ms, p99 ${P99[$p]} ms (${LATN[$p]} of $((rows - 1)) rows)"
	RSS[$p]=$(hwm_mib "$pid")
	kill -TERM "$pid"
	for ((i = 0; i < 300; i++)); do alive "$p" || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "PID[$p]"
done

#
# 7. Completeness and bytes in Kafka.
#
declare -A COMPLETE=() BYTES=() PARTS=()
for p in "${pipelines[@]}"; do
	main=$(topic "$p" bench_items)
	say "${LABEL[$p]}: checking $main"
	eval "$(perl "$HERE/kstream.pl" check "$BOOT" "$main" | sed 's/\([a-z_]*\)=/c_\1=/g')"
	COMPLETE[$p]=yes
	for f in ins_count ins_sum ins_max upd_count upd_sum upd_max del_count del_sum del_max; do
		e=e_$f c=c_$f
		if [ "${!e}" != "${!c}" ]; then
			COMPLETE[$p]=NO
			say "${LABEL[$p]}: $f expected ${!e}, found ${!c}"
		fi
	done
	[ "$c_other_count" = 0 ] || { COMPLETE[$p]=NO; say "${LABEL[$p]}: $c_other_count unexpected messages"; }
	bytes=$(log_bytes "$main")
	BYTES[$p]=$(awk -v b="$bytes" -v n="$total" 'BEGIN { printf "%.1f", b / n }')
	PARTS[$p]=$(partitions "$main")
done

#
# 8. The table.
#
ratio()
{
	# walstar / other, or n/a
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}
{
	printf 'walstar-sink vs Debezium %s (Kafka Connect %s), %s rows -> %s changes, compression %s\n' \
		"$(sed -n 's:.*<debezium.version>\(.*\)</debezium.version>.*:\1:p' "$HERE/pom.xml")" \
		"$(sed -n 's:.*<connect.version>\(.*\)</connect.version>.*:\1:p' "$HERE/pom.xml")" \
		"$BENCH_ROWS" "$total" "$BENCH_COMPRESSION"
	printf 'machine: %s cores, %s; load average at start %s, at end %s\n' "$(nproc)" \
		"$(awk '/MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo)" \
		"$LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf 'latency run: %s changes/s offered for %s s, one change per transaction\n' "$BENCH_RATE" "$BENCH_SECONDS"
	hdr=$(printf '%-34s' metric)
	for p in "${pipelines[@]}"; do hdr+=$(printf ' | %20s' "${LABEL[$p]}"); done
	if [ "${pipelines[0]}" = walstar ]; then
		for p in "${pipelines[@]:1}"; do hdr+=$(printf ' | %16s' "ws/${PREFIX[$p]}"); done
	fi
	echo "$hdr"
	echo "$hdr" | sed 's/[^|]/-/g'
	row()
	{
		local name=$1 arr=$2 noratio=${3:-} line p v
		line=$(printf '%-34s' "$name")
		declare -n ref=$arr
		for p in "${pipelines[@]}"; do line+=$(printf ' | %20s' "${ref[$p]}"); done
		if [ "${pipelines[0]}" = walstar ]; then
			for p in "${pipelines[@]:1}"; do
				v=""
				[ -n "$noratio" ] || v=$(ratio "${ref[walstar]}" "${ref[$p]}")
				line+=$(printf ' | %16s' "$v")
			done
		fi
		echo "$line"
	}
	row "backlog drain (changes/s)" RATE
	row "backlog drain (s)" DRAIN_S
	row "pipeline CPU during drain (s)" CPU
	row "walsender CPU for the backlog (s)" WSCPU
	row "pipeline + walsender CPU (s)" SUMCPU
	row "broker CPU during drain (s)" BCPU
	row "pipeline peak RSS (MiB)" RSS
	row "Kafka bytes per change, table" BYTES
	row "Kafka bytes per change, all topics" BYTES_ALL
	row "latency p50 (ms)" P50
	row "latency p99 (ms)" P99
	row "latency max (ms)" PMAX
	row "latency run: offered tps" OFFERED noratio
	row "latency run: pgbench lag avg (ms)" LAG noratio
	row "latency run: rows received" LATN noratio
	row "table topic partitions" PARTS noratio
	row "complete (every change, no extra)" COMPLETE noratio
} | tee "$W/results.txt"
cp "$W/results.txt" "$BENCH_HOME/last-results.txt"
for p in "${pipelines[@]}"; do
	[ "${COMPLETE[$p]}" = yes ] || die "${LABEL[$p]} lost or duplicated changes: its figures do not count"
done
say "done; details in $W"
