-- ratings_clubs: a player signs (ids continue after the history's: the
-- ratings that already name them are re-attributed when they arrive).
\set c random(1, :clubs)
\set pos random(1, 4)
INSERT INTO players (full_name, position, club_id)
VALUES ('New player', (ARRAY['GK', 'DF', 'MF', 'FW'])[:pos], :c);
