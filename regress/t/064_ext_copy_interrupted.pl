# The initial copy cut again and again at random points, by SIGTERM and by
# kill -9, after the apply worker has landed part of it; between the cuts,
# while the sink is down, rows are deleted, updated and inserted at the
# source, and the last copy runs under a write workload.  The landing
# tables end equal to the source row by row, keyed and keyless (REPLICA
# IDENTITY FULL): the READ records of an abandoned copy are superseded by
# the newer copy (walstar.landing_tables.copy_lsn, its commit LSN being the
# copy's epoch), which empties the landing table before its first row.
# WALSTAR_SEED repeats a run.
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

my $seed = $ENV{WALSTAR_SEED} // time();
srand($seed);
note("seed $seed");

my $kafka = WalstarTest::Kafka->start;
my $src = WalstarTest::Pipeline::source('cut_source', 'app');
$src->safe_psql('app', q{
CREATE TABLE k (id int PRIMARY KEY, v text, n int NOT NULL DEFAULT 0);
CREATE TABLE nk (g int, note text);
ALTER TABLE nk REPLICA IDENTITY FULL;
INSERT INTO k SELECT g, repeat('k', 100) || g FROM generate_series(1, 300000) g;
INSERT INTO nk SELECT g % 1000, repeat('n', 50) || g FROM generate_series(1, 100000) g;
});
my $node = WalstarTest::Pipeline::analytics('cut_analytics', $kafka, 'cut',
	topics => '{walstar.public.k,walstar.public.nk}', landing_schema => 'public',
	batch_size => 2000, batch_time => '50ms');

my @args = ('--slot=cut', '--include-tables=public.k,public.nk', '--topic-partitions=2', '--shutdown-timeout=5');

sub copies
{
	return $node->safe_psql('ana', q{SELECT coalesce(max(copy_lsn)::text, '') FROM walstar.landing_tables});
}

# Records in Kafka for both tables (end offsets).
sub produced
{
	my $n = 0;
	for my $t ('k', 'nk')
	{
		for my $p (0, 1)
		{
			my $out = `kcat -Q -b @{[ $kafka->bootstrap ]} -t walstar.public.$t:$p:-1 2>/dev/null`;
			$n += $1 if $out =~ /offset (\d+)/;
		}
	}
	return $n;
}

my $round = 0;
for my $how ('TERM', 'KILL', 'TERM', 'KILL')
{
	$round++;
	my $before = copies();
	my $base = produced();
	my $at = 5000 + int(rand(200000));
	my $sink = WalstarTest::Sink->start(name => 'cut', node => $src, db => 'app', kafka => $kafka, args => \@args);
	$sink->wait_log(qr/msg="initial copy started"/);
	Time::HiRes::sleep(0.02) while produced() < $base + $at && $sink->alive;
	if ($how eq 'TERM')
	{
		$sink->signal('TERM');
		is($sink->wait_exit(5 + 10), 0, "round $round: SIGTERM during the copy, exit 0 within shutdown-timeout");
	}
	else
	{
		$sink->kill9;
		pass("round $round: kill -9 during the copy");
	}
	unlike($sink->log_text, qr/initial copy complete/, "round $round: the copy was cut after $at records or more");
	ok($node->poll_query_until('ana', "SELECT coalesce(max(copy_lsn)::text, '') <> '$before' FROM walstar.landing_tables"),
		"round $round: the apply worker lands READ records of the cut copy");

	# the sink is down: some rows go, some change, some come
	my $m = 7 + int(rand(20));
	my $r = int(rand($m));
	$src->safe_psql('app', qq{
DELETE FROM k WHERE id % $m = $r;
DELETE FROM nk WHERE g % $m = $r;
UPDATE k SET v = 'changed $round', n = n + 1 WHERE id % 97 = $round;
UPDATE nk SET note = note || ' $round' WHERE g % 89 = $round;
INSERT INTO k SELECT 300000 + 1000 * $round + g, 'new $round' FROM generate_series(1, 500) g;
INSERT INTO nk SELECT -g, 'new $round' FROM generate_series(1, 500) g;
});
}

# the last copy completes with writes going on
my $script = "$PostgreSQL::Test::Utils::tmp_check/cut.sql";
open(my $fh, '>', $script) or die;
print $fh q{\set id random(1, 300000)
BEGIN;
UPDATE k SET n = n + 1 WHERE id = :id;
DELETE FROM k WHERE id = :id + 3;
INSERT INTO k VALUES (:id + 400000, 'pgbench') ON CONFLICT (id) DO UPDATE SET n = k.n + 1;
UPDATE nk SET note = note || 'u' WHERE g = :id % 1000 AND note LIKE '%' || :id;
INSERT INTO nk VALUES (:id % 1000, 'pgbench');
COMMIT;
};
close($fh);
my $bench;
{
	local $ENV{PGAPPNAME} = 'pgbench';
	$bench = WalstarTest::Sink::background("$PostgreSQL::Test::Utils::tmp_check/pgbench.log", 'pgbench', '-n', '-T', '8',
		'-c', '2', '-f', $script, '-h', $src->host, '-p', $src->port, 'app');
}
my $sink = WalstarTest::Sink->start(name => 'cut', node => $src, db => 'app', kafka => $kafka, args => \@args);
$sink->wait_log(qr/dropping and recreating the slot to redo the snapshot/);
$sink->wait_log(qr/msg="initial copy complete and acknowledged"/);
is(WalstarTest::Sink::finish_background($bench), 0, 'the workload ran');
$src->safe_psql('app', q{DELETE FROM k WHERE id % 13 = 0; DELETE FROM nk WHERE g % 13 = 0;
UPDATE k SET v = 'after' WHERE id % 101 = 0});

for my $t ('k', 'nk')
{
	my $want = $src->safe_psql('app', WalstarTest::Shop::sum_sql($t));
	ok($node->poll_query_until('ana', 'SELECT (' . WalstarTest::Shop::sum_sql("public.$t") . ") = '$want'", 't'),
		"$t: landing equals the source row by row after $round cut copies")
	  or diag('have ' . $node->safe_psql('ana', WalstarTest::Shop::sum_sql("public.$t")) . " want $want (seed $seed)");
}
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no dead letters');
is($sink->stop, 0, 'clean stop');
$node->stop;
$src->stop;
$kafka->stop;
done_testing();
