#!/bin/bash
# Decoder benchmark: the same WAL decoded by test_decoding, pgoutput, wal2json
# (format 1 and 2), decoderbufs and walstar_decoder.
#
#   bench/decoder/run.sh [rows]        (default 800000 inserted rows)
#
# Starts a throwaway cluster on a free loopback port under bench/results/,
# creates 3 slots per plugin (before the workload, so all read the same WAL),
# builds the workload once: <rows> inserts in 1000-row transactions into a
# 10-column mixed-type table, then updates of 20% and deletes of 5% of the
# rows (also in 1000-row transactions): about 1M changes for the default.
# Then drains every slot through the SQL interface (round-robin over the
# plugins, so that no plugin always runs first) and prints, per plugin, the
# median changes/s of its 3 slots, the output bytes and the ratio to
# wal2json format 2. Needs walstar_decoder installed (make install).
#
#   WALSTAR_BENCH_WORKLOAD=temp-tables  instead: <rows> inserts into the same
#       table in transactions of WALSTAR_BENCH_TX rows (default 10), each of
#       which also creates a temporary table (ON COMMIT DROP), as a service
#       that stages data in temp tables does: every transaction then brings
#       pg_type and pg_class invalidations for a type no slot cares about.
#   WALSTAR_BENCH_WORKLOAD=small-tx  the same transactions without the
#       temporary tables (the reference for temp-tables).
#   WALSTAR_BENCH_PLUGINS="walstar_decoder ..."  only these plugins.
# Under root the cluster runs as the postgres OS user.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROWS=${1:-800000}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BINDIR=$($PG_CONFIG --bindir)
RESULTS=${WALSTAR_BENCH_DIR:-$ROOT/bench/results/decoder}
RUN_USER=${WALSTAR_TEST_USER:-postgres}

if [ "$(id -u)" = 0 ]; then
	mkdir -p "$RESULTS"
	chown "$RUN_USER" "$RESULTS"
	exec runuser -u "$RUN_USER" -- env WALSTAR_BENCH_DIR="$RESULTS" PG_CONFIG="$PG_CONFIG" \
		WALSTAR_BENCH_WORKLOAD="${WALSTAR_BENCH_WORKLOAD:-}" WALSTAR_BENCH_TX="${WALSTAR_BENCH_TX:-}" \
		WALSTAR_BENCH_PLUGINS="${WALSTAR_BENCH_PLUGINS:-}" "$0" "$@"
fi

PATH="$BINDIR:$PATH"
export PATH
DATA="$RESULTS/data"
mkdir -p "$RESULTS"

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
PORT=$(bench_port 55400)

stop_cluster() {
	bench_stop_cluster "$DATA"
}
trap stop_cluster EXIT INT TERM

bench_cluster "$DATA" "$PORT" 24 'pgoutput, test_decoding, walstar_decoder, wal2json, decoderbufs'

PLUGINS=${WALSTAR_BENCH_PLUGINS:-test_decoding pgoutput wal2json_v1 wal2json_v2 decoderbufs walstar_decoder}
WORKLOAD=${WALSTAR_BENCH_WORKLOAD:-mixed}

plugin_name() {
	case $1 in
		wal2json_*) echo wal2json ;;
		*) echo "$1" ;;
	esac
}

# the query that drains one slot
drain_sql() {
	plugin=$1
	slot=$2
	case $plugin in
		test_decoding)
			echo "SELECT lsn, data FROM pg_logical_slot_get_changes('$slot', NULL, NULL)" ;;
		wal2json_v1)
			echo "SELECT lsn, data FROM pg_logical_slot_get_changes('$slot', NULL, NULL, 'format-version', '1')" ;;
		wal2json_v2)
			echo "SELECT lsn, data FROM pg_logical_slot_get_changes('$slot', NULL, NULL, 'format-version', '2')" ;;
		pgoutput)
			echo "SELECT lsn, data FROM pg_logical_slot_get_binary_changes('$slot', NULL, NULL, 'proto_version', '1', 'publication_names', 'bench_pub')" ;;
		decoderbufs|walstar_decoder)
			echo "SELECT lsn, data FROM pg_logical_slot_get_binary_changes('$slot', NULL, NULL)" ;;
	esac
}

$PSQL <<EOF
$BENCH_TABLE;
CREATE PUBLICATION bench_pub FOR TABLE bench;
EOF

for plugin in $PLUGINS; do
	for i in 1 2 3; do
		$PSQL -c "SELECT 'x' FROM pg_create_logical_replication_slot('b_${plugin}_$i', '$(plugin_name "$plugin")')" 2>&1 >/dev/null |
			grep -v 'Exiting startup callback' >&2 || true
	done
done

INSERT_SQL=$BENCH_INSERT
start=$(date +%s)
if [ "$WORKLOAD" = temp-tables ] || [ "$WORKLOAD" = small-tx ]; then
	TX=${WALSTAR_BENCH_TX:-10}
	TEMP=""
	[ "$WORKLOAD" = temp-tables ] && TEMP="CREATE TEMP TABLE scratch (id bigint, note text) ON COMMIT DROP;"
	echo "building the workload ($ROWS inserts in $((ROWS / TX)) transactions${TEMP:+, each creating a temporary table}) ..."
	i=1
	while [ "$i" -le "$ROWS" ]; do
		echo "BEGIN; $TEMP $INSERT_SQL($i, $((i + TX - 1))) g; COMMIT;"
		i=$((i + TX))
	done | $PSQL
	CHANGES=$ROWS
