-- acme_customers: a customer moves to another country (effective now).
\set id random(1, :customers)
\set c random(1, 15)
UPDATE customers SET country_code = (ARRAY['DE','FR','ES','IT','NL','PL','SE','AT','BE','PT','IE','DK','CZ','FI','GR'])[:c],
	   updated_at = now()
WHERE id = :id;
