-- acme_claims: a decided claim is re-opened (resolved_at cleared).
\set id random(1, :claims + 5000)
UPDATE claims SET status = 'open', resolved_at = NULL, updated_at = now()
WHERE id = :id AND resolved_at IS NOT NULL;
