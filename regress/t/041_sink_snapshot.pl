# Initial snapshot + stream: 100k rows exist before the sink starts and
# pgbench writes while the copy runs.  Replaying Kafka (READ records of the
# copy, then the stream by (commit_lsn, position)) gives every row's final
# state with no gap and no overlap: each UPDATE raises v by exactly one over
# the state before it.  Then a copy interrupted by kill -9 is redone from a
# new slot and the result is right again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use WalstarTest::Kafka;
use WalstarTest::Sink;
use WalstarTest::Wire;

my $kafka = WalstarTest::Kafka->start;
my $node = PostgreSQL::Test::Cluster->new('source');
$node->init(allows_streaming => 'logical');
WalstarTest::Sink::setup_node($node);
$node->start;

$node->safe_psql('postgres', q{
CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, note text);
INSERT INTO big SELECT g, 0, 'row ' || g FROM generate_series(1, 100000) g;
CREATE TABLE small (k text PRIMARY KEY, d date, ts timestamptz, n numeric, f float8, b bool, u uuid, i interval, j jsonb, arr int[]);
INSERT INTO small VALUES ('a', '2024-02-29', '2024-01-01 12:00:00.123456+02', 12.345, 0.1, true,
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1 mon 2 days 03:04:05.5', '{"x": 1}', '{1,2,3}'),
  ('b', 'infinity', '-infinity', 'NaN', -1.5e300, false, NULL, '-1 year -2 hours', 'null', '{}');
CREATE TABLE mid (id int PRIMARY KEY, v int NOT NULL, note text);
INSERT INTO mid SELECT g, 0, 'row ' || g FROM generate_series(1, 30000) g;
ANALYZE big;
});
my $script = "$PostgreSQL::Test::Utils::tmp_check/workload.sql";
open(my $fh, '>', $script) or die;
print $fh q{\set id random(1, 110000)
BEGIN;
UPDATE big SET v = v + 1, note = 'u' WHERE id = :id;
INSERT INTO big (id, v, note) VALUES (:id + 100000, 0, 'new') ON CONFLICT (id) DO UPDATE SET v = big.v + 1;
DELETE FROM big WHERE id = :id + 7;
COMMIT;
};
close($fh);

my $nbench = 0;
sub pgbench
{
	my ($secs) = @_;
	my $log = "$PostgreSQL::Test::Utils::tmp_check/pgbench_" . ++$nbench . '.log';
	# the TAP framework sets PGAPPNAME for everything it starts
	local $ENV{PGAPPNAME} = 'pgbench';
	my $pid = WalstarTest::Sink::background($log, 'pgbench', '-n', '-T', $secs, '-c', '2', '-f', $script,
		'-h', $node->host, '-p', $node->port, 'postgres');
	$node->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'pgbench'})
	  or die 'pgbench did not start: ' . slurp_file($log);
	return $pid;
}

my %min_rows = (big => 100000, mid => 30000);

