-- acme_claims: a new claim; some are for customers that do not exist yet in
-- acme_customers (late arrival: ids just above the current ones).
\set cust random(1, :customers + 300)
INSERT INTO claims (customer_id, amount)
VALUES (:cust, round((exp(2.5 + random() * 6 + random() * 2))::numeric, 2));
