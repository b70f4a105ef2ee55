# A chunked copy's epoch completes downstream (sink/README.md "Initial
# snapshot"): a copy of k is cut by kill -9; while the sink is down rows
# are deleted and updated at the source and the slot is lost (dropped, as
# after a failover), so those changes never travel; the restart makes a
# new slot and a new copy (a new epoch), while a writer inserts, updates
# and deletes rows during it.  Applied by two workers (parallel apply),
# the landing table ends equal to the source row by row: the rows the
# source no longer has are deleted when the epoch's last partition
# completes, the rows the stream wrote during the copy stay.  The keyless
# table is copied in one piece and replaced, also row by row.  Then the
# landing copy of k is damaged downstream and `walstar-sink snapshot
# --table=public.k` repairs it with a chunked copy while streaming.
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
use WalstarTest::Wire;

my $rows = 40000;
my $kafka = WalstarTest::Kafka->start;
my $src = WalstarTest::Pipeline::source('epoch_source', 'app');
$src->safe_psql('app', qq{
CREATE TABLE k (id int PRIMARY KEY, v text, n int NOT NULL DEFAULT 0);
INSERT INTO k SELECT g, 'k' || g FROM generate_series(1, $rows) g;
CREATE TABLE nk (g int, note text);
ALTER TABLE nk REPLICA IDENTITY FULL;
INSERT INTO nk SELECT g % 50, 'n' || g FROM generate_series(1, 2000) g;
});
my $node = WalstarTest::Pipeline::analytics('epoch_analytics', $kafka, 'epoch',
	topics => '{walstar.public.k,walstar.public.nk}', landing_schema => 'public', batch_size => 2000,
	batch_time => '50ms', workers => 2);
my @args = ('--slot=epoch', '--topic-partitions=3', '--shutdown-timeout=5', '--snapshot-chunk-size=2000');

my $sink = WalstarTest::Sink->start(name => 'epoch', node => $src, db => 'app', kafka => $kafka, args => \@args);
$sink->wait_log(qr/table=public\.k chunks=\d+ rows=\d+ msg="chunk acknowledged"/);
# rows of the cut copy must be in the landing table before the cut
$node->poll_query_until('ana', 'SELECT count(*) >= 2000 FROM public.k') or die 'no rows landed';
$node->poll_query_until('ana', q{SELECT cardinality(begun_partitions) = 3 FROM walstar.copy_epochs})
  or die 'the first epoch did not begin in every partition';
# one worker is held inside a transaction that keeps keys of this first
# epoch, while the other begins the next: its keys, committed late, must not
# count for the next epoch (they would keep rows the source deleted)
my $held;
for my $try (1 .. 200)
{
	my ($pid) = grep { $_ } split /\n/, $node->safe_psql('ana', q{SELECT worker_pid
		FROM walstar.subscription_status WHERE subscription = 'epoch' AND worker_pid IS NOT NULL
		ORDER BY random() LIMIT 1});
	next unless $pid;
	kill 'STOP', $pid;
	if ($node->safe_psql('ana', "SELECT backend_xid IS NOT NULL FROM pg_catalog.pg_stat_activity WHERE pid = $pid") eq 't')
	{
		$held = $pid;
		last;
	}
	kill 'CONT', $pid;
	Time::HiRes::sleep(0.02);
}
my $first_epoch = $node->safe_psql('ana', q{SELECT epoch FROM walstar.copy_epochs WHERE landing_table = 'k'});
$sink->kill9;
unlike($sink->log_text, qr/chunked copy complete/, 'the first copy was cut');

# down: these changes never travel, the slot goes with them
$src->safe_psql('app', q{
DELETE FROM k WHERE id % 10 = 0;
UPDATE k SET v = 'changed', n = n + 1 WHERE id % 7 = 0;
DELETE FROM nk WHERE g % 5 = 0;
SELECT pg_drop_replication_slot('epoch');
});

