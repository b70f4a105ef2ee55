-- acme_customers: a customer is erased (their claims become country ??).
\set id random(1, :customers)
DELETE FROM customers WHERE id = :id;
