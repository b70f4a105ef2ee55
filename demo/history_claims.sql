-- History loader, acme_claims: :claims claims since 2020 by :customers
-- customers (customer of claim i: 1 + |hashint8(i)| mod customers, as in
-- history_feedback.sql); amounts log-normal-ish in EUR; about 5% anomalies;
-- most older claims resolved within a month.
-- psql -v claims=N -v customers=M -f history_claims.sql
SELECT setseed(0.2);
INSERT INTO claims (id, customer_id, amount, status, is_anomaly, anomaly_reason, flagged_at,
					created_at, resolved_at, updated_at)
SELECT i, 1 + abs(hashint8(i::bigint)) % :customers,
	   round((exp(2.5 + random() * 6 + random() * 2))::numeric, 2),
	   CASE WHEN r IS NULL THEN (ARRAY['open', 'in_review'])[1 + floor(random() * 2)::int]
			ELSE (ARRAY['approved', 'rejected', 'paid', 'paid'])[1 + floor(random() * 4)::int] END::claim_status,
	   a, CASE WHEN a THEN 'pattern ' || floor(random() * 5) END,
	   CASE WHEN a THEN c + random() * interval '2 days' END,
	   c, r, coalesce(r, c)
FROM generate_series(1, :claims) AS i,
	 LATERAL (SELECT timestamptz '2020-01-01' + (i::float8 / :claims) * (now() - interval '1 day' - timestamptz '2020-01-01')) AS t(c),
	 LATERAL (SELECT random() < 0.05 + 0 * i) AS an(a),
	 LATERAL (SELECT CASE WHEN random() < 0.85 AND c < now() - interval '40 days'
						  THEN c + interval '2 hours' + random() * random() * interval '40 days' END) AS res(r);
SELECT setval(pg_get_serial_sequence('claims', 'id'), :claims);
ANALYZE claims;
