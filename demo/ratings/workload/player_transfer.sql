-- ratings_clubs: a transfer, effective now; one in five is a late entry of
-- an earlier transfer (updated_at moves backwards by up to 60 days).
\set p random(1, :players)
\set c random(1, :clubs)
\set back random(1, 5)
UPDATE players SET club_id = :c,
	   updated_at = CASE WHEN :back = 1 THEN now() - random() * interval '60 days' ELSE now() END
WHERE id = :p;
