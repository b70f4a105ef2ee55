# The test bed is real: a Kafka broker that keeps what it acknowledged across a
# restart, and PostgreSQL clusters started side by side on their own ports.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;

my $n = 500;
my $kafka = WalstarTest::Kafka->start;
like($kafka->bootstrap, qr/^127\.0\.0\.1:\d+$/, 'broker listens on loopback');

my @sent = map { "bed-message-$_-" . int(rand(1_000_000)) } 1 .. $n;
$kafka->produce('bed.roundtrip', @sent);

$kafka->stop;
ok(!$kafka->running, 'broker stopped');
$kafka->start_again;
ok($kafka->running, 'broker restarted');

my @got = $kafka->consume('bed.roundtrip', $n + 1, 20);
is(scalar(@got), $n, "exactly $n messages after the restart");
is_deeply(\@got, \@sent, 'the same messages, in order');

# Two clusters at once, each with logical decoding available.
my @nodes;
for my $name (qw(source analytics))
{
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => 'logical');
	$node->start;
	push @nodes, $node;
}
isnt($nodes[0]->port, $nodes[1]->port, 'clusters on different ports');
for my $node (@nodes)
{
	is($node->safe_psql('postgres', 'SHOW wal_level'), 'logical', $node->name . ' has wal_level=logical');
	is($node->safe_psql('postgres', 'SELECT 6 * 7'), '42', $node->name . ' answers');
}
$_->stop for @nodes;

$kafka->stop;
ok(!$kafka->running, 'broker stopped at the end');
done_testing();
