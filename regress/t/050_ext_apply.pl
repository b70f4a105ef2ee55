# The walstar extension applies real walstar messages from a real Kafka
# broker into landing tables: a random mixed workload ends up equal to the
# source; resent messages are skipped; poison pills (random bytes, a cut
# protobuf, a huge message) land in walstar.dead_letters while the changes
# around them are applied; the status view, stop/start, rewind, the stop
# error policy, the launcher's restart, DROP EXTENSION and DROP DATABASE.
#
# Messages come from walstar_decoder through a slot of the source database
# and are produced with kcat, one file per message.
use strict;
use warnings;
use File::Temp ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::Shop;

my $seed = $ENV{WALSTAR_SEED} // int(rand(1_000_000));
srand($seed);
note("random seed $seed (set WALSTAR_SEED to repeat)");

my $kafka = WalstarTest::Kafka->start;
my $node = WalstarTest::Pipeline::combined('ext_apply');
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('postgres', 'CREATE DATABASE ana');

$node->safe_psql('src', q{
CREATE EXTENSION walstar;  -- for walstar.decode() in ship()
} . WalstarTest::Shop::schema_sql() . q{
SELECT 'init' FROM pg_create_logical_replication_slot('s', 'walstar_decoder');
});
my @tables = @WalstarTest::Shop::TABLES;

# The shared shop workload (WalstarTest::Shop), bound to this test's nodes.
sub produce_raw { WalstarTest::Shop::produce_raw($kafka, @_) }
sub take_changes { map { [ $_->[0], $_->[1] ] } WalstarTest::Shop::slot_changes($node) }
sub ship { my @m = take_changes(); produce_raw(@m); return @m; }
sub table_sum { my ($db, $rel) = @_; return $node->safe_psql($db, WalstarTest::Shop::sum_sql($rel)); }
sub landing_equal { WalstarTest::Shop::landing_equal($node, $node, @_) }
sub random_txs { WalstarTest::Shop::random_txs($node, @_) }

# --- start: a subscription over every walstar topic of the public and shop schemas
$node->safe_psql('ana', 'CREATE EXTENSION walstar');
$node->safe_psql('ana', "SELECT walstar.create_subscription('s', '" . $kafka->bootstrap . q{',
	topic_pattern => '^walstar\.(public|shop)\.', batch_size => 300, batch_time => '50ms', enabled => true)});
$node->poll_query_until('ana',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'walstar apply'")
  or die 'no apply worker';
pass('the launcher started the apply worker');

random_txs(60);
my @first = ship();
landing_equal('random workload');
is($node->safe_psql('ana', q{SELECT string_agg(a.attname, ',' ORDER BY a.attnum)
	FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
	WHERE i.indrelid = 'walstar_landing.shop__orders'::regclass AND i.indisprimary}),
	'region,no', 'landing primary key on the source key columns');

# --- resends (the sink after a crash): old messages again, then new ones
random_txs(20);
my @second = take_changes();
produce_raw(@first, @second);
landing_equal('resent messages are skipped');
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no dead letters so far');

# --- poison pills between real changes
random_txs(5);
my @before = take_changes();
random_txs(5);
my @after = take_changes();
my $random = join('', map { chr(int(rand(256))) } 1 .. 200);
my ($real) = grep { length($_->[1]) > 40 } @before;
my $cut = substr($real->[1], 0, int(length($real->[1]) / 2));
my $huge = join('', map { chr(int(rand(256))) } 1 .. 3_000_000);
produce_raw(@before, [ 'walstar.public.items', $random ], [ 'walstar.public.items', $cut ],
	[ 'walstar.public.items', $huge ], @after);
landing_equal('changes around poison pills');
$node->poll_query_until('ana', 'SELECT count(*) = 3 FROM walstar.dead_letters')
  or die 'poison pills not in dead_letters';
my $letters = $node->safe_psql('ana', q{
SELECT topic || ' ' || length(raw) || ' ' || error FROM walstar.dead_letters ORDER BY "offset"});
note($letters);
my @l = split /\n/, $letters;
like($l[0], qr/^walstar\.public\.items 200 (not a walstar\.v1\.Change protobuf message|not a walstar message|unsupported wire format|unknown op)/,
	'random bytes: readable error');
# (half a message can still parse: its fields are then missing or refused)
like($l[1], qr/^walstar\.public\.items \d+ (not a walstar\.v1\.Change protobuf message|.* record for "public\.items" (has|without)|this change comes from source .* cannot be compared)/,
	'truncated protobuf: readable error');
like($l[2], qr/^walstar\.public\.items 3000000 /, 'huge message kept whole with its error');

# --- status view
$node->poll_query_until('ana', q{SELECT bool_and(lag_messages = 0 AND offset_applied = high_watermark - 1
	AND worker_state = 'running' AND last_commit_time_applied IS NOT NULL)
	FROM walstar.subscription_status}) or die 'status never caught up';
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.subscription_status'), '3',
	'one status row per partition');

