# Crash safety: kill -9 the sink at random points 10 times during a steady
# mixed workload.  Afterwards every committed change (as a second slot of the
# same plugin yields them) is in Kafka, compared by (commit_lsn, position),
# and a change is only ever duplicated if its transaction committed at or
# after the slot's confirmed_flush_lsn at the kill that followed its first
# delivery (the sink confirmed nothing Kafka had not acknowledged).
use strict;
use warnings;
use IPC::Run ();
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
CREATE TABLE acct (id int PRIMARY KEY, v int NOT NULL, note text);
SELECT pg_create_logical_replication_slot('ref', 'walstar_decoder');
});
my $script = "$PostgreSQL::Test::Utils::tmp_check/crash.sql";
open(my $fh, '>', $script) or die;
print $fh q{\set id random(1, 3000)
BEGIN;
INSERT INTO acct (id, v, note) VALUES (:id, 0, 'n') ON CONFLICT (id) DO UPDATE SET v = acct.v + 1, note = 'u';
UPDATE acct SET v = v + 1 WHERE id = :id + 1;
DELETE FROM acct WHERE id = :id + 2 AND v > 2;
COMMIT;
};
close($fh);

my @args = ('--snapshot=never', '--topic-partitions=3');
# the slot exists before the workload starts
my $sink = WalstarTest::Sink->start(name => 'crash', node => $node, kafka => $kafka, args => \@args);
$sink->wait_log(qr/msg="streaming"/);

my $bench_start = Time::HiRes::time();
my $bench = IPC::Run::start([ 'pgbench', '-n', '-T', '20', '-R', '300', '-c', '2', '-f', $script,
	'-h', $node->host, '-p', $node->port, 'postgres' ], '>', \my $out, '2>', \my $err);

my @kills;    # [ time_ms, confirmed lsn after the kill ]
for my $i (1 .. 10)
{
	Time::HiRes::sleep(0.2 + rand(1.3));
	my $t = Time::HiRes::time() * 1000;
	$sink->kill9;
	# the walsender lets go of the slot once it notices; its confirmed
	# position is final from then on
	$node->poll_query_until('postgres', "SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'walstar'")
	  or die 'slot still active after kill';
	my $confirmed = $node->safe_psql('postgres',
		"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'walstar'");
	push @kills, [ $t, WalstarTest::Wire::lsn_num($confirmed) ];
	note("kill $i: confirmed_flush_lsn $confirmed");
	$sink = WalstarTest::Sink->start(name => 'crash', node => $node, kafka => $kafka, args => \@args);
	$sink->wait_log(qr/msg="streaming"/);
}
is(scalar(@kills), 10, 'killed the sink 10 times under load');
cmp_ok(Time::HiRes::time() - $bench_start, '<', 20, 'the workload (20 s) ran through all kills');
$bench->finish;
like($out, qr/number of transactions actually processed: \d+/, 'pgbench finished');

my $end = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$node->poll_query_until('postgres',
	"SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = 'walstar'")
  or die 'not confirmed to the end';
is($sink->stop, 0, 'the last sink stops cleanly');

# ground truth: every committed change, from the reference slot
my %ref;
for my $hex (split /\n/, $node->safe_psql('postgres', q{
SELECT encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('ref', NULL, NULL, 'format', 'protobuf')}))
{
	my $c = WalstarTest::Wire::peek_change(pack('H*', $hex));
	next unless $c->{op_name} =~ /^(INSERT|UPDATE|DELETE)$/;
	$ref{"$c->{commit_lsn}/$c->{position}"} = $c;
}

my @msgs = WalstarTest::Sink::read_topic($kafka, 'walstar.public.acct', peek => 1);
my (%count, %first_ts);
for my $m (@msgs)
{
	my $k = "$m->{change}{commit_lsn}/$m->{change}{position}";
	$count{$k}++;
	$first_ts{$k} = $m->{ts} if !defined $first_ts{$k} || $m->{ts} < $first_ts{$k};
}
my @missing = grep { !$count{$_} } keys %ref;
my @bogus = grep { !$ref{$_} } keys %count;
my @dups = grep { $count{$_} > 1 } keys %count;
cmp_ok(scalar(keys %ref), '>', 3000, scalar(keys %ref) . ' committed changes during the kills');
is(scalar(@missing), 0, 'every committed change is in Kafka');
is(scalar(@bogus), 0, 'nothing in Kafka that was not committed');
note(scalar(@dups) . ' changes delivered more than once, ' . scalar(@msgs) . ' messages in all');

my @bad;
for my $k (@dups)
{
	my ($commit) = split m{/}, $k;
	my ($kill) = grep { $_->[0] >= $first_ts{$k} } @kills;
	next unless $kill;    # first delivered after the last kill: cannot be a resend
	push @bad, "$k (confirmed " . WalstarTest::Wire::lsn_text($kill->[1]) . ')'
	  if $commit < $kill->[1];
}
is(join(', ', @bad[0 .. ($#bad < 4 ? $#bad : 4)]), '', 'duplicates only after the confirmed position of the kill that followed them');

# the final state by key, replaying each change once in commit order
my %state;
for my $k (sort { $ref{$a}{commit_lsn} <=> $ref{$b}{commit_lsn} || $ref{$a}{position} <=> $ref{$b}{position} } keys %count)
{
	my $c = $ref{$k} or next;
	if ($c->{op_name} eq 'DELETE') { delete $state{ $c->{key_int} }; next; }
	$state{ $c->{ints}[0] } = $c->{ints}[1];
}
my $source = $node->safe_psql('postgres', 'SELECT id, v FROM acct ORDER BY id');
ok(join("\n", map { "$_|$state{$_}" } sort { $a <=> $b } keys %state) eq $source,
	'replaying Kafka gives the source table');

$node->stop;
$kafka->stop;
done_testing();
