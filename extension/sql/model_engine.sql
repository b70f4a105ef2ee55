-- The model engine: a declared model with every measure kind kept by its
-- triggers through random changes (deletes of extreme values, key changes,
-- late arrivals, SCD2 versions whose effective time moves backwards,
-- truncates), every metric equal to plain SQL over the landing tables
-- (customer versions from a log the test keeps itself), verify() empty;
-- bad declarations refused by name, leaving nothing behind.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS walstar;
CREATE SCHEMA "shop land";
CREATE TABLE "shop land".customers (id int PRIMARY KEY, country_code char(2), updated_at timestamptz);
CREATE TABLE "shop land".products (sku text PRIMARY KEY, category text);
CREATE TABLE "shop land".orders (id bigint PRIMARY KEY, customer_id int, sku text, amount numeric(12,2),
	status text, created_at timestamptz, shipped_at timestamptz);
-- the test's own record of customer versions: op V (a version), D, T
CREATE TABLE cust_log (seq bigserial, op char, id int, country char(2), updated_at timestamptz);
CREATE FUNCTION log_customers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'TRUNCATE' THEN
		INSERT INTO cust_log (op) VALUES ('T');
	ELSIF TG_OP IN ('UPDATE', 'DELETE') AND (TG_OP = 'DELETE' OR OLD.id <> NEW.id) THEN
		INSERT INTO cust_log (op, id) VALUES ('D', OLD.id);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		INSERT INTO cust_log (op, id, country, updated_at) VALUES ('V', NEW.id, NEW.country_code, NEW.updated_at);
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER log_row AFTER INSERT OR UPDATE OR DELETE ON "shop land".customers FOR EACH ROW EXECUTE FUNCTION log_customers();
CREATE TRIGGER log_truncate AFTER TRUNCATE ON "shop land".customers FOR EACH STATEMENT EXECUTE FUNCTION log_customers();
INSERT INTO "shop land".customers VALUES (1, 'DE', '2023-01-01'), (2, 'FR', '2023-01-01');
INSERT INTO "shop land".products VALUES ('a', 'toys'), ('b', NULL);
INSERT INTO "shop land".orders VALUES (1, 1, 'a', 10.50, 'paid', '2023-02-01 10:00+00', '2023-02-03'),
	(2, 2, 'b', 99.99, 'paid', '2023-03-01 23:30+00', NULL), (3, 9, 'zz', 5, 'paid', '2023-03-02', NULL);

\set decl '{"name": "shop", "landing_schema": "shop land", "dimensions": {"customer": {"table": "customers", "scd": 2, "effective": "updated_at", "attributes": {"country": "country_code"}, "unknown": {"country": "??"}}, "product": {"table": "products", "attributes": {"category": "coalesce(category, ''none'')"}, "unknown": {"category": "?"}}}, "facts": {"order": {"table": "orders", "time": "created_at", "filter": "status <> ''void''", "columns": {"amount": "amount", "big": "amount >= 50", "ship_time": "shipped_at - created_at"}, "references": {"customer": {"key": "customer_id", "as_of": "created_at"}, "product": {"key": "sku"}}, "measures": {"orders": {"kind": "count"}, "revenue": {"kind": "sum", "of": "amount"}, "avg_amount": {"kind": "avg", "of": "amount"}, "min_amount": {"kind": "min", "of": "amount"}, "max_amount": {"kind": "max", "of": "amount"}, "max_big": {"kind": "max", "of": "amount", "filter": "big"}, "buyers": {"kind": "count_distinct", "of": "customer_key"}, "median_amount": {"kind": "percentile", "of": "amount", "fraction": 0.5}, "p90_ship": {"kind": "percentile", "of": "ship_time", "fraction": 0.9}, "avg_ship": {"kind": "avg", "of": "ship_time"}, "big_orders": {"kind": "count", "filter": "big"}, "big_share": {"kind": "ratio", "numerator": "big_orders", "denominator": "orders"}}, "rollups": {"daily": {"grain": "day", "by": ["customer.country", "product.category"]}, "monthly": {"grain": "month", "by": ["customer.country"]}, "yearly": {"grain": "year"}}}}}'

