-- History loader, booking_users: :users users registered since 2022, countries
-- skewed towards the first of the list; one in ten changed country after
-- registering (updated_at later than created_at).
--   psql -v users=N -f history_users.sql
SELECT setseed(0.3);
INSERT INTO users (id, email, full_name, country_code, created_at, updated_at)
SELECT i, 'user' || i || '@example.com', 'User ' || i,
	   (ARRAY['DE', 'FR', 'ES', 'IT', 'NL', 'PL', 'SE', 'GB', 'US', 'PT'])[1 + floor(random() * random() * 10)::int],
	   c, CASE WHEN random() < 0.1 THEN c + random() * (now() - c) ELSE c END
FROM generate_series(1, :users) AS i,
	 LATERAL (SELECT timestamptz '2022-01-01 00:00+00'
					 + (i::float8 / :users) * (now() - interval '30 days' - timestamptz '2022-01-01 00:00+00')) AS t(c);
SELECT setval(pg_get_serial_sequence('users', 'id'), :users);
ANALYZE users;
