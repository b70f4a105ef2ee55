# A declared model (walstar.create_model) fed by the apply worker: one
# source database, walstar-sink with 3 partitions per topic, a real Kafka
# broker, a subscription with 2 workers owned by an ordinary role, who also
# declares the model on its landing tables once a first workload has
# landed (the model is built from them), then a second workload arrives
# through the triggers: many versions of the same keys per batch, customer
# versions moving back in time with and without a country change, key
# changes, deletes of extreme amounts, orders before their customers.
#
# Asserted: every metric function, by period and dimension values, equals
# plain SQL over the source tables with the scenario's version rule (the
# source's own record of every customer version); verify() is empty; the
# same after rebuild(); the reader calls metrics and nothing else.
# WALSTAR_SEED=n replays a run.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::Sink;

my $seed = $ENV{WALSTAR_SEED} // (time() % 1000000);
note "seed $seed";

my $kafka = WalstarTest::Kafka->start;
my $src = WalstarTest::Pipeline::source('engine_source', 'app');
$src->safe_psql('app', q{
ALTER SYSTEM SET timezone = 'UTC';
SELECT pg_reload_conf();
CREATE TABLE customers (id int PRIMARY KEY, country_code char(2), updated_at timestamptz);
CREATE TABLE products (sku text PRIMARY KEY, category text);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int, sku text, amount numeric(12,2),
	status text, created_at timestamptz, shipped_at timestamptz);
-- the test's own record of customer versions (not captured): V, D, T
CREATE SCHEMA test;
CREATE TABLE test.cust_log (seq bigserial, op char, id int, country char(2), updated_at timestamptz);
CREATE FUNCTION test.log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'TRUNCATE' THEN
		INSERT INTO test.cust_log (op) VALUES ('T');
	ELSIF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.id <> NEW.id) THEN
		INSERT INTO test.cust_log (op, id) VALUES ('D', OLD.id);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		INSERT INTO test.cust_log (op, id, country, updated_at) VALUES ('V', NEW.id, NEW.country_code, NEW.updated_at);
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER log_row AFTER INSERT OR UPDATE OR DELETE ON customers FOR EACH ROW EXECUTE FUNCTION test.log();
CREATE TRIGGER log_truncate AFTER TRUNCATE ON customers FOR EACH STATEMENT EXECUTE FUNCTION test.log();
CREATE SEQUENCE test.order_ids START 10;
CREATE VIEW test.live_versions AS
SELECT DISTINCT ON (l.id, l.updated_at) l.id, l.country, l.updated_at
FROM test.cust_log l
WHERE l.op = 'V' AND l.updated_at IS NOT NULL
  AND l.seq > coalesce((SELECT max(seq) FROM test.cust_log WHERE op = 'T'), 0)
  AND NOT EXISTS (SELECT FROM test.cust_log d WHERE d.op = 'D' AND d.id = l.id AND d.seq > l.seq)
ORDER BY l.id, l.updated_at, l.seq DESC;
CREATE VIEW test.plain_orders AS
SELECT o.*, (o.created_at AT TIME ZONE 'UTC')::date AS day, o.shipped_at - o.created_at AS ship_time,
	coalesce(
		(SELECT v.country::text FROM test.live_versions v WHERE v.id = o.customer_id
		   AND v.updated_at = (SELECT max(w.updated_at) FROM test.live_versions w WHERE w.id = o.customer_id
							   AND w.updated_at <= coalesce(o.created_at, 'infinity'))),
		(SELECT v.country::text FROM test.live_versions v WHERE v.id = o.customer_id
		   AND v.updated_at = (SELECT min(w.updated_at) FROM test.live_versions w WHERE w.id = o.customer_id)),
		'??') AS country,
	CASE WHEN p.sku IS NULL THEN '?' ELSE coalesce(p.category, 'none') END AS category
FROM orders o LEFT JOIN products p ON p.sku = o.sku
WHERE o.status <> 'void';
});

