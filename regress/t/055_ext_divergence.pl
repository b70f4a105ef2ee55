# No silent divergence on the analytics side, through the real pipeline
# (two source clusters, a walstar-sink each, Kafka, one apply worker):
# - two source tables whose landing names collide (a__b.c and a.b__c): the
#   first lands exactly, the other's changes are dead letters naming both;
# - two 63+-byte names that differ only after the cut land apart;
# - two services (same database name, the default topic prefix) writing
#   one topic: one applies, the other's changes are refused as another
#   source, never skipped as resends; walstar.forget_source() accepts it;
# - a record with commit LSN FFFFFFFF/FFFFFFF0, and one committed in the
#   future, are dead letters and do not hide the real changes after them;
# - a REPLICA IDENTITY FULL table with a json column takes its UPDATEs and
#   DELETEs.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::Shop;
use WalstarTest::Sink;
use WalstarTest::Wire;

my $kafka = WalstarTest::Kafka->start;
my $long_a = ('l' x 62) . 'a';
my $long_b = ('l' x 62) . 'b';

my $src_a = WalstarTest::Pipeline::source('div_a', 'app');
my $src_b = WalstarTest::Pipeline::source('div_b', 'app');
$src_a->safe_psql('app', qq{
CREATE TABLE users (id int PRIMARY KEY, name text);
CREATE SCHEMA "a__b";
CREATE TABLE "a__b".c (id int PRIMARY KEY, v text);
CREATE SCHEMA a;
CREATE TABLE a."b__c" (id int PRIMARY KEY, v text);
CREATE TABLE "$long_a" (id int PRIMARY KEY, v text);
CREATE TABLE "$long_b" (id int PRIMARY KEY, v text);
CREATE TABLE docs (doc json, n int);
ALTER TABLE docs REPLICA IDENTITY FULL;
INSERT INTO users SELECT g, 'a' || g FROM generate_series(1, 20) g;
INSERT INTO "a__b".c SELECT g, 'first ' || g FROM generate_series(1, 10) g;
INSERT INTO "$long_a" SELECT g, 'long a ' || g FROM generate_series(1, 10) g;
INSERT INTO "$long_b" SELECT g, 'long b ' || g FROM generate_series(1, 10) g;
INSERT INTO docs SELECT ('{"k": ' || g || ', "tags": ["x", "y"]}')::json, g FROM generate_series(1, 10) g;
});
$src_b->safe_psql('app', q{
CREATE TABLE users (id int PRIMARY KEY, name text);
INSERT INTO users SELECT g, 'b' || g FROM generate_series(1, 15) g;
});

my $node = WalstarTest::Pipeline::analytics('div_analytics', $kafka, 'div',
	topic_pattern => '^walstar\.', landing_schema => 'public', batch_size => 200,
	batch_time => '50ms');
my $start_time = $node->safe_psql('ana', 'SELECT pg_postmaster_start_time()');

# Source A first, so that users and a__b__c belong to it.
my $sink_a = WalstarTest::Sink->start(name => 'div_a', node => $src_a, db => 'app', kafka => $kafka);
$sink_a->wait_log(qr/msg="streaming"/);
$src_a->safe_psql('app', q{
INSERT INTO a."b__c" SELECT g, 'second ' || g FROM generate_series(1, 7) g;
UPDATE a."b__c" SET v = 'second, changed' WHERE id <= 3;
});

my $sys_a = $src_a->safe_psql('app', 'SELECT system_identifier FROM pg_control_system()');
my $sys_b = $src_b->safe_psql('app', 'SELECT system_identifier FROM pg_control_system()');
isnt($sys_a, $sys_b, 'the two sources are two clusters');

sub table_sum
{
	my ($n, $db, $rel) = @_;
	return $n->safe_psql($db, WalstarTest::Shop::sum_sql($rel));
}

sub landing_equals
{
	my ($src, $rel, $landing, $what) = @_;
	my $want = table_sum($src, 'app', $rel);
	my $ok = $node->poll_query_until('ana',
		'SELECT (' . WalstarTest::Shop::sum_sql($landing) . ") = '$want'", 't');
	ok($ok, "$what: landing equals the source") or diag('have ' . table_sum($node, 'ana', $landing) . " want $want");
}

