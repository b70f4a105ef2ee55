# Parallel apply (workers => N) through the real pipeline: walstar-sink
# with DDL capture writes four tables into topics of 6 partitions each; a
# subscription with workers => 3 applies them while a writer runs inserts,
# updates (also of keys, which move rows across partitions) and deletes,
# and the analytics server is stopped with pg_ctl -m immediate and started
# again 3 times. Then:
# - every landing table equals its source row by row;
# - each partition's offsets were committed exactly once: its stored
#   applied_messages (one per message taken) equals its next offset, and a
#   row trigger on an insert-only landing table saw each row inserted once
#   and never again (a second apply would be an update);
# - each of the 3 workers applied partitions of its own (status view).
# Then alter_subscription(workers => 2) under the writer: the third worker
# leaves, the two others take its partitions; captured DDL (ADD COLUMN, ALTER COLUMN TYPE)
# under the writer reaches all 6 partitions of a topic, spread over both
# workers: the barrier holds across them (no dead letter, no change in the
# old layout after the new one), the DDL is applied once, and the landing
# tables equal the source again. Last, a rewind by time replays the
# partitions of both workers.
use strict;
use warnings;
use JSON::PP ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::Shop;
use WalstarTest::Sink;

my $kafka = WalstarTest::Kafka->start;

my $src = WalstarTest::Pipeline::source('par_source', 'app');
$src->safe_psql('app', q{
CREATE TABLE acct (id int PRIMARY KEY, owner text, balance numeric(12,2), updated timestamptz);
CREATE TABLE xfer (id bigint PRIMARY KEY, from_id int, to_id int, amount numeric(12,2), note text);
CREATE TABLE tag (a text, b int, v text, PRIMARY KEY (a, b));
CREATE TABLE ledger (id bigserial PRIMARY KEY, what text, at timestamptz DEFAULT now());
INSERT INTO acct SELECT g, 'o' || g, 100, now() FROM generate_series(1, 500) g;
INSERT INTO tag SELECT (ARRAY['a','b','c'])[1 + g % 3], g, 'v' FROM generate_series(1, 300) g;
});
my @tables = qw(acct xfer tag ledger);

my $conninfo = WalstarTest::Sink::conninfo($src, 'app');
my ($out, $err) = run_command(['walstar-sink', "--conninfo=$conninfo",
	'--brokers=' . $kafka->bootstrap, '--install-ddl-capture']);
like($out, qr/DDL capture installed/, 'DDL capture installed') or diag($err);

my $node = WalstarTest::Pipeline::analytics('par_analytics', $kafka, 'par',
	topic_pattern => '^walstar\.public\.', batch_size => 50, batch_time => '20ms',
	workers => 3);
# an insert-only landing table made ahead, with a row trigger that logs
# every row version the workers write into it
$node->safe_psql('ana', q{
CREATE SCHEMA walstar_landing;
CREATE TABLE walstar_landing.ledger (id bigint PRIMARY KEY, what text, at timestamptz);
CREATE SCHEMA audit;
CREATE TABLE audit.ledger_ops (op text, id bigint);
CREATE FUNCTION audit.log_ledger() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO audit.ledger_ops VALUES (TG_OP, NEW.id); RETURN NULL; END $$;
CREATE TRIGGER log_ledger AFTER INSERT OR UPDATE ON walstar_landing.ledger
	FOR EACH ROW EXECUTE FUNCTION audit.log_ledger();
});

my $sink = WalstarTest::Sink->start(name => 'par', node => $src, db => 'app', kafka => $kafka,
	args => ['--topic-partitions=6']);
$sink->wait_log(qr/msg="streaming"/);

my $script = "$PostgreSQL::Test::Utils::tmp_check/writer.sql";
open(my $fh, '>', $script) or die;
print $fh q{\set id random(1, 800)
\set x random(1, 1000000000)
BEGIN;
INSERT INTO acct (id, owner, balance, updated) VALUES (:id, 'n' || :id, 1, now())
	ON CONFLICT (id) DO UPDATE SET balance = acct.balance + 1, updated = now();
INSERT INTO xfer (id, from_id, to_id, amount, note) VALUES (:x, :id, :id + 1, 5, 'x') ON CONFLICT DO NOTHING;
UPDATE xfer SET amount = amount + 1 WHERE from_id = :id;
INSERT INTO ledger (what) VALUES ('w' || :id), ('v' || :x);
INSERT INTO tag VALUES ((ARRAY['a','b','c'])[1 + :id % 3], :id, 'v')
	ON CONFLICT (a, b) DO UPDATE SET v = left(tag.v || '+', 40);
UPDATE tag SET b = b + 100000 * (1 + :x % 3) WHERE a = 'a' AND b = :id AND :x % 4 = 0
	AND NOT EXISTS (SELECT FROM tag t WHERE t.a = 'a' AND t.b = :id + 100000 * (1 + :x % 3));
DELETE FROM acct WHERE id = :id AND :x % 10 = 0;
DELETE FROM xfer WHERE from_id = :id AND :x % 6 = 0;
DELETE FROM tag WHERE b = :id + 1 AND :x % 5 = 0;
END;
};
close($fh);
sub writer
{
	my ($seconds) = @_;
	return WalstarTest::Sink::background("$PostgreSQL::Test::Utils::tmp_check/writer.log",
		'pgbench', '-n', '-R', '40', '-T', $seconds, '-f', $script, $src->connstr('app'));
}

