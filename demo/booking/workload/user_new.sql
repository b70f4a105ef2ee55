-- booking_users: a user registers (ids continue after the history's, so the
-- sessions and bookings that already name them are re-attributed).
\set c random(1, 10)
INSERT INTO users (id, email, full_name, country_code)
SELECT n, 'new' || n || '@example.com', 'New user', (ARRAY['DE', 'FR', 'ES', 'IT', 'NL', 'PL', 'SE', 'GB', 'US', 'PT'])[:c]
FROM (SELECT nextval(pg_get_serial_sequence('users', 'id')) AS n) AS s;