# The registry says who holds each landing table.
sub landing_of
{
	my ($schema, $table) = @_;
	return $node->safe_psql('ana', qq{
SELECT pg_catalog.quote_ident(landing_table) FROM walstar.landing_tables
WHERE source_schema = '$schema' AND source_table = '$table'});
}

# Collisions: a__b.c and a.b__c both map to a__b__c. Topics have no order
# between them, so either may come first: that one holds the landing table,
# every change of the other is a dead letter naming both. Each sends 10.
ok($node->poll_query_until('ana', q{SELECT count(*) = 1 FROM walstar.landing_tables WHERE landing_table = 'a__b__c'}),
	'a__b__c is registered');
my $holder = $node->safe_psql('ana', q{SELECT source_schema || '.' || source_table FROM walstar.landing_tables WHERE landing_table = 'a__b__c'});
my %tables = ('a__b.c' => [ '"a__b".c', 'a__b', 'c' ], 'a.b__c' => [ 'a."b__c"', 'a', 'b__c' ]);
ok(exists $tables{$holder}, "a__b__c holds one of them ($holder)");
my ($other) = grep { $_ ne $holder } keys %tables;
my ($win, $lose) = ($tables{$holder}, $tables{$other});
is(landing_of($lose->[1], $lose->[2]), '', "$other holds nothing");
landing_equals($src_a, $win->[0], 'public.a__b__c', $holder);
ok($node->poll_query_until('ana', qq{SELECT count(*) = 10 FROM walstar.dead_letters
	WHERE topic = 'walstar.$other'
	  AND error LIKE '%source table "$lose->[1]"."$lose->[2]"%maps to landing table "public"."a__b__c", which holds "$win->[1]"."$win->[2]"%'}),
	"every change of $other is a dead letter naming both tables");
my $loser_changes = grep { $_->{change}{op_name} =~ /^(READ|INSERT|UPDATE|DELETE|TRUNCATE)$/ }
  WalstarTest::Sink::read_topic($kafka, "walstar.$other");
is($loser_changes, 10, "those are all the changes $other sent");
is($node->safe_psql('ana', qq{SELECT count(*) FROM walstar.dead_letters WHERE topic <> 'walstar.$other'}), '0',
	'no other dead letters so far');

# Long names land apart.
my $land_a = landing_of('public', $long_a);
my $land_b = landing_of('public', $long_b);
ok($land_a ne '' && $land_b ne '' && $land_a ne $land_b, "the two long names land apart ($land_a, $land_b)");
ok(length($land_a) <= 63, 'within the identifier length');
landing_equals($src_a, qq{"$long_a"}, "public.$land_a", 'first long name');
landing_equals($src_a, qq{"$long_b"}, "public.$land_b", 'second long name');

# REPLICA IDENTITY FULL with json: UPDATE and DELETE find their rows.
$src_a->safe_psql('app', q{
UPDATE docs SET n = n * 100 WHERE n % 2 = 0;
UPDATE docs SET doc = '{"k": 3, "tags": ["z"]}' WHERE n = 3;
DELETE FROM docs WHERE n IN (1, 5, 9);
});
landing_equals($src_a, 'docs', 'public.docs', 'REPLICA IDENTITY FULL json table after updates and deletes');

# Same topic, another source: refused, never skipped.
landing_equals($src_a, 'users', 'public.users', 'users of source A');
my $sink_b = WalstarTest::Sink->start(name => 'div_b', node => $src_b, db => 'app', kafka => $kafka);
$sink_b->wait_log(qr/msg="streaming"/);
like($sink_b->log_text, qr/topic=walstar\.transactions other_source="app" other_system_id=$sys_a msg="another source writes under the default topic prefix/,
	'the second sink warns that another source writes under the default prefix');