my $ana = WalstarTest::Pipeline::analytics_node('engine_analytics', "timezone = 'UTC'\n");
$ana->safe_psql('postgres', q{
CREATE ROLE shop LOGIN IN ROLE walstar_admin;
CREATE ROLE analyst LOGIN IN ROLE walstar_reader;
GRANT CREATE ON DATABASE ana TO shop;
});
sub as_shop { return $ana->safe_psql('ana', "SET ROLE shop;\n" . $_[0]); }
as_shop(q{CREATE SCHEMA shop_land});
as_shop("SELECT walstar.create_subscription('shop', '" . $kafka->bootstrap . "',"
	  . " topics => ARRAY['shop.public.customers', 'shop.public.products', 'shop.public.orders'],"
	  . " landing_schema => 'shop_land', batch_size => 5000, batch_time => '300ms', workers => 2, enabled => true)");

my $sink = WalstarTest::Sink->start(name => 'shop', node => $src, db => 'app', kafka => $kafka,
	args => [ '--slot=walstar_shop', '--topic-prefix=shop', '--include-tables=public.*', '--topic-partitions=3' ]);
$src->poll_query_until('app', q{SELECT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = 'walstar_shop')})
  or die 'the sink did not create its slot';

# One workload: many versions per key in each transaction.
my $workload = q{
SELECT setseed(:seed / 1000000.0);
INSERT INTO customers SELECT g, (ARRAY['DE', 'FR', 'IT'])[1 + g % 3], '2023-01-01'::timestamptz + g * interval '9 days'
FROM generate_series(1, 25) g ON CONFLICT (id) DO NOTHING;
INSERT INTO products VALUES ('a', 'toys'), ('b', NULL), ('c', 'food') ON CONFLICT (sku) DO NOTHING;
-- orders, also of customers (up to 35) and products (e) not there yet
INSERT INTO orders
SELECT nextval('test.order_ids'), (random() * 35)::int, (ARRAY['a', 'b', 'c', 'd', 'e'])[1 + (random() * 4)::int],
	CASE WHEN random() < 0.05 THEN NULL ELSE round((random() * 150)::numeric, 2) END,
	CASE WHEN random() < 0.1 THEN 'void' ELSE 'paid' END,
	CASE WHEN random() < 0.03 THEN NULL ELSE '2023-01-01'::timestamptz + random() * interval '365 days' END,
	CASE WHEN random() < 0.5 THEN '2024-01-01'::timestamptz + random() * interval '30 days' END
FROM generate_series(1, 600);
DO $$
BEGIN
	FOR i IN 1..20 LOOP
		-- versions back and forth in time, with and without a country change
		UPDATE customers SET updated_at = '2023-01-01'::timestamptz + random() * interval '365 days',
			country_code = CASE WHEN random() < 0.4 THEN country_code
								ELSE (ARRAY['DE', 'FR', 'IT', 'ES'])[1 + (random() * 3)::int] END
		WHERE random() < 0.4;
		UPDATE orders SET amount = round((random() * 200)::numeric, 2),
			status = CASE WHEN random() < 0.15 THEN 'void' ELSE 'paid' END
		WHERE random() < 0.1;
	END LOOP;
END $$;
UPDATE customers SET id = id + 100 WHERE id IN (3, 7) AND NOT EXISTS (SELECT FROM customers c WHERE c.id IN (103, 107));
DELETE FROM customers WHERE id IN (5, 9);
INSERT INTO customers VALUES (5, 'PL', '2023-03-03') ON CONFLICT (id) DO NOTHING;
UPDATE orders SET id = -id WHERE id % 17 = 0 AND id > 0 AND NOT EXISTS (SELECT FROM orders o WHERE o.id = -orders.id);
DELETE FROM orders WHERE amount IN (SELECT max(amount) FROM orders UNION SELECT min(amount) FROM orders);
UPDATE products SET category = 'books' WHERE sku = 'a';
INSERT INTO products VALUES ('d', 'late') ON CONFLICT (sku) DO UPDATE SET category = 'late';
INSERT INTO customers SELECT g, 'NL', '2023-05-05' FROM generate_series(26, 35) g ON CONFLICT (id) DO NOTHING;
};

