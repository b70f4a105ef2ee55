# Broker loss under load, on a 3-node Kafka cluster (replication factor 3,
# min.insync.replicas 2): while a pgbench workload (TPC-B-like, over tables
# with keys) runs at the source, the leader of the partition the sink and
# the apply worker use is killed with SIGKILL three times (and started
# again each time), then all three nodes are restarted one after the other.
# The sink (acks=all, idempotent) and the apply worker ride through: the
# same processes run at the end (their pids unchanged), and the landing
# tables equal the source row by row.  The stall each fault caused -- until
# the slot confirmed, and the landing table had, everything committed at
# the source before the fault -- is recorded as diagnostics, not asserted.
# librdkafka's idempotent producer may raise a fatal "sequence
# desynchronization" error after a leader's loss: the sink then starts a
# new producer and restarts the stream at the confirmed position, in the
# same process (counted in the diagnostics).
use strict;
use warnings;
use IPC::Run ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::Shop;
use WalstarTest::Sink;

my @TABLES = qw(accounts tellers branches history);
my $HISTORY_TOPIC = 'walstar.public.history';

my $kafka = WalstarTest::Kafka->start(brokers => 3);
is($kafka->brokers, 3, 'a 3-node Kafka cluster runs');

my $source = WalstarTest::Pipeline::source('bl_source', 'src');
$source->safe_psql('src', q{
CREATE TABLE branches (bid int PRIMARY KEY, bbalance bigint NOT NULL, filler text);
CREATE TABLE tellers (tid int PRIMARY KEY, bid int NOT NULL, tbalance bigint NOT NULL, filler text);
CREATE TABLE accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance bigint NOT NULL, filler text);
CREATE TABLE history (hid bigserial PRIMARY KEY, tid int, bid int, aid int, delta int, mtime timestamptz);
});

my $ana = WalstarTest::Pipeline::analytics('bl_analytics', $kafka, 'bl',
	topic_pattern => '^walstar\.public\.', batch_size => 500, batch_time => '50ms');

my $sink = WalstarTest::Sink->start(name => 'bl', node => $source, db => 'src', kafka => $kafka,
	args => [ '--snapshot=never', '--topic-partitions=1' ]);
$sink->wait_log(qr/msg="streaming"/);
my $sink_pid = $sink->pid;

$source->safe_psql('src', q{
INSERT INTO branches SELECT g, 0, 'branch' FROM generate_series(1, 4) g;
INSERT INTO tellers SELECT g, 1 + g % 4, 0, 'teller' FROM generate_series(1, 40) g;
INSERT INTO accounts SELECT g, 1 + g % 4, 0, repeat('a', 80) FROM generate_series(1, 10000) g;
INSERT INTO history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 0, now());
});

# count and md5 of every table, ordered by key
sub table_sums
{
	my ($node, $db, $schema) = @_;
	return $node->safe_psql($db, join(' UNION ALL ',
		map { "(SELECT '$_', " . "count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '')"
			  . " FROM $schema.$_ t)" } @TABLES));
}

sub landing_equal
{
	my ($what) = @_;
	my $want = table_sums($source, 'src', 'public');
	my $have = '';
	my $end = Time::HiRes::time() + $PostgreSQL::Test::Utils::timeout_default;
	while (Time::HiRes::time() < $end)
	{
		my ($rc, $out) = $ana->psql('ana', "SELECT count(*) FROM pg_tables WHERE schemaname = 'walstar_landing'");
		if ($rc == 0 && $out == @TABLES)
		{
			$have = table_sums($ana, 'ana', 'walstar_landing');
			last if $have eq $want;
		}
		Time::HiRes::sleep(0.2);
	}
	is($have, $want, "$what: every landing table equals its source row by row");
}

landing_equal('initial rows');
my $md = $kafka->metadata;
my @replicas = map { my $t = $_; map { "$t->{topic}/$_->{partition}:" . scalar(@{ $_->{replicas} }) } @{ $t->{partitions} } }
  grep { $_->{topic} =~ /^walstar\.public\./ } @{ $md->{topics} };
is(scalar(grep { !/:3$/ } @replicas) . ' of ' . scalar(@replicas), '0 of ' . scalar(@TABLES),
	'every topic the sink created has 3 replicas') or diag("@replicas");
my $worker_pid = $ana->safe_psql('ana', 'SELECT pid FROM walstar.subscription_workers');
like($worker_pid, qr/^\d+$/, "the apply worker runs (pid $worker_pid)");

my $script = "$PostgreSQL::Test::Utils::tmp_check/tpcb.sql";
open(my $fh, '>', $script) or die;
print $fh q{\set aid random(1, 10000)
\set bid random(1, 4)
\set tid random(1, 40)
\set delta random(-5000, 5000)
BEGIN;
UPDATE accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM accounts WHERE aid = :aid;
UPDATE tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE branches SET bbalance = bbalance + :delta WHERE bid = :bid;
INSERT INTO history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
END;
};
close($fh);
my $rate = 100;
my $bench = IPC::Run::start([ 'pgbench', '-n', '-T', '1200', '-R', $rate, '-c', '2', '-f', $script,
	'-h', $source->host, '-p', $source->port, 'src' ], '>', \my $bench_out, '2>', \my $bench_err);
