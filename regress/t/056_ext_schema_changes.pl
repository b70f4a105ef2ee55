# Source schema changes under a writer at 20 transactions per second,
# through the real pipeline (source, walstar-sink, Kafka, apply worker),
# without DDL capture:
# - followed exactly: ADD COLUMN without a default, ADD COLUMN with a
#   constant default (existing rows get it), RENAME COLUMN, DROP COLUMN (the
#   landing column stays);
# - refused loudly: ALTER COLUMN TYPE and ADD COLUMN with a volatile default
#   make the table's changes dead letters with the reason; once the landing
#   table is made right by hand, retrying them gives the source's rows.
# After each phase the landing table equals the source row by row (text of
# every source column).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::SchemaChanges;
use WalstarTest::Sink;

my $kafka = WalstarTest::Kafka->start;

my $src = WalstarTest::Pipeline::source('ddl_source', 'app');
$src->safe_psql('app', q{
CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL DEFAULT 0, v text, d text);
INSERT INTO t SELECT g, g, 'v' || g, 'd' || g FROM generate_series(1, 200) g;
});

my $node = WalstarTest::Pipeline::analytics('ddl_analytics', $kafka, 'ddl',
	topics => '{walstar.public.t}', landing_schema => 'public', batch_size => 100,
	batch_time => '50ms');

my $sink = WalstarTest::Sink->start(name => 'ddl', node => $src, db => 'app', kafka => $kafka);
$sink->wait_log(qr/msg="streaming"/);

my $t = WalstarTest::SchemaChanges->new($src, $node);

sub caught_up
{
	ok($node->poll_query_until('ana', q{SELECT bool_and(lag_messages = 0) FROM walstar.subscription_status}),
		'the worker caught up');
}

$t->landing_equal('initial copy');

# Phase 1: changes walstar follows exactly, while the writer runs.
my $w = $t->writer(8);
sleep 1;
$src->safe_psql('app', 'ALTER TABLE t ADD COLUMN c_null int');
sleep 1;
$src->safe_psql('app', 'UPDATE t SET c_null = id WHERE id % 3 = 0');
$src->safe_psql('app', q{ALTER TABLE t ADD COLUMN c_const text DEFAULT 'dflt'});
sleep 1;
$src->safe_psql('app', 'ALTER TABLE t RENAME COLUMN v TO v_renamed');
sleep 1;
$src->safe_psql('app', 'ALTER TABLE t DROP COLUMN d');
is(WalstarTest::Sink::finish_background($w), 0, 'the writer ran');
$t->landing_equal('after ADD COLUMN (no default, constant default), RENAME COLUMN, DROP COLUMN');
is($node->safe_psql('ana', q{SELECT count(*) FROM public.t WHERE c_const = 'dflt'}),
	$src->safe_psql('app', q{SELECT count(*) FROM t WHERE c_const = 'dflt'}),
	'rows older than ADD COLUMN ... DEFAULT have the default');
ok($node->safe_psql('ana', q{SELECT count(*) FROM public.t WHERE v_renamed IS NOT NULL}) > 100,
	'the renamed column kept its values');
is($node->safe_psql('ana', q{SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.t'::regclass AND attname = 'd'}),
	'1', 'the dropped column stays in the landing table');
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no dead letters');

# Phase 2: changes walstar cannot follow exactly are refused, with reasons.
$w = $t->writer(4);
sleep 1;
$src->safe_psql('app', 'ALTER TABLE t ALTER COLUMN n TYPE bigint');
sleep 1;
$src->safe_psql('app', 'ALTER TABLE t ADD COLUMN c_vol float8 DEFAULT random()');
is(WalstarTest::Sink::finish_background($w), 0, 'the writer ran');
$src->safe_psql('app', 'UPDATE t SET n = n + 1 WHERE id <= 20');
caught_up();
ok($node->safe_psql('ana', q{SELECT count(*) FROM walstar.dead_letters
	WHERE error LIKE 'column "n" of public.t changed type at the source, from integer to bigint%'}) >= 20,
	'changes after ALTER COLUMN TYPE are dead letters naming the type change');
is($node->safe_psql('ana', q{SELECT count(*) FROM walstar.dead_letters
	WHERE error NOT LIKE 'column "n" of public.t changed type at the source, from integer to bigint%'}),
	'0', 'and only those (the type change is found first)');
is($node->safe_psql('ana', q{SELECT worker_state FROM walstar.subscription_status}), 'running', 'the worker runs on');

# Made right by hand: the landing column converted as the source did.
sub retry_all
{
	return $node->safe_psql('ana', q{SELECT count(*) FILTER (WHERE walstar.retry_dead_letter(id))
		FROM (SELECT id FROM walstar.dead_letters ORDER BY id) d});
}
$node->safe_psql('ana', 'ALTER TABLE public.t ALTER COLUMN n TYPE bigint');
ok(retry_all() > 0, 'changes before ADD COLUMN ... DEFAULT random() apply once n is bigint');
ok($node->safe_psql('ana', q{SELECT count(*) FROM walstar.dead_letters
	WHERE error LIKE 'column "c_vol" was added to the source of public.t with a default that the rows already there may hold%'}) > 0,
	'changes after the volatile default are dead letters naming it');
my $vol = $src->safe_psql('app', q{SELECT string_agg(format('(%s, %s)', id, c_vol), ', ') FROM t});
$node->safe_psql('ana', "ALTER TABLE public.t ADD COLUMN c_vol float8;
UPDATE public.t SET c_vol = v.c FROM (VALUES $vol) AS v(id, c) WHERE t.id = v.id");
retry_all();
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'every dead letter applied');
$t->landing_equal('after ALTER COLUMN TYPE and a volatile default, made right and retried');

# And the stream goes on with the new layout.
$src->safe_psql('app', q{INSERT INTO t (id, n) VALUES (1000, 3000000000)});
$t->landing_equal('a bigint value after the type change');

$sink->stop;
$kafka->stop;
done_testing();
