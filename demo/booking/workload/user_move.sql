-- booking_users: a user (frequent users more often) moves to another
-- country, effective now.
\set id random_exponential(1, :users, 6)
\set c random(1, 10)
UPDATE users SET country_code = (ARRAY['DE', 'FR', 'ES', 'IT', 'NL', 'PL', 'SE', 'GB', 'US', 'PT'])[:c], updated_at = now()
WHERE id = :id;
