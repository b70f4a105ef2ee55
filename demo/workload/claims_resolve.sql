-- acme_claims: a claim is decided (approved, rejected or paid).
\set id random(:claims * 9 / 10, :claims + 5000)
\set s random(1, 3)
UPDATE claims SET status = (ARRAY['approved', 'rejected', 'paid'])[:s]::claim_status,
	   resolved_at = now(), updated_at = now()
WHERE id = :id AND resolved_at IS NULL;
