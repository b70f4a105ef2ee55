#!/bin/sh
# walstar apply benchmark: changes applied per second into landing tables by
# the apply workers of one subscription, and the workers' memory.
#
#   bench/apply/run.sh                 300000 changes (BENCH_CHANGES=n to change)
#   bench/apply/run.sh --workers 2     the subscription with workers => 2
#   BENCH_MODEL=claims bench/apply/run.sh   the Acme tables with walstar_claims
#                                      attached to the landing tables
#   BENCH_MODEL=acme bench/apply/run.sh     the same workload, landing tables alone
#   BENCH_MODEL=engine bench/apply/run.sh   the same workload with a model of the
#                                      claims' shape declared on the model engine
#                                      (bench/apply/claims_declaration.json)
#
# 1. A throwaway cluster (shared_preload_libraries = walstar) and a Kafka
#    broker from regress/kafka.sh, on free loopback ports.
# 2. walstar_decoder in a source database of the same cluster turns a mixed
#    workload into real messages: 60% inserts, 30% updates, 10% deletes over
#    two tables (one with a numeric, a text, a timestamptz and a bool, one
#    with a two-column key); kcat produces them (one topic per table, of
#    BENCH_PARTITIONS partitions, default 6, each message to the partition
#    of its row's key as the sink would).
# 3. A subscription over both topics is enabled with the topics full; the
#    time from the first to the last applied batch gives changes/s. The
#    workers' CPU time is summed; peak RSS (VmHWM) and RSS at the end (of
#    the largest worker) come from /proc.
# With BENCH_MODEL=claims the workload is the Acme scenario's instead (see
# below: customers changing country many times, claims inserted and updated
# right after, feedback), so that keys repeat within a batch, and walstar_claims
# maintains its star schema in the apply transactions.
# Results go to stdout and bench/results/apply-<date>.txt (ignored by git);
# bench/apply/RESULTS.md records a run. As root, everything runs as the
# postgres OS user.
set -eu

WORKERS=1
while [ $# -gt 0 ]; do
	case "$1" in
		--workers) WORKERS=$2; shift 2 ;;
		--workers=*) WORKERS=${1#--workers=}; shift ;;
		*) echo "usage: $0 [--workers N]" >&2; exit 2 ;;
	esac
done

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH_USER=${BENCH_USER:-postgres}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

if [ "$(id -u)" = 0 ]; then
	work=${BENCH_WORK:-$ROOT/.cache/bench-apply}
	mkdir -p "$work" "$ROOT/bench/results"
	chown "$BENCH_USER" "$work" "$ROOT/bench/results"
	exec runuser -u "$BENCH_USER" -- env HOME="$work" BENCH_WORK="$work" PG_CONFIG="$PG_CONFIG" "$0" --workers "$WORKERS"
fi

WORK=${BENCH_WORK:-$ROOT/.cache/bench-apply}
N=${BENCH_CHANGES:-300000}
BATCH=${BENCH_BATCH_SIZE:-10000}
PARTS=${BENCH_PARTITIONS:-6}
MODEL=${BENCH_MODEL:-}
export PATH="$($PG_CONFIG --bindir):$PATH"
export KAFKA_HOME=${KAFKA_HOME:-$ROOT/.cache/kafka}
OUT="$ROOT/bench/results/apply-$(date -u +%Y%m%dT%H%M%S).txt"
DELIM='\x1e\x1fWALSTAR-BENCH\x1f\x1e'	# never inside these messages

