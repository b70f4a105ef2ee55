# bench/model_bench.sh: the part the model benchmarks share (bench/claims,
# bench/booking, bench/ratings), sourced by their run.sh after `set -eu`:
#
#   model_bench_init NAME "$@"   as root, runs the calling script again as
#                                BENCH_USER (postgres) in its work directory;
#                                sets WORK, OUT (NAME-<date>.txt in
#                                BENCH_RESULTS, default bench/results)
#                                and PATH (PG_CONFIG's bindir)
#   model_bench_start            a fresh private cluster in $WORK/data (fsync
#                                off, BENCH_SHARED_BUFFERS, default 2GB), on a
#                                free loopback port, stopped at exit unless
#                                BENCH_KEEP=1; q runs psql on it.
#                                BENCH_REUSE=1: the cluster an earlier run
#                                left in $WORK/data instead (MB_REUSED=1: the
#                                caller skips loading and attaching)
#   model_bench_header           the table header of model_bench_pair
#   model_bench_pair LABEL FN PLAIN
#                                median latency of the statement FN
#                                (BENCH_CALLS calls, default 50, fewer when
#                                they take over BENCH_BUDGET_MS in all; a call
#                                over BENCH_TIMEOUT s is reported as such) and
#                                of PLAIN (BENCH_PLAIN_CALLS, default 3, fewer
#                                past 30 s), measured in the server; their
#                                results compared as text (MB_COMPARE=false:
#                                not compared, "same" is -; ERROR when either
#                                failed, the error on stderr).
#                                BENCH_APPLY_ONLY=1: nothing (only the
#                                apply cost is measured)
#   model_bench_run_file FILE    runs FILE (transactions of statements) with
#                                psql, sets SECONDS_TAKEN, ROWS_CHANGED (the
#                                rows its INSERT, UPDATE and DELETE statements
#                                wrote, from their tags) and STATEMENT_MS (the
#                                mean time of each statement of a transaction,
#                                named by BATCH_STATEMENTS, "a|b|...")
#   model_bench_apply_cost WHAT DETACH [VERIFY]
#                                the caller's `batch I OFFSET` writes batch I
#                                (0 to BATCHES - 1) on ids moved by OFFSET; they run
#                                with the model (then VERIFY, a set-returning
#                                call, counts its differences, unless
#                                BENCH_VERIFY=0), then DETACH and
#                                the same batches on fresh ids (landing tables
#                                alone); prints both times, WHAT describing a
#                                batch
#   model_bench_tee              stdout to the terminal and to $OUT
#
# Helpers: now (epoch seconds), calc EXPR (awk, one decimal).