# the workload is under way
$source->poll_query_until('src', 'SELECT count(*) > 50 FROM history') or die 'pgbench does not run';

# Seconds until the slot confirmed, and the landing table had, everything
# committed before the fault (the sink confirms only what Kafka acknowledged).
sub stall_of
{
	my ($t0, $lsn, $hid) = @_;
	my ($sink_s, $landing_s);
	my $end = $t0 + 180;
	while (Time::HiRes::time() < $end && !(defined $sink_s && defined $landing_s))
	{
		if (!defined $sink_s && $source->safe_psql('src',
				"SELECT confirmed_flush_lsn >= '$lsn' FROM pg_replication_slots WHERE slot_name = 'walstar'") eq 't')
		{
			$sink_s = Time::HiRes::time() - $t0;
		}
		if (!defined $landing_s)
		{
			my ($rc, $out) = $ana->psql('ana', 'SELECT coalesce(max(hid), 0) FROM walstar_landing.history');
			$landing_s = Time::HiRes::time() - $t0 if $rc == 0 && $out >= $hid;
		}
		Time::HiRes::sleep(0.1);
	}
	return ($sink_s, $landing_s);
}

sub load { my $u = `uptime`; return $u =~ /load averages?: (.*)$/ ? $1 : '?'; }

my @stalls;
sub fault
{
	my ($what, $action) = @_;
	my $lsn = $source->safe_psql('src', 'SELECT pg_current_wal_lsn()');
	my $hid = $source->safe_psql('src', 'SELECT max(hid) FROM history');
	my $t0 = Time::HiRes::time();
	$action->();
	my ($sink_s, $landing_s) = stall_of($t0, $lsn, $hid);
	ok(defined $sink_s && defined $landing_s, "$what: the pipeline moved on");
	my $line = sprintf('%s: confirmed after %s s, in the landing table after %s s (load %s)', $what,
		map({ defined $_ ? sprintf('%.1f', $_) : 'never' } $sink_s, $landing_s), load());
	diag("stall: $line");
	push @stalls, $line;
}

# 1. kill -9 of the leader, three times
for my $round (1 .. 3)
{
	my $leader = $kafka->leader($HISTORY_TOPIC, 0);
	ok(defined $leader, "round $round: $HISTORY_TOPIC has a leader (node " . ($leader // '?') . ')');
	note('leaders: ' . join(', ', map { "$_=" . ($kafka->leader("walstar.public.$_", 0) // '?') } @TABLES));
	fault("kill -9 of leader node $leader (round $round)", sub { $kafka->kill_node($leader) });
	my $now_leader;
	for (1 .. 150)
	{
		$now_leader = $kafka->leader($HISTORY_TOPIC, 0);
		last if defined $now_leader && $now_leader != $leader;
		Time::HiRes::sleep(0.2);
	}
	isnt($now_leader // $leader, $leader, "round $round: another node leads now (node " . ($now_leader // '?') . ')');
	$kafka->start_node($leader);
	my $s = $kafka->wait_in_sync;
	note(sprintf('round %d: node %d back in sync %.1f s after its start', $round, $leader, $s));
}

# 2. rolling restart: each node in turn stopped (controlled shutdown) and started
for my $node (1 .. 3)
{
	fault("rolling restart, node $node stopped", sub { $kafka->stop_node($node) });
	$kafka->start_node($node);
	my $s = $kafka->wait_in_sync;
	note(sprintf('rolling restart: node %d back in sync %.1f s after its start', $node, $s));
}

# the workload goes on a little, then ends
Time::HiRes::sleep(3);
$bench->kill_kill;
my $txs = $source->safe_psql('src', 'SELECT count(*) FROM history');
note("pgbench wrote $txs history rows at about $rate transactions/s");

my $end_lsn = $source->safe_psql('src', 'SELECT pg_current_wal_lsn()');
ok($source->poll_query_until('src',
	"SELECT confirmed_flush_lsn >= '$end_lsn' FROM pg_replication_slots WHERE slot_name = 'walstar'"),
	'the slot is confirmed to the end of the workload');
landing_equal('after 3 leader kills and a rolling restart under load');
is($ana->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no dead letters');

ok($sink->alive, 'the sink still runs');
is($sink->pid, $sink_pid, 'the sink was never restarted (same pid)');
is($ana->safe_psql('ana', 'SELECT pid FROM walstar.subscription_workers'), $worker_pid,
	'the apply worker was never restarted (same pid in subscription_workers)');
is($ana->safe_psql('ana', q{SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE backend_type = 'walstar apply'}),
	$worker_pid, 'pg_stat_activity shows the same apply worker');
is($ana->safe_psql('ana', q{SELECT string_agg(DISTINCT worker_state, ',') FROM walstar.subscription_status}),
	'running', 'walstar.subscription_status: the worker is running');
unlike($sink->log_text, qr/^\S* ?error /m, 'the sink logged no error line')
  or diag(join("\n", grep { /error / } split /\n/, $sink->log_text));

note("stall: $_") for @stalls;
my $renewed = () = $sink->log_text =~ /msg="new Kafka producer after a fatal producer error/g;
diag("the sink started a new Kafka producer $renewed time(s) after a fatal idempotence error, in the same process");
is($sink->stop, 0, 'the sink stops cleanly');
$ana->stop;
$source->stop;
$kafka->stop;
done_testing();
