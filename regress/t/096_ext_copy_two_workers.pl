# Two apply workers meet the start of one copy at once. A table already
# streamed (its landing table claimed, filled by no copy yet) is copied on
# demand into a topic of 2 partitions that 2 workers apply; a statement
# trigger on the landing table keeps each batch's transaction open for 2 s,
# so the two workers' first batches of the copy overlap. The copy's first
# READ record empties the table, but only once: the worker that comes second
# waits for the first and finds the copy started, rather than delete the
# rows the first one applied. The landing table equals the source row by row.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::Sink;

my $kafka = WalstarTest::Kafka->start;
my $src = WalstarTest::Pipeline::source('cw_source', 'app');
$src->safe_psql('app', q{
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT g, 'before the slot ' || g FROM generate_series(1, 3000) g;
});
my $node = WalstarTest::Pipeline::analytics('cw_analytics', $kafka, 'cw',
	topics => '{walstar.public.t}', landing_schema => 'public', batch_size => 500, batch_time => '50ms',
	workers => 2);
my $sink = WalstarTest::Sink->start(name => 'cw', node => $src, db => 'app', kafka => $kafka,
	args => [ '--topic-partitions=2', '--snapshot=never' ]);
$sink->wait_log(qr/msg="streaming"/);

my $rows = q{SELECT count(*) || ' ' || coalesce(md5(string_agg(md5(d::text), ',' ORDER BY d.id)), '-')
	FROM (SELECT id, v FROM %s) d};

$src->safe_psql('app', q{INSERT INTO t VALUES (0, 'streamed')});
ok($node->poll_query_until('ana', q{SELECT count(*) = 1 FROM public.t}),
	'a streamed row landed: the landing table is claimed, and no copy filled it');
ok($node->poll_query_until('ana', q{SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'walstar apply'}),
	'2 apply workers run');
$node->safe_psql('ana', q{
CREATE FUNCTION public.hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_catalog.pg_sleep(2);
	RETURN NULL;
END $$;
CREATE TRIGGER hold AFTER INSERT ON public.t FOR EACH STATEMENT EXECUTE FUNCTION public.hold();
});

my @cmd = @{ $sink->{cmd} };
splice(@cmd, 1, 0, 'snapshot');
is(system(@cmd, '--table=public.t') >> 8, 0, 'walstar-sink snapshot --table=public.t queues a copy');
$sink->wait_log(qr/msg="copy complete and acknowledged; streaming resumes"/);
$sink->wait_confirmed;

my $want = $src->safe_psql('app', sprintf($rows, 't'));
ok($node->poll_query_until('ana', 'SELECT (' . sprintf($rows, 'public.t') . ") = '$want'", 't'),
	'after the copy the landing table equals the source row by row (count, md5 of the rows)')
  or diag('landing: ' . $node->safe_psql('ana', sprintf($rows, 'public.t')) . ", source: $want");
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no dead letters');

$sink->stop;
$node->stop;
$src->stop;
$kafka->stop;
done_testing();
