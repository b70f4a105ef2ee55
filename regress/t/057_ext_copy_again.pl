# An initial copy interrupted after the apply worker has landed part of it,
# then 10% of the source rows deleted while the sink is down, then the copy
# redone by the restarted sink: the landing tables equal the source row by
# row (a keyed and a keyless table), because the newer copy empties each
# landing table before its first READ record and anything older than it
# (the interrupted copy's records, the stream before) is superseded.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::Shop;
use WalstarTest::Sink;

my $kafka = WalstarTest::Kafka->start;

my $src = WalstarTest::Pipeline::source('again_source', 'app');
$src->safe_psql('app', q{
CREATE TABLE k (id int PRIMARY KEY, v text);
CREATE TABLE nk (g int, note text);
ALTER TABLE nk REPLICA IDENTITY FULL;
INSERT INTO k SELECT g, repeat('k', 100) || g FROM generate_series(1, 300000) g;
INSERT INTO nk SELECT g % 1000, 'n' || g FROM generate_series(1, 100000) g;
});

my $node = WalstarTest::Pipeline::analytics('again_analytics', $kafka, 'again',
	topics => '{walstar.public.k,walstar.public.nk}', landing_schema => 'public',
	batch_size => 2000, batch_time => '50ms');

my @args = ('--slot=again', '--include-tables=public.k,public.nk');
my $sink = WalstarTest::Sink->start(name => 'again', node => $src, db => 'app', kafka => $kafka, args => \@args);
$sink->wait_log(qr/msg="initial copy started"/);
ok($node->poll_query_until('ana', q{SELECT count(*) > 0 FROM walstar.landing_tables WHERE copy_lsn IS NOT NULL}),
	'the apply worker lands READ records of the first copy');
$sink->kill9;
unlike($sink->log_text, qr/initial copy complete/, 'the first copy was interrupted');

# While the sink is down: 10% of the rows go, a few change.
$src->safe_psql('app', q{
DELETE FROM k WHERE id % 10 = 3;
DELETE FROM nk WHERE g % 10 = 3;
UPDATE k SET v = 'changed' WHERE id % 100 = 1;
});

$sink = WalstarTest::Sink->start(name => 'again', node => $src, db => 'app', kafka => $kafka, args => \@args);
$sink->wait_log(qr/dropping and recreating the slot to redo the snapshot/);
$sink->wait_log(qr/msg="initial copy complete and acknowledged"/);
$src->safe_psql('app', q{INSERT INTO k VALUES (0, 'after the copy'); INSERT INTO nk VALUES (-1, 'after the copy')});

for my $t ('k', 'nk')
{
	my $want = $src->safe_psql('app', WalstarTest::Shop::sum_sql($t));
	ok($node->poll_query_until('ana', 'SELECT (' . WalstarTest::Shop::sum_sql("public.$t") . ") = '$want'", 't'),
		"$t: landing equals the source after the copy was redone")
	  or diag('have ' . $node->safe_psql('ana', WalstarTest::Shop::sum_sql("public.$t")) . " want $want");
}
is($node->safe_psql('ana', q{SELECT count(DISTINCT copy_lsn) FROM walstar.landing_tables}), '1',
	'both tables were filled by the same (second) copy');
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no dead letters');

$sink->stop;
$kafka->stop;
done_testing();
