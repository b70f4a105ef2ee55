#!/bin/sh
# The model engine's metric functions at size: a scratch PostgreSQL (fsync
# off) with the claims shape's landing tables filled directly (BENCH_FACTS
# claims, BENCH_CUSTOMERS customers), bench/engine/declaration.json declared
# on them (create_model: the bulk build, timed), then
#   - the size of the model's tables against the landing tables;
#   - every generated metric function, median of BENCH_CALLS warm calls, for
#     six argument sets (everything, a whole year, a whole month, days across
#     months, a country, days and a country), against its plain SQL over the
#     fact table (median of BENCH_PLAIN_CALLS), results compared as text;
#   - the apply cost of one statement of BENCH_BATCH claims (update, insert,
#     delete; median of BENCH_REPS, each rolled back) with the model's
#     triggers and without them (the landing table alone).
# Values: amounts in cents up to 1000 (100,000 distinct), resolutions in
# whole minutes up to 14 days (20,160 distinct), 20 countries, 2023-2025.
# BENCH_NO_HISTOGRAMS=1 declares the model without its percentile and
# count_distinct measures (no value histograms: their write cost apart);
# BENCH_APPLY_ONLY=1 skips the metric functions.
# Usage (as root or the bench user): PG_CONFIG=... bench/engine/run.sh
# Output: bench/results/engine-<time>.txt (also on stdout).
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH_USER=${BENCH_USER:-postgres}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

BENCH_COMMIT=${BENCH_COMMIT:-$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- extension || echo ' (extension changed)')}
if [ "$(id -u)" = 0 ]; then
	work=${BENCH_WORK:-$ROOT/.cache/bench-engine}
	mkdir -p "$work" "$ROOT/bench/results"
	chown "$BENCH_USER" "$work" "$ROOT/bench/results"
	exec runuser -u "$BENCH_USER" -- env HOME="$work" BENCH_WORK="$work" PG_CONFIG="$PG_CONFIG" \
		BENCH_FACTS="${BENCH_FACTS:-}" BENCH_CUSTOMERS="${BENCH_CUSTOMERS:-}" BENCH_CALLS="${BENCH_CALLS:-}" \
		BENCH_PLAIN_CALLS="${BENCH_PLAIN_CALLS:-}" BENCH_BATCH="${BENCH_BATCH:-}" BENCH_REPS="${BENCH_REPS:-}" BENCH_VERIFY="${BENCH_VERIFY:-}" \
		BENCH_NO_HISTOGRAMS="${BENCH_NO_HISTOGRAMS:-}" BENCH_APPLY_ONLY="${BENCH_APPLY_ONLY:-}" \
		BENCH_COMMIT="$BENCH_COMMIT" "$0"
fi

WORK=${BENCH_WORK:-$ROOT/.cache/bench-engine}
FACTS=${BENCH_FACTS:-10000000}
CUSTOMERS=${BENCH_CUSTOMERS:-100000}
CALLS=${BENCH_CALLS:-20}
PLAIN_CALLS=${BENCH_PLAIN_CALLS:-3}
BATCH=${BENCH_BATCH:-2000}
REPS=${BENCH_REPS:-10}
export PATH="$($PG_CONFIG --bindir):$PATH"
OUT="$ROOT/bench/results/engine-$(date -u +%Y%m%dT%H%M%S).txt"