sub source_columns
{
	my ($table) = @_;
	return $src->safe_psql('app', qq{
SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
WHERE attrelid = '$table'::regclass AND attnum > 0 AND NOT attisdropped});
}

# Every message in Kafka applied: stored next offsets at the partitions' ends.
sub wait_applied
{
	my ($what) = @_;
	$sink->wait_confirmed;
	my @ends;
	for my $t (@tables)
	{
		my $topic = "walstar.public.$t";
		my $md = JSON::PP::decode_json(scalar `kcat -L -J -b @{[ $kafka->bootstrap ]} -t $topic 2>/dev/null`);
		for my $p (map { @{ $_->{partitions} } } @{ $md->{topics} })
		{
			my ($end) = `kcat -Q -b @{[ $kafka->bootstrap ]} -t $topic:$p->{partition}:-1 2>/dev/null` =~ /offset (-?\d+)/
			  or die "no end offset of $topic partition $p->{partition}";
			push @ends, "('$topic', $p->{partition}, $end)";
		}
	}
	my $lagging = "FROM (VALUES " . join(', ', @ends) . ") e(topic, part, end_offset)"
	  . " LEFT JOIN walstar.subscription_offsets o ON o.topic = e.topic AND o.partition = e.part"
	  . " WHERE coalesce(o.next_offset, 0) < e.end_offset";
	ok($node->poll_query_until('ana', "SELECT count(*) = 0 $lagging"), "$what: every message in Kafka applied")
	  or diag('partitions behind Kafka (topic|partition|end|next_offset): '
		  . ($node->psql('ana', "SELECT e.topic, e.part, e.end_offset, o.next_offset $lagging"))[1]);
	return scalar @ends;
}

# Each landing table equals its source over the source's columns, row by row.
sub landing_equal
{
	my ($what, @which) = @_;
	for my $t (@which ? @which : @tables)
	{
		my $rel = '(SELECT ' . source_columns($t) . " FROM $t)";
		my $lrel = '(SELECT ' . source_columns($t) . " FROM walstar_landing.$t)";
		my $want = $src->safe_psql('app', WalstarTest::Shop::sum_sql($rel));
		my $ok = $node->poll_query_until('ana', 'SELECT (' . WalstarTest::Shop::sum_sql($lrel) . ") = '$want'", 't');
		ok($ok, "$what: landing $t equals the source")
		  or diag('have ' . ($node->psql('ana', WalstarTest::Shop::sum_sql($lrel)))[1] . " want $want");
	}
}

sub exactly_once
{
	my ($what) = @_;
	is($node->safe_psql('ana', q{SELECT count(*) FROM walstar.subscription_offsets
		WHERE applied_messages <> next_offset}), '0',
		"$what: every partition took each of its offsets once (applied_messages = next_offset)")
	  or diag($node->safe_psql('ana', q{SELECT topic, partition, next_offset, applied_messages
		FROM walstar.subscription_offsets ORDER BY 1, 2}));
	my $rows = $src->safe_psql('app', 'SELECT count(*) FROM ledger');
	is($node->safe_psql('ana', q{SELECT count(*) || ' ' || count(DISTINCT id) FROM audit.ledger_ops WHERE op = 'INSERT'}),
		"$rows $rows", "$what: the trigger saw each of the $rows ledger rows inserted once");
	is($node->safe_psql('ana', q{SELECT count(*) FROM audit.ledger_ops WHERE op <> 'INSERT'}), '0',
		"$what: and none written again");
	is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', "$what: no dead letters");
}

landing_equal('initial copy', 'acct', 'tag');

