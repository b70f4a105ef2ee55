# walstar_claims fed by the apply worker with many versions of the same keys
# in one batch: the three Acme tables in one source database, one sink, a
# real Kafka broker, one subscription that starts only once the whole
# workload sits in Kafka.  Customers change country and updated_at dozens of
# times (updated_at moving backwards and forwards, with and without a
# country change), change key, are deleted and come back; claims arrive
# before their customers, their extreme amounts are deleted, anomalies are
# resolved and re-opened; feedback arrives before its claim.
#
# Asserted: every version reached the customers' version history (one row
# per source row version, in commit order), the model took each table batch
# in one round (the history trigger ran once per batch, not once per
# version), every metric equals its plain-SQL definition over the source
# tables with the scenario's version rule (the source's own record of every
# customer version), verify() is empty; again after a second workload
# applied while the worker runs, and after rebuild(), which builds the
# customer dimension from the version history.
# WALSTAR_SEED=n replays a run.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::ClaimsAnswers;
use WalstarTest::Kafka;
use WalstarTest::Sink;

my $root = $ENV{WALSTAR_ROOT} // '.';
my $seed = $ENV{WALSTAR_SEED} // (time() % 1000000);
note "seed $seed";

my $kafka = WalstarTest::Kafka->start;

my $src = PostgreSQL::Test::Cluster->new('versions_source');
$src->init(allows_streaming => 'logical');
WalstarTest::Sink::setup_node($src);
$src->append_conf('postgresql.conf', "timezone = 'UTC'\njit = off\n");
$src->start;

my $ana = PostgreSQL::Test::Cluster->new('versions_analytics');
$ana->init;
$ana->append_conf('postgresql.conf', q{
shared_preload_libraries = 'walstar'
walstar.launcher_naptime = 1
timezone = 'UTC'
jit = off
});
$ana->start;

sub slurp_file_text { my $f = shift; open(my $fh, '<', $f) or die "$f: $!"; local $/; return <$fh>; }

# The three tables of the scenario in one database, and the test's own
# record of every customer version (schema test: not replicated).
my $ddl = slurp_file_text("$root/demo/acme_sources.sql");
$ddl =~ s/^-- \\connect .*$//mg;
$src->safe_psql('postgres', 'CREATE DATABASE acme');
$src->safe_psql('acme', $ddl);
$src->safe_psql('acme', q{
ALTER TABLE customers DROP CONSTRAINT customers_email_key;
CREATE SCHEMA test;
CREATE TABLE test.cust_history (seq bigserial, id bigint, country_code text, updated_at timestamptz);
CREATE TABLE test.row_versions (n bigint NOT NULL);
INSERT INTO test.row_versions VALUES (0);
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
	UPDATE test.row_versions SET n = n + 1;
	RETURN NEW;
END $$;
CREATE TRIGGER record AFTER INSERT OR UPDATE OR DELETE ON customers
	FOR EACH ROW EXECUTE FUNCTION test.record();
});

$ana->safe_psql('postgres', 'CREATE DATABASE analytics');
$ana->safe_psql('analytics', 'CREATE EXTENSION walstar_claims CASCADE');
$ana->safe_psql('analytics', q{SELECT walstar_claims.attach('acme')});
$ana->safe_psql('analytics', "SELECT walstar.create_subscription('acme', '" . $kafka->bootstrap
	  . "', topics => ARRAY['acme.public.customers', 'acme.public.claims', 'acme.public.feedback'],"
	  . " landing_schema => 'acme', batch_size => 100000, batch_time => '2s', enabled => false)");

my $sink = WalstarTest::Sink->start(name => 'acme', node => $src, db => 'acme', kafka => $kafka,
	args => [ '--slot=walstar_acme', '--topic-prefix=acme', '--include-tables=public.*' ]);
$src->poll_query_until('acme', q{SELECT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = 'walstar_acme')})
  or die 'the sink did not create its slot';

