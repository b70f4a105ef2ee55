# Exactly once across crashes of the analytics server: while a random
# workload streams through Kafka, the analytics cluster is stopped with
# pg_ctl -m immediate at random points, 10 times, mostly while its apply
# worker is in the middle of the stream. Each time the launcher restarts the
# worker, which resumes from the offsets committed with the data; at the end
# the landing tables equal the source, with no row missing or doubled, and
# a statement trigger on one of them saw every insert exactly once.
use strict;
use warnings;
use File::Temp ();
use POSIX ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use WalstarTest::Kafka;
use WalstarTest::Shop;

my $seed = $ENV{WALSTAR_SEED} // int(rand(1_000_000));
srand($seed);
note("random seed $seed (set WALSTAR_SEED to repeat)");

my $kafka = WalstarTest::Kafka->start;

# the source: the decoder makes the messages (walstar.decode() names topics)
my $source = PostgreSQL::Test::Cluster->new('crash_source');
$source->init(allows_streaming => 'logical');
$source->append_conf('postgresql.conf', q{
output_plugin_libraries = 'pgoutput, test_decoding, walstar_decoder'
});
$source->start;
$source->safe_psql('postgres', 'CREATE DATABASE src');
$source->safe_psql('src', q{
CREATE EXTENSION walstar;
} . WalstarTest::Shop::schema_sql() . q{
SELECT 'init' FROM pg_create_logical_replication_slot('s', 'walstar_decoder');
});

# the analytics server, crashed over and over
my $node = PostgreSQL::Test::Cluster->new('crash_analytics');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'walstar'
walstar.launcher_naptime = 1
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE ana');
$node->safe_psql('ana', 'CREATE EXTENSION walstar');
# a model-like statement trigger with a transition table on a landing table
# created ahead (the worker uses it as it is)
$node->safe_psql('ana', q{
CREATE SCHEMA walstar_landing;
CREATE TABLE walstar_landing.events (at int, what text);
CREATE SCHEMA walstar_landing_audit;
CREATE TABLE walstar_landing_audit.event_inserts (n bigint);
CREATE FUNCTION walstar_landing_audit.count_inserts() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO walstar_landing_audit.event_inserts SELECT count(*) FROM new_rows; RETURN NULL; END $$;
CREATE TRIGGER count_inserts AFTER INSERT ON walstar_landing.events
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION walstar_landing_audit.count_inserts();
});
my $event_inserts = 0;
$node->safe_psql('ana', "SELECT walstar.create_subscription('s', '" . $kafka->bootstrap . q{',
	topic_pattern => '^walstar\.(public|shop)\.', batch_size => 50, batch_time => '20ms', enabled => true)});

my @tables = @WalstarTest::Shop::TABLES;

# The shared shop workload (WalstarTest::Shop), bound to this test's nodes;
# every INSERT into events taken from the slot is counted.
sub produce_raw { WalstarTest::Shop::produce_raw($kafka, @_) }
sub take_changes
{
	return map {
		$event_inserts++ if $_->[0] eq 'walstar.public.events' && $_->[2] eq 'INSERT';
		[ $_->[0], $_->[1] ]
	} WalstarTest::Shop::slot_changes($source);
}
sub ship { my @m = take_changes(); produce_raw(@m); return @m; }
sub table_sum { my ($db, $rel) = @_; return ($db eq 'src' ? $source : $node)->safe_psql($db, WalstarTest::Shop::sum_sql($rel)); }
sub landing_equal { WalstarTest::Shop::landing_equal($source, $node, @_) }
sub random_txs { WalstarTest::Shop::random_txs($source, @_) }

sub applied
{
	my ($ret, $out) = $node->psql('ana', 'SELECT coalesce(sum(applied_messages), 0) FROM walstar.subscription_offsets');
	return $ret == 0 ? $out : -1;
}

my $crashes = 0;
my $mid_stream = 0;
for my $round (1 .. 10)
{
	random_txs(10 + int(rand(10)));
	my @m = take_changes();
	my $before = applied();
	# produce in the background and crash at a random point meanwhile
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		produce_raw(@m);
		POSIX::_exit(0);    # no END blocks: the parent owns servers and broker
	}
	Time::HiRes::sleep(rand(1.2));
	my $at = applied();
	$mid_stream++ if $at >= 0 && $at < $before + scalar(@m);
	$node->stop('immediate');
	$crashes++;
	$node->start;
	waitpid($pid, 0);
	die "producing round $round failed" if $?;
	note("round $round: " . scalar(@m) . " messages, crashed after $at applied (from $before)");
}
is($crashes, 10, '10 immediate shutdowns of the analytics server');
cmp_ok($mid_stream, '>=', 3, "at least 3 crashes hit the stream in the middle ($mid_stream)");

random_txs(10);
ship();
# Compare only once everything is applied: the topics are applied
# independently, and a TRUNCATE at the end of both round 10 and the last
# shipment lets events equal the source while its last inserts are still
# in Kafka (WALSTAR_SEED=28657 counted 438 of 474 that way).
WalstarTest::Shop::wait_applied($node, $kafka);
landing_equal('after 10 crashes');
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no dead letters');
is($node->safe_psql('ana', 'SELECT coalesce(sum(n), 0) FROM walstar_landing_audit.event_inserts'), $event_inserts,
	'the statement trigger on the landing table saw every INSERT exactly once')
  or diag("trigger runs (rows each): "
	  . $node->safe_psql('ana', q{SELECT count(*) || ' (' || string_agg(n::text, ',') || ')' FROM walstar_landing_audit.event_inserts})
	  . "\nprogress (topic|next_offset|last_commit_lsn|last_position|applied_messages):\n"
	  . $node->safe_psql('ana', q{SELECT topic, next_offset, last_commit_lsn, last_position, applied_messages
		FROM walstar.subscription_offsets ORDER BY topic}));

$node->stop;
$source->stop;
done_testing();
