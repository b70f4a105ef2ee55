# Backfill from the lake: the shop workload through walstar-sink -> Kafka
# -> walstar-archive (gzip objects) -> a real S3-compatible store, applied
# by a subscription meanwhile.  A replay of the whole archive into the
# original topics, over that running subscription, changes nothing.  Then
# the broker and its topics are gone: a fresh broker and a fresh analytics
# database restored from the archive alone (walstar-archive replay) equal
# the source row by row.  A replay of one source and table into replay
# topics (--replay-topic-prefix) produces exactly that table's records,
# also with virtual-host style URLs.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Archive;
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::S3;
use WalstarTest::Shop;
use WalstarTest::Sink;

my $seed = $ENV{WALSTAR_SEED} // int(rand(1_000_000));
srand($seed);
note("random seed $seed (set WALSTAR_SEED to repeat)");

my $kafka = WalstarTest::Kafka->start;
my $s3 = WalstarTest::S3->start;
my $source = WalstarTest::Pipeline::source('replay_source', 'src');
$source->safe_psql('src', WalstarTest::Shop::schema_sql() . q{
INSERT INTO items SELECT g, 'before ' || g, g, 'snap', now() FROM generate_series(100001, 100200) g;
INSERT INTO shop.orders SELECT 'snap', g, g, g, 'before' FROM generate_series(500001, 500100) g;
});
my $pattern = '^walstar\.(public|shop)\.';
my $ana = WalstarTest::Pipeline::analytics('replay_live', $kafka, 'live',
	topic_pattern => $pattern, batch_size => 500, batch_time => '50ms');

# Two partitions per topic, applied by one worker: a key-changing UPDATE
# with an unchanged TOASTed value waits for the old row its old key's
# DELETE, in the other partition, stashes (extension/README.md, Limits).
# 070 replays two partitions and compares them record by record.
my $sink = WalstarTest::Sink->start(name => 'replay', node => $source, db => 'src', kafka => $kafka,
	args => ['--topic-partitions=2']);
$sink->wait_log(qr/msg="streaming"/);
my $conf = "$PostgreSQL::Test::Utils::tmp_check/archive.conf";
PostgreSQL::Test::Utils::append_to_file($conf, "object-max-age = 1\ncompression = gzip\n");
my $metrics_port = PostgreSQL::Test::Cluster::get_free_port();
my @args = ("--topic-pattern=$pattern", "--config=$conf", '--object-max-records=400',
	"--metrics-port=$metrics_port");
my $archive = WalstarTest::Archive->start(name => 'replay', kafka => $kafka, s3 => $s3, args => \@args);
$archive->wait_log(qr/msg="archiving"/);

WalstarTest::Shop::random_txs($source, 20) for 1 .. 10;
$sink->wait_confirmed;
WalstarTest::Shop::wait_applied($ana, $kafka);
WalstarTest::Shop::landing_equal($source, $ana, 'live subscription');

my @topics = WalstarTest::Shop::topics();
ok(WalstarTest::Archive::wait_covered($s3, $kafka, 'walstar/', 120, @topics), 'the archive holds every offset');
my $metrics = `curl -s http://127.0.0.1:$metrics_port/metrics`;
like($metrics, qr/^walstar_archive_objects_total [1-9]\d*$/m, 'metrics: objects stored');
like($metrics, qr/^walstar_archive_store_up 1$/m, 'metrics: store up');
# SIGHUP: a reloadable option changes, one that needs a restart does not
PostgreSQL::Test::Utils::append_to_file($conf, "object-max-age = 5\ncompression = zstd\n");
$archive->signal('HUP');
$archive->wait_log(qr/option=object-max-age msg="reloaded"/);
like($archive->log_text, qr/option=compression msg="changed; needs a restart/, 'SIGHUP: compression needs a restart');
is($archive->stop, 0, 'the archive stops cleanly');
my @objs = WalstarTest::Archive::objects($s3, 'walstar/', names_only => 1);
ok(scalar(@objs) > 3, scalar(@objs) . ' objects');
ok(!(grep { $_->{ext} ne 'pb.gz' } @objs), 'gzip objects (.pb.gz)');

# 1. a replay over the running subscription changes nothing
my $sums = join(' UNION ALL ', map { '(' . WalstarTest::Shop::sum_sql($_->[1]) . ')' } @WalstarTest::Shop::TABLES);
my $before = $ana->safe_psql('ana', $sums);
my ($rc, $out) = WalstarTest::Archive::run($kafka, $s3, 'replay', '--from=2000-01-01', '--to=2100-01-01');
is($rc, 0, 'replay into the original topics') or diag($out);
my ($replayed) = $out =~ /records=(\d+) msg="replayed"/;
cmp_ok($replayed // 0, '>', 500, 'replay produced ' . ($replayed // 0) . ' records');
WalstarTest::Shop::wait_applied($ana, $kafka);
is($ana->safe_psql('ana', $sums), $before, 'the replay over live data changed no landing row');
WalstarTest::Shop::landing_equal($source, $ana, 'after the replay over live data');
is($ana->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no dead letters from the replay');

is($sink->stop, 0, 'sink stops cleanly');
$ana->stop;

# 2. Kafka gone: a new broker, a new analytics database, the lake alone
$kafka->stop;
my $kafka2 = WalstarTest::Kafka->start;
is(scalar(grep { /^walstar\./ } WalstarTest::Sink::topics($kafka2)), 0, 'the new broker has no walstar topics');
my $fresh = WalstarTest::Pipeline::analytics('replay_fresh', $kafka2, 'restored',
	topic_pattern => $pattern, batch_size => 500, batch_time => '50ms');
($rc, $out) = WalstarTest::Archive::run($kafka2, $s3, 'replay', '--from=2000-01-01', '--to=2100-01-01');
is($rc, 0, 'replay into the new broker') or diag($out);
WalstarTest::Shop::wait_applied($fresh, $kafka2);
WalstarTest::Shop::landing_equal($source, $fresh, 'restored from the archive alone');
is($fresh->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no dead letters in the restore');

# 3. one source and table, into replay topics
my @items = grep { $_->{table} eq 'public.items' } WalstarTest::Archive::objects($s3, 'walstar/src/public.items/');
my $want = 0;
$want += scalar(@{ $_->{records} }) for @items;
($rc, $out) = WalstarTest::Archive::run($kafka2, $s3, 'replay', '--from=2000-01-01', '--to=2100-01-01',
	'--source=src', '--table=public.items', '--replay-topic-prefix=lake');
is($rc, 0, 'replay of one table into replay topics') or diag($out);
is(join(',', grep { /^lake\./ } WalstarTest::Sink::topics($kafka2)), 'lake.walstar.public.items', 'only lake.walstar.public.items written');
is($kafka2->count('lake.walstar.public.items'), $want, "lake.walstar.public.items holds the table's $want archived records");

# 4. the same through virtual-host URLs (walstar-lake.localhost:PORT)
(my $vhost = $s3->endpoint) =~ s/127\.0\.0\.1/localhost/;
($rc, $out) = WalstarTest::Archive::run($kafka2, $s3, 'replay', '--from=2000-01-01', '--to=2100-01-01',
	'--source=src', '--table=public.items', '--replay-topic-prefix=vhost', "--s3-endpoint=$vhost",
	'--s3-url-style=virtual-host');
is($rc, 0, 'replay through virtual-host URLs') or diag($out);
is($kafka2->count('vhost.walstar.public.items'), $want, 'virtual-host: the same records');

$fresh->stop;
$source->stop;
done_testing();
