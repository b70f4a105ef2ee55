-- ratings_matches: a match deleted; ON DELETE CASCADE deletes its ratings,
-- and the stream carries each of those deletes.
\set id random(1, :matches)
DELETE FROM matches WHERE id = :id;
