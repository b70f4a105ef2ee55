-- History loader, acme_feedback: :feedback feedback rows on random claims of
-- history_claims.sql (same customer and timing rules); 60% classified by the
-- service, the rest with sentiment NULL.
-- psql -v feedback=N -v claims=M -v customers=K -f history_feedback.sql
SELECT setseed(0.3);
INSERT INTO feedback (id, claim_id, customer_id, rating, comment, sentiment, created_at)
SELECT i, cl, 1 + abs(hashint8(cl)) % :customers, rt,
	   CASE WHEN random() < 0.3 THEN 'comment ' || i END,
	   CASE WHEN random() < 0.6 THEN
			(CASE WHEN rt >= 4 THEN 'positive' WHEN rt = 3 THEN 'neutral' ELSE 'negative' END)::sentiment END,
	   least(now(), timestamptz '2020-01-01' + (cl::float8 / :claims) * (now() - interval '1 day' - timestamptz '2020-01-01')
					+ interval '1 hour' + random() * interval '20 days')
FROM generate_series(1, :feedback) AS i,
	 LATERAL (SELECT (1 + floor(random() * :claims + 0 * i))::bigint) AS x(cl),
	 LATERAL (SELECT (1 + floor(5 * sqrt(random()) + 0 * cl))::smallint) AS y(rt);
SELECT setval(pg_get_serial_sequence('feedback', 'id'), :feedback);
ANALYZE feedback;
