#!/bin/sh
# walstar_claims benchmark: metric latency at scale, and what the model adds
# to the apply.
#
#   bench/claims/run.sh                 10M claims (BENCH_CLAIMS=n to change)
#
# 1. Landing tables with BENCH_CLAIMS claims, claims/10 customers (some of
#    them with a second country version) and claims/2 feedback, loaded
#    directly; attach() builds the star schema from them (bulk rebuild).
# 2. Each metric function, called BENCH_CALLS times (default 50, fewer
#    past BENCH_BUDGET_MS; bench/model_bench.sh): median latency, against
#    the same question in plain SQL over the fact tables (median of
#    BENCH_PLAIN_CALLS, default 3), and the ratio.
# 3. Apply cost: BENCH_BATCHES batches shaped like the apply worker's (1000
#    new claims upserted, 500 claims updated, 500 feedback inserted, 20
#    claims deleted, each one statement) run with the model attached and
#    again with the triggers removed (landing tables alone).
# Results go to stdout and bench/results/claims-<date>.txt (ignored by git);
# bench/claims/RESULTS.md records a run.
# BENCH_KEEP=1 leaves the cluster running at the end (for EXPLAIN and
# profiling); stop it with pg_ctl -D <work>/data stop.
# As root, PostgreSQL runs as the postgres OS user.
set -eu

. "$(dirname "$0")/../model_bench.sh"
model_bench_init claims "$@"

N=${BENCH_CLAIMS:-10000000}
BATCHES=${BENCH_BATCHES:-40}

MB_COMPARE=false	# the plain SQL returns the fact tables' figures, not the functions' rows
model_bench_start
{
echo "walstar_claims benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $COMMIT, $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB RAM"
echo "claims $N, customers $((N / 10)), feedback $((N / 2)); fsync off, shared_buffers 2GB"
} | tee "$OUT"

q <<EOF
CREATE EXTENSION walstar_claims CASCADE;
SELECT walstar_claims.attach('acme') \gset
SELECT walstar_claims.detach() \gset
EOF

t=$(now)
q <<EOF
SELECT setseed(0.5);
INSERT INTO acme.customers
SELECT i, 'c' || i, 'c' || i || '@example.com', NULL,
	   (ARRAY['DE','FR','ES','IT','NL','PL','SE','AT','BE','PT','IE','DK','CZ','FI','GR'])[1 + floor(random() * random() * 15)::int],
	   timestamptz '2019-01-01', timestamptz '2019-01-01'
FROM generate_series(1, $((N / 10))) AS i;
INSERT INTO acme.claims
SELECT i, 1 + abs(hashint8(i::bigint)) % $((N / 10)),
	   round((exp(2.5 + random() * 6 + random() * 2))::numeric, 2),
	   CASE WHEN r IS NULL THEN 'open' ELSE 'paid' END, a, NULL,
	   CASE WHEN a THEN c + interval '1 hour' END, c, r, coalesce(r, c)
FROM generate_series(1, $N) AS i,
	 LATERAL (SELECT timestamptz '2019-01-01' + (i::float8 / $N) * interval '2500 days') AS t(c),
	 LATERAL (SELECT random() < 0.05 + 0 * i) AS an(a),
	 LATERAL (SELECT CASE WHEN random() < 0.8 THEN c + interval '2 hours' + random() * random() * interval '40 days' END) AS res(r);
INSERT INTO acme.feedback
SELECT i, cl, 1 + abs(hashint8(cl)) % $((N / 10)), rt, NULL,
	   CASE WHEN random() < 0.6 THEN CASE WHEN rt >= 4 THEN 'positive' WHEN rt = 3 THEN 'neutral' ELSE 'negative' END END,
	   timestamptz '2019-01-01' + (cl::float8 / $N) * interval '2500 days' + interval '3 days'
FROM generate_series(1, $((N / 2))) AS i,
	 LATERAL (SELECT (1 + floor(random() * $N + 0 * i))::bigint) AS x(cl),
	 LATERAL (SELECT (1 + floor(5 * sqrt(random()) + 0 * cl))::smallint) AS y(rt);
VACUUM ANALYZE acme.customers, acme.claims, acme.feedback;
EOF
echo "landing tables loaded in $(calc "$(now) - $t") s" | tee -a "$OUT"

t=$(now)
q -c "SELECT walstar_claims.attach('acme')" >/dev/null
# A second country version for 1% of the customers, through the triggers.
q -c "UPDATE acme.customers SET country_code = 'DE', updated_at = timestamptz '2022-01-01' WHERE id % 100 = 0 AND country_code <> 'DE'" >/dev/null
q -c "VACUUM ANALYZE" >/dev/null
echo "attach() (bulk build of the star schema and rollups) + 1% country changes: $(calc "$(now) - $t") s" | tee -a "$OUT"
# the model's generated objects (walstar.create_model, schema claims); the
# old labels kept: there is no histogram table any more
q -At -c "SELECT 'rows: fact_claim ' || (SELECT count(*) FROM claims.f_claim)
	|| ', fact_feedback ' || (SELECT count(*) FROM claims.f_feedback)
	|| ', dim_customer ' || (SELECT count(*) FROM claims.d_customer)
	|| ', hist_exact -'
	|| ', r_claims_day ' || (SELECT count(*) FROM claims.r_claim_daily)" | tee -a "$OUT"
q -At -c "SELECT 'sizes: landing ' || pg_size_pretty(sum(pg_total_relation_size(c.oid)) FILTER (WHERE n.nspname = 'acme'))
	|| ', star schema + rollups ' || pg_size_pretty(sum(pg_total_relation_size(c.oid)) FILTER (WHERE n.nspname IN ('walstar_claims', 'claims')))
	|| ', version histories ' || coalesce(pg_size_pretty(sum(pg_total_relation_size(c.oid)) FILTER (WHERE n.nspname = 'walstar_versions')), '0 bytes')
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r'" | tee -a "$OUT"

