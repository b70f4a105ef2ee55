-- ratings_matches: a rating corrected (the new value replaces the old one).
\set id random(1, :matches * 20)
UPDATE ratings SET rating = round((random() * 10)::numeric, 1), rated_at = now() WHERE id = :id;
