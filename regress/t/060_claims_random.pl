# walstar_claims under random workloads applied to the landing tables the way
# the apply worker applies them (multi-row INSERT .. ON CONFLICT DO UPDATE,
# DELETE .. USING, TRUNCATE, several statements per transaction): after every
# few transactions each metric function must equal its plain-SQL definition,
# computed here independently over the landing tables and a country history
# this test records itself; verify() must report nothing.
# WALSTAR_SEED=n replays a run.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $seed = $ENV{WALSTAR_SEED} // (time() ^ $$);
srand($seed);
note "seed $seed";

my $node = PostgreSQL::Test::Cluster->new('claims');
$node->init;
$node->append_conf('postgresql.conf', "timezone = 'UTC'\nfsync = off\njit = off\n");
$node->start;
my $db = 'postgres';

$node->safe_psql($db, q{
CREATE EXTENSION walstar_claims CASCADE;
SELECT walstar_claims.attach('acme');

-- Every version of every customer row, recorded by a plain row trigger:
-- the test's own record of the country history.
CREATE SCHEMA test;
CREATE TABLE test.cust_history (seq bigserial, id bigint, country_code text, updated_at timestamptz);
CREATE FUNCTION test.record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		DELETE FROM test.cust_history WHERE id = OLD.id;
		RETURN OLD;
	END IF;
	IF TG_OP = 'UPDATE' AND OLD.id <> NEW.id THEN
		DELETE FROM test.cust_history WHERE id = OLD.id;
	END IF;
	INSERT INTO test.cust_history (id, country_code, updated_at)
	VALUES (NEW.id, NEW.country_code, NEW.updated_at);
	RETURN NEW;
END $$;
CREATE FUNCTION test.record_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN TRUNCATE test.cust_history; RETURN NULL; END $$;
CREATE TRIGGER history AFTER INSERT OR UPDATE OR DELETE ON acme.customers
	FOR EACH ROW EXECUTE FUNCTION test.record();
CREATE TRIGGER history_truncate AFTER TRUNCATE ON acme.customers
	FOR EACH STATEMENT EXECUTE FUNCTION test.record_truncate();

-- Plain definitions (scenario README), over the landing tables.
CREATE VIEW test.claims_x AS
SELECT c.id, c.amount, c.is_anomaly,
	   (c.created_at AT TIME ZONE 'UTC')::date AS day,
	   extract(year FROM c.created_at AT TIME ZONE 'UTC')::int AS yr,
	   coalesce((SELECT h.country_code FROM test.cust_history h
				 WHERE h.id = c.customer_id AND h.updated_at <= c.created_at
				 ORDER BY h.updated_at DESC, h.seq DESC LIMIT 1),
				(SELECT h.country_code FROM test.cust_history h
				 WHERE h.id = c.customer_id ORDER BY h.updated_at, h.seq LIMIT 1),
				'??') AS country,
	   CASE WHEN c.is_anomaly AND c.resolved_at IS NOT NULL
			THEN (extract(epoch FROM c.resolved_at) - extract(epoch FROM c.created_at)) * 1000000 END AS res_us
FROM acme.claims c;
CREATE VIEW test.feedback_x AS
SELECT f.id, (f.created_at AT TIME ZONE 'UTC')::date AS day,
	   CASE WHEN f.sentiment IS NOT NULL THEN f.sentiment
			WHEN f.rating IN (4, 5) THEN 'positive'
			WHEN f.rating = 3 THEN 'neutral' ELSE 'negative' END AS sentiment,
	   x.id IS NOT NULL AS claim_known, x.is_anomaly, x.yr,
	   coalesce(x.country, '??') AS country
FROM acme.feedback f LEFT JOIN test.claims_x x ON x.id = f.claim_id;
CREATE FUNCTION test.us(float8) RETURNS interval LANGUAGE sql
AS $$ SELECT round($1) * interval '1 microsecond' $$;
});