$sink = WalstarTest::Sink->start(name => 'epoch', node => $src, db => 'app', kafka => $kafka, args => \@args);
$sink->wait_log(qr/msg="chunked copy planned/);
if ($held)
{
	# the other worker began the new epoch (or waits for the held one)
	for (1 .. 200)
	{
		last if $node->safe_psql('ana', qq{SELECT epoch <> '$first_epoch' FROM walstar.copy_epochs
			WHERE landing_table = 'k'}) eq 't';
		Time::HiRes::sleep(0.1);
	}
	kill 'CONT', $held;
}
note($held ? "worker $held was held across the new epoch's BEGIN" : 'no worker held');
# the stream writes during the new copy, all over the key range
for my $i (1 .. 5)
{
	$src->safe_psql('app', qq{
INSERT INTO k SELECT $rows + 100 * $i + g, 'new $i' FROM generate_series(1, 50) g;
UPDATE k SET v = 'during $i' WHERE id % 97 = $i;
DELETE FROM k WHERE id % 89 = $i;
INSERT INTO nk VALUES ($i, 'during');
});
	Time::HiRes::sleep(0.3);
}
$sink->wait_log(qr/msg="chunked copy complete and acknowledged"/, 120);
$src->safe_psql('app', q{UPDATE k SET v = 'after' WHERE id % 101 = 0});

for my $t ('k', 'nk')
{
	my $want = $src->safe_psql('app', WalstarTest::Shop::sum_sql($t));
	ok($node->poll_query_until('ana', 'SELECT (' . WalstarTest::Shop::sum_sql("public.$t") . ") = '$want'", 't'),
		"$t: landing equals the source row by row after a cut copy and a new epoch")
	  or diag('have ' . $node->safe_psql('ana', WalstarTest::Shop::sum_sql("public.$t")) . " want $want");
}
is($node->safe_psql('ana', q{SELECT cardinality(begun_partitions) || ' ' || cardinality(done_partitions)
	|| ' ' || (completed_at IS NOT NULL) FROM walstar.copy_epochs WHERE landing_table = 'k'}), '3 3 true',
	'the epoch began and ended in the 3 partitions');

# on demand: the landing copy of k is damaged downstream; a chunked
# re-copy while streaming (no pause) repairs it, the writer going on
$node->safe_psql('ana', q{DELETE FROM public.k WHERE id < 3000; INSERT INTO public.k VALUES (-77, 'stale', 0)});
my @cmd = @{ $sink->{cmd} };
splice(@cmd, 1, 0, 'snapshot');
is(system(@cmd, '--table=public.k') >> 8, 0, 'walstar-sink snapshot --table=public.k');
$sink->wait_log(qr/msg="copy requested; it runs in chunks while streaming"/);
for my $i (6 .. 8)
{
	$src->safe_psql('app', qq{INSERT INTO k SELECT $rows + 100 * $i + g, 'new $i' FROM generate_series(1, 50) g;
DELETE FROM k WHERE id % 89 = $i; UPDATE k SET v = 'demand $i' WHERE id % 97 = $i});
	Time::HiRes::sleep(0.3);
}
$sink->wait_log(qr/msg="copy requested; it runs(?s:.*)msg="chunked copy complete and acknowledged"/, 120);
unlike($sink->log_text, qr/streaming pauses/, 'streaming did not pause for the copy');
my $want = $src->safe_psql('app', WalstarTest::Shop::sum_sql('k'));
ok($node->poll_query_until('ana', 'SELECT (' . WalstarTest::Shop::sum_sql('public.k') . ") = '$want'", 't'),
	'k: landing equals the source row by row after the on-demand chunked copy')
  or diag('have ' . $node->safe_psql('ana', WalstarTest::Shop::sum_sql('public.k')) . " want $want");
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no dead letters');
# the copies' READ records carry the stream's timeline: after a failover a
# READ without one would compare with the old timeline's positions by LSN
my $timeline = $src->safe_psql('app', 'SELECT timeline_id FROM pg_control_checkpoint()');
my %read_timelines;
$read_timelines{ WalstarTest::Wire::peek_change($_->{value})->{timeline} }++
  for grep { WalstarTest::Wire::peek_change($_->{value})->{op_name} eq 'READ' }
  WalstarTest::Sink::read_topic($kafka, 'walstar.public.k', raw => 1);
is(join(',', sort keys %read_timelines), $timeline, "the chunked copies' READ records carry timeline $timeline");
is($sink->stop, 0, 'clean stop');
$node->stop;
$src->stop;
$kafka->stop;
done_testing();
