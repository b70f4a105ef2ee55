-- acme_customers: a customer signs up.
\set c random(1, 15)
INSERT INTO customers (full_name, email, phone, country_code)
VALUES ('New customer', 'new-' || gen_random_uuid() || '@example.com', NULL,
		(ARRAY['DE','FR','ES','IT','NL','PL','SE','AT','BE','PT','IE','DK','CZ','FI','GR'])[:c]);