# Phase 1: 3 workers, 3 immediate restarts of the analytics server under the writer.
is($node->safe_psql('ana', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walstar apply'}),
	'3', 'three apply workers run');
my $w = writer(24);
my $restarts = 0;
for my $round (1 .. 3)
{
	sleep(4 + $round);
	my $applied = $node->safe_psql('ana', 'SELECT coalesce(sum(applied_messages), 0) FROM walstar.subscription_offsets');
	$node->stop('immediate');
	$node->start;
	$restarts++;
	note("restart $round after $applied messages applied");
}
is($restarts, 3, '3 immediate restarts of the analytics server');
is(WalstarTest::Sink::finish_background($w), 0, 'the writer ran');
is(wait_applied('3 workers'), 24, 'four topics of 6 partitions');
landing_equal('3 workers, 3 restarts');
exactly_once('3 workers, 3 restarts');
is($node->safe_psql('ana', q{SELECT count(DISTINCT worker) || ' ' || count(DISTINCT worker_pid)
	FROM walstar.subscription_status WHERE subscription = 'par' AND applied_messages > 0}),
	'3 3', 'each of the 3 workers applied partitions of its own, with its pid in subscription_status');
is($node->safe_psql('ana', q{SELECT count(*) FROM (SELECT topic FROM walstar.subscription_status
	GROUP BY topic HAVING count(DISTINCT worker) = 3) t}), '4', 'each topic is spread over the 3 workers');

# Key changes across partitions applied late: with one worker stopped, the
# new keys' UPDATEs in its partitions wait while the old keys' partitions go
# on, take the DELETEs of the old keys and then new rows under the old keys.
# The late UPDATEs must leave those rows alone (the old key's DELETE, in
# order in its own partition, removed the old row).
$src->safe_psql('app', q{INSERT INTO tag SELECT 'k', g, 'first' FROM generate_series(1, 60) g});
wait_applied('before the stop');
my $stopped = $node->safe_psql('ana', q{SELECT min(worker_pid) FROM walstar.subscription_status
	WHERE subscription = 'par'});
kill 'STOP', $stopped;
$src->safe_psql('app', q{UPDATE tag SET b = b + 1000 WHERE a = 'k'});
$src->safe_psql('app', q{INSERT INTO tag SELECT 'k', g, 'again' FROM generate_series(1, 60) g});
my $running = $node->poll_query_until('ana',
	q{SELECT count(*) > 0 FROM walstar_landing.tag WHERE a = 'k' AND v = 'again'});
sleep 2;
kill 'CONT', $stopped;
ok($running, 'with one worker stopped, the others applied new rows under moved keys');
wait_applied('after the stop');
landing_equal('key changes applied late', 'tag');

# Phase 2: workers => 2, and captured DDL with the topic's partitions spread over both.
# (changed under the writer: partitions move between workers while they flow)
$w = writer(14);
sleep 2;
$node->safe_psql('ana', q{SELECT walstar.alter_subscription('par', workers => 2)});
ok($node->poll_query_until('ana', q{SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'walstar apply'}),
	'after workers => 2, two apply workers run');
$src->safe_psql('app', 'ALTER TABLE acct ADD COLUMN note text');
$src->safe_psql('app', q{UPDATE acct SET note = 'n' || id WHERE id % 7 = 0});
sleep 2;
$src->safe_psql('app', 'ALTER TABLE xfer ALTER COLUMN from_id TYPE bigint');
$src->safe_psql('app', q{UPDATE xfer SET from_id = from_id + 5000000000 WHERE id % 3 = 0});
is(WalstarTest::Sink::finish_background($w), 0, 'the writer ran again');
wait_applied('2 workers');
landing_equal('2 workers, DDL');
exactly_once('2 workers, DDL');
is($node->safe_psql('ana', q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute
	WHERE attrelid = 'walstar_landing.xfer'::regclass AND attname = 'from_id'}), 'bigint',
	'the landing column from_id was converted to bigint');
is($node->safe_psql('ana', q{SELECT count(DISTINCT worker) FROM walstar.subscription_status
	WHERE topic = 'walstar.public.acct'}), '2', 'the DDL record\'s partitions were spread over both workers');
ok($node->log_contains(qr/partition \d+ of topic "walstar\.public\.(acct|xfer)" passes the DDL record/),
	'a partition waited at a DDL record for the other worker\'s partitions');
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.ddl_barrier_arrivals'), '0',
	'no partition waits at a barrier any more');
is($node->safe_psql('ana', q{SELECT count(*) FROM walstar.subscription_workers WHERE worker >= 2}), '0',
	'the third worker left the status table');

# A rewind by time is resolved once, for the partitions of both workers:
# every partition with messages after the time replays them.
my $t0 = $node->safe_psql('ana', 'SELECT now()');
sleep 1;
$w = writer(3);
is(WalstarTest::Sink::finish_background($w), 0, 'the writer ran a third time');
wait_applied('before the rewind');
$node->safe_psql('ana', "SELECT walstar.rewind('par', '$t0'::timestamptz)");
ok($node->poll_query_until('ana', q{SELECT rewind_time IS NULL FROM walstar.subscriptions WHERE name = 'par'}),
	'the rewind by time was resolved');
wait_applied('after the rewind');
landing_equal('after a rewind by time');
is($node->safe_psql('ana', q{SELECT count(DISTINCT worker) FROM walstar.subscription_status
	WHERE subscription = 'par' AND applied_messages > offset_applied + 1}), '2',
	'partitions of both workers replayed the messages after the rewind time');
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no dead letters after the rewind');

$sink->stop;
$node->stop;
$src->stop;
done_testing();