sub run_workload
{
	my ($phase) = @_;
	(my $sql = $workload) =~ s/:seed/($seed + $phase)/g;
	$src->safe_psql('app', $sql);
}

my %fingerprint = (
	customers => q{SELECT count(*) || ':' || coalesce(sum(hashtext(id || ':' || country_code || updated_at::text)), 0) FROM %s},
	products => q{SELECT count(*) || ':' || coalesce(sum(hashtext(sku || ':' || coalesce(category, ''))), 0) FROM %s},
	orders => q{SELECT count(*) || ':' || coalesce(sum(hashtext(concat_ws(':', id, customer_id, sku, amount, status,
		created_at, shipped_at))), 0) FROM %s});

sub wait_caught_up
{
	my ($label) = @_;
	for my $t (sort keys %fingerprint)
	{
		my $want = $src->safe_psql('app', sprintf($fingerprint{$t}, "public.$t"));
		$ana->poll_query_until('ana', sprintf($fingerprint{$t}, "shop_land.$t"), $want)
		  or die "$label: shop_land.$t did not catch up ($want)";
	}
	pass("$label: the landing tables caught up");
}

my $args = q{(VALUES (NULL::date, NULL::date, NULL::text, NULL::text),
	('2023-02-01', '2023-02-28', NULL, NULL), ('2023-01-01', '2023-12-31', NULL, NULL),
	('2023-02-03', '2023-03-20', NULL, NULL), (NULL, NULL, 'DE', NULL), ('2023-03-01', '2023-04-30', 'FR', NULL),
	(NULL, NULL, NULL, 'books'), ('2023-02-01', '2023-06-15', 'IT', 'none'), (NULL, NULL, '??', '?'),
	('2023-07-01', '2023-09-30', 'ES', NULL)) AS a(f, t, c, g)};
my $model_sql = qq{SELECT string_agg(concat_ws(' ', a.f, a.t, a.c, a.g, ':', shop.orders(a.f, a.t, a.c, a.g),
	shop.revenue(a.f, a.t, a.c, a.g), shop.avg_amount(a.f, a.t, a.c, a.g), shop.min_amount(a.f, a.t, a.c, a.g),
	shop.max_amount(a.f, a.t, a.c, a.g), shop.buyers(a.f, a.t, a.c, a.g), shop.median_amount(a.f, a.t, a.c, a.g),
	shop.p90_ship(a.f, a.t, a.c, a.g), shop.avg_ship(a.f, a.t, a.c, a.g), shop.big_orders(a.f, a.t, a.c, a.g),
	shop.big_share(a.f, a.t, a.c, a.g)), E'\\n') FROM $args};
my $plain_sql = qq{SELECT string_agg(concat_ws(' ', a.f, a.t, a.c, a.g, ':', x.n, x.s, x.a, x.mi, x.ma, x.b, x.med,
	x.p90, x.ash, x.big, x.sh), E'\\n') FROM $args,
	LATERAL (SELECT count(*) AS n, sum(amount) AS s, avg(amount) AS a, min(amount) AS mi, max(amount) AS ma,
		count(DISTINCT customer_id) AS b, percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS med,
		percentile_cont(0.9) WITHIN GROUP (ORDER BY ship_time) AS p90, avg(ship_time) AS ash,
		count(*) FILTER (WHERE amount >= 50) AS big, (count(*) FILTER (WHERE amount >= 50))::numeric / nullif(count(*), 0) AS sh
		FROM test.plain_orders o
		WHERE (a.f IS NULL OR o.day >= a.f) AND (a.t IS NULL OR o.day <= a.t)
		  AND (a.c IS NULL OR o.country = a.c) AND (a.g IS NULL OR o.category = a.g)) x};