rm -rf "$WORK/data"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup()
{
	pg_ctl -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM
initdb -D "$WORK/data" -A trust >/dev/null
cat >> "$WORK/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$WORK'
shared_preload_libraries = 'walstar'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 1GB
work_mem = 64MB
maintenance_work_mem = 512MB
max_wal_size = 16GB
checkpoint_timeout = 30min
CONF
pg_ctl -D "$WORK/data" -l "$WORK/postgres.log" -w start >/dev/null
P="psql -X -q -At -v ON_ERROR_STOP=1 -h $WORK -p $PORT -d postgres"

say()
{
	echo "$*" | tee -a "$OUT"
}
say "bench/engine/run.sh: commit $BENCH_COMMIT, $(date -u '+%Y-%m-%d %H:%M UTC'), load: $(cut -d' ' -f1-3 /proc/loadavg)"
say "claims $FACTS, customers $CUSTOMERS, calls $CALLS (plain SQL $PLAIN_CALLS), batch $BATCH x $REPS"

start=$(date +%s.%N)
$P <<SQL
CREATE EXTENSION walstar;
CREATE SCHEMA walstar_landing;
CREATE TABLE walstar_landing.customers (id bigint PRIMARY KEY, full_name text NOT NULL, email text NOT NULL,
	phone text, country_code character(2) NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE walstar_landing.claims (id bigint PRIMARY KEY, customer_id bigint NOT NULL, amount numeric(12,2) NOT NULL,
	status text NOT NULL, is_anomaly boolean NOT NULL, anomaly_reason text, flagged_at timestamptz,
	created_at timestamptz NOT NULL, resolved_at timestamptz, updated_at timestamptz NOT NULL);
SELECT setseed(0.35);
INSERT INTO walstar_landing.customers SELECT i, 'customer ' || i, 'c' || i || '@example.com', NULL,
	(ARRAY['DE','FR','IT','ES','NL','BE','AT','PL','SE','DK','FI','NO','PT','IE','CZ','HU','RO','GR','CH','GB'])[1 + i % 20],
	'2022-01-01', '2022-01-01' FROM generate_series(1, $CUSTOMERS) i;
INSERT INTO walstar_landing.claims SELECT i, 1 + (random() * ($CUSTOMERS - 1))::bigint, round((random() * 1000)::numeric, 2),
	'paid', random() < 0.1, NULL, NULL, c, CASE WHEN random() < 0.8 THEN c + floor(random() * 20160) * interval '1 minute' END, c
FROM (SELECT i, '2023-01-01 00:00+00'::timestamptz + floor(random() * 94608000) * interval '1 second' AS c
	  FROM generate_series(1, $FACTS) i) AS x;
VACUUM ANALYZE walstar_landing.customers, walstar_landing.claims;
SQL
say "landing tables filled in $(echo "$(date +%s.%N) - $start" | bc | cut -c1-6) s"

decl=$(cat "$ROOT/bench/engine/declaration.json")
if [ "${BENCH_NO_HISTOGRAMS:-}" = 1 ]; then
	decl=$(echo "SELECT jsonb_set(:'decl', '{facts,claim,measures}', (SELECT jsonb_object_agg(key, value) FROM jsonb_each(:'decl'::jsonb->'facts'->'claim'->'measures') WHERE value->>'kind' NOT IN ('percentile', 'count_distinct')))" |
		$P -v decl="$decl")
	say "declared without its percentile and count_distinct measures"
fi
start=$(date +%s.%N)
echo "SELECT walstar.create_model(:'decl')" | $P -v decl="$decl" >/dev/null
say "create_model (bulk build): $(echo "$(date +%s.%N) - $start" | bc | cut -c1-6) s"
$P -c 'VACUUM ANALYZE' >/dev/null
$P <<'SQL' | tee -a "$OUT"
SELECT format('size: model tables %s (rollups %s, value histograms %s, facts %s), landing tables %s: %sx',
	pg_size_pretty(sum(s) FILTER (WHERE n = 'claims_engine')), pg_size_pretty(sum(s) FILTER (WHERE r LIKE 'r\_%')),
	pg_size_pretty(sum(s) FILTER (WHERE r LIKE 'h\_%')), pg_size_pretty(sum(s) FILTER (WHERE r LIKE 'f\_%')),
	pg_size_pretty(sum(s) FILTER (WHERE n = 'walstar_landing')),
	round(sum(s) FILTER (WHERE n = 'claims_engine') / sum(s) FILTER (WHERE n = 'walstar_landing'), 2))
FROM (SELECT c.relname AS r, c.relnamespace::regnamespace::text AS n, pg_total_relation_size(c.oid)::numeric AS s
	  FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace::regnamespace::text IN ('claims_engine', 'walstar_landing')) x;
SELECT format('  %s: %s rows, %s', c.relname, c.reltuples::bigint, pg_size_pretty(pg_total_relation_size(c.oid)))
FROM pg_class c WHERE c.relnamespace = 'claims_engine'::regnamespace AND c.relkind = 'r' AND c.relname ~ '^[frh]_' ORDER BY 1;
SQL

[ "${BENCH_APPLY_ONLY:-}" = 1 ] || $P <<SQL | tee -a "$OUT"
-- median of calls warm calls (fewer when they take over 20 s in all: at least 3)
CREATE FUNCTION pg_temp.median_ms(q text, calls int, OUT ms numeric, OUT result text, OUT made int) LANGUAGE plpgsql AS \$\$
DECLARE
	t0 timestamptz;
	ts float8[] := '{}';
BEGIN
	EXECUTE q INTO result;
	FOR i IN 1..calls LOOP
		t0 := clock_timestamp();
		EXECUTE q INTO result;
		ts := ts || extract(epoch FROM clock_timestamp() - t0)::float8 * 1000;
		EXIT WHEN i >= 3 AND (SELECT sum(x) FROM unnest(ts) x) > 20000;
	END LOOP;
	made := cardinality(ts);
	SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY x)::numeric, 2) INTO ms FROM unnest(ts) x;
