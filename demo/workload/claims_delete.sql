-- acme_claims: a claim is withdrawn; now and then the largest one.
\set id random(1, :claims + 5000)
\set biggest random(1, 20)
DELETE FROM claims WHERE id = CASE WHEN :biggest = 1
	THEN (SELECT id FROM claims WHERE amount > 10000 ORDER BY amount DESC LIMIT 1) ELSE :id END;
