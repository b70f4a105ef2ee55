# End to end: source database -> walstar-sink -> Kafka -> walstar apply
# worker -> landing tables, equal to the source tables row by row after a
# random mixed workload (inserts, updates also of keys, deletes, truncates,
# TOASTed values, a table without a key), with the initial snapshot (READ
# rows) first. Meanwhile the sink is killed with SIGKILL and the analytics
# server is stopped with -m immediate, several times each.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::Shop;
use WalstarTest::Sink;

my $seed = $ENV{WALSTAR_SEED} // int(rand(1_000_000));
srand($seed);
note("random seed $seed (set WALSTAR_SEED to repeat)");

my $kafka = WalstarTest::Kafka->start;

my $source = WalstarTest::Pipeline::source('e2e_source', 'src');
$source->safe_psql('src', WalstarTest::Shop::schema_sql() . q{
INSERT INTO items SELECT g, 'before ' || g, g, 'snap', now() FROM generate_series(100001, 100300) g;
INSERT INTO shop.orders SELECT 'snap', g, g, g, 'before' FROM generate_series(500001, 500200) g;
INSERT INTO events SELECT g % 10, 'snap' FROM generate_series(1, 50) g;
});

my $node = WalstarTest::Pipeline::analytics('e2e_analytics', $kafka, 'e2e',
	topic_pattern => '^walstar\.(public|shop)\.', batch_size => 500, batch_time => '50ms');

# The shared shop workload (WalstarTest::Shop), bound to this test's nodes.
sub landing_equal { WalstarTest::Shop::landing_equal($source, $node, @_) }
sub random_txs { WalstarTest::Shop::random_txs($source, @_) }



my $sink = WalstarTest::Sink->start(name => 'e2e', node => $source, db => 'src', kafka => $kafka);
$sink->wait_log(qr/msg="streaming"/);
landing_equal('initial snapshot (READ rows)');

my ($sink_kills, $crashes) = (0, 0);
# 10 analytics crashes at random points of the stream, 5 sink kills between them.
for my $round (1 .. 15)
{
	random_txs(10 + int(rand(10)));
	if ($round % 3 == 0)
	{
		$sink->kill9;
		$sink_kills++;
		random_txs(5);
		$sink = WalstarTest::Sink->start(name => 'e2e', node => $source, db => 'src', kafka => $kafka);
		$sink->wait_log(qr/msg="streaming"/);
	}
	else
	{
		Time::HiRes::sleep(rand(0.5));
		$node->stop('immediate');
		$crashes++;
		$node->start;
	}
}
random_txs(10);
landing_equal('after the workload, ' . "$sink_kills sink kills and $crashes analytics crashes");
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no dead letters');
ok($node->poll_query_until('ana', q{SELECT bool_and(worker_state = 'running' AND lag_messages = 0)
	FROM walstar.subscription_status}), 'status: worker running, no lag');

is($sink->stop, 0, 'sink stops cleanly');
$node->stop;
$source->stop;
done_testing();
