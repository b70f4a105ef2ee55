# A source failover under a workload, with divergence: the source is a
# pg_auto_failover pair (WalstarTest::AutoFailover), the sink streams through
# the libpq multi-host URI (target_session_attrs=read-write), the walstar
# extension applies on an analytics node.
#
# The primary's physical walsender is frozen, so transactions committed
# then (synchronous_commit = local) reach the sink and Kafka but never the
# standby: phantom rows in the landing tables. Then the primary's machine is
# lost (its keeper and servers SIGKILLed) and the monitor promotes the
# standby on a new timeline; the new primary reuses the phantom
# transactions' LSNs for its own. Before that, a chunked copy of both
# tables ran on the old primary (its epoch's watermarks are above every
# LSN the new primary has when it copies). The sink, never restarted,
# reconnects to the new primary, finds its slot missing there, creates it
# and copies every captured table in chunks while streaming: the landing
# tables keep their rows throughout. After the copy the landing tables
# equal the new primary row by row: the new timeline's epoch replaced the
# old one's though its LSNs are lower, its completion deleted the phantom
# rows, and the new primary's changes, at LSNs below the phantoms', were
# not taken for resends.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use WalstarTest::AutoFailover;
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::Shop;
use WalstarTest::Sink;

my $kafka = WalstarTest::Kafka->start;
my $ha = WalstarTest::AutoFailover->start(name => 'fo', conf => "timezone = 'UTC'\nwal_sender_timeout = 60s\n");
# fail over within seconds of losing the primary, whatever WAL it had
$ha->monitor_settings(health_check_period => 500, health_check_timeout => 500, health_check_max_retries => 1,
	health_check_retry_delay => 200, node_considered_unhealthy_timeout => 1500,
	primary_demote_timeout => 1000, promote_wal_log_threshold => 1073741824);
$ha->psql('node1', 'postgres', 'CREATE DATABASE app');
$ha->psql('node1', 'app', q{
CREATE TABLE a (id int PRIMARY KEY, v text, n int NOT NULL DEFAULT 0);
CREATE TABLE b (id int PRIMARY KEY, v text, n int NOT NULL DEFAULT 0);
CREATE TABLE filler (x text);
INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 5000) g;
INSERT INTO b SELECT g, 'b' || g FROM generate_series(1, 5000) g;
});
my $node = WalstarTest::Pipeline::analytics('fo_analytics', $kafka, 'fo',
	topics => '{walstar.public.a,walstar.public.b}', landing_schema => 'public',
	batch_size => 2000, batch_time => '50ms');

# the sink's chunk watermarks, like the workload, commit without waiting for
# the standby: its walsender is frozen below
my $sink = WalstarTest::Sink->start(name => 'fo', conninfo => $ha->uri('app') . '&options=-csynchronous_commit%3Dlocal',
	kafka => $kafka,
	args => [ '--include-tables=public.a,public.b', '--topic-partitions=2', '--shutdown-timeout=5',
		'--reconnect-max-backoff=1', '--heartbeat-interval=1', '--snapshot-chunk-size=1000' ]);
$sink->wait_log(qr/msg="streaming"/);

my $script = "$PostgreSQL::Test::Utils::tmp_check/failover.sql";
PostgreSQL::Test::Utils::append_to_file($script, q{\set id random(1, 6000)
BEGIN;
UPDATE a SET n = n + 1 WHERE id = :id;
DELETE FROM b WHERE id = :id + 3;
INSERT INTO b VALUES (:id + 10000, 'new') ON CONFLICT (id) DO UPDATE SET n = b.n + 1;
INSERT INTO a VALUES (:id + 20000, 'new') ON CONFLICT (id) DO UPDATE SET v = a.v || '.';
COMMIT;
});
sub pgbench
{
	my ($secs, $log) = @_;
	# commits do not wait for the standby: what the frozen walsender holds
	# back is committed on the primary all the same
	local $ENV{PGOPTIONS} = '-c synchronous_commit=local';
	return WalstarTest::Sink::background("$PostgreSQL::Test::Utils::tmp_check/$log", 'pgbench', '-n', '-T',
		$secs, '-c', '2', '-f', $script, $ha->uri('app'));
}

sub landing_sql
{
	my ($t) = @_;
	return WalstarTest::Shop::sum_sql("public.$t");
}

sub landing_equals_primary
{
	my ($primary, $timeout) = @_;
	my $end = time() + $timeout;
	while (time() < $end)
	{
		my $want = join(' ', map { $ha->psql($primary, 'app', landing_sql($_)) } qw(a b));
		my $have = join(' ', map { $node->safe_psql('ana', landing_sql($_)) } qw(a b));
		return 1 if $have eq $want;
		sleep 0.2;
	}
	return 0;
}

# 1. a workload on the primary; the sink streams it
my $bench = pgbench(30, 'pgbench_before.log');
$ha->psql('node1', 'app', q{SELECT pg_sleep(2)});

# 2. the standby stops receiving: the primary's walsender is frozen
my $walsender = $ha->psql('node1', 'postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'walsender' AND datname IS NULL});
like($walsender, qr/^\d+$/, 'the physical walsender of the standby');
kill 'STOP', $walsender;
# phantom transactions, far ahead in the WAL of what the standby has
$ha->psql('node1', 'app', q{
SET synchronous_commit = local;
INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, 8000);
INSERT INTO a SELECT g, 'phantom' FROM generate_series(900001, 900100) g;
UPDATE b SET v = 'phantom' WHERE id <= 50;
});
ok($node->poll_query_until('ana', q{SELECT count(*) = 100 FROM public.a WHERE v = 'phantom'}),
	'the phantom rows reached Kafka and the landing tables');
