# A copy left in the middle: SIGTERM while the initial COPY runs ends the
# sink within shutdown-timeout (the COPY is cancelled and drained, it used
# to spin forever), and the next start copies every row; a row larger than
# Kafka accepts follows oversize-policy exactly as a streamed row: stop ends
# the sink naming table, key and LSN, dead-letter describes it in
# <prefix>.dead_letters and the copy goes on.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Sink;

my $kafka = WalstarTest::Kafka->start;
my $node = PostgreSQL::Test::Cluster->new('source');
$node->init(allows_streaming => 'logical');
WalstarTest::Sink::setup_node($node);
$node->start;
$node->safe_psql('postgres', q{
CREATE TABLE big (id int PRIMARY KEY, v text);
INSERT INTO big SELECT g, 'b' || g FROM generate_series(1, 600000) g;
CREATE TABLE huge (id int PRIMARY KEY, body text);
INSERT INTO huge SELECT g, CASE WHEN g = 10 THEN repeat('x', 5000) ELSE 'h' || g END
  FROM generate_series(1, 50000) g;
});

# READ records of the newest copy in a topic
sub reads
{
	my ($topic) = @_;
	my @r = grep { $_->{change}{op_name} eq 'READ' } WalstarTest::Sink::read_topic($kafka, $topic, peek => 1);
	my $last = 0;
	$last = $_->{change}{commit_lsn} > $last ? $_->{change}{commit_lsn} : $last for @r;
	my %ids = map { ($_->{change}{ints}[0] => 1) } grep { $_->{change}{commit_lsn} == $last } @r;
	return scalar(keys %ids);
}

sub copy_sessions
{
	return $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'walstar-sink snapshot'});
}

# 1. SIGTERM in the middle of the COPY
my @args = ('--slot=stop', '--topic-prefix=stop', '--include-tables=public.big', '--progress-interval=1',
	'--shutdown-timeout=5');
my $sink = WalstarTest::Sink->start(name => 'stop', node => $node, kafka => $kafka, args => \@args);
$sink->wait_log(qr/info snapshot table=public\.big rows=[1-9]\d* .*tables_done=0\/1/);
$sink->signal('TERM');
is($sink->wait_exit(5 + 10), 0, 'SIGTERM during the COPY: exit 0 within shutdown-timeout');
like($sink->log_text, qr/stopped before the snapshot was complete/, 'logged as a stop before completion');
unlike($sink->log_text, qr/initial copy complete/, 'the copy was really cut');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_stat_activity
  WHERE application_name = 'walstar-sink snapshot'}), 'the cancelled COPY is gone from the source');
# the same slot, a fresh topic: only the new copy's records to count
s/^--topic-prefix=stop$/--topic-prefix=stop2/ for @args;
$sink = WalstarTest::Sink->start(name => 'stop', node => $node, kafka => $kafka, args => \@args);
$sink->wait_log(qr/dropping and recreating the slot to redo the snapshot/);
$sink->wait_log(qr/msg="initial copy complete and acknowledged"/);
is($kafka->count('stop2.public.big'), 600000, 'the restarted copy has every row');
is($sink->stop, 0, 'clean stop');

# 2. a row larger than message.max.bytes, oversize-policy = stop
my @small = ('--include-tables=public.huge', '--set', 'kafka.message.max.bytes=2000');
$sink = WalstarTest::Sink->start(name => 'ov', node => $node, kafka => $kafka,
	args => [ @small, '--slot=ov', '--topic-prefix=ov', '--oversize-policy=stop' ]);
isnt($sink->wait_exit(60), 0, 'oversize-policy = stop: the copy ends the sink, non-zero, without hanging');
like($sink->log_text, qr/error snapshot .*larger than Kafka accepts.*table=public\.huge key=\(10\) lsn=[0-9A-F]+\/[0-9A-F]+; oversize-policy = stop/,
	'the error names table, key and LSN');
unlike($sink->log_text, qr/initial copy complete/, 'the copy is not recorded as complete');
ok(!-f "$sink->{state_dir}/ov.snapshot", 'no completion record');
is(copy_sessions(), '0', 'no COPY left on the source');

# 3. the same row, oversize-policy = dead-letter
$sink = WalstarTest::Sink->start(name => 'ovd', node => $node, kafka => $kafka,
	args => [ @small, '--slot=ovd', '--topic-prefix=ovd', '--oversize-policy=dead-letter' ]);
$sink->wait_log(qr/msg="initial copy complete and acknowledged"/);
is(reads('ovd.public.huge'), 49999, 'every other row is copied');
my @dl = WalstarTest::Sink::read_topic($kafka, 'ovd.dead_letters', raw => 1);
is(scalar(@dl), 1, 'one dead letter');
like($dl[0]{value} // '', qr/"error":"message too large","topic":"ovd\.public\.huge".*"op":"READ","key":"\(10\)"/,
	'it describes topic, op READ and key');
like($sink->log_text, qr/error stream .*table=public\.huge key="\(10\)".*dead-letter topic/, 'logged as an error');
is($sink->stop, 0, 'clean stop');

$node->stop;
$kafka->stop;
done_testing();
