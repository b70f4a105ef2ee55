# Operations end to end: a real Prometheus scrapes a real walstar-sink and
# real prometheus-postgres-exporters (the queries files walstar ships, as
# the role exporter-role.sql sets up) on the source and the analytics
# server, evaluates walstar-alerts.yml, sees every series, and fires
# WalstarApplyWorkerNotRunning when the apply worker is gone while its
# subscription is enabled, resolving it when the worker is back; a dead
# letter fires WalstarDeadLettersGrowing, a stopped broker
# WalstarSinkDisconnected.  The
# rules' "for" durations are shortened in the test's copy (promtool tests
# in ops/prometheus/tests check them as shipped).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Prometheus;
use WalstarTest::Sink;

my $root = $ENV{WALSTAR_ROOT} or die 'WALSTAR_ROOT not set';
my $ops = "$root/ops/prometheus";
my $kafka = WalstarTest::Kafka->start;

my $src = PostgreSQL::Test::Cluster->new('prom_source');
$src->init(allows_streaming => 'logical');
WalstarTest::Sink::setup_node($src);
$src->start;
my $ddl = slurp_file("$root/demo/acme_sources.sql");
my ($claims_ddl) = $ddl =~ /^-- \\connect acme_claims\n(.*?)(?=^-- \\connect |\z)/ms;
$src->safe_psql('postgres', 'CREATE DATABASE acme_claims');
$src->safe_psql('acme_claims', $claims_ddl);
$src->safe_psql('acme_claims', slurp_file("$ops/exporter-role.sql"));