-- bad declarations: one clear error each, nothing created
SELECT walstar.create_model(jsonb_set(:'decl', '{name}', '"x; drop"'));
SELECT walstar.create_model(jsonb_set(:'decl', '{facts,order,columns,amount}', '"amout"'));
SELECT walstar.create_model(jsonb_set(:'decl', '{facts,order,measures,revenue,of}', '"status"'));
SELECT walstar.create_model(jsonb_set(:'decl', '{facts,order,measures,revenue,of}', '"amount) FROM pg_authid; --"'));
SELECT walstar.create_model(jsonb_set(:'decl', '{facts,order,measures,orders,kind}', '"mode"'));
SELECT walstar.create_model(jsonb_set(:'decl', '{facts,order,measures,orders}', '{"kind": "percentile", "of": "amount", "fraction": 2}'));
SELECT walstar.create_model(jsonb_set(:'decl', '{facts,order,rollups,daily,by}', '["customer.planet"]'));
SELECT walstar.create_model(jsonb_set(:'decl', '{facts,order,references,customer,dimension}', '"client"'));
SELECT walstar.create_model(jsonb_set(:'decl', '{facts,again}', (:'decl'::jsonb)->'facts'->'order'));
SELECT walstar.create_model(jsonb_set(:'decl', '{facts,order,table}', '"nowhere"'));
SELECT walstar.create_model(jsonb_set(:'decl', '{facts,order,measures,fsum}', '{"kind": "sum", "of": "amount::float8"}'));
SELECT walstar.create_model(jsonb_set(jsonb_set(jsonb_set(:'decl', '{facts,order,columns,country}', '"''x''"'), '{facts,order,references,p}', '{"dimension": "customer", "key": "customer_id", "as_of": "created_at"}'), '{facts,order,rollups,yearly,by}', '["country", "p.country"]'));
SELECT count(*) AS schemas FROM pg_namespace WHERE nspname = 'shop';
SELECT count(*) AS sources FROM walstar.model_sources;

SELECT walstar.create_model(:'decl');
SELECT walstar.create_model(:'decl');

-- plain SQL: the live customer versions, each order's country as of its
-- created_at (before the first version: the first; none: ??)
CREATE VIEW live_versions AS
SELECT DISTINCT ON (l.id, l.updated_at) l.id, l.country, l.updated_at
FROM cust_log l
WHERE l.op = 'V' AND l.updated_at IS NOT NULL
  AND l.seq > coalesce((SELECT max(seq) FROM cust_log WHERE op = 'T'), 0)
  AND NOT EXISTS (SELECT FROM cust_log d WHERE d.op = 'D' AND d.id = l.id AND d.seq > l.seq)
ORDER BY l.id, l.updated_at, l.seq DESC;
CREATE VIEW plain_orders AS
SELECT o.*, (o.created_at AT TIME ZONE 'UTC')::date AS day, o.shipped_at - o.created_at AS ship_time,
	coalesce(
		(SELECT v.country::text FROM live_versions v WHERE v.id = o.customer_id
		   AND v.updated_at = (SELECT max(w.updated_at) FROM live_versions w WHERE w.id = o.customer_id
							   AND w.updated_at <= coalesce(o.created_at, 'infinity'))),
		(SELECT v.country::text FROM live_versions v WHERE v.id = o.customer_id
		   AND v.updated_at = (SELECT min(w.updated_at) FROM live_versions w WHERE w.id = o.customer_id)),
		'??') AS country,
	CASE WHEN p.sku IS NULL THEN '?' ELSE coalesce(p.category, 'none') END AS category
FROM "shop land".orders o LEFT JOIN "shop land".products p ON p.sku = o.sku
WHERE o.status <> 'void';

-- every metric, by every argument shape, against plain SQL; a row per mismatch
CREATE FUNCTION check_metrics() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	a record;
	want record;
	have record;
