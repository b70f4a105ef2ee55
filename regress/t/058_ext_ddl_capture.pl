# Source schema changes under a writer at 20 transactions per second,
# through the real pipeline, WITH DDL capture (walstar-sink
# --install-ddl-capture) and a topic of two partitions, so that each DDL
# record reaches both partitions' consumers and waits at the barrier until
# both have reached it (056 is the same without capture):
# - ADD COLUMN (no default, constant default), RENAME COLUMN followed;
# - ALTER COLUMN TYPE int -> bigint, and text -> int USING an expression:
#   the landing column converted the same way, no dead letter;
# - DROP COLUMN with dropped_columns = 'drop': the landing column goes;
# - a USING expression that cannot be repeated (a function of another
#   schema) widens the landing column to text with a WARNING;
# - ADD COLUMN with a volatile default: refused with the reason;
# - the capture refuses a non-superuser with a hint, and removes cleanly.
# After each phase the landing table equals the source row by row.
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

my $src = WalstarTest::Pipeline::source('cap_source', 'app');
$src->safe_psql('app', q{
CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL DEFAULT 0, v text, d text, s text);
INSERT INTO t SELECT g, g, 'v' || g, 'd' || g, (g * 7)::text FROM generate_series(1, 200) g;
CREATE ROLE plain LOGIN;
CREATE SCHEMA util;
CREATE FUNCTION util.twice(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1 * 2';
});

my $conninfo = WalstarTest::Sink::conninfo($src, 'app');
my ($out, $err) = run_command(['walstar-sink', "--conninfo=$conninfo user=plain",
	'--brokers=' . $kafka->bootstrap, '--install-ddl-capture']);
like($err . $out, qr/superuser/, 'a non-superuser is told that capture needs a superuser');
($out, $err) = run_command(['walstar-sink', "--conninfo=$conninfo",
	'--brokers=' . $kafka->bootstrap, '--install-ddl-capture']);
like($out, qr/DDL capture installed/, 'walstar-sink --install-ddl-capture installs it')
  or diag($err);
is($src->safe_psql('app', q{SELECT evtenabled FROM pg_event_trigger WHERE evtname = 'walstar_ddl_capture'}),
	'O', 'the event trigger is enabled');

my $node = WalstarTest::Pipeline::analytics('cap_analytics', $kafka, 'cap',
	topics => '{walstar.public.t}', landing_schema => 'public', batch_size => 100,
	batch_time => '50ms', dropped_columns => 'drop');

my $sink = WalstarTest::Sink->start(name => 'cap', node => $src, db => 'app', kafka => $kafka,
	args => ['--topic-partitions=2']);
$sink->wait_log(qr/msg="streaming"/);

my $t = WalstarTest::SchemaChanges->new($src, $node);

sub landing_type
{
	my ($col) = @_;
	return $node->safe_psql('ana', qq{SELECT format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = 'public.t'::regclass AND attname = '$col' AND NOT attisdropped});
}

$t->landing_equal('initial copy');

# Phase 1: everything the capture lets walstar follow, under the writer.
my $w = $t->writer(10);
sleep 1;
$src->safe_psql('app', 'ALTER TABLE t ADD COLUMN c_null int');
$src->safe_psql('app', 'UPDATE t SET c_null = id WHERE id % 3 = 0');
$src->safe_psql('app', q{ALTER TABLE t ADD COLUMN c_const text DEFAULT 'dflt'});
sleep 1;
$src->safe_psql('app', 'ALTER TABLE t RENAME COLUMN v TO v_renamed');
sleep 1;
$src->safe_psql('app', 'ALTER TABLE t ALTER COLUMN n TYPE bigint');
sleep 1;
$src->safe_psql('app', q{ALTER TABLE t ALTER COLUMN s TYPE int USING (s::int + 1000)});
sleep 1;
$src->safe_psql('app', 'ALTER TABLE t DROP COLUMN d');
is(WalstarTest::Sink::finish_background($w), 0, 'the writer ran');
$src->safe_psql('app', q{INSERT INTO t (id, n, s) VALUES (1000, 3000000000, 5)});
$t->landing_equal('after ADD, RENAME, ALTER TYPE (cast and USING), DROP');
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no dead letters');
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.subscription_status WHERE applied_messages > 0'),
	'2', 'both partitions carried changes');
is(landing_type('n'), 'bigint', 'the landing column n is bigint');
is(landing_type('s'), 'integer', 'the landing column s is integer, converted with USING');
is($node->safe_psql('ana', q{SELECT count(*) FROM pg_attribute
	WHERE attrelid = 'public.t'::regclass AND attname = 'd' AND NOT attisdropped}),
	'0', 'the dropped column is dropped (dropped_columns = drop)');
is($node->safe_psql('ana', q{SELECT count(*) FROM public.t WHERE c_const = 'dflt'}),
	$src->safe_psql('app', q{SELECT count(*) FROM t WHERE c_const = 'dflt'}),
	'rows older than ADD COLUMN ... DEFAULT have the default');

# Phase 2: a USING expression that cannot be repeated here.
$src->safe_psql('app', q{ALTER TABLE t ALTER COLUMN s TYPE bigint USING (util.twice(s::int))});
$src->safe_psql('app', q{UPDATE t SET n = n + 1 WHERE id <= 5});
ok($node->poll_query_until('ana', q{SELECT format_type(atttypid, atttypmod) = 'text' FROM pg_attribute
	WHERE attrelid = 'public.t'::regclass AND attname = 's'}),
	'a USING with a function of another schema widens the landing column to text');
ok($node->wait_for_log(qr/column "s" of public\.t changed type at the source to bigint; the landing column becomes text/),
	'with a WARNING naming why');
is($node->safe_psql('ana', q{SELECT count(*) FROM public.t WHERE id = 1000 AND s = '5'}), '1',
	'rows already there keep their old values, as text');
$src->safe_psql('app', q{UPDATE t SET s = 77 WHERE id = 1000});
ok($node->poll_query_until('ana', q{SELECT s = '77' FROM public.t WHERE id = 1000}),
	'later changes of the column apply');

# Phase 3: a volatile default is refused with the reason.
$src->safe_psql('app', 'ALTER TABLE t ADD COLUMN c_vol float8 DEFAULT random()');
$src->safe_psql('app', q{UPDATE t SET n = n + 1 WHERE id <= 5});
ok($node->poll_query_until('ana', q{SELECT count(*) > 0 FROM walstar.dead_letters
	WHERE error LIKE 'column "c_vol" was added to the source of public.t with a volatile default%'}),
	'ADD COLUMN with a volatile default is a dead letter naming it');

# Removing the capture.
($out, $err) = run_command(['walstar-sink', "--conninfo=$conninfo",
	'--brokers=' . $kafka->bootstrap, '--remove-ddl-capture']);
like($out, qr/DDL capture removed/, 'walstar-sink --remove-ddl-capture removes it');
is($src->safe_psql('app', q{SELECT count(*) FROM pg_event_trigger WHERE evtname = 'walstar_ddl_capture'}),
	'0', 'no event trigger is left');

$sink->stop;
$kafka->stop;
done_testing();
