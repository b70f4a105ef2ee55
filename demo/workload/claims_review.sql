-- acme_claims: an open claim goes into review.
\set id random(:claims * 9 / 10, :claims + 5000)
UPDATE claims SET status = 'in_review', updated_at = now() WHERE id = :id AND status = 'open';
