# Key-changing UPDATEs that leave a TOASTed column unchanged, across
# partitions applied in parallel: walstar-sink writes a table into a topic
# of 3 partitions, a subscription with workers => 3 applies them. The WAL
# of such an UPDATE has no value for the unchanged column; the value is
# the old row's, at the UPDATE's position, and that row's history is in the
# old key's partition, which another worker applies at its own pace.
# With the worker of one partition stopped (SIGSTOP), the source
# - rewrites the TOASTed column of rows, then moves their keys (a moved row
#   whose old key's partition lags must not get the older value),
# - moves keys of rows inserted in that window (their old row may not have
#   reached the landing table yet),
# - inserts new rows under the old keys (a moved row whose old key's
#   partition is ahead must not take the new row's value, nor lose its own
#   when the old row is already deleted),
# and after the worker goes on every landing row equals its source row
# (md5 of the whole rows). Then key changes again with no worker stopped and
# an immediate restart of the analytics server in the middle, and last with
# one worker for the 3 partitions: again equal, nothing left in
# walstar.moved_rows, no dead letters. Last, the old key's DELETEs fail:
# their UPDATEs become dead letters too (no partition waits for ever), and
# retried in order both apply. Then a discarded DELETE, and the
# subscription dropped.
use strict;
use warnings;
use JSON::PP ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::Sink;

my $kafka = WalstarTest::Kafka->start;
my $topic = 'walstar.public.doc';

my $src = WalstarTest::Pipeline::source('mv_source', 'app');
$src->safe_psql('app', q{
CREATE TABLE doc (id int PRIMARY KEY, n int NOT NULL, body text);
-- stored out of line uncompressed: every body is a TOAST pointer in the WAL
ALTER TABLE doc ALTER COLUMN body SET STORAGE EXTERNAL;
INSERT INTO doc SELECT g, 0, repeat(md5(g::text), 2000) FROM generate_series(1, 90) g;
});

my $node = WalstarTest::Pipeline::analytics('mv_analytics', $kafka, 'mv',
	topic_pattern => '^walstar\.public\.', batch_size => 20, batch_time => '20ms',
	workers => 3);
my $sink = WalstarTest::Sink->start(name => 'mv', node => $src, db => 'app', kafka => $kafka,
	args => ['--topic-partitions=3']);
$sink->wait_log(qr/msg="streaming"/);

# (partition, end offset) of the topic's partitions in Kafka
sub ends
{
	my $md = JSON::PP::decode_json(scalar `kcat -L -J -b @{[ $kafka->bootstrap ]} -t $topic 2>/dev/null`);
	my @ends;
	for my $p (map { @{ $_->{partitions} } } @{ $md->{topics} })
	{
		my ($end) = `kcat -Q -b @{[ $kafka->bootstrap ]} -t $topic:$p->{partition}:-1 2>/dev/null` =~ /offset (-?\d+)/
		  or die "no end offset of $topic partition $p->{partition}";
		push @ends, [ $p->{partition}, $end ];
	}
	return @ends;
}

# The partitions (all but $except) still behind their end offsets.
sub lagging_sql
{
	my ($except) = @_;
	my @ends = grep { !defined $except || $_->[0] != $except } ends();
	return "FROM (VALUES " . join(', ', map { "('$topic', $_->[0], $_->[1])" } @ends)
	  . ") e(topic, part, end_offset)"
	  . " LEFT JOIN walstar.subscription_offsets o ON o.topic = e.topic AND o.partition = e.part"
	  . " WHERE coalesce(o.next_offset, 0) < e.end_offset";
}

sub wait_applied
{
	my ($what) = @_;
	$sink->wait_confirmed;
	my $lagging = lagging_sql();
	ok($node->poll_query_until('ana', "SELECT count(*) = 0 $lagging"), "$what: every message in Kafka applied")
	  or diag('partitions behind Kafka (topic|partition|end|next_offset): '
		  . ($node->psql('ana', "SELECT e.topic, e.part, e.end_offset, o.next_offset $lagging"))[1]);
}

my $rows = q{SELECT count(*) || ' ' || coalesce(md5(string_agg(md5(d::text), ',' ORDER BY d.id)), '-')
	FROM (SELECT id, n, body FROM %s) d};

sub landing_equal
{
	my ($what) = @_;
	my $want = $src->safe_psql('app', sprintf($rows, 'doc'));
	my $have = $node->safe_psql('ana', sprintf($rows, 'walstar_landing.doc'));
	is($have, $want, "$what: landing equals the source row by row (count, md5 of the rows)")
	  or diag($node->safe_psql('ana', q{SELECT id, n, md5(body), length(body) FROM walstar_landing.doc ORDER BY id}));
	is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', "$what: no dead letters");
}

