# Heartbeats tell an idle source from a stalled pipeline. A sink with
# heartbeat-interval = 1 writes two tables (3 partitions each, one keyed,
# one keyless) to an analytics node:
# - idle source: a HEARTBEAT (source, system_id, commit_time, lsn past the
#   last commit) arrives after the last change in every partition of both
#   topics and in walstar.transactions; subscription_status shows
#   source_idle and a lag_seconds of a few seconds at most, from the
#   heartbeat rather than from the last commit, a minute old by then;
# - one table written while the other is idle: the idle one keeps getting
#   heartbeats; the sink is killed (kill -9) in the middle: every row whose
#   transaction ended at or below the slot's confirmed_flush_lsn is in
#   Kafka (heartbeats never confirm past what Kafka acknowledged);
# - the sink down (pipeline stalled): source_idle turns false and
#   lag_seconds grows past the heartbeat gaps;
# - restarted with kafka-transactions (heartbeats in Kafka transactions,
#   read_committed downstream): heartbeats flow again, and the rows written
#   meanwhile land exactly once (the keyless table compared as a multiset).
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

my $kafka = WalstarTest::Kafka->start;
my $src = WalstarTest::Pipeline::source('hb_source', 'app');
$src->safe_psql('app', q{
CREATE TABLE k (id int PRIMARY KEY, v text);
CREATE TABLE nk (g int, note text);
ALTER TABLE nk REPLICA IDENTITY FULL;
});
my $sysid = $src->safe_psql('app', 'SELECT system_identifier FROM pg_control_system()');
my @args = ('--snapshot=never', '--heartbeat-interval=1', '--topic-partitions=3', '--shutdown-timeout=5');
my $sink = WalstarTest::Sink->start(name => 'hb', node => $src, db => 'app', kafka => $kafka, args => \@args);
$sink->wait_log(qr/msg="streaming"/);
$src->safe_psql('app', q{
INSERT INTO k SELECT g, 'k' || g FROM generate_series(1, 200) g;
INSERT INTO nk SELECT g % 7, 'n' || g FROM generate_series(1, 50) g;
});
my $node = WalstarTest::Pipeline::analytics('hb_analytics', $kafka, 'hb',
	topics => '{walstar.public.k,walstar.public.nk}', landing_schema => 'public',
	batch_time => '50ms');

sub landed
{
	my ($what) = @_;
	for my $t ('k', 'nk')
	{
		my $want = $src->safe_psql('app', WalstarTest::Shop::sum_sql($t));
		ok($node->poll_query_until('ana', 'SELECT (' . WalstarTest::Shop::sum_sql("public.$t") . ") = '$want'", 't'),
			"$t: landing equals the source row by row $what");
	}
}