# No launcher (no shared_preload_libraries): start_subscription starts the
# worker once, and nothing restarts it after it is terminated.
my $ana = PostgreSQL::Test::Cluster->new('prom_analytics');
$ana->init;
$ana->append_conf('postgresql.conf', "timezone = 'UTC'\n");
$ana->start;
$ana->safe_psql('postgres', 'CREATE DATABASE analytics');
$ana->safe_psql('analytics', 'CREATE EXTENSION walstar_claims CASCADE');
$ana->safe_psql('analytics', q{SELECT walstar_claims.attach('acme')});
$ana->safe_psql('analytics', "SELECT walstar.create_subscription('claims', '" . $kafka->bootstrap
	  . q{', topics => ARRAY['acme_claims.public.claims'], landing_schema => 'acme', batch_time => '100ms')});
$ana->safe_psql('analytics', slurp_file("$ops/exporter-role.sql"));
$ana->safe_psql('analytics', q{SELECT walstar.start_subscription('claims')});

my $mport = PostgreSQL::Test::Cluster::get_free_port();
my $sink = WalstarTest::Sink->start(name => 'prom', node => $src, db => 'acme_claims', kafka => $kafka,
	args => [ '--topic-prefix=acme_claims', '--include-tables=public.claims', "--metrics-port=$mport" ]);
$sink->wait_log(qr/msg="streaming"/);
$src->safe_psql('acme_claims', q{INSERT INTO claims (customer_id, amount)
	SELECT g % 7, g FROM generate_series(1, 50) g});
$ana->poll_query_until('analytics', 'SELECT count(*) = 50 FROM acme.claims')
  or die 'claims not applied';

my $exp_ana = WalstarTest::Prometheus->exporter(name => 'analytics', node => $ana, db => 'analytics',
	user => 'walstar_exporter', queries => [ "$ops/walstar-queries.yaml", "$ops/walstar-claims-queries.yaml" ]);
my $exp_src = WalstarTest::Prometheus->exporter(name => 'source', node => $src, db => 'acme_claims',
	user => 'walstar_exporter', queries => [ "$ops/walstar-source-queries.yaml" ]);

my $rules = "$PostgreSQL::Test::Utils::tmp_check/walstar-alerts.yml";
my $text = slurp_file("$ops/walstar-alerts.yml");
$text =~ s/^(\s+for:) \S+$/$1 2s/mg;
append_to_file($rules, $text);
my $prom = WalstarTest::Prometheus->start(rules => $rules, jobs => {
	'walstar-sink' => [ "127.0.0.1:$mport" ],
	'pg-analytics' => [ $exp_ana->target ],
	'pg-source' => [ $exp_src->target ] });

# One value of a PromQL expression once it has one (undef if never).
sub value_of
{
	my ($expr, $want) = @_;
	my $v;
	$prom->poll(sub {
		my $r = $prom->query($expr);
		return 0 unless @$r == 1;
		$v = $r->[0]{value};
		return !defined $want || $v eq $want;
	});
	return $v;
}

is(value_of('walstar_sink_info{job="walstar-sink",slot="walstar",source="acme_claims"}', '1'), '1',
	'the sink is scraped: walstar_sink_info with slot and source');
is(value_of('walstar_sink_changes_total', '50'), '50', 'the sink counted the 50 changes');
is(value_of('walstar_sink_connected{peer="source"}', '1'), '1', 'sink connected to the source');
is(value_of('walstar_sink_connected{peer="kafka"}', '1'), '1', 'sink connected to Kafka');
is(value_of('sum(walstar_subscription_applied_messages_total{subscription="claims",topic="acme_claims.public.claims"})', '50'),
	'50', 'the exporter reports the 50 applied messages as a counter');
is(value_of('sum(walstar_subscription_lag_messages{subscription="claims"})', '0'), '0', 'no lag in messages');
is(value_of('max(walstar_subscription_lag_seconds{subscription="claims"})', '0'), '0', 'no lag in seconds');
is(value_of('walstar_worker_running{subscription="claims",state="running"}', '1'), '1', 'the worker runs');
is(value_of('walstar_worker_enabled{subscription="claims"}', '1'), '1', 'and is enabled');
is(value_of('count(walstar_model_freshness_lag_seconds{model="walstar_claims"})', '5'), '5',
	'freshness of the five claims metrics');
is(value_of('walstar_model_freshness_lag_seconds{metric="total_claims"}', '0'), '0',
	'total_claims caught up');
is(value_of('walstar_source_slot_active{slot="walstar",database="acme_claims"}', '1'), '1',
	'the source exporter sees the slot streamed');
ok(defined value_of('walstar_source_slot_retained_wal_bytes{slot="walstar"} >= 0'), 'retained WAL in bytes');
ok(defined value_of('walstar_source_slot_confirmed_lag_bytes{slot="walstar"} >= 0'), 'confirmed lag in bytes');
ok(value_of('walstar_source_rows_written_total') >= 50, 'the source counts its row writes');
is(value_of('count(ALERTS{alertname="WalstarApplyWorkerNotRunning"}) or vector(0)'), '0',
	'no worker alert while the worker runs');

# A dead letter: a message that is not a walstar record.
$kafka->produce('acme_claims.public.claims', 'not a walstar record');
ok($prom->poll(sub { grep { $_->{labels}{alertname} eq 'WalstarDeadLettersGrowing'
	  && $_->{labels}{subscription} eq 'claims' && $_->{state} eq 'firing' } @{ $prom->alerts } }),
	'a dead letter fires WalstarDeadLettersGrowing for the subscription');
is(value_of('sum(walstar_dead_letters_messages{subscription="claims"})', '1'), '1', 'one dead letter by reason');

# The worker goes away; the subscription stays enabled.
$ana->safe_psql('analytics', q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'walstar apply'});
$ana->poll_query_until('analytics', q{SELECT worker_state = 'not running' FROM walstar.subscription_status LIMIT 1})
  or die 'worker still running';
my $fired;
ok($prom->poll(sub {
	($fired) = grep { $_->{labels}{alertname} eq 'WalstarApplyWorkerNotRunning' && $_->{state} eq 'firing' }
	  @{ $prom->alerts };
	return $fired }), 'WalstarApplyWorkerNotRunning fires once the worker is stopped');
is($fired->{labels}{subscription}, 'claims', 'for subscription claims');
is($fired->{labels}{severity}, 'critical', 'as critical');
like($fired->{annotations}{summary}, qr/subscription claims has no apply worker/, 'with its summary');

$ana->safe_psql('analytics', q{SELECT walstar.start_worker('claims')});
ok($prom->poll(sub { !grep { $_->{labels}{alertname} eq 'WalstarApplyWorkerNotRunning' } @{ $prom->alerts } }),
	'and resolves when the worker is back');

# Kafka goes away: librdkafka reports every broker down, and its statistics
# tell the way back.
$kafka->stop;
ok($prom->poll(sub { grep { $_->{labels}{alertname} eq 'WalstarSinkDisconnected'
	  && $_->{labels}{peer} eq 'kafka' && $_->{state} eq 'firing' } @{ $prom->alerts } }),
	'WalstarSinkDisconnected fires for peer kafka while the broker is down');
$kafka->start_again;
is(value_of('walstar_sink_connected{peer="kafka"}', '1'), '1', 'connected again once the broker is back');

$prom->stop;
$exp_ana->stop;
$exp_src->stop;
$sink->stop;
$ana->stop;
$src->stop;
$kafka->stop;
done_testing();