END \$\$;
-- per measure: the function and its plain SQL over the facts
CREATE TEMP TABLE calls AS
SELECT m.key AS measure, a.n AS args_no, a.args,
	format('SELECT claims_engine.%I(%s)::text', m.key, a.args) AS fn_sql,
	CASE WHEN m.value->>'kind' NOT IN ('ratio', 'formula') THEN format('SELECT (%s)::text FROM claims_engine.f_claim AS f WHERE %s',
		CASE m.value->>'kind'
			WHEN 'count' THEN format('count(*) FILTER (WHERE (%s) AND (%s) IS NOT NULL)', coalesce(m.value->>'filter', 'true'), coalesce(m.value->>'of', 'true'))
			WHEN 'count_distinct' THEN format('count(DISTINCT %s) FILTER (WHERE %s)', m.value->>'of', coalesce(m.value->>'filter', 'true'))
			WHEN 'percentile' THEN format('percentile_cont(%s::float8) WITHIN GROUP (ORDER BY %s) FILTER (WHERE %s)', m.value->>'fraction', m.value->>'of', coalesce(m.value->>'filter', 'true'))
			ELSE format('%s(%s) FILTER (WHERE %s)', m.value->>'kind', m.value->>'of', coalesce(m.value->>'filter', 'true')) END,
		a.cond) END AS plain_sql
FROM claims_engine._declaration d, jsonb_each(d.declaration->'facts'->'claim'->'measures') m,
	(VALUES (1, '', 'true'), (2, '''2024-01-01'', ''2024-12-31''', 'f._day BETWEEN ''2024-01-01'' AND ''2024-12-31'''),
		(3, '''2024-03-01'', ''2024-03-31''', 'f._day BETWEEN ''2024-03-01'' AND ''2024-03-31'''),
		(4, '''2024-03-05'', ''2024-06-17''', 'f._day BETWEEN ''2024-03-05'' AND ''2024-06-17'''),
		(5, 'p_customer_country => ''DE''', 'f.customer_country = ''DE'''),
		(6, '''2024-03-05'', ''2024-06-17'', ''DE''', 'f._day BETWEEN ''2024-03-05'' AND ''2024-06-17'' AND f.customer_country = ''DE''')) a(n, args, cond);
