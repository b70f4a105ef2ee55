-- History loader, acme_customers: :customers customers, created since 2020,
-- some of them with a later country change (updated_at after created_at).
-- psql -v customers=N -f history_customers.sql
SELECT setseed(0.1);
INSERT INTO customers (id, full_name, email, phone, country_code, created_at, updated_at)
SELECT i, 'Customer ' || i, 'customer' || i || '@example.com', '+00 ' || (1000000 + i),
	   (ARRAY['DE','FR','ES','IT','NL','PL','SE','AT','BE','PT','IE','DK','CZ','FI','GR'])
		   [1 + floor(random() * random() * 15)::int],
	   c, CASE WHEN random() < 0.1 THEN c + random() * (now() - c) ELSE c END
FROM generate_series(1, :customers) AS i,
	 LATERAL (SELECT timestamptz '2020-01-01' + (i::float8 / :customers) * (now() - interval '30 days' - timestamptz '2020-01-01')) AS t(c);
SELECT setval(pg_get_serial_sequence('customers', 'id'), :customers);
ANALYZE customers;