BEGIN
	FOR a IN SELECT * FROM (VALUES (NULL::date, NULL::date, NULL::text, NULL::text),
		('2023-02-01', '2023-02-28', NULL, NULL), ('2023-01-01', '2023-12-31', NULL, NULL),
		('2023-02-03', '2023-03-20', NULL, NULL), (NULL, NULL, 'DE', NULL), ('2023-03-01', '2023-04-30', 'FR', NULL),
		(NULL, NULL, NULL, 'toys'), ('2023-02-01', '2023-02-15', 'DE', 'none'), (NULL, NULL, '??', '?')) AS v(f, t, c, g)
	LOOP
		SELECT count(*) AS orders, sum(amount) AS revenue, avg(amount) AS avg_amount, min(amount) AS min_amount,
			max(amount) AS max_amount, max(amount) FILTER (WHERE amount >= 50) AS max_big,
			count(DISTINCT customer_id) AS buyers,
			percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS median_amount,
			percentile_cont(0.9) WITHIN GROUP (ORDER BY ship_time) AS p90_ship, avg(ship_time) AS avg_ship,
			count(*) FILTER (WHERE amount >= 50) AS big_orders,
			(count(*) FILTER (WHERE amount >= 50))::numeric / nullif(count(*), 0) AS big_share
		INTO want FROM plain_orders o
		WHERE (a.f IS NULL OR o.day >= a.f) AND (a.t IS NULL OR o.day <= a.t)
		  AND (a.c IS NULL OR o.country = a.c) AND (a.g IS NULL OR o.category = a.g);
		SELECT shop.orders(a.f, a.t, a.c, a.g) AS orders, shop.revenue(a.f, a.t, a.c, a.g) AS revenue,
			shop.avg_amount(a.f, a.t, a.c, a.g) AS avg_amount, shop.min_amount(a.f, a.t, a.c, a.g) AS min_amount,
			shop.max_amount(a.f, a.t, a.c, a.g) AS max_amount, shop.max_big(a.f, a.t, a.c, a.g) AS max_big,
			shop.buyers(a.f, a.t, a.c, a.g) AS buyers,
			shop.median_amount(a.f, a.t, a.c, a.g) AS median_amount, shop.p90_ship(a.f, a.t, a.c, a.g) AS p90_ship,
			shop.avg_ship(a.f, a.t, a.c, a.g) AS avg_ship, shop.big_orders(a.f, a.t, a.c, a.g) AS big_orders,
			shop.big_share(a.f, a.t, a.c, a.g) AS big_share
		INTO have;
		IF have::text IS DISTINCT FROM want::text THEN
			RETURN NEXT format('%s: have %s want %s', a, have, want);
		END IF;
	END LOOP;
END $$;
SELECT * FROM check_metrics();
SELECT * FROM shop.verify();

-- random changes, one statement at a time (the apply worker sends a batch
-- per statement here; 088 runs the model through the apply worker)
CREATE SEQUENCE order_ids START 10;
CREATE FUNCTION churn(rounds int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	r int;
	k int;
BEGIN
	FOR r IN 1 .. rounds LOOP
		k := (random() * 40)::int;
		CASE (random() * 12)::int
		WHEN 0 THEN
			INSERT INTO "shop land".customers VALUES (k % 16, (ARRAY['DE', 'FR', 'IT'])[1 + (random() * 2)::int],
				'2023-01-01'::timestamptz + random() * interval '365 days')
			ON CONFLICT (id) DO UPDATE SET country_code = excluded.country_code, updated_at = excluded.updated_at;
		WHEN 1 THEN	-- a version back in time, with or without a country change
			UPDATE "shop land".customers SET updated_at = updated_at - random() * interval '90 days',
				country_code = CASE WHEN random() < 0.3 THEN country_code ELSE (ARRAY['ES', 'DE', 'FR'])[1 + (random() * 2)::int] END
			WHERE id = k % 16;
		WHEN 2 THEN
			DELETE FROM "shop land".customers WHERE id = k AND random() < 0.5;
		WHEN 10 THEN	-- a new version, later or earlier
			UPDATE "shop land".customers SET updated_at = '2023-01-01'::timestamptz + random() * interval '365 days',
				country_code = (ARRAY['DE', 'FR', 'IT', 'ES'])[1 + (random() * 3)::int] WHERE id = k % 16;
		WHEN 3 THEN	-- a key change
			UPDATE "shop land".customers SET id = id + 50 WHERE id = k AND NOT EXISTS
				(SELECT FROM "shop land".customers WHERE id = k + 50);
		WHEN 4 THEN
			INSERT INTO "shop land".products VALUES ((ARRAY['a', 'b', 'c', 'd'])[1 + (random() * 3)::int],
				(ARRAY['toys', 'food', NULL])[1 + (random() * 2)::int]) ON CONFLICT (sku) DO UPDATE SET category = excluded.category;
		WHEN 5 THEN
			DELETE FROM "shop land".products WHERE sku = (ARRAY['a', 'b', 'c', 'd'])[1 + (random() * 3)::int];
		WHEN 6 THEN	-- extremes removed
			DELETE FROM "shop land".orders WHERE amount IN ((SELECT max(amount) FROM "shop land".orders),
				(SELECT min(amount) FROM "shop land".orders)) AND random() < 0.7;
		WHEN 7 THEN
			UPDATE "shop land".orders SET amount = round((random() * 200)::numeric, 2),
				status = CASE WHEN random() < 0.2 THEN 'void' WHEN random() < 0.1 THEN NULL ELSE 'paid' END
			WHERE id % 7 = k % 7;
		WHEN 8 THEN	-- an order's key changes
			k := (SELECT min(id) FROM "shop land".orders WHERE id > k);
			UPDATE "shop land".orders SET id = -id WHERE id = k
				AND NOT EXISTS (SELECT FROM "shop land".orders WHERE id = -k);
		ELSE	-- new orders, also of customers and products not there yet
			INSERT INTO "shop land".orders
			SELECT nextval('order_ids'), (random() * 20)::int,
				(ARRAY['a', 'b', 'c', 'd', 'e'])[1 + (random() * 4)::int],
				CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 150)::numeric, 2) END,
				CASE WHEN random() < 0.1 THEN 'void' ELSE 'paid' END,
				CASE WHEN random() < 0.05 THEN NULL ELSE '2023-01-01'::timestamptz + random() * interval '365 days' END,
				CASE WHEN random() < 0.5 THEN '2024-01-01'::timestamptz + random() * interval '30 days' END
			FROM generate_series(1, 1 + (random() * 5)::int) g;
		END CASE;
	END LOOP;