# One workload: $1 = the seed, $2 = the phase (ids and times differ).
my $workload = q{
SELECT setseed(:seed / 1000000.0);
-- claims before their customers
INSERT INTO claims (id, customer_id, amount, status, is_anomaly, flagged_at, created_at, updated_at)
SELECT :base + g, 1 + (g % 40), round((random() * 1000)::numeric, 2), 'open', g % 3 = 0,
	   CASE WHEN g % 3 = 0 THEN t END, t, t
FROM generate_series(1, 400) g,
	 LATERAL (SELECT timestamptz '2021-01-01' + (random() + g * 0) * interval '1200 days' AS t) x;
INSERT INTO customers (id, full_name, email, country_code, created_at, updated_at)
SELECT g, 'name ' || g, 'c' || g || '@example.com', (ARRAY['DE', 'FR', 'NL'])[1 + g % 3],
	   '2020-01-01', timestamptz '2021-06-01' + g * interval '5 days'
FROM generate_series(1, 30) g
ON CONFLICT (id) DO NOTHING;
-- dozens of versions per customer, updated_at moving both ways, some
-- with a country change, some without
DO $$
BEGIN
	FOR i IN 1..30 LOOP
		UPDATE customers
		SET country_code = CASE WHEN random() < 0.5
								THEN (ARRAY['DE', 'FR', 'NL', 'PL', 'ES'])[1 + floor(random() * 5)::int]
								ELSE country_code END,
			updated_at = timestamptz '2020-06-01' + random() * interval '1500 days'
		WHERE id < 1000 AND random() < 0.6;
	END LOOP;
END $$;
-- key changes, deletes, a customer deleted and back
UPDATE customers SET id = id + 1000 + :base, updated_at = updated_at + interval '1 day'
WHERE id IN (3, 7);
UPDATE claims SET customer_id = 1003 + :base WHERE customer_id = 3 AND id % 2 = 0;
DELETE FROM customers WHERE id IN (5, 9);
INSERT INTO customers (id, full_name, email, country_code, created_at, updated_at)
VALUES (5, 'back', 'back@example.com', 'PL', '2020-01-01', '2022-02-02');
UPDATE customers SET country_code = 'ES', updated_at = '2021-01-01' WHERE id = 5;
-- claims: amounts changed several times, anomalies resolved, re-opened
DO $$
BEGIN
	FOR i IN 1..5 LOOP
		UPDATE claims SET amount = round((random() * 2000)::numeric, 2), updated_at = updated_at + interval '1 hour'
		WHERE random() < 0.3;
	END LOOP;
END $$;
UPDATE claims SET status = 'approved', resolved_at = created_at + random() * interval '40 days'
WHERE is_anomaly AND random() < 0.7;
UPDATE claims SET status = 'open', resolved_at = NULL WHERE resolved_at IS NOT NULL AND random() < 0.2;
UPDATE claims SET is_anomaly = true, flagged_at = created_at WHERE NOT is_anomaly AND random() < 0.1;
-- the extreme amounts go
DELETE FROM claims WHERE amount IN (SELECT max(amount) FROM claims UNION SELECT min(amount) FROM claims);
-- feedback, some before its claim
INSERT INTO feedback (id, claim_id, customer_id, rating, sentiment, created_at)
SELECT :base + g, :base + 1 + (g * 7) % 450, 1, 1 + g % 5,
	   CASE WHEN g % 4 = 0 THEN NULL ELSE (ARRAY['positive', 'neutral', 'negative'])[1 + g % 3]::sentiment END,
	   timestamptz '2021-02-01' + g * interval '3 days'
FROM generate_series(1, 300) g;
UPDATE feedback SET rating = 1 + (rating % 5) WHERE id % 5 = 0;
DELETE FROM feedback WHERE id % 11 = 0;
};

sub run_workload
{
	my ($phase) = @_;
	my $base = ($phase - 1) * 10000;
	my $sql = $workload;
	$sql =~ s/:seed/($seed + $phase)/g;
	$sql =~ s/:base/$base/g;
	$src->safe_psql('acme', $sql);
}

my %fingerprint = (
	customers => q{SELECT count(*) || ':' || coalesce(sum(hashtext(id || ':' || country_code || updated_at::text)), 0) FROM %s},
	claims => q{SELECT count(*) || ':' || coalesce(sum(hashtext(id || ':' || customer_id || ':' || amount::text || status::text
		|| is_anomaly::text || coalesce(resolved_at::text, '') || created_at::text || updated_at::text)), 0) FROM %s},
	feedback => q{SELECT count(*) || ':' || coalesce(sum(hashtext(id || ':' || claim_id || ':' || rating
		|| coalesce(sentiment::text, '') || created_at::text)), 0) FROM %s});

sub wait_caught_up
{
	my ($label) = @_;
	for my $t (sort keys %fingerprint)
	{
		my $want = $src->safe_psql('acme', sprintf($fingerprint{$t}, "public.$t"));
		$ana->poll_query_until('analytics', sprintf($fingerprint{$t}, "acme.$t"), $want)
		  or die "$label: acme.$t did not catch up ($want)";
	}
	pass("$label: the landing tables caught up");
}