model_bench_init()
{
	mb_name=$1
	shift
	ROOT=$(cd "$(dirname "$0")/../.." && pwd)
	BENCH_USER=${BENCH_USER:-postgres}
	PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
	if [ "$(id -u)" = 0 ]; then
		mb_work=${BENCH_WORK:-$ROOT/.cache/bench-$mb_name}
		mb_results=${BENCH_RESULTS:-$ROOT/bench/results}
		mkdir -p "$mb_work" "$mb_results"
		chown "$BENCH_USER" "$mb_work" "$mb_results"
		exec runuser -u "$BENCH_USER" -- env HOME="$mb_work" BENCH_WORK="$mb_work" PG_CONFIG="$PG_CONFIG" "$0" "$@"
	fi
	WORK=${BENCH_WORK:-$ROOT/.cache/bench-$mb_name}
	PATH="$($PG_CONFIG --bindir):$PATH"
	export PATH
	mb_results=${BENCH_RESULTS:-$ROOT/bench/results}
	mkdir -p "$mb_results" "$WORK"
	OUT="$mb_results/$mb_name-$(date -u +%Y%m%dT%H%M%S).txt"
	COMMIT=$(git -c safe.directory='*' -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
	CALLS=${BENCH_CALLS:-50}
	PLAIN_CALLS=${BENCH_PLAIN_CALLS:-3}
	BUDGET_MS=${BENCH_BUDGET_MS:-10000}
	MB_COMPARE=true
}

model_bench_stop()
{
	[ "${BENCH_KEEP:-0}" = 1 ] && [ -n "${PORT:-}" ] && return 0
	[ -f "$WORK/data/postmaster.pid" ] && pg_ctl -D "$WORK/data" -m fast -w stop >/dev/null 2>&1 || true
}

model_bench_start()
{
	trap model_bench_stop EXIT
	trap 'exit 130' INT TERM
	model_bench_stop
	PORT=$(perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1) or die; print $s->sockport')
	MB_REUSED=0
	if [ "${BENCH_REUSE:-0}" = 1 ] && [ -f "$WORK/data/PG_VERSION" ]; then
		echo "port = $PORT" >> "$WORK/data/postgresql.conf"
		pg_ctl -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
		MB_REUSED=1
		return 0
	fi
	rm -rf "$WORK/data"
	initdb -D "$WORK/data" -A trust -U postgres --no-sync >/dev/null
	cat >> "$WORK/data/postgresql.conf" <<EOF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
timezone = 'UTC'
shared_buffers = ${BENCH_SHARED_BUFFERS:-2GB}
work_mem = 256MB
maintenance_work_mem = 1GB
max_wal_size = 20GB
checkpoint_timeout = 30min
synchronous_commit = off
fsync = off
full_page_writes = off
autovacuum = off
jit = off
EOF
	pg_ctl -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
}

q()
{
	PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres -d postgres "$@"
}

now()
{
	date +%s.%N
}

calc()
{
	awk "BEGIN { printf \"%.1f\", $* }"
}

model_bench_tee()
{
	tee -a "$OUT"
}

model_bench_header()
{
	echo "machine load before the latency runs: $(cut -d' ' -f1-3 /proc/loadavg) (other jobs share the $(nproc) cores)" | model_bench_tee
	printf '%-68s %11s %5s %13s %9s %s\n' "metric" "function ms" "calls" "plain SQL ms" "ratio" "same" | model_bench_tee
}

# One line of the latency table.  The function runs once under a statement
# timeout of BENCH_TIMEOUT s (default 60; a slower one is reported as
# timed out and not repeated), then, if that took under a second, twice
# more to warm up, then up to CALLS times until BUDGET ms are spent (at
# least 5 calls, 3 when one takes over a second): the median.  The plain
# SQL: up to PLAIN_CALLS times until 30 s are spent, under a timeout of
# BENCH_PLAIN_TIMEOUT s (default 600).  Results are compared as the md5 of
# all their rows' text, sorted: the function's read once more after its
# timed calls, the plain SQL's in each timed call (sorting a few result
# rows is noise next to scanning the landing tables).
model_bench_pair()
{
	[ "${BENCH_APPLY_ONLY:-0}" = 1 ] && return 0
	mb_label=$1
	mb_fn=$2
	mb_plain=$3
	mb_r=$(q -At -v ON_ERROR_STOP=0 2>"$WORK/pair.err" <<EOF
CREATE FUNCTION pg_temp.median_ms(sql text, calls int, min_calls int, budget float8, hashed bool,
	OUT ms float8, OUT n int, OUT res text)
LANGUAGE plpgsql AS \$\$
DECLARE t timestamptz; all_ms float8[] := '{}'; spent float8 := 0; x float8;
BEGIN
	IF hashed THEN
		sql := 'SELECT pg_catalog.md5(pg_catalog.string_agg(q::text, '','' ORDER BY q::text)) FROM (' || sql || ') AS q';
	END IF;
	FOR i IN 1 .. calls LOOP
		t := clock_timestamp();
		IF hashed THEN
			EXECUTE sql INTO res;
		ELSE
			EXECUTE sql;
		END IF;
		x := extract(epoch FROM clock_timestamp() - t) * 1000;
		all_ms := all_ms || x;
		spent := spent + x;
		EXIT WHEN i >= min_calls AND spent > budget;
	END LOOP;
	n := cardinality(all_ms);
	ms := (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FROM unnest(all_ms) v);
END \$\$;
SET statement_timeout = '${BENCH_TIMEOUT:-60}s';
SELECT ms AS probe_ms, ms < 1000 AS probe_fast FROM pg_temp.median_ms(\$q\$$mb_fn\$q\$, 1, 1, 0, false) \gset
SET statement_timeout = 0;
\if :{?probe_ms}
\if :probe_fast
SELECT pg_temp.median_ms(\$q\$$mb_fn\$q\$, 2, 2, 0, false);
\endif
SELECT 'fn', f.n, round(f.ms::numeric, 3), fr.res
FROM pg_temp.median_ms(\$q\$$mb_fn\$q\$, $CALLS, CASE WHEN :'probe_fast' THEN 5 ELSE 3 END, $BUDGET_MS, false) f,
	pg_temp.median_ms(\$q\$$mb_fn\$q\$, 1, 1, 0, $MB_COMPARE) fr;
\endif
SET statement_timeout = '${BENCH_PLAIN_TIMEOUT:-600}s';
SELECT 'plain', round(p.ms::numeric, 1), p.res FROM pg_temp.median_ms(\$q\$$mb_plain\$q\$, $PLAIN_CALLS, 1, 30000, $MB_COMPARE) p;
EOF
)
	mb_f=$(echo "$mb_r" | awk -F'|' '$1 == "fn" { print $3 }')
	mb_n=$(echo "$mb_r" | awk -F'|' '$1 == "fn" { print $2 }')
	mb_fres=$(echo "$mb_r" | awk -F'|' '$1 == "fn" { print $4 }')
	mb_p=$(echo "$mb_r" | awk -F'|' '$1 == "plain" { print $2 }')
	mb_pres=$(echo "$mb_r" | awk -F'|' '$1 == "plain" { print $3 }')
	mb_err=$(grep -v 'canceling statement due to statement timeout' "$WORK/pair.err" | grep -m1 'ERROR' || true)
	if [ -n "$mb_err" ]; then
		echo "$mb_label: $mb_err" >&2
		mb_same=ERROR
		mb_ratio=-
		[ -n "$mb_f" ] || { mb_f=error; mb_n=1; }
		[ -n "$mb_p" ] || mb_p=error
	elif [ -z "$mb_f" ] || [ -z "$mb_p" ]; then
		mb_same=-
		mb_ratio=-
		[ -n "$mb_f" ] || { mb_f=">${BENCH_TIMEOUT:-60}000"; mb_n=1; }
		[ -n "$mb_p" ] || mb_p=">${BENCH_PLAIN_TIMEOUT:-600}000"
	else
		mb_ratio=$(awk "BEGIN { printf \"%.0fx\", $mb_p / ($mb_f > 0 ? $mb_f : 0.001) }")
		if [ "$MB_COMPARE" != true ]; then
			mb_same=-
		elif [ "$mb_fres" = "$mb_pres" ]; then
			mb_same=yes
		else
			mb_same=NO
		fi
	fi
	printf '%-68s %11s %5s %13s %9s %s\n' "$mb_label" "$mb_f" "$mb_n" "$mb_p" "$mb_ratio" "$mb_same" | model_bench_tee
}

model_bench_run_file()
{
	mb_t0=$(now)
	mb_out=$(psql -X -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres -d postgres -c '\timing on' -f "$1" |
		awk -v names="${BATCH_STATEMENTS:-}" '
			/^(INSERT 0|UPDATE|DELETE) [0-9]+$/ { rows += $NF }
			/^BEGIN$/ { k = -1; batches++ }
			/^Time: / { k++; if (k > 0) { ms[k] += $2; if (k > last) last = k } }
			END {
				printf "%d|", rows
				n = split(names, name, "|")
				for (i = 1; i <= last; i++)
					printf "%s%s %.1f", (i > 1 ? ", " : ""), (i <= n ? name[i] : "statement " i), ms[i] / (batches ? batches : 1)
			}')
	SECONDS_TAKEN=$(awk "BEGIN { printf \"%.2f\", $(now) - $mb_t0 }")
	ROWS_CHANGED=${mb_out%%|*}
	STATEMENT_MS=${mb_out#*|}
}

# BATCHES transactions from the caller's `batch I OFFSET`
model_bench_batches()
{
	mb_i=0
	while [ $mb_i -lt "$BATCHES" ]; do
		batch $mb_i "$1"
		mb_i=$((mb_i + 1))
	done
}

model_bench_apply_cost()
{
	mb_what=$1
	mb_detach=$2
	mb_verify=${3:-}
	[ "${BENCH_VERIFY:-1}" = 1 ] || mb_verify=
	echo | model_bench_tee
	q -c "CHECKPOINT" >/dev/null
	model_bench_batches 1000000 > "$WORK/batches_model.sql"
	model_bench_run_file "$WORK/batches_model.sql"
	mb_model=$SECONDS_TAKEN
	mb_changes=$ROWS_CHANGED
	mb_model_ms=$STATEMENT_MS
	[ -n "$mb_verify" ] && mb_diff=$(q -At -c "SELECT count(*) FROM $mb_verify")
	q -c "$mb_detach" >/dev/null
	q -c "CHECKPOINT" >/dev/null
	model_bench_batches 3000000 > "$WORK/batches_plain.sql"
	model_bench_run_file "$WORK/batches_plain.sql"
	mb_plain=$SECONDS_TAKEN
	mb_plain_ms=$STATEMENT_MS
	{
		echo "apply cost, $BATCHES batches, $((mb_changes / BATCHES)) rows changed each on average ($mb_what):"
		echo "  landing tables alone:        $mb_plain s  ($(calc "$mb_changes / $mb_plain") changes/s)"
		echo "  landing tables + the model:  $mb_model s  ($(calc "$mb_changes / $mb_model") changes/s)"
		echo "  the model costs $(calc "$mb_model / $mb_plain")x the time of the landing tables alone ($(calc "($mb_model - $mb_plain) * 1000 / $BATCHES") ms more per batch)"
		echo "  ms per batch and statement, with the model: $mb_model_ms"
		echo "  ms per batch and statement, landing tables alone: $mb_plain_ms"
		[ -z "$mb_verify" ] || echo "  $mb_verify after the batches: $mb_diff differences"
		echo "  load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	} | model_bench_tee
	echo "results in $OUT"
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "cluster left running: psql -h $WORK -p $PORT -U postgres; stop: pg_ctl -D $WORK/data stop"
	fi
}