END $$;
SELECT setseed(0.42);
SELECT churn(400);
SELECT count(*) > 100 AS orders, count(DISTINCT country) > 3 AS countries FROM plain_orders;
SELECT * FROM check_metrics();
SELECT * FROM shop.verify();
-- a rollup's rows with every measure, against plain SQL grouped the same way
CREATE FUNCTION check_grouped() RETURNS SETOF text LANGUAGE sql AS $$
	WITH have AS (SELECT to_jsonb(r) AS j FROM shop.order_by_monthly('2023-02-01', NULL) r
				  UNION ALL SELECT to_jsonb(r) FROM shop.order_by_daily() r),
	want AS (
		SELECT jsonb_build_object('period', p, 'customer_country', c) || to_jsonb(m) AS j FROM (
			SELECT date_trunc('month', day)::date AS p, country AS c, count(*) AS orders, sum(amount) AS revenue,
				avg(amount) AS avg_amount, min(amount) AS min_amount, max(amount) AS max_amount,
				max(amount) FILTER (WHERE amount >= 50) AS max_big, count(DISTINCT customer_id) AS buyers,
				percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS median_amount,
				percentile_cont(0.9) WITHIN GROUP (ORDER BY ship_time) AS p90_ship, avg(ship_time) AS avg_ship,
				count(*) FILTER (WHERE amount >= 50) AS big_orders,
				(count(*) FILTER (WHERE amount >= 50))::numeric / nullif(count(*), 0) AS big_share
			FROM plain_orders WHERE day >= '2023-02-01' GROUP BY 1, 2) m
		UNION ALL
		SELECT jsonb_build_object('period', p, 'customer_country', c, 'product_category', g) || to_jsonb(m) FROM (
			SELECT day AS p, country AS c, category AS g, count(*) AS orders, sum(amount) AS revenue,
				avg(amount) AS avg_amount, min(amount) AS min_amount, max(amount) AS max_amount,
				max(amount) FILTER (WHERE amount >= 50) AS max_big, count(DISTINCT customer_id) AS buyers,
				percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS median_amount,
				percentile_cont(0.9) WITHIN GROUP (ORDER BY ship_time) AS p90_ship, avg(ship_time) AS avg_ship,
				count(*) FILTER (WHERE amount >= 50) AS big_orders,
				(count(*) FILTER (WHERE amount >= 50))::numeric / nullif(count(*), 0) AS big_share
			FROM plain_orders GROUP BY 1, 2, 3) m)
	SELECT 'have only: ' || j::text FROM (SELECT j - 'p' - 'c' - 'g' AS j FROM have EXCEPT SELECT j - 'p' - 'c' - 'g' FROM want) x
	UNION ALL SELECT 'want only: ' || j::text FROM (SELECT j - 'p' - 'c' - 'g' AS j FROM want EXCEPT SELECT j - 'p' - 'c' - 'g' FROM have) y