ok($node->poll_query_until('ana', q{SELECT count(*) = 90 FROM walstar_landing.doc}), 'initial copy applied')
  or diag('ids missing: ' . $node->safe_psql('ana', q{SELECT string_agg(g::text, ',') FROM generate_series(1, 90) g
		WHERE NOT EXISTS (SELECT FROM walstar_landing.doc d WHERE d.id = g)})
	  . "\noffsets (topic|partition|next_offset|last_commit_lsn|last_position):\n"
	  . $node->safe_psql('ana', q{SELECT topic, partition, next_offset, last_commit_lsn, last_position
		FROM walstar.subscription_offsets ORDER BY 1, 2})
	  . "\ncopy: " . $node->safe_psql('ana', q{SELECT copy_lsn FROM walstar.landing_tables})
	  . "\nKafka (partition:offset:op:position:key in hex): "
	  . join(' ', map { "$_->{partition}:$_->{offset}:$_->{change}{op_name}:" . ($_->{change}{position} // '')
			  . ':' . unpack('H*', $_->{key} // '') }
		  grep { $_->{change} } WalstarTest::Sink::read_topic($kafka, $topic, skip_columns => 1)));
wait_applied('initial copy');
landing_equal('initial copy');
is($node->safe_psql('ana', qq{SELECT count(DISTINCT worker) FROM walstar.subscription_status
	WHERE topic = '$topic'}), '3', 'the 3 partitions are applied by 3 workers');

# One worker stopped: its partition lags behind the two others.
my $stopped = $node->safe_psql('ana', qq{SELECT worker_pid FROM walstar.subscription_status
	WHERE topic = '$topic' AND partition = 0});
like($stopped, qr/^\d+$/, 'the worker of partition 0 runs');
kill 'STOP', $stopped;
$src->safe_psql('app', q{UPDATE doc SET body = repeat(md5('v2' || id), 2000) WHERE id <= 40});
$src->safe_psql('app', q{UPDATE doc SET id = id + 1000, n = n + 1 WHERE id <= 40});
$src->safe_psql('app', q{INSERT INTO doc SELECT g, 0, repeat(md5('late' || g), 2000) FROM generate_series(2001, 2030) g});
$src->safe_psql('app', q{UPDATE doc SET id = id + 1000, n = n + 1 WHERE id BETWEEN 2001 AND 2030});
$src->safe_psql('app', q{INSERT INTO doc SELECT g, 5, repeat(md5('again' || g), 2000) FROM generate_series(1, 40) g});
$src->safe_psql('app', q{UPDATE doc SET n = n + 10 WHERE id BETWEEN 1001 AND 1040});

# Until the two other partitions applied everything, or wait for the stopped
# one (a moved row whose old row is not stashed yet).
my $lagging = lagging_sql(0);
my $settled = 0;
for (1 .. 600)
{
	if ($node->safe_psql('ana', "SELECT count(*) $lagging") eq '0'
		|| $node->log_contains(qr/waits for the old row of a moved key/))
	{
		$settled = 1;
		last;
	}
	Time::HiRes::sleep(0.1);
}
sleep 1;
kill 'CONT', $stopped;
ok($settled, 'with partition 0 stopped, the other partitions went as far as they could');
wait_applied('after the stop');
landing_equal('key changes with the old or new key\'s partition behind');
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.moved_rows'), '0',
	'every stashed old row was taken by its moved UPDATE');

# Key changes with no worker stopped, and an immediate restart among them.
$src->safe_psql('app', q{UPDATE doc SET id = id + 10000 WHERE id > 1000});
$src->safe_psql('app', q{UPDATE doc SET id = id + 10000, n = n + 1 WHERE id <= 40});
$node->stop('immediate');
$node->start;
$src->safe_psql('app', q{UPDATE doc SET id = id - 5000 WHERE id > 10000 AND id % 2 = 0});
$src->safe_psql('app', q{INSERT INTO doc SELECT g, 7, repeat(md5('third' || g), 2000) FROM generate_series(1, 40) g});
wait_applied('after a restart');
landing_equal('key changes across a restart');
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.moved_rows'), '0',
	'no stashed old row left after the restart');
ok($node->log_contains(qr/partition \d of topic "walstar\.public\.doc" waits for the old row of a moved key/),
	'moved UPDATEs waited for the old rows their old keys\' partitions stashed');

# One worker for the 3 partitions: a batch may hold a moved UPDATE and, in
# another partition, the DELETE that stashes its old row, in either order.
$node->safe_psql('ana', q{SELECT walstar.alter_subscription('mv', workers => 1)});
ok($node->poll_query_until('ana', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'walstar apply'}),
	'after workers => 1, one apply worker runs');
for my $round (1 .. 3)
{
	$src->safe_psql('app', qq{UPDATE doc SET id = id + 100000, n = n + $round WHERE id % 3 = $round % 3});
	$src->safe_psql('app', qq{UPDATE doc SET body = body || 'r$round' WHERE id % 5 = 0});
}
wait_applied('one worker');
landing_equal('key changes applied by one worker');
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.moved_rows'), '0',
	'one worker: no stashed old row left');

