# Sourced by the source-side benchmarks (bench/decoder, bench/sink,
# bench/archive, bench/snapshot): the throwaway source cluster, the broker,
# the decoder benchmark's table and workload, and the sink's start and stop.
# The caller sets ROOT and RESULTS, runs as the cluster's OS user, and calls
# its own cleanup at exit (bench_stop_cluster, bench_stop_sink and
# "$ROOT/regress/kafka.sh" stop are safe to call when nothing runs).

# a free loopback port in FIRST..FIRST+99 (each benchmark its own range)
bench_port() {
	local p
	for p in $(seq "$1" $(($1 + 99))); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done 2>/dev/null
	echo "no free port in $1..$(($1 + 99))" >&2
	return 1
}

# initdb and start a logical-decoding cluster on 127.0.0.1:PORT built for
# speed, not safety (fsync off): DATA PORT SLOTS PLUGINS
bench_cluster() {
	local data=$1 port=$2 slots=$3 plugins=$4
	rm -rf "$data"
	initdb -D "$data" -A trust -E UTF8 --locale=C >/dev/null
	cat >> "$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$RESULTS'
wal_level = logical
max_replication_slots = $slots
max_wal_senders = 4
shared_buffers = 512MB
max_wal_size = 8GB
checkpoint_timeout = 1h
fsync = off
synchronous_commit = off
full_page_writes = off
autovacuum = off
output_plugin_libraries = '$plugins'
EOF
	pg_ctl -D "$data" -l "$RESULTS/server.log" -w start >/dev/null
	PGOPTIONS="-c client_min_messages=warning"
	export PGOPTIONS
	PSQL="psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $port -d postgres"
	CONNINFO="host=127.0.0.1 port=$port dbname=postgres"
}

bench_stop_cluster() {
	if [ -f "$1/postmaster.pid" ]; then
		pg_ctl -D "$1" -m immediate stop >/dev/null 2>&1 || true
	fi
}

# a broker in KDIR with Kafka's default flush policy (the test bed's
# fsync-per-message line removed: the first start writes the config);
# sets BOOTSTRAP
bench_broker() {
	"$ROOT/regress/kafka.sh" start "$1" >/dev/null
	"$ROOT/regress/kafka.sh" stop "$1" >/dev/null
	sed -i '/^log.flush.interval.messages/d' "$1/server.properties"
	BOOTSTRAP=$("$ROOT/regress/kafka.sh" start "$1" | tail -1)
}

# the decoder benchmark's 10-column mixed-type table
BENCH_TABLE="CREATE TABLE bench (
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

# the rows id in generate_series(FROM, TO) AS g: append "(FROM, TO) g"
BENCH_INSERT="INSERT INTO bench SELECT g, g % 1000, (g % 100000) / 100.0, g * 1.5, g % 2 = 0, 'name ' || g, 'code-' || (g % 977), timestamptz '2024-01-01 00:00+00' + g * interval '1 second', date '2024-01-01' + (g % 365), md5(g::text)::uuid FROM generate_series"

# the decoder benchmark's statements for ids FIRST..FIRST+ROWS-1: inserts,
# then updates of 20% and deletes of 5% of the rows, in 1000-row
# transactions
bench_workload() {
	local first=$1 rows=$2
	local last=$((first + rows - 1)) tx=1000 i
	i=$first
	while [ "$i" -le "$last" ]; do
		echo "$BENCH_INSERT($i, $((i + tx - 1))) g;"
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

# walstar-sink on slot bench_sink, into $RESULTS/sink.log; extra arguments
# go to it
SINK_PID=""
start_sink() {
	${SINK_WRAPPER:-} walstar-sink --conninfo="$CONNINFO" --brokers="$BOOTSTRAP" --slot=bench_sink --create-slot=false \
		--snapshot=never --state-dir="$RESULTS/state" --topic-partitions="$PARTITIONS" \
		--status-interval=1 "$@" 2>>"$RESULTS/sink.log" &
	SINK_PID=$!
}

# until the slot is confirmed up to LSN
wait_confirmed() {
	while [ "$($PSQL -c "SELECT confirmed_flush_lsn >= '$1' FROM pg_replication_slots WHERE slot_name = 'bench_sink'")" != t ]; do
		kill -0 "$SINK_PID" || { echo "the sink died:" >&2; tail -5 "$RESULTS/sink.log" >&2; exit 1; }
		sleep 0.1
	done
}

stop_sink() {
	[ -n "$SINK_PID" ] || return 0
	kill -TERM "$SINK_PID" 2>/dev/null || true
	wait "$SINK_PID" || true
	SINK_PID=""
}