unlike($sink_a->log_text, qr/another source writes under the default topic prefix/, 'the first one did not');
$src_b->safe_psql('app', q{UPDATE users SET name = 'b changed' WHERE id <= 5; DELETE FROM users WHERE id = 15;});
my $b_changes = 15 + 5 + 1;
ok($node->poll_query_until('ana', qq{SELECT count(*) = $b_changes FROM walstar.dead_letters
	WHERE topic = 'walstar.public.users'
	  AND error LIKE '%comes from source "app" (system identifier $sys_b), but the partition carries the changes of source "app" (system identifier $sys_a)%'}),
	'every change of source B in the shared topic is a dead letter naming both sources');
$src_a->safe_psql('app', q{INSERT INTO users VALUES (100, 'a after b')});
landing_equals($src_a, 'users', 'public.users', 'users of source A go on applying');
is($node->safe_psql('ana', q{SELECT DISTINCT source || ' ' || system_identifier FROM walstar.subscription_status WHERE topic = 'walstar.public.users'}),
	"app $sys_a", 'the status view names the partition\'s source');

# A commit LSN far ahead, and a commit time in the future: dead letters, and
# the real changes behind them still apply.
my @users = WalstarTest::Sink::read_topic($kafka, 'walstar.public.users', raw => 1);
my ($last_a) = reverse grep {
	my $c = WalstarTest::Wire::decode_change($_->{value}, skip_columns => 1);
	($c->{system_id} // 0) == $sys_a && $c->{op} == 1
} @users;
my $far = WalstarTest::Wire::with_varint_field($last_a->{value}, 11, (0xFFFFFFFF << 32) | 0xFFFFFFF0);
my $c_last = WalstarTest::Wire::decode_change($last_a->{value}, skip_columns => 1);
my $future = WalstarTest::Wire::with_varint_field(
	WalstarTest::Wire::with_varint_field($last_a->{value}, 11, $c_last->{commit_lsn} + 1000),
	12, $c_last->{commit_time} + 86400 * 1_000_000, zigzag => 1);
WalstarTest::Shop::produce_raw($kafka, [ 'walstar.public.users', $far ], [ 'walstar.public.users', $future ]);
ok($node->poll_query_until('ana', q{SELECT count(*) = 1 FROM walstar.dead_letters
	WHERE error LIKE '%commit LSN FFFFFFFF/FFFFFFF0 is % bytes ahead of the last applied change of this partition%'}),
	'the far-ahead record is a dead letter');
ok($node->poll_query_until('ana', q{SELECT count(*) = 1 FROM walstar.dead_letters
	WHERE error LIKE '%commit time of commit LSN % is %, in the future%'}),
	'the future record is a dead letter');
$src_a->safe_psql('app', q{INSERT INTO users VALUES (101, 'after the forged records'); UPDATE users SET name = 'real' WHERE id = 1});
landing_equals($src_a, 'users', 'public.users', 'real changes after the forged records');

# The source was replaced on purpose: forget_source lets B in (its next
# changes, B's rows then update or add to the landing table).
is($node->safe_psql('ana', q{SELECT walstar.forget_source('div') > 0}), 't', 'forget_source');
$node->safe_psql('ana', q{DELETE FROM public.users});
$src_b->safe_psql('app', q{UPDATE users SET name = name || ' again'});
my $b_rows = $src_b->safe_psql('app', q{SELECT count(*) FROM users});
ok($node->poll_query_until('ana', qq{SELECT count(*) = $b_rows FROM public.users WHERE name LIKE '% again'}),
	'after forget_source, the new source applies');
is($node->safe_psql('ana', q{SELECT DISTINCT system_identifier FROM walstar.subscription_status WHERE topic = 'walstar.public.users'}),
	$sys_b, 'and owns the partition');

is($node->safe_psql('ana', 'SELECT pg_postmaster_start_time()'), $start_time, 'no server restart');
is($node->safe_psql('ana', q{SELECT worker_state FROM walstar.subscription_status LIMIT 1}), 'running', 'the worker runs');

$sink_a->stop;
$sink_b->stop;
$kafka->stop;
done_testing();