# Median latency, measured inside the server around each call.

echo | tee -a "$OUT"
model_bench_header
F=walstar_claims
M=claims
model_bench_pair "total_claims()" "SELECT $F.total_claims()" \
	"SELECT count(*) FROM $M.f_claim"
model_bench_pair "total_claims('2021-03-10', '2023-07-20', 'FR')" "SELECT $F.total_claims('2021-03-10', '2023-07-20', 'FR')" \
	"SELECT count(*) FROM $M.f_claim f WHERE _day >= '2021-03-10' AND _day < '2023-07-20' AND customer_country = 'FR'"
model_bench_pair "claim_amount_stats()" "SELECT * FROM $F.claim_amount_stats()" \
	"SELECT count(*), min(amount), max(amount), avg(amount), (percentile_disc(0.5) WITHIN GROUP (ORDER BY amount) + percentile_disc(0.5) WITHIN GROUP (ORDER BY amount DESC)) / 2 FROM $M.f_claim"
model_bench_pair "claim_amount_stats(2022, 'DE')" "SELECT * FROM $F.claim_amount_stats(2022, 'DE')" \
	"SELECT count(*), min(amount), max(amount), avg(amount), (percentile_disc(0.5) WITHIN GROUP (ORDER BY amount) + percentile_disc(0.5) WITHIN GROUP (ORDER BY amount DESC)) / 2 FROM $M.f_claim f WHERE year = 2022 AND customer_country = 'DE'"
model_bench_pair "positive_feedback_count()" "SELECT $F.positive_feedback_count()" \
	"SELECT count(*) FROM $M.f_feedback WHERE sentiment = 'positive'"
model_bench_pair "anomaly_feedback_sentiment()" "SELECT * FROM $F.anomaly_feedback_sentiment()" \
	"SELECT claim_year, claim_country, sentiment, count(*) FROM $M.f_feedback WHERE claim_is_anomaly GROUP BY 1, 2, 3"
model_bench_pair "anomaly_resolution_time()" "SELECT * FROM $F.anomaly_resolution_time()" \
	"SELECT customer_country, count(*), avg(resolution_us), percentile_cont(0.5) WITHIN GROUP (ORDER BY resolution_us::float8), percentile_cont(0.9) WITHIN GROUP (ORDER BY resolution_us::float8) FROM $M.f_claim WHERE is_anomaly AND resolution_us IS NOT NULL GROUP BY 1"
model_bench_pair "anomaly_resolution_time(2023, 'ES')" "SELECT * FROM $F.anomaly_resolution_time(2023, 'ES')" \
	"SELECT customer_country, count(*), avg(resolution_us), percentile_cont(0.5) WITHIN GROUP (ORDER BY resolution_us::float8), percentile_cont(0.9) WITHIN GROUP (ORDER BY resolution_us::float8) FROM $M.f_claim f WHERE is_anomaly AND resolution_us IS NOT NULL AND year = 2023 AND customer_country = 'ES' GROUP BY 1"

# Apply cost: the same kind of batches with and without the model.
batch() {
	i=$1
	lo=$((N + $2 + i * 1000))
	echo "BEGIN;"
	echo "INSERT INTO acme.claims SELECT g, 1 + g % $((N / 10)), (g % 100000) / 7.0, 'open', g % 20 = 0, NULL, NULL, now() - (g % 1000) * interval '1 hour', NULL, now()
FROM generate_series($lo + 1, $lo + 1000) g
ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, amount = excluded.amount, status = excluded.status, is_anomaly = excluded.is_anomaly, anomaly_reason = excluded.anomaly_reason, flagged_at = excluded.flagged_at, created_at = excluded.created_at, resolved_at = excluded.resolved_at, updated_at = excluded.updated_at;"
	echo "INSERT INTO acme.claims SELECT c.id, c.customer_id, c.amount, 'paid', c.is_anomaly, c.anomaly_reason, c.flagged_at, c.created_at, c.created_at + interval '3 days', now()
FROM acme.claims c WHERE c.id IN (SELECT ($((N / 2)) + $i * 997 + g * 13) FROM generate_series(1, 500) g)
ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, amount = excluded.amount, status = excluded.status, is_anomaly = excluded.is_anomaly, anomaly_reason = excluded.anomaly_reason, flagged_at = excluded.flagged_at, created_at = excluded.created_at, resolved_at = excluded.resolved_at, updated_at = excluded.updated_at;"
	echo "INSERT INTO acme.feedback SELECT g, $lo + 1 + g % 1000, 1, 1 + g % 5, NULL, NULL, now() FROM generate_series($((N / 2)) + $lo + 1, $((N / 2)) + $lo + 500) g
ON CONFLICT (id) DO UPDATE SET claim_id = excluded.claim_id, customer_id = excluded.customer_id, rating = excluded.rating, comment = excluded.comment, sentiment = excluded.sentiment, created_at = excluded.created_at;"
	echo "DELETE FROM acme.claims t USING (SELECT ($((N / 4)) + $i * 101 + g * 7)::bigint AS id FROM generate_series(1, 20) g) k WHERE t.id = k.id;"
	echo "COMMIT;"
}
BATCH_STATEMENTS="new claims|claim updates|new feedback|claim deletes|commit"
model_bench_apply_cost "1000 new claims, 500 claim updates, 500 new feedback, 20 claim deletes" "SELECT walstar_claims.detach()"
