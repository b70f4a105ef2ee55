# A dead letter is an old version of its row: walstar.retry_dead_letter()
# must not put it over a newer version that the worker applied after it.
# Row 1 goes v=1 (applied), v=2 (refused by a CHECK on the landing table, a
# dead letter), v=3 (applied); row 2's insert is refused last. With the
# CHECK dropped, retrying row 1's letter is refused (the partition applied
# a newer change since), row 2's applies (nothing newer), and force => true
# applies an old letter anyway.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::Shop;

my $kafka = WalstarTest::Kafka->start;

my $source = PostgreSQL::Test::Cluster->new('order_source');
$source->init(allows_streaming => 'logical');
$source->append_conf('postgresql.conf', q{
output_plugin_libraries = 'pgoutput, test_decoding, walstar_decoder'
});
$source->start;
$source->safe_psql('postgres', 'CREATE DATABASE src');
$source->safe_psql('src', q{
CREATE EXTENSION walstar;
CREATE TABLE acct (id int PRIMARY KEY, v int);
SELECT 'init' FROM pg_create_logical_replication_slot('s', 'walstar_decoder');
});

my $node = WalstarTest::Pipeline::analytics_node('order_analytics');
$node->safe_psql('ana', q{
CREATE SCHEMA walstar_landing;
CREATE TABLE walstar_landing.acct (id int PRIMARY KEY, v int CONSTRAINT not_two CHECK (v <> 2));
});
$node->safe_psql('ana', "SELECT walstar.create_subscription('s', '" . $kafka->bootstrap . q{',
	topics => '{walstar.public.acct}', batch_time => '20ms', enabled => true)});

# Ship one source transaction (or messages) and wait until the worker has
# passed it; returns its messages.
my $shipped = 0;
sub ship_messages
{
	my @m = @_;
	WalstarTest::Shop::produce_raw($kafka, @m);
	$shipped += @m;
	$node->poll_query_until('ana', "SELECT coalesce(sum(next_offset), 0) >= $shipped FROM walstar.subscription_offsets")
	  or die "the worker did not take offset $shipped";
	return @m;
}
sub ship
{
	my ($sql) = @_;
	$source->safe_psql('src', $sql);
	return ship_messages(map { [ $_->[0], $_->[1] ] } WalstarTest::Shop::slot_changes($source));
}
sub ana { return $node->safe_psql('ana', $_[0]); }
ship('INSERT INTO acct VALUES (1, 1)');
ship('UPDATE acct SET v = 2 WHERE id = 1');
ship('UPDATE acct SET v = 3 WHERE id = 1');
ship('INSERT INTO acct VALUES (2, 2)');
is(ana('SELECT id, v FROM walstar_landing.acct ORDER BY id'), '1|3', 'v=3 applied over the refused v=2');
my ($old, $new) = split /\n/, ana('SELECT id FROM walstar.dead_letters ORDER BY id');
ok(defined $new && ana("SELECT count(*) FROM walstar.dead_letters WHERE error LIKE '%not_two%'") == 2,
	'the two changes with v=2 are dead letters');

ana('ALTER TABLE walstar_landing.acct DROP CONSTRAINT not_two');
my ($ret, $out, $err) = $node->psql('ana', "SELECT walstar.retry_dead_letter($old)");
isnt($ret, 0, 'retrying the letter older than an applied change is refused');
like($err, qr/is not newer than the changes its partition has applied/, 'and says why');
is(ana('SELECT v FROM walstar_landing.acct WHERE id = 1'), '3', 'the newer version of row 1 stays');
is(ana("SELECT count(*) FROM walstar.dead_letters WHERE id = $old"), '1', 'the refused letter stays');

is(ana("SELECT walstar.retry_dead_letter($new)"), 't', 'the newest letter of the partition applies');
is(ana('SELECT v FROM walstar_landing.acct WHERE id = 2'), '2', 'row 2 is there');

is(ana("SELECT walstar.retry_dead_letter($old, force => true)"), 't', 'force => true applies an old letter');
is(ana('SELECT v FROM walstar_landing.acct WHERE id = 1'), '2', 'as asked');

my @v4 = ship('UPDATE acct SET v = 4 WHERE id = 2');
is(ana('SELECT v FROM walstar_landing.acct WHERE id = 2'), '4', 'the stream goes on after the retries');

# After a source failover positions are ordered by timeline first: the old
# primary's letter (timeline 1) is older than every change of the promoted
# standby (timeline 2), whose LSNs may be lower. The v=4 record again,
# re-stamped on timeline 2 (field 25 appended: the last occurrence wins),
# stands for the new primary's version of row 2 at an LSN below the letter's.
ana('ALTER TABLE walstar_landing.acct ADD CONSTRAINT not_five CHECK (v <> 5)');
ship('UPDATE acct SET v = 5 WHERE id = 2');
my $phantom = ana("SELECT id FROM walstar.dead_letters WHERE error LIKE '%not_five%'");
like($phantom, qr/^\d+$/, 'v=5 on timeline 1 is a dead letter');
# (row 2 set aside, so that applying the record shows)
ana("UPDATE walstar_landing.acct SET v = 0 WHERE id = 2");
ship_messages(map { [ $_->[0], $_->[1] . "\xc8\x01\x02" ] } @v4);
is(ana('SELECT v FROM walstar_landing.acct WHERE id = 2'), '4',
	'the v=4 record on timeline 2 is applied, not skipped as a resend');
is(ana('SELECT applied_timeline FROM walstar.subscription_offsets'), '2', 'the applied position is on timeline 2');
ana('ALTER TABLE walstar_landing.acct DROP CONSTRAINT not_five');
($ret, $out, $err) = $node->psql('ana', "SELECT walstar.retry_dead_letter($phantom)");
like($err, qr/is not newer than the changes its partition has applied/,
	'the letter of timeline 1 is refused though its LSN is higher');
is(ana('SELECT v FROM walstar_landing.acct WHERE id = 2'), '4', 'the version of timeline 2 stays');

$node->stop;
$source->stop;
done_testing();
