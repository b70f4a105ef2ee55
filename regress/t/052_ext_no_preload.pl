# Without shared_preload_libraries: no launcher, and walstar.start_subscription()
# starts the apply worker at once as a dynamic background worker;
# walstar.start_worker() restarts it after a server restart; stop ends it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Shop;

my $kafka = WalstarTest::Kafka->start;
my $node = PostgreSQL::Test::Cluster->new('ext_no_preload');
$node->init(allows_streaming => 'logical');
$node->append_conf('postgresql.conf', q{
output_plugin_libraries = 'pgoutput, test_decoding, walstar_decoder'
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', q{
CREATE EXTENSION walstar;
CREATE TABLE items (id int PRIMARY KEY, name text);
SELECT 'init' FROM pg_create_logical_replication_slot('s', 'walstar_decoder');
});

# Raw produce and slot reading from the shared shop helpers (WalstarTest::Shop).
sub produce_raw { WalstarTest::Shop::produce_raw($kafka, @_) }
sub take_changes { map { [ $_->[0], $_->[1] ] } WalstarTest::Shop::slot_changes($node) }


$node->safe_psql('postgres', 'CREATE EXTENSION walstar');
is($node->safe_psql('postgres', 'SELECT walstar.launcher_running()'), 'f', 'no launcher');
$node->safe_psql('postgres', "SELECT walstar.create_subscription('np', '" . $kafka->bootstrap . q{',
	topics => '{walstar.public.items}')});

$node->safe_psql('src', q{INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g});
produce_raw(take_changes());
$node->safe_psql('postgres', "SELECT walstar.start_subscription('np')");
$node->poll_query_until('postgres', q{SELECT count(*) = 100 FROM walstar_landing.items})
  or die 'nothing applied by the dynamic worker';
pass('start_subscription started a dynamic worker that applies');

$node->restart;
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walstar apply'}),
	'0', 'no worker after a restart without the launcher');
is($node->safe_psql('postgres', 'SELECT worker_state FROM walstar.subscription_status'), 'not running',
	'status: enabled but not running');
$node->safe_psql('src', q{UPDATE items SET name = 'changed' WHERE id <= 10; DELETE FROM items WHERE id > 90});
produce_raw(take_changes());
like($node->safe_psql('postgres', "SELECT walstar.start_worker('np')"), qr/^\d+$/, 'start_worker returns a pid');
$node->poll_query_until('postgres', q{SELECT count(*) = 90 AND count(*) FILTER (WHERE name = 'changed') = 10
	FROM walstar_landing.items}) or die 'nothing applied after start_worker';
pass('the restarted worker resumed from the stored offsets');
is($node->safe_psql('postgres', 'SELECT sum(applied_messages) FROM walstar.subscription_offsets'), '120',
	'every message applied once (100 + 10 + 10)');

$node->safe_psql('postgres', "SELECT walstar.stop_subscription('np')");
$node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'walstar apply'})
  or die 'worker did not stop';
pass('stop_subscription ends the worker');
my ($ret, $out, $err) = $node->psql('postgres', "SELECT walstar.start_worker('np')");
like($err, qr/subscription "np" is not enabled/, 'start_worker refuses a disabled subscription');

$node->stop;
done_testing();