else
echo "building the workload ($ROWS inserts, $((ROWS / 5)) updates, $((ROWS / 20)) deletes) ..."
TX=1000
{
	i=1
	while [ "$i" -le "$ROWS" ]; do
		echo "$INSERT_SQL($i, $((i + TX - 1))) g;"
		i=$((i + TX))
	done
	# updates of 20%: every 5th row, 1000 per transaction
	i=1
	while [ "$i" -le "$ROWS" ]; do
		echo "UPDATE bench SET qty = qty + 1, name = name || '!', created = created + interval '1 day' WHERE id BETWEEN $i AND $((i + 5 * TX - 1)) AND id % 5 = 0;"
		i=$((i + 5 * TX))
	done
	# deletes of 5%: every 20th row, 1000 per transaction
	i=1
	while [ "$i" -le "$ROWS" ]; do
		echo "DELETE FROM bench WHERE id BETWEEN $i AND $((i + 20 * TX - 1)) AND id % 20 = 1;"
		i=$((i + 20 * TX))
	done
} | $PSQL
CHANGES=$((ROWS + ROWS / 5 + ROWS / 20))
fi
# synchronous_commit is off: flush the WAL before anyone decodes it
$PSQL -c "CHECKPOINT"
WAL=$($PSQL -c "SELECT pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), min(restart_lsn))) FROM pg_replication_slots")
echo "workload built in $(($(date +%s) - start)) s: $CHANGES changes, $WAL of WAL"

# CPU time of the decoding backend (utime + stime from /proc/self/stat, in
# clock ticks): unlike wall time it does not depend on what else runs on the
# machine.
CPU_SQL="SELECT split_part(s, ' ', 14)::bigint + split_part(s, ' ', 15)::bigint AS bigint FROM pg_read_file('/proc/self/stat') s"
TICKS=$(getconf CLK_TCK)
for i in 1 2 3; do
	for plugin in $PLUGINS; do
		sql=$(drain_sql "$plugin" "b_${plugin}_$i")
		t0=$(date +%s.%N)
		# decoderbufs says INFO "Exiting startup callback" on every start
		out=$($PSQL 2>"$RESULTS/stderr" <<SQL
$CPU_SQL \gset cpu0_
SELECT count(*) || '|' || coalesce(sum(octet_length(data)), 0) FROM ($sql) d(lsn, data);
$CPU_SQL \gset cpu1_
SELECT (:cpu1_bigint - :cpu0_bigint)::float8 / $TICKS;
SELECT substring(pg_read_file('/proc/self/status') from 'VmHWM:\s*([0-9]+)');
SQL
) || { cat "$RESULTS/stderr" >&2; exit 1; }
		t1=$(date +%s.%N)
		grep -v 'Exiting startup callback' "$RESULTS/stderr" >&2 || true
		res=$(echo "$out" | sed -n 1p)
		cpu=$(echo "$out" | sed -n 2p)
		rss=$(echo "$out" | sed -n 3p)
		wall=$(echo "$t1 - $t0" | bc)
		echo "$plugin $i $wall $cpu $res $rss" >> "$RESULTS/raw.$$"
		echo "  $plugin slot $i: wall $wall s, backend CPU $cpu s, records|bytes = $res, peak RSS $rss kB"
	done
done

echo
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); $(postgres --version)"
echo "changes: $CHANGES (rows: $ROWS, workload: $WORKLOAD)"
echo
awk -v changes="$CHANGES" -v plugins="$PLUGINS" '
	function median(a, b, c, x) {
		if (a > b) { x = a; a = b; b = x }
		if (b > c) { x = b; b = c; c = x }
		if (a > b) { x = a; a = b; b = x }
		return b
	}
	{ wall[$1, $2] = $3; cpu[$1, $2] = $4; split($5, rb, "|"); bytes[$1] = rb[2]; if ($6 > rss[$1]) rss[$1] = $6 }
	END {
		n = split(plugins, p, " ")
		for (k = 1; k <= n; k++) {
			rcpu[p[k]] = changes / median(cpu[p[k], 1], cpu[p[k], 2], cpu[p[k], 3])
			rwall[p[k]] = changes / median(wall[p[k], 1], wall[p[k], 2], wall[p[k], 3])
		}
		printf "| plugin | changes/s per backend CPU second (median of 3) | changes/s wall clock (median of 3) | output bytes | ratio to wal2json v2 (CPU) | backend peak RSS (max of 3) |\n"
		printf "|---|---:|---:|---:|---:|---:|\n"
		for (k = 1; k <= n; k++)
			printf "| %s | %.0f | %.0f | %d | %s | %d MB |\n", p[k], rcpu[p[k]], rwall[p[k]], bytes[p[k]],
				(rcpu["wal2json_v2"] > 0 ? sprintf("%.2f", rcpu[p[k]] / rcpu["wal2json_v2"]) : "-"), rss[p[k]] / 1024
	}' "$RESULTS/raw.$$"
rm -f "$RESULTS/raw.$$"