# The records of a partition after its last change: [heartbeats], last change's commit LSN.
sub tail_heartbeats
{
	my ($topic, $partition) = @_;
	my @m = grep { $_->{partition} == $partition } WalstarTest::Sink::read_topic($kafka, $topic, skip_columns => 1);
	my (@hb, $last);
	for my $m (@m)
	{
		next unless $m->{change};
		if ($m->{change}{op_name} eq 'HEARTBEAT') { push @hb, $m->{change}; }
		else { @hb = (); $last = $m->{change}{commit_lsn}; }
	}
	return (\@hb, $last // 0);
}

# --- idle source -------------------------------------------------------
landed('after the first writes');
my $idle_since = Time::HiRes::time();
my $end_lsn = WalstarTest::Wire::lsn_num($src->safe_psql('app', 'SELECT pg_current_wal_lsn()'));
my $deadline = time + 60;
my @where = ((map { ['walstar.public.k', $_] } 0 .. 2), (map { ['walstar.public.nk', $_] } 0 .. 2),
	['walstar.transactions', 0]);
my %seen;
while (time < $deadline && keys %seen < @where)
{
	for my $w (@where)
	{
		my ($hb, $last) = tail_heartbeats(@$w);
		$seen{"$w->[0]:$w->[1]"} = [ $hb->[-1], $last ] if @$hb;
	}
	Time::HiRes::sleep(0.5);
}
is(scalar(keys %seen), scalar(@where), 'a heartbeat follows the last change in every partition of both topics '
	  . 'and in walstar.transactions');
my $ok = 1;
for my $w (sort keys %seen)
{
	my ($h, $last) = @{ $seen{$w} };
	$ok &&= $h->{source} eq 'app' && $h->{system_id} eq $sysid && $h->{lsn} >= $end_lsn
	  && $h->{lsn} > $last && $h->{commit_lsn} == $h->{lsn} && $h->{position} == 0
	  && abs($h->{commit_time} / 1e6 - Time::HiRes::time()) < 60
	  && !@{ $h->{columns} } && !defined $h->{table};
	diag("$w: " . join(' ', map { "$_=" . ($h->{$_} // 'undef') } qw(source system_id lsn commit_lsn commit_time)))
	  unless $ok;
}
ok($ok, 'each heartbeat names the source and its system id, an lsn past the last commit, a current source time, '
	  . 'no table and no values');

# the view: caught up, the last message a heartbeat, from the heartbeat's age
ok($node->poll_query_until('ana', q{SELECT count(*) = 6 AND bool_and(source_idle) AND max(lag_seconds) < 10
	FROM walstar.subscription_status WHERE topic IS NOT NULL}), 'idle source: source_idle in every partition, '
	  . 'lag_seconds small');
is($node->safe_psql('ana', q{SELECT bool_and(last_heartbeat > last_commit_time_applied)
	FROM walstar.subscription_status}), 't', 'last_heartbeat is newer than the last commit applied');
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'heartbeats are no dead letters');
my $offsets = $node->safe_psql('ana', q{SELECT sum(next_offset) FROM walstar.subscription_offsets});

# --- one table busy, the other idle; kill -9 in the middle ------------
my %before_hb = map { $_ => scalar @{ (tail_heartbeats('walstar.public.nk', $_))[0] } } 0 .. 2;
my @ends;                                  # [id, wal position after its commit]
my $busy_since = Time::HiRes::time();
for my $i (1 .. 60)
{
	my $id = 1000 + $i;
	push @ends, [ $id, WalstarTest::Wire::lsn_num($src->safe_psql('app',
		"INSERT INTO k VALUES ($id, 'busy'); SELECT pg_current_wal_lsn()")) ];
	Time::HiRes::sleep(0.05);
}
my $busy = Time::HiRes::time() - $busy_since;
my $grew = 0;
for my $p (0 .. 2)
{
	my ($hb) = tail_heartbeats('walstar.public.nk', $p);
	$grew++ if @$hb > $before_hb{$p};
}
is($grew, 3, 'the idle table gets heartbeats in every partition while the other is written');
# k idle again: its first heartbeat follows the busy time, which is no
# heartbeat gap (stalling then, the pipeline would look idle for 3 times it)
ok($node->poll_query_until('ana', q{SELECT count(*) = 3 AND bool_and(source_idle) FROM walstar.subscription_status
	WHERE topic = 'walstar.public.k'}), 'k idle again: a heartbeat after its last change in every partition');
my $gap = $node->safe_psql('ana', q{SELECT max(heartbeat_gap) FROM walstar.subscription_offsets
	WHERE topic = 'walstar.public.k'});
cmp_ok($gap, '<', $busy, sprintf('the heartbeat gap after a busy time (%.1f s) stays the interval (%s s)', $busy, $gap));
$sink->kill9;
my $confirmed = WalstarTest::Wire::lsn_num($src->safe_psql('app',
	"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'walstar'"));
my %in_kafka = map { ($_->{change}{ints}[0] // -1) => 1 }
  WalstarTest::Sink::read_topic($kafka, 'walstar.public.k', peek => 1);
my @missing = map { $_->[0] } grep { $_->[1] <= $confirmed && !$in_kafka{ $_->[0] } } @ends;
is("@missing", '', 'every row at or below the confirmed position is in Kafka');
note(scalar(grep { $_->[1] <= $confirmed } @ends) . ' of ' . scalar(@ends) . ' rows below the confirmed position');

# --- the pipeline stalls ------------------------------------------------
$src->safe_psql('app', q{INSERT INTO nk VALUES (99, 'while down'), (99, 'while down');
UPDATE k SET v = 'down' WHERE id <= 10});
ok($node->poll_query_until('ana', q{SELECT NOT bool_or(source_idle) AND min(lag_seconds) > 4
	FROM walstar.subscription_status WHERE topic IS NOT NULL}), 'sink down: source_idle false, lag_seconds grows');

# --- restarted, in Kafka transactions -----------------------------------
$sink = WalstarTest::Sink->start(name => 'hb', node => $src, db => 'app', kafka => $kafka,
	args => [ @args, '--kafka-transactions=true' ]);
$sink->wait_log(qr/msg="streaming"/);
landed('after the restart (exactly once)');
# (not source_idle: a transaction's commit marker keeps each high
# watermark one past the last message a read_committed consumer gets)
ok($node->poll_query_until('ana', q{SELECT count(*) = 6 AND max(lag_seconds) < 10
	AND bool_and(last_heartbeat > now() - interval '10 seconds')
	FROM walstar.subscription_status WHERE topic IS NOT NULL}), 'kafka-transactions: heartbeats flow again in '
	  . 'every partition, lag_seconds small');
cmp_ok($node->safe_psql('ana', q{SELECT sum(next_offset) FROM walstar.subscription_offsets}), '>', $offsets,
	'heartbeat offsets are consumed');
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no dead letters');
is($sink->stop, 0, 'clean stop');
note(sprintf('idle phase to the end: %.1f s', Time::HiRes::time() - $idle_since));
$node->stop;
$src->stop;
$kafka->stop;
done_testing();
