# The Acme scenario end to end: three service databases (acme_customers,
# acme_claims, acme_feedback) on a source cluster, one walstar-sink per
# database, a real Kafka broker, and an analytics cluster with walstar and
# walstar_claims.  A history is copied by the sinks' initial snapshots, then
# the demo's pgbench workload runs on the three services at once.  After the
# pipeline has caught up, every metric function equals its plain-SQL
# definition computed over the source tables (copied straight from the
# source databases, not through the pipeline), and verify() agrees.  The
# sinks send heartbeats every second: freshness() shows every metric
# source_idle once the services are idle, and none once the sinks stop.
use strict;
use warnings;
use IPC::Run ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::ClaimsAnswers;
use WalstarTest::Kafka;
use WalstarTest::Sink;

my $root = $ENV{WALSTAR_ROOT} // '.';
my @services = qw(customers claims feedback);
my ($customers, $claims, $feedback) = (300, 3000, 1500);

my $kafka = WalstarTest::Kafka->start;

my $src = PostgreSQL::Test::Cluster->new('acme_source');
$src->init(allows_streaming => 'logical');
WalstarTest::Sink::setup_node($src);
$src->append_conf('postgresql.conf', "timezone = 'UTC'\njit = off\n");
$src->start;

my $ana = PostgreSQL::Test::Cluster->new('acme_analytics');
$ana->init;
$ana->append_conf('postgresql.conf', q{
shared_preload_libraries = 'walstar'
walstar.launcher_naptime = 1
max_worker_processes = 16
timezone = 'UTC'
jit = off
});
$ana->start;

sub slurp_file_text { my $f = shift; open(my $fh, '<', $f) or die "$f: $!"; local $/; return <$fh>; }

# Source schemas: the sections of demo/acme_sources.sql.
my $ddl = slurp_file_text("$root/demo/acme_sources.sql");
for my $s (@services)
{
	$src->safe_psql('postgres', "CREATE DATABASE acme_$s");
	my ($section) = $ddl =~ /^-- \\connect acme_$s\n(.*?)(?=^-- \\connect |\z)/ms;
	$src->safe_psql("acme_$s", $section);
}
# The test's own record of every customer row version (the country history
# the scenario's attribution rule refers to); not replicated.
$src->safe_psql('acme_customers', q{
CREATE TABLE customer_versions (seq bigserial, id bigint, country_code text, updated_at timestamptz);
CREATE FUNCTION record_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		DELETE FROM customer_versions WHERE id = OLD.id;
		RETURN OLD;
	END IF;
	INSERT INTO customer_versions (id, country_code, updated_at) VALUES (NEW.id, NEW.country_code, NEW.updated_at);
	RETURN NEW;
END $$;
CREATE TRIGGER record_version AFTER INSERT OR UPDATE OR DELETE ON customers
	FOR EACH ROW EXECUTE FUNCTION record_version();
});
my %vars = (customers => $customers, claims => $claims, feedback => $feedback);
my $setvars = join('', map { "\\set $_ $vars{$_}\n" } sort keys %vars);
for my $s (@services)
{
	$src->safe_psql("acme_$s", $setvars . slurp_file_text("$root/demo/history_$s.sql"));
}

# Analytics: the model attached to landing schema acme, one subscription per service.
# WALSTAR_TEST_WORKERS=2: each subscription with 2 apply workers over topics
# of 2 partitions, so that workers of one subscription maintain the model at
# once too.
my $workers = $ENV{WALSTAR_TEST_WORKERS} // 1;
$ana->safe_psql('postgres', 'CREATE DATABASE analytics');
$ana->safe_psql('analytics', 'CREATE EXTENSION walstar_claims CASCADE');
$ana->safe_psql('analytics', q{SELECT walstar_claims.attach('acme')});
for my $s (@services)
{
	$ana->safe_psql('analytics', "SELECT walstar.create_subscription('acme_$s', '"
		  . $kafka->bootstrap . "', topics => ARRAY['acme_$s.public.$s'], landing_schema => 'acme',"
		  . " batch_time => '100ms', workers => $workers, enabled => true)");
}

my @sinks;
for my $s (@services)
{
	push @sinks, WalstarTest::Sink->start(name => "acme_$s", node => $src, db => "acme_$s",
		kafka => $kafka,
		args => [ "--slot=walstar_$s", "--topic-prefix=acme_$s", "--include-tables=public.$s", '--heartbeat-interval=1',
			($workers > 1 ? ("--topic-partitions=$workers") : ()) ]);
}

# Caught up: each landing table has its source table's rows, compared by a
# fingerprint of every column the metrics use.
my %fingerprint = (
	customers => q{SELECT count(*) || ':' || coalesce(sum(hashtext(id || ':' || country_code || updated_at::text)), 0) FROM %s},
	claims => q{SELECT count(*) || ':' || coalesce(sum(hashtext(id || ':' || customer_id || ':' || amount::text || status::text
		|| is_anomaly::text || coalesce(resolved_at::text, '') || created_at::text || updated_at::text)), 0) FROM %s},
	feedback => q{SELECT count(*) || ':' || coalesce(sum(hashtext(id || ':' || claim_id || ':' || rating
		|| coalesce(sentiment::text, '') || created_at::text)), 0) FROM %s});

sub wait_caught_up
{
	my ($label) = @_;
	for my $s (@services)
	{
		my $want = $src->safe_psql("acme_$s", sprintf($fingerprint{$s}, $s));
		$ana->poll_query_until('analytics', sprintf($fingerprint{$s}, "acme.$s"), $want)
		  or die "$label: acme.$s did not catch up with acme_$s.$s ($want)";
	}
	pass("$label: the landing tables caught up with the three service databases");
}