$$;
SELECT * FROM check_grouped() LIMIT 5;
SELECT count(*) > 50 AS daily_rows FROM shop.order_by_daily();
SELECT churn(400);
SELECT * FROM check_metrics();
SELECT * FROM shop.verify();

-- versions arriving out of order: one between two others moves only the
-- orders after it; one before the first moves those before it too
INSERT INTO "shop land".customers VALUES (90, 'DE', '2023-03-01');
INSERT INTO "shop land".orders VALUES (9001, 90, 'a', 10, 'paid', '2023-02-01', NULL),
	(9002, 90, 'a', 20, 'paid', '2023-05-01', NULL), (9003, 90, 'a', 30, 'paid', '2023-08-01', NULL);
UPDATE "shop land".customers SET country_code = 'FR', updated_at = '2023-07-01' WHERE id = 90;
SELECT id, customer_country FROM shop.f_order WHERE id > 9000 ORDER BY id;
UPDATE "shop land".customers SET country_code = 'IT', updated_at = '2023-04-01' WHERE id = 90;
SELECT id, customer_country FROM shop.f_order WHERE id > 9000 ORDER BY id;
UPDATE "shop land".customers SET country_code = 'ES', updated_at = '2023-01-15' WHERE id = 90;
SELECT id, customer_country FROM shop.f_order WHERE id > 9000 ORDER BY id;
SELECT * FROM check_metrics();
SELECT * FROM shop.verify();

-- truncates: the model follows, and rebuild() gives the same
TRUNCATE "shop land".customers;
INSERT INTO "shop land".customers SELECT g, 'PT', '2023-06-01' FROM generate_series(1, 20) g;
SELECT * FROM check_metrics();
SELECT * FROM shop.verify();
SELECT churn(200);
TRUNCATE "shop land".products;
SELECT * FROM check_metrics();
TRUNCATE "shop land".orders;
SELECT churn(200);
SELECT * FROM check_metrics();
SELECT * FROM shop.verify();
SELECT shop.rebuild();
SELECT * FROM check_metrics();
SELECT * FROM shop.verify();
SELECT * FROM check_grouped() LIMIT 5;
SELECT source, statements > 0 AS changed, lag_messages FROM shop.freshness();

-- the reader calls metrics, nothing else; nobody else anything
CREATE ROLE shop_reader IN ROLE walstar_reader;
CREATE ROLE shop_stranger;
SET ROLE shop_reader;
SELECT shop.orders() >= 0 AS reads;
SELECT shop.rebuild();
SELECT count(*) >= 0 FROM shop.f_order;
RESET ROLE;
SET ROLE shop_stranger;
SELECT shop.orders();
SELECT walstar.create_model(jsonb_set(:'decl', '{name}', '"shop2"'));
RESET ROLE;

-- a metric's COMMENT states its semantics
SELECT obj_description('shop.big_share(date, date, text, text)'::regprocedure);

-- min and max after the extreme row of a group goes, for a group with a
-- NULL key (orders without created_at: period NULL); the groups a
-- statement touched are matched with x = y OR both NULL (found through
-- the rollup's unique index, not one pass over the rollup per group)
INSERT INTO "shop land".orders VALUES (900001, 1, 'a', 0.01, 'paid', NULL, NULL),
	(900002, 1, 'a', 0.02, 'paid', NULL, NULL);
DELETE FROM "shop land".orders WHERE id = 900001;
SELECT min_amount_v FROM shop.r_order_yearly WHERE period IS NULL;
SELECT count(*) AS differences FROM shop.verify();
SELECT p.prosrc ~ 'r\.period = g\.period OR r\.period IS NULL AND g\.period IS NULL' AS groups_indexed
FROM pg_proc p WHERE p.oid = 'shop._refresh_order(bigint[])'::regprocedure;
DELETE FROM "shop land".orders WHERE id = 900002;

SELECT walstar.drop_model('shop');
SELECT count(*) AS schemas FROM pg_namespace WHERE nspname = 'shop';
SELECT count(*) AS sources FROM walstar.model_sources;
SELECT count(*) AS triggers FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relnamespace = '"shop land"'::regnamespace AND t.tgname LIKE 'walstar%';
DROP ROLE shop_reader, shop_stranger;
DROP VIEW plain_orders, live_versions;
DROP SCHEMA "shop land" CASCADE;
DROP FUNCTION check_metrics(), check_grouped(), churn(int), log_customers();
DROP TABLE cust_log;
DROP SEQUENCE order_ids;
