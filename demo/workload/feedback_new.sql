-- acme_feedback: feedback on a recent claim; some refer to claims that have
-- not reached the analytics side yet (late arrival).
\set cl random(greatest(1, :claims - 5000), :claims + 3000)
\set rating random(1, 5)
\set classified random(0, 9)
INSERT INTO feedback (claim_id, customer_id, rating, sentiment)
VALUES (:cl, 1 + abs(hashint8(:cl::bigint)) % :customers, :rating,
		CASE WHEN :classified < 6 THEN
			(CASE WHEN :rating >= 4 THEN 'positive' WHEN :rating = 3 THEN 'neutral' ELSE 'negative' END)::sentiment END);
