# The chunked copy cut by SIGTERM and by kill -9 (sink/README.md "Initial
# snapshot"): SIGTERM exits 0 within shutdown-timeout; while the sink is
# down rows are deleted, updated and inserted on both sides of the cut;
# each restart resumes at the chunk after the last one Kafka acknowledged
# (the progress in <state-dir>/<slot>.chunks and the log say which), never
# from the first, and the landing table ends equal to the source row by row.
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

my $rows = 200000;
my $chunk = 5000;
my $kafka = WalstarTest::Kafka->start;
my $src = WalstarTest::Pipeline::source('resume_source', 'app');
$src->safe_psql('app', qq{
CREATE TABLE k (id int PRIMARY KEY, v text, n int NOT NULL DEFAULT 0);
INSERT INTO k SELECT g, 'k' || g FROM generate_series(1, $rows) g;
});
my $node = WalstarTest::Pipeline::analytics('resume_analytics', $kafka, 'resume',
	topics => '{walstar.public.k}', landing_schema => 'public', batch_size => 5000, batch_time => '50ms');
my $state = "$PostgreSQL::Test::Utils::tmp_check/sink_state_resume";
my @args = ('--slot=resume', '--include-tables=public.k', '--topic-partitions=2', '--shutdown-timeout=5',
	"--snapshot-chunk-size=$chunk");

# Chunks of k acknowledged so far, from the progress file (-1: none).
sub chunks_done
{
	open(my $fh, '<', "$state/resume.chunks") or return -1;
	while (<$fh>)
	{
		return $1 if /^table \S+ \S+ [01] (\d+) /;
	}
	return -1;
}

my $sink = WalstarTest::Sink->start(name => 'resume', node => $src, db => 'app', kafka => $kafka, args => \@args);
my $done = 0;
my $round = 0;
for my $how ('TERM', 'KILL')
{
	$round++;
	my $at = $done + 3 + int(rand(5));
	Time::HiRes::sleep(0.02) while chunks_done() < $at && $sink->alive;
	if ($how eq 'TERM')
	{
		$sink->signal('TERM');
		is($sink->wait_exit(5 + 10), 0, "round $round: SIGTERM during the chunked copy, exit 0 within shutdown-timeout");
	}
	else
	{
		$sink->kill9;
		pass("round $round: kill -9 during the chunked copy");
	}
	unlike($sink->log_text, qr/chunked copy complete/, "round $round: the copy was cut");
	$done = chunks_done();
	ok($done >= $at, "round $round: $done chunks recorded as acknowledged");
	# the sink is down: rows go, change and come, before and after the cut
	my $cut = $done * $chunk;
	$src->safe_psql('app', qq{
DELETE FROM k WHERE id % 11 = $round;
UPDATE k SET v = 'changed $round', n = n + 1 WHERE id % 13 = $round;
UPDATE k SET id = -id WHERE id BETWEEN $cut - 50 AND $cut + 50;
INSERT INTO k SELECT $rows + 1000 * $round + g, 'new $round' FROM generate_series(1, 500) g;
});
	$sink = WalstarTest::Sink->start(name => 'resume', node => $src, db => 'app', kafka => $kafka, args => \@args);
	$sink->wait_log(qr/chunks_done=$done rows=\d+ msg="chunked copy resumes at the next chunk"/);
	pass("round $round: the restart resumes after chunk $done");
}
$sink->wait_log(qr/msg="chunked copy complete and acknowledged"/, 120);
unlike($sink->log_text, qr/initial copy started|dropping and recreating/, 'no copy from the start');
$src->safe_psql('app', q{DELETE FROM k WHERE id % 17 = 0; UPDATE k SET v = 'after' WHERE id % 101 = 0});

my $want = $src->safe_psql('app', WalstarTest::Shop::sum_sql('k'));
ok($node->poll_query_until('ana', 'SELECT (' . WalstarTest::Shop::sum_sql('public.k') . ") = '$want'", 't'),
	'k: landing equals the source row by row after two cuts')
  or diag('have ' . $node->safe_psql('ana', WalstarTest::Shop::sum_sql('public.k')) . " want $want");

# every row was copied about once: a cut re-sends at most the chunk in flight
my $reads = 0;
for my $p (0, 1)
{
	my $out = `kcat -C -b @{[ $kafka->bootstrap ]} -t walstar.public.k -p $p -o beginning -e -q -f '%h\\n' 2>/dev/null`;
	$reads += () = $out =~ /walstar\.op=READ/g;
}
cmp_ok($reads, '<=', $rows + 2 * $chunk, "READ records: $reads for $rows rows (no copy from the first chunk)");
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no dead letters');
is($sink->stop, 0, 'clean stop');
$node->stop;
$src->stop;
$kafka->stop;
done_testing();