wait_caught_up('initial snapshot');

# The demo's workload on the three services at once.
my $w = "$root/demo/workload";
my %scripts = (
	customers => [ "customers_new.sql\@8", "customers_move.sql\@3", "customers_edit.sql\@8", "customers_delete.sql\@1" ],
	claims => [ "claims_new.sql\@10", "claims_review.sql\@4", "claims_flag.sql\@2", "claims_resolve.sql\@5",
		"claims_reopen.sql\@1", "claims_delete.sql\@1" ],
	feedback => [ "feedback_new.sql\@10", "feedback_delete.sql\@1" ]);
my %rate = (customers => 30, claims => 120, feedback => 80);
my $seconds = $ENV{WALSTAR_CLAIMS_SECONDS} // 15;
my @bench;
for my $s (@services)
{
	my ($out, $err) = ('', '');
	push @bench, [ $s, \$out, \$err, IPC::Run::start(
		[ 'pgbench', '-n', '-T', $seconds, '-R', $rate{$s}, '-c', '2', '-j', '1',
		  (map { ('-D', "$_=$vars{$_}") } sort keys %vars),
		  (map { ('-f', "$w/$_") } @{ $scripts{$s} }),
		  '-h', $src->host, '-p', $src->port, "acme_$s" ],
		'>', \$out, '2>', \$err) ];
}
for my $b (@bench)
{
	my ($s, $out, $err, $h) = @$b;
	ok($h->finish, "pgbench on acme_$s") or diag($$err);
	my ($tps) = $$out =~ /^tps = ([\d.]+)/m;
	note("acme_$s: " . ($tps // '?') . ' tps');
}
wait_caught_up('after the workload');

# The expected answers: plain SQL over copies of the source tables (taken
# from the source databases) in a scratch database of the source cluster.
$src->safe_psql('postgres', 'CREATE DATABASE expected');
$src->safe_psql('expected', q{
CREATE TABLE customer_versions (seq bigint, id bigint, country_code text, updated_at timestamptz);
CREATE TABLE claims (id bigint, customer_id bigint, amount numeric(12,2), status text, is_anomaly boolean,
	anomaly_reason text, flagged_at timestamptz, created_at timestamptz, resolved_at timestamptz, updated_at timestamptz);
CREATE TABLE feedback (id bigint, claim_id bigint, customer_id bigint, rating smallint, comment text,
	sentiment text, created_at timestamptz);
});
for my $t ([ 'acme_customers', 'customer_versions' ], [ 'acme_claims', 'claims' ], [ 'acme_feedback', 'feedback' ])
{
	my ($db, $table) = @$t;
	my $rows = $src->safe_psql($db, "COPY $table TO STDOUT");
	$src->safe_psql('expected', "COPY $table FROM STDIN;\n$rows\n\\.\n") if $rows ne '';
}

my $countries = join(', ', map { "('$_')" }
	  ('??', 'XX', split(/\n/, $src->safe_psql('acme_customers', 'SELECT DISTINCT country_code FROM customers'))));
my $years = join(', ', map { "($_)" } split(/\n/, $src->safe_psql('acme_claims',
	q{SELECT DISTINCT extract(year FROM created_at AT TIME ZONE 'UTC')::int FROM claims})));
my $periods = q{(NULL::date, NULL::date), ('2021-01-01', NULL), (NULL, '2023-06-15'),
	('2021-03-17', '2024-02-02'), ('2022-05-03', '2022-05-29'), (date_trunc('month', now())::date, NULL)};

# The model's answers against the scenario's definitions over the copies.
WalstarTest::ClaimsAnswers::compare('',
	$ana->safe_psql('analytics', WalstarTest::ClaimsAnswers::model_sql($countries, $years, $periods)),
	$src->safe_psql('expected', WalstarTest::ClaimsAnswers::expected_sql('customer_versions', $countries, $years, $periods)));
is($ana->safe_psql('analytics', 'SELECT count(*) FROM walstar_claims.verify()'), '0', 'verify() reports no difference');
like($ana->safe_psql('analytics', q{SELECT string_agg(metric || ' ' || lag_messages, ',') FROM walstar_claims.freshness()}),
	qr/^(\w+ 0,){4}\w+ 0$/, 'freshness(): no metric has messages left to apply');
# The sinks send heartbeats every second: the services are idle, not the
# pipeline stalled; with the sinks stopped, heartbeats stop and it is.
ok($ana->poll_query_until('analytics', q{SELECT count(*) = 5 AND bool_and(source_idle)
	AND bool_and(last_heartbeat > last_source_commit) AND max(lag_seconds) < 10 FROM walstar_claims.freshness()}),
	'freshness(): idle services, every metric source_idle with a heartbeat newer than its last source commit');

if ($workers > 1)
{
	is($ana->safe_psql('analytics', q{SELECT string_agg(n::text, ',') FROM (SELECT count(DISTINCT worker) n
		FROM walstar.subscription_status WHERE applied_messages > 0 GROUP BY subscription) x}),
		join(',', ($workers) x @services), "each subscription's $workers workers applied partitions");
}

$_->stop for @sinks;
ok($ana->poll_query_until('analytics', q{SELECT count(*) = 5 AND NOT bool_or(source_idle) AND min(lag_seconds) > 4
	FROM walstar_claims.freshness()}), 'freshness(): sinks stopped, no metric source_idle and the lag grows');
$ana->stop;
$src->stop;
$kafka->stop;
done_testing();
