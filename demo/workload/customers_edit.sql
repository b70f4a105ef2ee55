-- acme_customers: contact details change (no country change).
\set id random(1, :customers)
UPDATE customers SET phone = '+00 ' || :id * 7, updated_at = now() WHERE id = :id;