rm -rf "$WORK/data" "$WORK/kafka" "$WORK/msgs"
mkdir -p "$WORK/kafka" "$WORK/msgs"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cleanup()
{
	pg_ctl -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
	"$ROOT/regress/kafka.sh" stop "$WORK/kafka" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

BROKER=$("$ROOT/regress/kafka.sh" start "$WORK/kafka" | tail -1 | grep -o '127\.0\.0\.1:[0-9]*')
initdb -D "$WORK/data" -A trust >/dev/null
cat >> "$WORK/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
shared_preload_libraries = 'walstar'
wal_level = logical
output_plugin_libraries = 'pgoutput, test_decoding, walstar_decoder'
walstar.launcher_naptime = 1
shared_buffers = 512MB
max_wal_size = 4GB
checkpoint_timeout = 30min
synchronous_commit = on
logical_decoding_work_mem = 256MB
CONF
pg_ctl -D "$WORK/data" -l "$WORK/postgres.log" start >/dev/null
P="psql -X -q -At -h $WORK -p $PORT"
$P -d postgres -c 'CREATE DATABASE src' -c 'CREATE DATABASE ana'
if [ "$MODEL" = claims ] || [ "$MODEL" = acme ] || [ "$MODEL" = engine ]; then
	TABLES="customers claims feedback"
	sed -e 's/^-- \\connect .*$//' -e 's/NOT NULL UNIQUE/NOT NULL/' "$ROOT/demo/acme_sources.sql" | $P -d src
	$P -d src -c 'CREATE EXTENSION walstar' \
		-c "SELECT 'x' FROM pg_create_logical_replication_slot('bench', 'walstar_decoder')" >/dev/null
	# N changes where keys repeat within batches: customers N/100, each then
	# updated in 30 rounds over all of them (updated_at moving on, a country
	# change every other round); claims 30 %, inserted in chunks of 2000,
	# half of each chunk updated right after (review), a quarter again
	# (paid); 1 in 20 claims deleted; feedback the rest.
	cust=$((N / 100)); claims=$((N * 3 / 10)); cdel=$((claims / 20))
	fb=$((N - cust * 31 - claims * 7 / 4 - cdel))
	$P -d src <<SQL
INSERT INTO customers (id, full_name, email, country_code, created_at, updated_at)
SELECT g, 'c' || g, 'c' || g || '@example.com', (ARRAY['DE', 'FR', 'NL', 'ES'])[1 + g % 4],
	'2021-01-01', '2021-01-01' FROM generate_series(1, $cust) g;
DO \$\$
BEGIN
	FOR i IN 1..30 LOOP
		UPDATE customers SET updated_at = updated_at + interval '30 days',
			country_code = CASE WHEN i % 2 = 0 THEN (ARRAY['DE', 'FR', 'NL', 'ES'])[1 + (id + i) % 4]
								ELSE country_code END;
	END LOOP;
END \$\$;
DO \$\$
BEGIN
	FOR c IN 0..($claims / 2000 - 1) LOOP
		INSERT INTO claims (id, customer_id, amount, status, is_anomaly, flagged_at, created_at, updated_at)
		SELECT g, 1 + g % $cust, (g % 100000) / 10.0, 'open', g % 7 = 0, CASE WHEN g % 7 = 0 THEN t END, t, t
		FROM generate_series(c * 2000 + 1, c * 2000 + 2000) g,
			 LATERAL (SELECT timestamptz '2021-01-01' + (g % 1000) * interval '1 day' AS t) x;
		UPDATE claims SET status = 'in_review', updated_at = updated_at + interval '1 day'
		WHERE id BETWEEN c * 2000 + 1 AND c * 2000 + 1000;
		UPDATE claims SET status = 'paid', resolved_at = created_at + interval '5 days',
			updated_at = updated_at + interval '5 days'
		WHERE id BETWEEN c * 2000 + 1 AND c * 2000 + 500;
	END LOOP;
END \$\$;
DELETE FROM claims WHERE id > $claims - $cdel;
INSERT INTO feedback (id, claim_id, customer_id, rating, created_at)
SELECT g, 1 + g % $claims, 1 + g % $cust, 1 + g % 5, timestamptz '2021-02-01' + (g % 1000) * interval '1 day'
FROM generate_series(1, $fb) g;
SQL
else
	TABLES="orders lines"
	$P -d src <<-SQL
	CREATE EXTENSION walstar;
	CREATE TABLE orders (id bigint PRIMARY KEY, customer int, amount numeric(12,2), note text,
		created timestamptz, paid bool);
	CREATE TABLE lines (order_id bigint, line int, sku text, qty int, PRIMARY KEY (order_id, line));
	SELECT 'x' FROM pg_create_logical_replication_slot('bench', 'walstar_decoder');
	SQL

	# N changes: 60% inserts, 30% updates, 10% deletes (half of each per table)
	ins=$((N * 6 / 10 / 2)); upd=$((N * 3 / 10 / 2)); del=$((N - 2 * ins - 2 * upd))
	del_o=$((del / 2)); del_l=$((del - del_o))
	$P -d src <<-SQL
	INSERT INTO orders SELECT g, g % 1000, g * 1.25, 'order ' || g, now(), g % 2 = 0 FROM generate_series(1, $ins) g;
	INSERT INTO lines SELECT g, 1, 'sku-' || (g % 500), g % 7 FROM generate_series(1, $ins) g;
	UPDATE orders SET amount = amount + 1, paid = true WHERE id <= $upd;
	UPDATE lines SET qty = qty + 1 WHERE order_id <= $upd;
	DELETE FROM orders WHERE id > $ins - $del_o;
	DELETE FROM lines WHERE order_id > $ins - $del_l;
	SQL
fi

start_gen=$(date +%s.%N)
for t in $TABLES; do
	java -Xmx256m -cp "$KAFKA_HOME/libs/*" -Dlog4j2.configurationFile="$WORK/kafka/log4j2.properties" \
		org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKER" --create \
		--topic "walstar.public.$t" --partitions "$PARTS" >/dev/null
done
# per table and partition (of the row's key), the messages in commit order
for t in $TABLES; do
	case $t in lines) key=order_id ;; *) key=id ;; esac
	$P -d src -c "SELECT abs(hashtext(coalesce(c->'new'->>'$key', c->'old'->>'$key'))) % $PARTS,
			encode(data, 'hex')
		FROM (SELECT data, walstar.decode(data) AS c
			FROM pg_logical_slot_peek_binary_changes('bench', NULL, NULL)) x
		WHERE c->>'table' = '$t'" |
		perl -e 'binmode STDOUT; my $d = "\x1e\x1fWALSTAR-BENCH\x1f\x1e"; my (%fh, %first);
			my $out = shift;
			while (<STDIN>) { chomp; my ($p, $hex) = split /\|/;
				open($fh{$p}, ">:raw", "$out.$p") or die unless $fh{$p};
				print { $fh{$p} } $d if $first{$p}++; print { $fh{$p} } pack("H*", $hex); }' "$WORK/msgs/$t"
	for f in "$WORK/msgs/$t".*; do
		kcat -P -b "$BROKER" -t "walstar.public.$t" -p "${f##*.}" -D "$DELIM" -X message.max.bytes=20000000 \
			-X linger.ms=50 -X batch.num.messages=10000 < "$f"
	done
