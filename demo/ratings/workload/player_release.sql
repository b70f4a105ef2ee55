-- ratings_clubs: a player becomes a free agent (club NULL), effective now.
\set p random(1, :players)
UPDATE players SET club_id = NULL, updated_at = now() WHERE id = :p;