# Check the replay of $prefix's topic against the source; returns the number
# of streamed changes.
sub check_replay
{
	my ($prefix, $table, $label) = @_;
	my @msgs = WalstarTest::Sink::read_topic($kafka, "$prefix.public.$table", peek => 1);
	my @reads = grep { $_->{change}{op_name} eq 'READ' } @msgs;
	# a copy interrupted by a crash is replaced by the next one
	my $snap = 0;
	$snap = $_->{change}{commit_lsn} > $snap ? $_->{change}{commit_lsn} : $snap for @reads;
	@reads = grep { $_->{change}{commit_lsn} == $snap } @reads;
	my @stream = sort { $a->{change}{commit_lsn} <=> $b->{change}{commit_lsn}
		  || $a->{change}{position} <=> $b->{change}{position} }
	  grep { $_->{change}{op_name} ne 'READ' } @msgs;

	my (%state, $dup_read, $bad);
	$dup_read = $bad = 0;
	for my $m (@reads)
	{
		my $c = $m->{change};
		my $id = $c->{ints}[0];
		$dup_read++ if exists $state{$id};
		$state{$id} = $c->{ints}[1];
	}
	my $early = grep { $_->{change}{commit_lsn} <= $snap } @stream;
	my @problems;
	for my $m (@stream)
	{
		my $c = $m->{change};
		my $op = $c->{op_name};
		if ($op eq 'DELETE')
		{
			my $id = $c->{key_int};
			push @problems, "DELETE of missing $id" unless exists $state{$id};
			delete $state{$id};
			next;
		}
		my ($id, $v) = @{ $c->{ints} }[ 0, 1 ];
		if ($op eq 'INSERT')
		{
			push @problems, "INSERT of existing $id (overlap)" if exists $state{$id};
		}
		elsif ($op eq 'UPDATE')
		{
			push @problems, "UPDATE of $id to $v after " . ($state{$id} // 'nothing')
			  unless defined $state{$id} && $state{$id} + 1 == $v;
		}
		$state{$id} = $v;
	}
	my $source = $node->safe_psql('postgres', "SELECT id, v FROM $table ORDER BY id");
	my $replayed = join("\n", map { "$_|$state{$_}" } sort { $a <=> $b } keys %state);

	cmp_ok(scalar(@reads), '>=', $min_rows{$table}, "$label: the copy has every row (" . scalar(@reads) . ' READ records)');
	is($dup_read, 0, "$label: no row twice in the copy");
	is($early, 0, "$label: every streamed transaction commits after the copy's point");
	is(join("\n", @problems[0 .. ($#problems < 9 ? $#problems : 9)]), '', "$label: no gap, no overlap");
	ok($replayed eq $source, "$label: replaying Kafka gives the source table, row by row");
	return (scalar(@stream), scalar(@reads));
}

sub wait_confirmed
{
	my ($slot) = @_;
	my $end = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
	$node->poll_query_until('postgres',
		"SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = '$slot'")
	  or die "slot $slot not confirmed up to $end";
}

# 1. copy with writes going on
my $bench = pgbench(10);
my $sink = WalstarTest::Sink->start(name => 'snap', node => $node, kafka => $kafka,
	args => [ '--topic-partitions=2', '--progress-interval=1' ]);
$sink->wait_log(qr/msg="initial copy started"/);
is($node->safe_psql('postgres', q{SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'pgbench'}),
	't', 'pgbench writes while the copy runs');
$sink->wait_log(qr/msg="initial copy complete and acknowledged"/);
WalstarTest::Sink::finish_background($bench);
wait_confirmed('walstar');
like($sink->log_text, qr/info snapshot table=public\.big rows=\d+ rows_per_s=\d+ tables_done=\d\/3 eta_s=/,
	'progress lines with rows/s, tables done and ETA');
ok(-f "$sink->{state_dir}/walstar.snapshot", 'completion recorded in the state directory');
my ($streamed, $nreads) = check_replay('walstar', 'big', 'snapshot+stream');
cmp_ok($streamed, '>', 100, "the stream carried the concurrent writes ($streamed changes)");

# typed READ values equal the decoder's for the same rows
$node->safe_psql('postgres', q{UPDATE small SET n = n WHERE true});
wait_confirmed('walstar');
my @small = WalstarTest::Sink::read_topic($kafka, 'walstar.public.small');
my %by;
for my $m (@small)
{
	my $c = $m->{change};
	my @vals = map { my $v = $_; join(',', map { "$_=" . (ref $v->{$_} ? join(':', map { "$_=$v->{$_}" } sort keys %{ $v->{$_} }) : $v->{$_}) } sort keys %$v) } @{ $c->{new_values} };
	push @{ $by{ $c->{key} }{ $c->{op_name} } }, join(';', map { $_ // '' } @vals);
	$by{ $c->{key} }{cols}{ $c->{op_name} } = join(';', map { "$_->{name}:$_->{type_name}:$_->{landing_type}:" . ($_->{is_key} // 0) } @{ $c->{columns} });
}
is(scalar(keys %by), 2, 'two keys in walstar.public.small');
for my $k (sort keys %by)
{
	is($by{$k}{READ}[0], $by{$k}{UPDATE}[0], 'READ values encode like the decoder\'s: ' . unpack('H*', $k));
	is($by{$k}{cols}{READ}, $by{$k}{cols}{UPDATE}, 'READ column descriptions match the decoder\'s');
}
my @tx = WalstarTest::Sink::read_topic($kafka, 'walstar.transactions');
my ($sb) = grep { $_->{change}{xid} == 0 && $_->{change}{op_name} eq 'BEGIN' } @tx;
my ($sc) = grep { $_->{change}{xid} == 0 && $_->{change}{op_name} eq 'COMMIT' } @tx;
ok($sb && $sc, 'the copy is framed by BEGIN/COMMIT (xid 0) in walstar.transactions');
is($sc->{change}{commit}{change_count}, $nreads + 30000 + 2, 'its COMMIT counts every READ record');
is($sink->stop, 0, 'clean stop');

# 2. kill -9 in the middle of the copy: the next start redoes it
open($fh, '>', "$script.mid") or die;
print $fh q{\set id random(1, 33000)
BEGIN;
UPDATE mid SET v = v + 1, note = 'u' WHERE id = :id;
INSERT INTO mid (id, v, note) VALUES (:id + 30000, 0, 'new') ON CONFLICT (id) DO UPDATE SET v = mid.v + 1;
DELETE FROM mid WHERE id = :id + 7;
COMMIT;
};
close($fh);
$script = "$script.mid";
$bench = pgbench(6);
my $s2 = WalstarTest::Sink->start(name => 'crash', node => $node, kafka => $kafka,
	args => [ '--slot=crashy', '--topic-prefix=w2', '--progress-interval=1', '--include-tables=public.mid' ]);
$s2->wait_log(qr/msg="initial copy started"/);
Time::HiRes::sleep(0.1);
$s2->kill9;
unlike($s2->log_text, qr/initial copy complete/, 'killed before the copy completed');
ok(!-f "$s2->{state_dir}/crashy.snapshot", 'no completion record');
$s2 = WalstarTest::Sink->start(name => 'crash', node => $node, kafka => $kafka,
	args => [ '--slot=crashy', '--topic-prefix=w2', '--progress-interval=1', '--include-tables=public.mid' ]);
$s2->wait_log(qr/dropping and recreating the slot to redo the snapshot/);
$s2->wait_log(qr/msg="initial copy complete and acknowledged"/);
WalstarTest::Sink::finish_background($bench);
wait_confirmed('crashy');
check_replay('w2', 'mid', 'after a crash in the copy');
is($s2->stop, 0, 'clean stop');

$node->stop;
$kafka->stop;
done_testing();
