# The source failover test bed: a source cluster run by pg_auto_failover
# (monitor, primary, standby on loopback ports; WalstarTest::AutoFailover).
# A failover promotes the standby on a new timeline with the same system
# identifier, clients that name both nodes (target_session_attrs=read-write)
# write to the new primary, and the logical slot of the old primary is not
# on the new one (PostgreSQL 15 does not carry slots to a standby): what the
# sink has to notice and recover from.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::AutoFailover;

my $ha = WalstarTest::AutoFailover->start(name => 'bed', conf => "timezone = 'UTC'\n");
my ($primary) = $ha->primary;
is($primary, 'node1', 'node1 starts as the primary');
is($ha->psql('node2', 'postgres', 'SELECT pg_is_in_recovery()'), 't', 'node2 is a standby');
for my $n (qw(node1 node2))
{
	like($ha->psql($n, 'postgres', q{SELECT setting FROM pg_settings WHERE name = 'listen_addresses'}),
		qr/^127\.0\.0\.1$/, "$n listens on loopback only");
	is($ha->psql($n, 'postgres', 'SHOW wal_level'), 'logical', "$n has wal_level logical");
}

sub psql_uri
{
	my ($uri, $sql) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run [ 'psql', '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', $uri, '-c', $sql ], '>', \$out, '2>', \$err
	  or die "psql: $err";
	chomp $out;
	return $out;
}
sub via_uri { return psql_uri($ha->uri('postgres'), @_); }
# pg_autoctl signals its whole process group when its services are slow to
# stop: each keeper must lead a group of its own, not share the test's
for my $n (qw(monitor node1 node2))
{
	my $pid = $ha->keeper_pid($n);
	my ($pgid) = slurp_file("/proc/$pid/stat") =~ /^\d+ \(.*\) \S \d+ (\d+)/s;
	is($pgid, $pid, "the $n keeper leads its own process group");
}
is(psql_uri($ha->monitor_uri, 'SHOW listen_addresses'), '127.0.0.1', 'the monitor listens on loopback only');

via_uri('CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 100) g');
$ha->psql('node1', 'postgres', q{SELECT pg_create_logical_replication_slot('walstar_bed', 'walstar_decoder')});
my $sysid = $ha->psql('node1', 'postgres', 'SELECT system_identifier FROM pg_control_system()');
is($ha->psql('node2', 'postgres', 'SELECT system_identifier FROM pg_control_system()'), $sysid,
	'the standby has the primary\'s system identifier');
my $tli_before = $ha->psql('node1', 'postgres', 'SELECT timeline_id FROM pg_control_checkpoint()');

is($ha->failover, 'node2', 'a failover promotes node2');
is(via_uri('SELECT inet_server_port()'), $ha->port('node2'), 'read-write clients reach the new primary');
via_uri(q{INSERT INTO t SELECT g, 'after' FROM generate_series(101, 150) g});
is(via_uri('SELECT count(*) FROM t'), '150', 'the new primary has every row, and takes writes');
$ha->psql('node2', 'postgres', 'CHECKPOINT');
cmp_ok($ha->psql('node2', 'postgres', 'SELECT timeline_id FROM pg_control_checkpoint()'), '>', $tli_before,
	'on a new timeline');
is($ha->psql('node2', 'postgres', q{SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'walstar_bed'}), '0',
	'the logical slot did not follow the failover');
is($ha->psql('node1', 'postgres', 'SELECT pg_is_in_recovery()'), 't', 'the old primary follows as the standby');

$ha->stop;
done_testing();