# The old key's DELETE fails (a trigger on the landing table refuses it):
# it becomes a dead letter, and so must its moved UPDATE, instead of
# parking its partition for ever waiting for a stash that cannot come.
# Retried in order once the trigger is gone, both apply.
$node->safe_psql('ana', q{
CREATE FUNCTION public.refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'refused delete of %', OLD.id;
END $$;
CREATE TRIGGER refuse BEFORE DELETE ON walstar_landing.doc FOR EACH ROW
	WHEN (OLD.id % 4 = 1 AND OLD.id < 1000000) EXECUTE FUNCTION public.refuse_delete();
});
$src->safe_psql('app', q{UPDATE doc SET id = id + 1000000, n = n + 1 WHERE id % 4 = 1 AND id < 1000000});
# rows after them in every partition: once all are in, the refused ones
# have been through (a partition waiting for ever would never get there)
$src->safe_psql('app', q{INSERT INTO doc SELECT g, 0, 'after' FROM generate_series(3000001, 3000030) g});
ok($node->poll_query_until('ana', q{SELECT count(*) = 30 FROM walstar_landing.doc WHERE id > 3000000}),
	'with old keys\' DELETEs refused, every partition goes on');
wait_applied('old keys\' DELETEs refused');
my $marked = $node->safe_psql('ana', 'SELECT count(*) FROM walstar.moved_rows WHERE dead_letter IS NOT NULL');
cmp_ok($marked, '>', 0, "stashing DELETEs that became dead letters are marked for their UPDATEs ($marked)");
is($node->safe_psql('ana', q{SELECT count(*) FROM walstar.moved_rows m
	WHERE m.dead_letter IS NOT NULL AND NOT EXISTS (SELECT FROM walstar.dead_letters d WHERE d.id = m.dead_letter)}),
	'0', 'every mark names a dead letter');
like($node->safe_psql('ana', q{SELECT string_agg(DISTINCT error, ' | ') FROM walstar.dead_letters
	WHERE error LIKE '%is dead letter%'}), qr/retry that one first/,
	'the moved UPDATEs are dead letters naming the DELETE to retry first');
$node->safe_psql('ana', q{DROP TRIGGER refuse ON walstar_landing.doc});
is($node->safe_psql('ana', q{SELECT count(*) FILTER (WHERE NOT walstar.retry_dead_letter(id, force => true))
	FROM (SELECT id FROM walstar.dead_letters ORDER BY id) d}), '0',
	'every dead letter applies when retried in order');
landing_equal('refused DELETEs retried');
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.moved_rows'), '0',
	'retried: no stashed old row or mark left');

# The old key's DELETE fails again, and its dead letter is discarded: the
# moved UPDATE, retried, stays a dead letter and says its DELETE was
# discarded (its unchanged values are lost with it), not to retry a letter
# that is gone. Dropping the subscription removes the marks.
$node->safe_psql('ana', q{CREATE TRIGGER refuse BEFORE DELETE ON walstar_landing.doc FOR EACH ROW
	WHEN (OLD.id % 4 = 2 AND OLD.id < 1000000) EXECUTE FUNCTION public.refuse_delete()});
$src->safe_psql('app', q{UPDATE doc SET id = id + 1000000, n = n + 1 WHERE id % 4 = 2 AND id < 1000000});
$src->safe_psql('app', q{INSERT INTO doc SELECT g, 0, 'after' FROM generate_series(3000031, 3000060) g});
ok($node->poll_query_until('ana', q{SELECT count(*) = 60 FROM walstar_landing.doc WHERE id > 3000000}),
	'old keys\' DELETEs refused again, every partition goes on');
wait_applied('old keys\' DELETEs refused again');
my $discarded = $node->safe_psql('ana', q{SELECT count(*) FILTER (WHERE walstar.discard_dead_letter(d.id))
	FROM walstar.dead_letters d WHERE d.id IN (SELECT m.dead_letter FROM walstar.moved_rows m)});
cmp_ok($discarded, '>', 0, "the marked DELETEs' dead letters discarded ($discarded)");
is($node->safe_psql('ana', q{SELECT count(*) FILTER (WHERE walstar.retry_dead_letter(id, force => true))
	FROM (SELECT id FROM walstar.dead_letters WHERE error LIKE '%is dead letter%' ORDER BY id) d}), '0',
	'their moved UPDATEs do not apply');
is($node->safe_psql('ana', q{SELECT count(*) FROM walstar.dead_letters
	WHERE error LIKE '%is dead letter%' OR error NOT LIKE '%which was discarded%' AND error NOT LIKE 'refused delete%'}),
	'0', 'the moved UPDATEs say their DELETE was discarded');
$node->safe_psql('ana', q{SELECT walstar.drop_subscription('mv')});
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.moved_rows'), '0',
	'the dropped subscription\'s marks are gone');

$sink->stop;
$node->stop;
$src->stop;
done_testing();