SELECT format('%-26s %-34s fn %8s ms%s   plain %9s ms   %s', c.measure, '(' || c.args || ')', f.ms,
	CASE WHEN f.made < $CALLS THEN ' (' || f.made || ' calls)' ELSE '' END, p.ms,
	CASE WHEN c.plain_sql IS NULL THEN '' WHEN f.result IS NOT DISTINCT FROM p.result THEN 'equal' ELSE 'DIFFERS: ' || f.result || ' vs ' || p.result END)
FROM calls c, LATERAL pg_temp.median_ms(c.fn_sql, $CALLS) f,
	LATERAL (SELECT * FROM pg_temp.median_ms(c.plain_sql, $PLAIN_CALLS) WHERE c.plain_sql IS NOT NULL) p
ORDER BY c.measure, c.args_no;
-- (its percentiles per row still read the facts: minutes at 10M)
SELECT format('claim_by_yearly(): fn %s ms', ms) FROM pg_temp.median_ms('SELECT count(*) FROM claims_engine.claim_by_yearly()', 1)
WHERE $FACTS <= 1000000;
SQL

# apply: one statement of BATCH claims, rolled back, with and without the model
$P <<SQL | tee -a "$OUT"
CREATE FUNCTION pg_temp.apply_ms(q text, reps int, alone boolean) RETURNS numeric LANGUAGE plpgsql AS \$\$
DECLARE
	t0 timestamptz;
	ts float8[] := '{}';
BEGIN
	FOR i IN 1..reps LOOP
		BEGIN
			IF alone THEN
				ALTER TABLE walstar_landing.claims DISABLE TRIGGER USER;
			END IF;
			t0 := clock_timestamp();
			EXECUTE q;
			ts := ts || extract(epoch FROM clock_timestamp() - t0)::float8 * 1000;
			RAISE EXCEPTION 'bench: roll back';
		EXCEPTION WHEN raise_exception THEN
			NULL;
		END;
	END LOOP;
	RETURN (SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY x)::numeric, 1) FROM unnest(ts) x);
END \$\$;
SELECT format('apply %-7s %s claims: landing alone %s ms, with the model %s ms (%sx)', s.op, $BATCH, a, m, round(m / nullif(a, 0), 1))
FROM (VALUES
	('update', 'UPDATE walstar_landing.claims SET amount = amount + 1, resolved_at = coalesce(resolved_at, created_at + interval ''90 minutes''), updated_at = now()'
		' WHERE id = ANY (ARRAY(SELECT 1 + (random() * ($FACTS - 1))::bigint FROM generate_series(1, $BATCH)))'),
	('insert', 'INSERT INTO walstar_landing.claims SELECT $FACTS + i, 1 + (random() * ($CUSTOMERS - 1))::bigint, round((random() * 1000)::numeric, 2),'
		' ''open'', random() < 0.1, NULL, NULL, c, CASE WHEN random() < 0.8 THEN c + floor(random() * 20160) * interval ''1 minute'' END, c'
		' FROM (SELECT i, ''2025-12-01 00:00+00''::timestamptz + floor(random() * 2592000) * interval ''1 second'' AS c FROM generate_series(1, $BATCH) i) x'),
	('delete', 'DELETE FROM walstar_landing.claims WHERE id = ANY (ARRAY(SELECT 1 + (random() * ($FACTS - 1))::bigint FROM generate_series(1, $BATCH)))'))
	AS s(op, q), LATERAL pg_temp.apply_ms(s.q, $REPS, true) a, LATERAL pg_temp.apply_ms(s.q, $REPS, false) m;
SQL
if [ "${BENCH_VERIFY:-$([ "$FACTS" -le 2000000 ] && echo 1 || echo 0)}" = 1 ]; then
	say "verify(): $($P -c 'SELECT count(*) FROM claims_engine.verify()') differences (after the rolled-back batches)"
fi
echo "written: $OUT"