# One query listing every difference between a metric function and its
# plain definition; empty when they agree.
my $compare = q{
WITH countries AS (
	SELECT NULL::text AS c UNION SELECT DISTINCT country FROM test.claims_x
	UNION SELECT '??' UNION SELECT 'XX'),
years AS (SELECT NULL::int AS y UNION SELECT DISTINCT yr FROM test.claims_x UNION SELECT 1999),
periods AS (
	SELECT NULL::date AS f, NULL::date AS t
	UNION ALL SELECT date '2021-01-01', NULL
	UNION ALL SELECT NULL, date '2022-06-15'
	UNION ALL SELECT date '2021-03-17', date '2023-02-02'
	UNION ALL SELECT date '2022-05-03', date '2022-05-29'
	UNION ALL SELECT date '2022-01-01', date '2023-01-01'),
-- 1. count of claims
d1 AS (
	SELECT 'total_claims' AS metric, concat_ws(' ', p.f, p.t, k.c) AS key,
		   walstar_claims.total_claims(p.f, p.t, k.c)::text AS got,
		   (SELECT count(*) FROM test.claims_x x
			WHERE (p.f IS NULL OR x.day >= p.f) AND (p.t IS NULL OR x.day < p.t)
			  AND (k.c IS NULL OR x.country = k.c))::text AS want
	FROM periods p, countries k),
-- 2. min, max, avg, median of amount
d2 AS (
	SELECT 'claim_amount_stats', concat_ws(' ', y.y, k.c),
		   (SELECT concat_ws(' ', s.claims, s.min_amount, s.max_amount, s.avg_amount, s.median_amount)
			FROM walstar_claims.claim_amount_stats(y.y, k.c) s),
		   (SELECT concat_ws(' ', count(*), min(amount), max(amount), avg(amount),
							 trim_scale((percentile_disc(0.5) WITHIN GROUP (ORDER BY amount)
										 + percentile_disc(0.5) WITHIN GROUP (ORDER BY amount DESC)) / 2))
			FROM test.claims_x x
			WHERE (y.y IS NULL OR x.yr = y.y) AND (k.c IS NULL OR x.country = k.c))
	FROM years y, countries k),
-- 3. positive feedback
d3 AS (
	SELECT 'positive_feedback_count', concat_ws(' ', p.f, p.t, k.c),
		   walstar_claims.positive_feedback_count(p.f, p.t, k.c)::text,
		   (SELECT count(*) FROM test.feedback_x x
			WHERE x.sentiment = 'positive' AND (p.f IS NULL OR x.day >= p.f)
			  AND (p.t IS NULL OR x.day < p.t) AND (k.c IS NULL OR x.country = k.c))::text
	FROM periods p, countries k),
-- 4. anomaly feedback sentiment per year x country x sentiment
d4 AS (
	SELECT 'anomaly_feedback_sentiment', '',
		   (SELECT string_agg(concat_ws(' ', year, country_code, sentiment, feedback), ', '
							  ORDER BY year, country_code, sentiment)
			FROM walstar_claims.anomaly_feedback_sentiment()),
		   (SELECT string_agg(concat_ws(' ', yr, country, sentiment, n), ', ' ORDER BY yr, country, sentiment)
			FROM (SELECT yr, country, sentiment, count(*) AS n FROM test.feedback_x
				  WHERE claim_known AND is_anomaly GROUP BY 1, 2, 3) s)),
-- 5. anomaly resolution time per country
d5 AS (
	SELECT 'anomaly_resolution_time', coalesce(y.y::text, ''),
		   (SELECT string_agg(concat_ws(' ', country_code, resolved_claims, extract(epoch FROM avg_time),
										extract(epoch FROM median_time), extract(epoch FROM p90_time)), ', '
							  ORDER BY country_code)
			FROM walstar_claims.anomaly_resolution_time(y.y)),
		   (SELECT string_agg(concat_ws(' ', country, n, extract(epoch FROM a), extract(epoch FROM m),
										extract(epoch FROM p)), ', ' ORDER BY country)
			FROM (SELECT country, count(*) AS n, test.us(round(avg(res_us))::float8) AS a,
						 test.us(percentile_cont(0.5) WITHIN GROUP (ORDER BY res_us::float8)) AS m,
						 test.us(percentile_cont(0.9) WITHIN GROUP (ORDER BY res_us::float8)) AS p
				  FROM test.claims_x WHERE res_us IS NOT NULL AND (y.y IS NULL OR yr = y.y)
				  GROUP BY 1) s)
	FROM years y)
SELECT concat_ws(' | ', metric, key, 'got ' || coalesce(got, 'NULL'), 'want ' || coalesce(want, 'NULL'))
FROM (SELECT * FROM d1 UNION ALL SELECT * FROM d2 UNION ALL SELECT * FROM d3
	  UNION ALL SELECT * FROM d4 UNION ALL SELECT * FROM d5) d
WHERE got IS DISTINCT FROM want
};

