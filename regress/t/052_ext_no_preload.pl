# Without shared_preload_libraries: no launcher, and walstar.start_subscription()
# starts the apply worker at once as a dynamic background worker;
# walstar.start_worker() restarts it after a server restart; stop ends it.
use strict;
use warnings;
use File::Temp ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;

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

my $tmp = File::Temp::tempdir('ship_XXXX', DIR => $PostgreSQL::Test::Utils::tmp_check);
my $nfile = 0;

# Produce raw messages, [topic, bytes] in order, one kcat run per topic.
sub produce_raw
{
	my (@msgs) = @_;
	my (%files, @order);
	for my $m (@msgs)
	{
		my $f = sprintf('%s/m%08d', $tmp, $nfile++);
		open(my $fh, '>:raw', $f) or die;
		print $fh $m->[1];
		close($fh);
		push @order, $m->[0] unless $files{ $m->[0] };
		push @{ $files{ $m->[0] } }, $f;
	}
	for my $topic (@order)
	{
		system('kcat', '-P', '-b', $kafka->bootstrap, '-t', $topic,
			'-X', 'max.in.flight.requests.per.connection=1', '-X', 'message.max.bytes=20000000', @{ $files{$topic} }) == 0
		  or die "kcat produce to $topic failed";
		unlink @{ $files{$topic} };
	}
}

# Take the slot's new row changes; returns them as [topic, bytes].
sub take_changes
{
	my $out = $node->safe_psql('src', q{
SELECT 'walstar.' || (c->>'schema') || '.' || (c->>'table'), encode(data, 'hex')
FROM (SELECT data, walstar.decode(data) AS c
      FROM pg_logical_slot_get_binary_changes('s', NULL, NULL)) x
WHERE c->>'op' NOT IN ('BEGIN', 'COMMIT')});
	return map { my ($t, $h) = split /\|/; [ $t, pack('H*', $h) ] } grep { $_ ne '' } split /\n/, $out;
}


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