is($ha->psql('node2', 'app', q{SELECT count(*) FROM a WHERE v = 'phantom'}), '0', 'the standby never got them');
# and a chunked copy of both tables on the old timeline, its watermarks
# above every LSN the new primary will have when it copies
my $initial_lsn = $node->safe_psql('ana', q{SELECT coalesce(max(begin_lsn), '0/0') FROM walstar.copy_epochs});
my @cmd = @{ $sink->{cmd} };
splice(@cmd, 1, 0, 'snapshot');
is(system(@cmd, '--table=public.a,public.b') >> 8, 0, 'a chunked copy is requested on the old primary');
$sink->wait_log(qr/msg="copy requested; it runs in chunks while streaming"(?s:.*)msg="chunked copy complete and acknowledged"/, 60);
ok($node->poll_query_until('ana', qq{SELECT count(*) = 2 AND bool_and(completed_at IS NOT NULL AND begin_timeline = 1
	AND begin_lsn > '$initial_lsn') FROM walstar.copy_epochs}), 'its epoch completed downstream on timeline 1');
my $phantom_epoch_lsn = $node->safe_psql('ana', q{SELECT min(begin_lsn) FROM walstar.copy_epochs});

# 3. the primary's machine is lost; the monitor promotes the standby
my $t0 = time();
cmp_ok($ha->crash('node1'), '>', 2, 'node1: keeper and servers killed');
$ha->wait_for(sub { $ha->states->{node2} =~ m{^(wait_primary|primary)/} }, 'node2 is promoted');
my $promoted = time() - $t0;
WalstarTest::Sink::finish_background($bench);
$bench = pgbench(6, 'pgbench_after.log');

# 4. the sink recovers by itself
$sink->wait_log(qr/msg="source failover: the slot is missing on a promoted standby/, 60);
# the copy runs in chunks while streaming: the landing tables are never
# emptied for it
my ($fewest, $copied) = (1e9, 0);
my $end = time() + 120;
while (time() < $end)
{
	my $n = $node->safe_psql('ana', q{SELECT least((SELECT count(*) FROM public.a), (SELECT count(*) FROM public.b))});
	$fewest = $n if $n < $fewest;
	$copied = 1, last if $sink->log_text =~ /source failover(?s:.*)msg="chunked copy complete and acknowledged"/;
	sleep 0.1;
}
ok($copied, 'the failover\'s copy ran in chunks and completed');
cmp_ok($fewest, '>=', 5000, "the landing tables kept their rows during it (fewest $fewest)");
WalstarTest::Sink::finish_background($bench);
ok(landing_equals_primary('node2', 120), 'landing equals the new primary row by row');
my $converged = time() - $t0;
diag(sprintf('failover: node2 promoted %.1f s after node1 was lost, landing converged after %.1f s',
	$promoted, $converged));
ok($sink->alive, 'the sink was never restarted');
like($sink->log_text, qr/timeline=2 previous_timeline=1 msg="source failover/, 'the failover is logged with both timelines');
is($node->safe_psql('ana', q{SELECT count(*) FROM public.a WHERE v = 'phantom' OR id > 900000}), '0',
	'the phantom inserts are gone');
is($node->safe_psql('ana', q{SELECT count(*) FROM public.b WHERE v = 'phantom'}), '0', 'the phantom updates are gone');
is($node->safe_psql('ana', q{SELECT count(*) FROM walstar.dead_letters}), '0', 'no dead letters');
is($node->safe_psql('ana', qq{SELECT count(*) FILTER (WHERE completed_at IS NOT NULL AND begin_timeline = 2
	AND begin_lsn < '$phantom_epoch_lsn') FROM walstar.copy_epochs}), '2',
	'the new timeline\'s epochs replaced the old one\'s, though their LSNs are lower');
cmp_ok($node->safe_psql('ana', q{SELECT deleted_rows FROM walstar.copy_epochs WHERE landing_table = 'a'}), '>=', 100,
	'completing it deleted the phantom rows');
is($node->safe_psql('ana', q{SELECT DISTINCT timeline FROM walstar.subscription_status}), '2',
	'every partition stands on timeline 2');

# 5. streaming goes on from the new primary
$ha->psql('node2', 'app', q{UPDATE a SET n = n + 100 WHERE id % 10 = 0; DELETE FROM b WHERE id % 7 = 0});
ok(landing_equals_primary('node2', 60), 'later changes of the new primary stream');
# idle now: heartbeats of the new timeline, after its changes (the old
# timeline's higher LSNs neither hide nor fake an idle source)
ok($node->poll_query_until('ana', q{SELECT count(*) = 4 AND bool_and(o.last_heartbeat_timeline = 2)
	AND bool_and(s.source_idle) FROM walstar.subscription_offsets o
	JOIN walstar.subscription_status s USING (topic, partition)}),
	'heartbeats on timeline 2 in every partition, source_idle');

is($sink->stop, 0, 'clean stop');
$node->stop;
$ha->stop;
$kafka->stop;
done_testing();
