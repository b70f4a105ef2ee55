# Faults around a running sink: the Kafka broker restarts under load (nothing
# is lost), the source server restarts (the sink reconnects by itself), and
# another database writes heavily while the captured tables are idle (the
# slot's retained WAL stays bounded because the sink confirms the server's
# position when nothing is pending).
use strict;
use warnings;
use IPC::Run ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use WalstarTest::Kafka;
use WalstarTest::Sink;
use WalstarTest::Wire;

my $kafka = WalstarTest::Kafka->start;
my $node = PostgreSQL::Test::Cluster->new('source');
$node->init(allows_streaming => 'logical');
WalstarTest::Sink::setup_node($node);
$node->start;

$node->safe_psql('postgres', q{
CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL);
SELECT pg_create_logical_replication_slot('ref', 'walstar_decoder');
CREATE DATABASE other;
});
my $script = "$PostgreSQL::Test::Utils::tmp_check/faults.sql";
open(my $fh, '>', $script) or die;
print $fh q{\set id random(1, 2000)
INSERT INTO t VALUES (:id, 0) ON CONFLICT (id) DO UPDATE SET v = t.v + 1;
};
close($fh);

sub wait_confirmed
{
	my $end = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
	$node->poll_query_until('postgres',
		"SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = 'walstar'")
	  or die "not confirmed up to $end";
}

# every change of the reference slot is in Kafka
sub check_all_in_kafka
{
	my ($label) = @_;
	my %ref;
	for my $hex (split /\n/, $node->safe_psql('postgres', q{
SELECT encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('ref', NULL, NULL, 'format', 'protobuf')}))
	{
		my $c = WalstarTest::Wire::peek_change(pack('H*', $hex));
		$ref{"$c->{commit_lsn}/$c->{position}"} = 1 if $c->{op_name} =~ /^(INSERT|UPDATE|DELETE)$/;
	}
	my %got = map { ("$_->{change}{commit_lsn}/$_->{change}{position}" => 1) }
	  WalstarTest::Sink::read_topic($kafka, 'walstar.public.t', peek => 1);
	my @missing = grep { !$got{$_} } keys %ref;
	cmp_ok(scalar(keys %ref), '>', 100, "$label: " . scalar(keys %ref) . ' committed changes');
	is(scalar(@missing), 0, "$label: every committed change is in Kafka");
}

my $sink = WalstarTest::Sink->start(name => 'faults', node => $node, kafka => $kafka,
	args => [ '--snapshot=never', '--reconnect-max-backoff=2', '--metrics-port=0' ]);
$sink->wait_log(qr/msg="streaming"/);

# 1. broker restart under load
my $bench = IPC::Run::start([ 'pgbench', '-n', '-T', '12', '-R', '300', '-c', '2', '-f', $script,
	'-h', $node->host, '-p', $node->port, 'postgres' ], '>', \my $out, '2>', \my $err);
Time::HiRes::sleep(2);
$kafka->stop;
ok(!$kafka->running, 'broker stopped during the load');
$sink->wait_log(qr/warning kafka .*(all brokers are down|Connect to|Disconnected)/);
my $during = $node->safe_psql('postgres', "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'walstar'");
Time::HiRes::sleep(3);
my $after = $node->safe_psql('postgres', "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'walstar'");
is($after, $during, 'nothing confirmed while Kafka is down');
$kafka->start_again;
$bench->finish;
wait_confirmed();
ok($sink->alive, 'the sink survived the broker restart');
check_all_in_kafka('broker restart');

# 2. source restart: the sink reconnects by itself
$node->restart;
$sink->wait_log(qr/warning replication .*(connection lost|ended|terminat)/);
$sink->wait_log(qr/msg="streaming".*\n(?:.*\n)*.*msg="streaming"/);
$node->safe_psql('postgres', 'INSERT INTO t SELECT g, 0 FROM generate_series(5001, 5500) g');
wait_confirmed();
check_all_in_kafka('source restart');
$node->safe_psql('postgres', q{SELECT pg_drop_replication_slot('ref')});

# 3. WAL retention: captured tables idle, another database busy
$node->safe_psql('other', 'CREATE TABLE filler (id int, pad text)');
my $heavy = "$PostgreSQL::Test::Utils::tmp_check/heavy.sql";
open($fh, '>', $heavy) or die;
print $fh q{INSERT INTO filler SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g;
DELETE FROM filler WHERE id <= 2000;
};
close($fh);
my $q = q{SELECT pg_current_wal_lsn() - restart_lsn, pg_current_wal_lsn() - confirmed_flush_lsn, pg_current_wal_lsn() FROM pg_replication_slots WHERE slot_name = 'walstar'};
my ($r0, $c0, $start) = split /\|/, $node->safe_psql('postgres', $q);
$bench = IPC::Run::start([ 'pgbench', '-n', '-T', '25', '-c', '1', '-f', $heavy, '-h', $node->host, '-p', $node->port, 'other' ],
	'>', \$out, '2>', \$err);
my ($max_retained, $max_lag) = (0, 0);
my @samples;
my $stop_at = Time::HiRes::time() + 25;
while (Time::HiRes::time() < $stop_at)
{
	Time::HiRes::sleep(1);
	my ($retained, $lag) = split /\|/, $node->safe_psql('postgres', $q);
	$max_retained = $retained if $retained > $max_retained;
	$max_lag = $lag if $lag > $max_lag;
	push @samples, sprintf('%.1f/%.1f', $retained / 1048576, $lag / 1048576);
}
$bench->finish;
my ($retained_end, $lag_end, $endlsn) = split /\|/, $node->safe_psql('postgres', $q);
my $written = WalstarTest::Wire::lsn_num($endlsn) - WalstarTest::Wire::lsn_num($start);
diag(sprintf('WAL retention: %.1f MB written by database other in 25 s; slot retained at most %.1f MB '
	  . '(%.1f MB at the end), confirmed lag at most %.1f MB; samples retained/lag MB: %s',
	$written / 1048576, $max_retained / 1048576, $retained_end / 1048576, $max_lag / 1048576, join(' ', @samples)));
cmp_ok($written, '>', 20 * 1048576, 'database other wrote more than 20 MB of WAL');
cmp_ok($max_lag, '<', $written / 4, 'the confirmed position follows the server while captured tables are idle');
cmp_ok($retained_end, '<', $written, 'the slot released WAL during the load (restart_lsn advanced)');

is($sink->stop, 0, 'clean stop');
$node->stop;
$kafka->stop;
done_testing();