# --- stop and start
$node->safe_psql('ana', "SELECT walstar.stop_subscription('s')");
$node->poll_query_until('ana', q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'walstar apply'})
  or die 'worker did not stop';
is($node->safe_psql('ana', 'SELECT DISTINCT worker_state FROM walstar.subscription_status'), 'stopped',
	'stopped subscription: worker state stopped');
random_txs(10);
ship();
my $items_before = table_sum('ana', 'walstar_landing.items');
$node->safe_psql('ana', "SELECT walstar.start_subscription('s')");
landing_equal('after stop and start');
isnt(table_sum('ana', 'walstar_landing.items'), $items_before, 'changes made while stopped were applied after start');

# --- rewind to the beginning: everything replayed, same result
my $applied = $node->safe_psql('ana', 'SELECT sum(applied_messages) FROM walstar.subscription_offsets');
$node->safe_psql('ana', "SELECT walstar.rewind('s', 0::bigint)");
$node->poll_query_until('ana', "SELECT sum(applied_messages) >= 2 * $applied FROM walstar.subscription_offsets")
  or die 'rewind did not replay';
landing_equal('after a rewind to offset 0');

# --- rewind to a time before everything: the worker resolves it to offset 0
$applied = $node->safe_psql('ana', 'SELECT sum(applied_messages) FROM walstar.subscription_offsets');
$node->safe_psql('ana', "SELECT walstar.rewind('s', '2000-01-01 00:00:00+00'::timestamptz)");
$node->poll_query_until('ana', "SELECT rewind_time IS NULL FROM walstar.subscriptions WHERE name = 's'")
  or die 'rewind by time not resolved';
$node->poll_query_until('ana', "SELECT sum(applied_messages) >= $applied + $applied / 2 FROM walstar.subscription_offsets")
  or die 'rewind by time did not replay';
landing_equal('after a rewind to a time');

# --- error policy stop: the subscription stops at the poison, nothing after it is applied
my $letters_before = $node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters');
$node->safe_psql('ana', "SELECT walstar.alter_subscription('s', error_policy => 'stop')");
random_txs(3);
my @pre = take_changes();
random_txs(3);
my @post = take_changes();
produce_raw(@pre, [ 'walstar.public.items', 'garbage' ], @post);
$node->poll_query_until('ana', q{SELECT NOT enabled FROM walstar.subscriptions WHERE name = 's'})
  or die 'error policy stop did not stop';
like($node->safe_psql('ana', q{SELECT DISTINCT worker_state || ': ' || last_error FROM walstar.subscription_status
	WHERE topic = 'walstar.public.items'}),
	qr/^stopped by error policy: topic "walstar\.public\.items" partition 0 offset \d+: /, 'stop policy: state and error');
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), $letters_before, 'stop policy: no new dead letter');
$node->safe_psql('ana', "SELECT walstar.alter_subscription('s', error_policy => 'dead_letter')");
$node->safe_psql('ana', "SELECT walstar.start_subscription('s')");
landing_equal('after resuming with the dead_letter policy');
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), $letters_before + 1,
	'the poison went to dead_letters on resume');

# --- the launcher restarts a worker that was terminated
my $pid = $node->safe_psql('ana', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'walstar apply'});
$node->safe_psql('ana', "SELECT pg_terminate_backend($pid)");
$node->poll_query_until('ana', qq{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'walstar apply' AND pid <> $pid}) or die 'worker not restarted';
pass('terminated worker restarted by the launcher');
random_txs(5);
ship();
landing_equal('after the worker restart');

# --- DROP EXTENSION stops the workers; DROP DATABASE does not wait for them
$node->safe_psql('ana', 'DROP EXTENSION walstar');
$node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_stat_activity
	WHERE backend_type IN ('walstar apply', 'walstar manager') AND datname = 'ana'})
  or die 'workers survived DROP EXTENSION';
pass('DROP EXTENSION: workers gone');
$node->safe_psql('ana', 'CREATE EXTENSION walstar');
$node->safe_psql('ana', "SELECT walstar.create_subscription('s', '" . $kafka->bootstrap . q{',
	topic_pattern => '^walstar\.(public|shop)\.', enabled => true)});
$node->poll_query_until('ana', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'walstar apply'})
  or die 'no worker after re-creating the extension';
my ($ret, $stdout, $stderr) = $node->psql('postgres', 'DROP DATABASE ana');
is($ret, 0, 'DROP DATABASE with a running apply worker') or diag($stderr);

$node->stop;
done_testing();