sub compare
{
	my ($label) = @_;
	is($ana->safe_psql('ana', $model_sql), $src->safe_psql('app', $plain_sql),
		"$label: every metric equals plain SQL over the source");
	is($ana->safe_psql('ana', q{SELECT string_agg(concat_ws(' ', object, problem, detail), E'\n')
		FROM (SELECT * FROM shop.verify() LIMIT 10) v}), '', "$label: verify() reports no difference");
}

# first rows, one version each; the model is declared on them (its
# customers' version history starts here: versions before it are not known)
$src->safe_psql('app', q{
INSERT INTO customers SELECT g, (ARRAY['DE', 'FR', 'IT'])[1 + g % 3], '2023-01-01'::timestamptz + g * interval '9 days'
FROM generate_series(1, 12) g;
INSERT INTO products VALUES ('a', 'toys'), ('b', NULL);
INSERT INTO orders SELECT nextval('test.order_ids'), g % 15, 'a', g, 'paid', '2023-01-01'::timestamptz + g * interval '2 days', NULL
FROM generate_series(1, 100) g;
});
wait_caught_up('first rows');

# the subscription owner declares the model on its landing tables
my $decl = q{{"name": "shop", "landing_schema": "shop_land",
 "dimensions": {
  "customer": {"table": "customers", "scd": 2, "effective": "updated_at",
               "attributes": {"country": "country_code"}, "unknown": {"country": "??"}},
  "product": {"table": "products", "attributes": {"category": "coalesce(category, 'none')"},
              "unknown": {"category": "?"}}},
 "facts": {"order": {"table": "orders", "time": "created_at", "filter": "status <> 'void'",
  "columns": {"amount": "amount", "big": "amount >= 50", "ship_time": "shipped_at - created_at"},
  "references": {"customer": {"key": "customer_id", "as_of": "created_at"}, "product": {"key": "sku"}},
  "measures": {"orders": {"kind": "count"}, "revenue": {"kind": "sum", "of": "amount"},
   "avg_amount": {"kind": "avg", "of": "amount"}, "min_amount": {"kind": "min", "of": "amount"},
   "max_amount": {"kind": "max", "of": "amount"}, "buyers": {"kind": "count_distinct", "of": "customer_key"},
   "median_amount": {"kind": "percentile", "of": "amount", "fraction": 0.5},
   "p90_ship": {"kind": "percentile", "of": "ship_time", "fraction": 0.9},
   "avg_ship": {"kind": "avg", "of": "ship_time"}, "big_orders": {"kind": "count", "filter": "big"},
   "big_share": {"kind": "ratio", "numerator": "big_orders", "denominator": "orders"}},
  "rollups": {"daily": {"grain": "day", "by": ["customer.country", "product.category"]},
              "monthly": {"grain": "month", "by": ["customer.country"]}, "yearly": {"grain": "year"}}}}}};
is(as_shop("SELECT walstar.create_model('" . ($decl =~ s/'/''/gr) . "')"), 'shop', 'the subscription owner declares the model');
compare('built from the landing tables');

run_workload(1);
wait_caught_up('first workload');
compare('kept by the apply worker');
run_workload(2);
wait_caught_up('second workload');
compare('kept by the apply worker, again');
my $history = $ana->safe_psql('ana', 'SELECT count(*) FROM walstar_versions.shop_land__customers');
cmp_ok($history, '>', 200, "the customers' version history holds every version ($history)");


as_shop('SELECT shop.rebuild()');
compare('after rebuild()');

is($ana->safe_psql('ana', q{SET ROLE analyst; SELECT shop.orders() > 0}), 't', 'the reader calls a metric');
my ($rc, $out, $err) = $ana->psql('ana', q{SET ROLE analyst; SELECT shop.rebuild()});
like($err, qr/permission denied for function rebuild/, 'the reader cannot rebuild');
is($ana->safe_psql('ana', q{SELECT count(*) FROM walstar.dead_letters}), '0', 'no dead letters');

is($sink->stop, 0, 'clean stop');
$ana->stop;
$src->stop;
$kafka->stop;
done_testing();