done
produced=$(for t in $TABLES; do kcat -C -b "$BROKER" -t "walstar.public.$t" -o beginning -e -q -D '\n' -f 'x\n' | wc -l; done | awk '{s+=$1} END {print s}')
gen=$(echo "$(date +%s.%N) - $start_gen" | bc)

topics=$(for t in $TABLES; do printf 'walstar.public.%s,' "$t"; done)
if [ "$MODEL" = claims ]; then
	$P -d ana -c 'CREATE EXTENSION walstar_claims CASCADE' \
		-c "SELECT walstar_claims.attach('walstar_landing')" >/dev/null
elif [ "$MODEL" = engine ]; then
	# the landing tables as the worker makes them, then the declared model
	$P -d ana <<SQL >/dev/null
CREATE EXTENSION walstar;
CREATE SCHEMA walstar_landing;
CREATE TABLE walstar_landing.customers (id bigint PRIMARY KEY, full_name text NOT NULL, email text NOT NULL,
	phone text, country_code character(2) NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE walstar_landing.claims (id bigint PRIMARY KEY, customer_id bigint NOT NULL, amount numeric(12,2) NOT NULL,
	status text NOT NULL, is_anomaly boolean NOT NULL, anomaly_reason text, flagged_at timestamptz,
	created_at timestamptz NOT NULL, resolved_at timestamptz, updated_at timestamptz NOT NULL);
CREATE TABLE walstar_landing.feedback (id bigint PRIMARY KEY, claim_id bigint NOT NULL, customer_id bigint NOT NULL,
	rating smallint NOT NULL, comment text, sentiment text, created_at timestamptz NOT NULL);
SQL
	echo "SELECT walstar.create_model(:'decl')" |
		$P -d ana -v ON_ERROR_STOP=1 -v decl="$(cat "$ROOT/bench/apply/claims_declaration.json")" >/dev/null
else
	$P -d ana -c 'CREATE EXTENSION walstar' >/dev/null
fi
$P -d ana -c "SELECT walstar.create_subscription('bench', '$BROKER', topics => '{${topics%,}}', batch_size => $BATCH, workers => $WORKERS)" >/dev/null
$P -d ana -c "SELECT walstar.start_subscription('bench')" >/dev/null

# user + system CPU time of a process, in clock ticks
cpu_ticks()
{
	awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}
# minor page faults of a process (memory mapped afresh)
min_faults()
{
	awk '{print $10}' "/proc/$1/stat" 2>/dev/null || echo 0
}

# summed over the workers
sum_of()
{
	f=$1; shift; s=0
	for p in "$@"; do s=$((s + $($f "$p"))); done
	echo $s
}
# the largest of a /proc/<pid>/status field (kB) over the workers
max_status()
{
	f=$1; shift; m=0
	for p in "$@"; do
		v=$(awk "/^$f:/ {print \$2}" /proc/$p/status 2>/dev/null || echo 0)
		[ "${v:-0}" -gt "$m" ] && m=$v
	done
	echo $m
}

# wait for the workers before anything is counted (they start within a second or two)
while [ "$($P -d ana -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walstar apply'")" -lt "$WORKERS" ]; do
	sleep 0.1
done
pids=$($P -d ana -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'walstar apply'")
applied=0; first=""; hwm=0; priv_peak=0
while [ "$applied" -lt "$N" ]; do
	applied=$($P -d ana -c 'SELECT coalesce(sum(applied_messages), 0) FROM walstar.subscription_offsets')
	now=$(date +%s.%N)
	if [ -z "$first" ] && [ "$applied" -gt 0 ]; then
		first=$now; first_applied=$applied; cpu0=$(sum_of cpu_ticks $pids); flt0=$(sum_of min_faults $pids)
	fi
	hwm=$(max_status VmHWM $pids); rss=$(max_status VmRSS $pids)
	priv=0
	for p in $pids; do
		v=$(awk '/^Anonymous:/ {print $2}' /proc/$p/smaps_rollup 2>/dev/null || echo 0)
		priv=$((priv + ${v:-0}))
	done
	[ "${priv:-0}" -gt "${priv_peak:-0}" ] && priv_peak=$priv
	sleep 0.1
done
last=$(date +%s.%N)
cpu1=$(sum_of cpu_ticks $pids)
flt1=$(sum_of min_faults $pids)
cpu=$(echo "scale=2; ($cpu1 - $cpu0) / $(getconf CLK_TCK)" | bc)
cpu_rate=$(echo "($N - $first_applied) / $cpu" | bc)
elapsed=$(echo "$last - $first" | bc)
rate=$(echo "($N - $first_applied) / $elapsed" | bc)
dead=$($P -d ana -c 'SELECT count(*) FROM walstar.dead_letters')
counts=$(for t in $TABLES; do printf "(SELECT count(*) FROM %s) || ' ' || " "$t"; done)
rows=$($P -d ana -c "SET search_path = walstar_landing; SELECT $counts ''")
src_rows=$($P -d src -c "SELECT $counts ''")
model=""
if [ "$MODEL" = engine ]; then
	model="; claims_engine.verify(): $($P -d ana -c 'SELECT count(*) FROM claims_engine.verify()') differences, claims() $($P -d ana -c 'SELECT claims_engine.claims()')"
fi
if [ "$MODEL" = claims ]; then
	model="; walstar_claims.verify(): $($P -d ana -c 'SELECT count(*) FROM walstar_claims.verify()') differences, total_claims() $($P -d ana -c 'SELECT walstar_claims.total_claims()')"
fi

{
	echo "walstar apply benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MB, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
	if [ -n "$MODEL" ]; then
		echo "changes: $N ($(case "$MODEL" in claims) echo 'walstar_claims attached' ;; engine) echo 'claims_engine declared' ;; *) echo 'no model' ;; esac): customers $cust inserted and updated 30 times each, claims $claims inserted in chunks of 2000, half of each updated, a quarter twice, $cdel deleted, feedback $fb), batch_size $BATCH, workers $WORKERS, $PARTS partitions per topic"
	else
		echo "changes: $N (inserts $((2 * ins)), updates $((2 * upd)), deletes $del), batch_size $BATCH, workers $WORKERS, $PARTS partitions per topic"
	fi
	echo "messages in Kafka: $produced (made and produced in ${gen}s)"
	echo "applied: $((N - first_applied)) changes in ${elapsed}s after the first batch: $rate changes/s"
	echo "worker CPU: ${cpu}s for them: $cpu_rate changes per CPU second (the workers' backends summed; commits and the checkpointer not counted)"
	echo "worker page faults: $((flt1 - flt0)) minor faults for them ($(( (flt1 - flt0) * 1000 / (N - first_applied) )) per 1000 changes)"
	echo "worker memory: peak RSS (VmHWM) ${hwm} kB, RSS at the end ${rss:-?} kB, of the largest worker (RSS counts the shared buffers the worker touched)"
	echo "worker heap (smaps Anonymous: private memory, shared buffers excluded; workers summed): peak seen ${priv_peak:-?} kB, at the end ${priv:-?} kB"
	echo "landing rows ($TABLES): $rows; source: $src_rows; dead letters: $dead$model"
} | tee "$OUT"