# Random data.  Small id ranges so that rows are updated, deleted and come
# back; references beyond the ranges never arrive (late forever).
my @countries = qw(DE FR ES IT NL PL SE);
my $clock = 1_640_995_200;    # 2022-01-01, advances with every statement
my %cust_updated;             # id -> last updated_at (epoch) written

sub ts { my $t = shift; return "to_timestamp($t)"; }
sub rnd { my ($lo, $hi) = @_; return $lo + int(rand($hi - $lo + 1)); }

sub amount
{
	my $r = rand();
	return '0.00' if $r < 0.03;
	return '9999999999.99' if $r < 0.05;
	return sprintf('%d.00', 10 * rnd(1, 5)) if $r < 0.35;    # ties
	return sprintf('%.2f', exp(rand(16)));
}

sub customers_upsert
{
	my @rows;
	my %seen;
	for (1 .. rnd(1, 6))
	{
		my $id = rnd(1, 40);
		next if $seen{$id}++;
		# updated_at strictly increases per customer, as at the source.
		my $u = $clock + rnd(0, 20 * 86400);
		$u = $cust_updated{$id} + 1 if defined $cust_updated{$id} && $u <= $cust_updated{$id};
		$cust_updated{$id} = $u;
		my $cc = $countries[ rnd(0, $#countries) ];
		push @rows, "($id, 'n$id', 'e$id\@example.com', NULL, '$cc', " . ts($clock) . ", " . ts($u) . ")";
	}
	return "INSERT INTO acme.customers VALUES " . join(', ', @rows)
	  . " ON CONFLICT (id) DO UPDATE SET full_name = excluded.full_name, email = excluded.email,"
	  . " phone = excluded.phone, country_code = excluded.country_code,"
	  . " created_at = excluded.created_at, updated_at = excluded.updated_at";
}

sub claims_upsert
{
	my @rows;
	my %seen;
	for (1 .. rnd(1, 12))
	{
		my $id = rnd(1, 250);
		next if $seen{$id}++;
		my $cust = rnd(1, 48);
		my $created = $clock - rnd(0, 400 * 86400) + rnd(0, 60 * 86400);
		my $anom = rand() < 0.35 ? 'true' : 'false';
		my @st = qw(open in_review approved rejected paid);
		my $status = $st[ rnd(0, 4) ];
		my $resolved = ($status =~ /approved|rejected|paid/)
		  ? ts($created + rnd(60, 30 * 86400) + rand()) : 'NULL';
		my $flagged = $anom eq 'true' ? ts($created + rnd(0, 86400)) : 'NULL';
		push @rows, "($id, $cust, " . amount() . ", '$status', $anom, NULL, $flagged, "
		  . ts($created) . ", $resolved, " . ts($clock) . ")";
	}
	return "INSERT INTO acme.claims VALUES " . join(', ', @rows)
	  . " ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, amount = excluded.amount,"
	  . " status = excluded.status, is_anomaly = excluded.is_anomaly,"
	  . " anomaly_reason = excluded.anomaly_reason, flagged_at = excluded.flagged_at,"
	  . " created_at = excluded.created_at, resolved_at = excluded.resolved_at,"
	  . " updated_at = excluded.updated_at";
}

sub feedback_upsert
{
	my @rows;
	my %seen;
	my @sent = ('NULL', 'NULL', "'positive'", "'neutral'", "'negative'");
	for (1 .. rnd(1, 12))
	{
		my $id = rnd(1, 400);
		next if $seen{$id}++;
		push @rows, "($id, " . rnd(1, 280) . ", " . rnd(1, 48) . ", " . rnd(1, 5) . ", NULL, "
		  . $sent[ rnd(0, 4) ] . ", " . ts($clock - rnd(0, 300 * 86400)) . ")";
	}
	return "INSERT INTO acme.feedback VALUES " . join(', ', @rows)
	  . " ON CONFLICT (id) DO UPDATE SET claim_id = excluded.claim_id,"
	  . " customer_id = excluded.customer_id, rating = excluded.rating,"
	  . " comment = excluded.comment, sentiment = excluded.sentiment, created_at = excluded.created_at";
}

sub delete_using
{
	my ($table, $max) = @_;
	my %ids = map { rnd(1, $max) => 1 } 1 .. rnd(1, 5);
	if ($table eq 'customers')
	{
		delete $cust_updated{$_} for keys %ids;
	}
	return "DELETE FROM acme.$table t USING (VALUES "
	  . join(', ', map { "(" . $_ . "::bigint)" } sort keys %ids) . ") AS k(id) WHERE t.id = k.id";
}

sub claim_updates
{
	# Status changes, resolutions, re-openings, anomaly flags, as updates.
	my $r = rand();
	return "UPDATE acme.claims SET status = 'open', resolved_at = NULL, updated_at = "
	  . ts($clock) . " WHERE id IN (SELECT id FROM acme.claims WHERE resolved_at IS NOT NULL ORDER BY random() LIMIT 3)"
	  if $r < 0.3;
	return "UPDATE acme.claims SET status = 'paid', resolved_at = created_at + random() * interval '20 days', updated_at = "
	  . ts($clock) . " WHERE id IN (SELECT id FROM acme.claims WHERE resolved_at IS NULL ORDER BY random() LIMIT 4)"
	  if $r < 0.6;
	return "UPDATE acme.claims SET is_anomaly = NOT is_anomaly, updated_at = " . ts($clock)
	  . " WHERE id IN (SELECT id FROM acme.claims ORDER BY random() LIMIT 3)";
}

sub extreme_delete
{
	my $dir = rand() < 0.5 ? 'DESC' : 'ASC';
	return "DELETE FROM acme.claims t USING (SELECT id FROM acme.claims ORDER BY amount $dir LIMIT "
	  . rnd(1, 2) . ") AS k WHERE t.id = k.id";
}

sub statement
{
	my $r = rand();
	$clock += rnd(600, 3 * 86400);
	return customers_upsert() if $r < 0.17;
	return claims_upsert() if $r < 0.45;
	return feedback_upsert() if $r < 0.66;
	return claim_updates() if $r < 0.76;
	return extreme_delete() if $r < 0.80;
	return delete_using('claims', 250) if $r < 0.86;
	return delete_using('feedback', 400) if $r < 0.92;
	return delete_using('customers', 40) if $r < 0.965;
	return "UPDATE acme.customers SET country_code = '"
	  . $countries[ rnd(0, $#countries) ] . "', updated_at = updated_at + interval '1 day' WHERE id % 5 = "
	  . rnd(0, 4) if $r < 0.99;
	return "TRUNCATE acme." . (qw(feedback claims customers))[ rnd(0, 2) ];
}

my $transactions = $ENV{WALSTAR_CLAIMS_TXNS} // 160;
my $checks = 0;
for my $t (1 .. $transactions)
{
	my @stmts = map { statement() } 1 .. rnd(1, 4);
	# The bulk "updated_at + 1 day" statement keeps per-customer order too.
	for my $s (@stmts)
	{
		if ($s =~ /interval '1 day'/)
		{
			$_ += 86400 for values %cust_updated;
		}
		%cust_updated = () if $s =~ /TRUNCATE acme.customers/;
	}
	$node->safe_psql($db, join(";\n", 'BEGIN', @stmts, 'COMMIT'));
	if ($t % 16 == 0 || $t == $transactions)
	{
		my $diff = $node->safe_psql($db, $compare);
		is($diff, '', "after transaction $t: every metric equals its plain SQL definition");
		$checks++;
		last if $diff ne '';
	}
}

my $sizes = $node->safe_psql($db,
	'SELECT (SELECT count(*) FROM acme.customers) || \' customers, \' || (SELECT count(*) FROM acme.claims)'
	  . ' || \' claims, \' || (SELECT count(*) FROM acme.feedback) || \' feedback\'');
note "landing tables at the end: $sizes";
is($node->safe_psql($db, 'SELECT count(*) FROM walstar_claims.verify()'), '0', 'verify() reports no difference');

# rebuild() from the landing tables gives the same answers, in one chunk of
# ids and in many (the bulk build of large landing tables goes by chunks; of
# 3 ids here, as the random workload may leave only a few claims).
$node->safe_psql($db, 'SELECT walstar_claims.rebuild()');
is($node->safe_psql($db, $compare), '', 'after rebuild(): every metric equals its plain SQL definition');
my ($rc, $out, $err) = $node->psql($db, 'SET walstar_claims.rebuild_chunk = 3; SELECT walstar_claims.rebuild()');
is($rc, 0, 'rebuild() in chunks of 3 ids');
like($err, qr/NOTICE:  walstar_claims: (claims|feedback) \d+ of \d+/, 'rebuild() in chunks reports its progress');
is($node->safe_psql($db, $compare), '', 'after rebuild() in chunks: every metric equals its plain SQL definition');
($rc, $out, $err) = $node->psql($db, "SET walstar_claims.rebuild_chunk = '10 rows'; SELECT walstar_claims.rebuild()");
like($err, qr/walstar_claims.rebuild_chunk must be a whole number of ids \(0: no chunks\), not "10 rows"/,
	'a bad chunk setting is refused by name');

# Two apply transactions at once: a claim whose customer arrives in another,
# concurrent transaction is attributed whichever commits first.
$node->safe_psql($db, 'DELETE FROM acme.customers WHERE id = 900; DELETE FROM acme.claims WHERE id = 9000');
my $a = $node->background_psql($db);
$a->query_safe('BEGIN');
$a->query_safe("INSERT INTO acme.claims VALUES (9000, 900, 1.00, 'open', false, NULL, NULL, now(), NULL, now())");
my $b = $node->background_psql($db, wait => 0);
$b->query_until(qr/started/, "\\echo started\nINSERT INTO acme.customers VALUES (900, 'x', 'x', NULL, 'DE', now(), now());\n\\echo done\n");
$node->poll_query_until($db,
	"SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO acme.customers%'")
  or die 'the concurrent transaction does not wait';
$a->query_safe('COMMIT');
$b->query_until(qr/done/, '');
$a->quit;
$b->quit;
is($node->safe_psql($db,
	'SELECT f.customer_country FROM claims.f_claim f WHERE f.id = 9000'),
	'DE', 'claim committed concurrently with its customer is attributed to the customer');
is($node->safe_psql($db, 'SELECT count(*) FROM walstar_claims.verify()'), '0', 'verify() after concurrent transactions');

$node->stop;
done_testing();