# The comparison of 069: each metric function against the scenario's
# definition over the source tables and the source's record of versions.
sub compare
{
	my ($label) = @_;
	my $countries = join(', ', map { "('$_')" }
		  ('??', 'XX', split(/\n/, $src->safe_psql('acme', 'SELECT DISTINCT country_code FROM test.cust_history'))));
	my $years = join(', ', map { "($_)" } split(/\n/, $src->safe_psql('acme',
		q{SELECT DISTINCT extract(year FROM created_at AT TIME ZONE 'UTC')::int FROM claims})));
	my $periods = q{(NULL::date, NULL::date), ('2021-01-01', NULL), (NULL, '2022-06-15'),
		('2021-03-17', '2023-02-02'), ('2022-05-03', '2022-05-29')};
	WalstarTest::ClaimsAnswers::compare($label,
		$ana->safe_psql('analytics', WalstarTest::ClaimsAnswers::model_sql($countries, $years, $periods)),
		$src->safe_psql('acme', WalstarTest::ClaimsAnswers::expected_sql('test.cust_history', $countries, $years, $periods)));
	is($ana->safe_psql('analytics', q{SELECT string_agg(concat_ws(' ', metric, key, model, expected), E'\n')
		FROM (SELECT * FROM walstar_claims.verify() LIMIT 10) v}), '', "$label: verify() reports no difference");
	# the dimension: exactly the source's versions in effect
	my $dim = $ana->safe_psql('analytics', q{SELECT string_agg(d.id || ' ' || d.country || ' ' || d.valid_from, E'\n'
		ORDER BY d.id, d.valid_from)
		FROM claims.d_customer d});
	my $want_dim = $src->safe_psql('acme', q{SELECT string_agg(id || ' ' || country_code || ' ' || updated_at, E'\n'
		ORDER BY id, updated_at)
		FROM (SELECT DISTINCT ON (id, updated_at) id, country_code, updated_at FROM test.cust_history
			  ORDER BY id, updated_at, seq DESC) v});
	is($dim, $want_dim, "$label: dim_customer holds every source version at its updated_at");
}

# 1. Everything in Kafka first, then one start: the versions of a key sit
# in one batch.
run_workload(1);
# confirmed once the sink has delivered a commit after it
my $lsn = $src->safe_psql('acme', 'SELECT pg_current_wal_lsn()');
$src->safe_psql('acme', q{INSERT INTO feedback (id, claim_id, customer_id, rating, created_at)
	VALUES (9999, 1, 1, 5, '2022-01-01')});
$src->poll_query_until('acme', qq{SELECT confirmed_flush_lsn >= '$lsn' FROM pg_replication_slots WHERE slot_name = 'walstar_acme'})
  or die 'the sink did not deliver the workload';
my $before = $ana->safe_psql('analytics', q{SELECT statements FROM claims._state WHERE source = 'customers'});
$ana->safe_psql('analytics', q{SELECT walstar.start_subscription('acme')});
wait_caught_up('phase 1');

my $versions = $src->safe_psql('acme', 'SELECT n FROM test.row_versions');
is($ana->safe_psql('analytics', q{SELECT count(*) FROM walstar_versions.acme__customers
	WHERE walstar_commit_lsn IS NOT NULL AND walstar_op IN ('I', 'U')}), $versions,
	"phase 1: the version history holds every one of the $versions customer row versions");
is($ana->safe_psql('analytics', q{SELECT count(*) FROM (SELECT walstar_commit_lsn AS lsn, walstar_position AS pos,
	lag(walstar_commit_lsn) OVER (ORDER BY walstar_version) AS pl, lag(walstar_position) OVER (ORDER BY walstar_version) AS pp
	FROM walstar_versions.acme__customers WHERE walstar_commit_lsn IS NOT NULL) x
	WHERE (lsn, pos) < (pl, pp)}), '0', 'phase 1: the history is in commit order');
my $rounds = $ana->safe_psql('analytics', q{SELECT statements FROM claims._state WHERE source = 'customers'}) - $before;
cmp_ok($rounds, '<=', 10, "phase 1: $versions customer versions reached the model in $rounds statement(s), one per table batch");
compare('phase 1');

# 2. A second workload while the worker runs: customers 31..40 arrive
# (late, for claims of phase 1), claims 401..450 too (late, for feedback of
# phase 1), more versions of everyone.
run_workload(2);
$src->safe_psql('acme', q{INSERT INTO customers (id, full_name, email, country_code, created_at, updated_at)
	SELECT g, 'late ' || g, 'l' || g || '@example.com', 'IT', '2020-01-01', '2019-01-01' FROM generate_series(31, 40) g;
	INSERT INTO claims (id, customer_id, amount, status, is_anomaly, created_at, updated_at, resolved_at)
	SELECT g, 1 + g % 40, g, 'paid', true, timestamptz '2022-01-01' + g * interval '1 hour',
		   timestamptz '2022-01-01' + g * interval '1 hour', timestamptz '2022-02-01' + g * interval '1 hour'
	FROM generate_series(401, 450) g});
wait_caught_up('phase 2');
compare('phase 2');

# 3. rebuild(): the dimension from the version history, everything else
# from the landing tables.
$ana->safe_psql('analytics', 'SELECT walstar_claims.rebuild()');
compare('after rebuild()');

$sink->stop;
$ana->stop;
$src->stop;
$kafka->stop;
done_testing();
