# walstar-sink streams a slot into Kafka: every change of the captured tables
# lands in its topic, keyed by primary key, the same records a second slot of
# the same plugin yields; BEGIN/COMMIT go to <prefix>.transactions; the slot
# is confirmed up to the end; SIGTERM flushes and exits 0.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Sink;
use WalstarTest::Wire;

my $kafka = WalstarTest::Kafka->start;
my $node = PostgreSQL::Test::Cluster->new('source');
$node->init(allows_streaming => 'logical');
WalstarTest::Sink::setup_node($node);
$node->start;

$node->safe_psql('postgres', q{
CREATE TABLE items (id int PRIMARY KEY, name text, qty int, price numeric(10,2),
	at timestamptz, flag bool, data bytea);
CREATE TABLE skipme (id int PRIMARY KEY, v text);
SELECT pg_create_logical_replication_slot('ref', 'walstar_decoder');
});

my $sink = WalstarTest::Sink->start(name => 'stream', node => $node, kafka => $kafka,
	args => [ '--snapshot=never', '--exclude-tables=public.skipme',
		'--topic-partitions=3', '--tombstones=true' ]);
$sink->wait_log(qr/msg="streaming"/);

# a mixed workload: inserts, updates (also of the key), deletes, a filtered
# transaction, a rolled back one
for my $t (1 .. 20)
{
	my $base = $t * 100;
	$node->safe_psql('postgres', qq{
BEGIN;
INSERT INTO items SELECT g, 'item ' || g, g % 7, g * 1.25, '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 minute', g % 2 = 0, decode(lpad(to_hex(g), 8, '0'), 'hex')
  FROM generate_series($base, $base + 49) g;
UPDATE items SET qty = qty + 100, name = name || ' updated' WHERE id % 5 = 0 AND id BETWEEN $base AND $base + 49;
DELETE FROM items WHERE id % 9 = 0 AND id BETWEEN $base AND $base + 49;
COMMIT;
});
}
$node->safe_psql('postgres', q{
UPDATE items SET id = id + 100000 WHERE id = 101;
INSERT INTO skipme SELECT g, 'x' FROM generate_series(1, 10) g;
BEGIN; INSERT INTO items VALUES (999999, 'never'); ROLLBACK;
});
my $end = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');

$node->poll_query_until('postgres',
	"SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = 'walstar'")
  or die "slot not confirmed up to $end";
pass('the slot is confirmed up to the end of the workload');

# what a slot of the same plugin yields
my @ref;
for my $hex (split /\n/, $node->safe_psql('postgres', q{
SELECT encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('ref', NULL, NULL,
  'format', 'protobuf', 'exclude-tables', 'public.skipme')}))
{
	my $raw = pack('H*', $hex);
	my $c = WalstarTest::Wire::decode_change($raw);
	$c->{raw} = $raw;
	push @ref, $c;
}
my @ref_rows = grep { $_->{op_name} =~ /^(INSERT|UPDATE|DELETE)$/ } @ref;
my @ref_tx = grep { $_->{op_name} =~ /^(BEGIN|COMMIT)$/ } @ref;
cmp_ok(scalar(@ref_rows), '>', 1000, 'the workload made ' . scalar(@ref_rows) . ' row changes');

my @msgs = WalstarTest::Sink::read_topic($kafka, 'walstar.public.items');
my @rows = grep { defined $_->{value} } @msgs;
my @tombs = grep { !defined $_->{value} } @msgs;

sub pair { return "$_[0]->{change}{commit_lsn}/$_[0]->{change}{position}"; }
my %ref_by = map { ("$_->{commit_lsn}/$_->{position}" => $_) } @ref_rows;

# A key-changing UPDATE whose old key hashes to another partition is preceded
# there by a DELETE of the old key carrying the UPDATE's (commit_lsn,
# position), so the old key's partition sees the row leave.
my (@moved, @plain);
for my $m (@rows)
{
	my $r = $ref_by{ pair($m) };
	if ($r && $r->{op_name} eq 'UPDATE' && $m->{change}{op_name} eq 'DELETE') { push @moved, $m; }
	else { push @plain, $m; }
}
my %update_msg = map { (pair($_) => $_) } grep { $_->{change}{op_name} eq 'UPDATE' } @plain;
my $moved_ok = grep {
	my $u = $update_msg{ pair($_) };
	$u && $u->{partition} != $_->{partition} && $_->{key} ne $u->{key}
	  && $_->{key} eq $_->{change}{key}
} @moved;
# (the workload's UPDATE of id 101 to 100101 moves across partitions)
ok(@moved > 0 && $moved_ok == @moved,
	scalar(@moved) . ' old-key DELETEs of key-changing UPDATEs, each in another partition than its UPDATE');

my %seen;
$seen{ pair($_) }++ for @plain;
my %want = map { ("$_->{commit_lsn}/$_->{position}" => 1) } @ref_rows;
is(scalar(keys %seen), scalar(keys %want), 'as many distinct changes in Kafka as in the slot');
is_deeply([ sort keys %seen ], [ sort keys %want ], 'the same (commit_lsn, position) pairs');
is(scalar(grep { $_ > 1 } values %seen), 0, 'no duplicates in a clean run');

# values unchanged: the Kafka value is the decoder's record, byte for byte,
# except that an UPDATE whose old key's DELETE went to another partition has
# old_key_elsewhere = true (field 27) appended, so that it leaves the old row
# to that DELETE
my $flag = "\xd8\x01\x01";
my %moved_pair = map { (pair($_) => 1) } @moved;
my $same = grep {
	my $r = $ref_by{ pair($_) };
	$r && $_->{value} eq ($moved_pair{ pair($_) } ? $r->{raw} . $flag : $r->{raw})
} @plain;
is($same, scalar(@plain), 'every Kafka value is the bytes the decoder produced (moved UPDATEs marked)');
is(scalar(grep { $update_msg{$_}{change}{old_key_elsewhere} } keys %moved_pair), scalar(@moved),
	'each UPDATE whose old key\'s DELETE went elsewhere decodes with old_key_elsewhere');

# key and partitioning
my $keys_ok = 1;
my %part_of;
for my $m (@rows)
{
	$keys_ok = 0 unless defined $m->{key} && $m->{key} eq $m->{change}{key};
	my $k = unpack('H*', $m->{key} // '');
	$part_of{$k}{ $m->{partition} } = 1;
}
ok($keys_ok, 'message key = Change.key');
is(scalar(grep { keys(%$_) > 1 } values %part_of), 0, 'each key stays in one partition');
my %parts = map { ($_->{partition} => 1) } @rows;
cmp_ok(scalar(keys %parts), '>', 1, 'keys are spread over the 3 partitions');

# tombstones after deletes
my $deletes = grep { $_->{change}{op_name} eq 'DELETE' } @rows;
is(scalar(@tombs), $deletes, "one tombstone per DELETE ($deletes)");

# final state derivable from Kafka, per key
my %state;
for my $m (sort { $a->{change}{commit_lsn} <=> $b->{change}{commit_lsn} || $a->{change}{position} <=> $b->{change}{position} } @rows)
{
	my $c = $m->{change};
	if ($c->{op_name} eq 'DELETE')
	{
		delete $state{ WalstarTest::Wire::value_text($c->{key_values}[0]) };
		next;
	}
	if ($c->{op_name} eq 'UPDATE' && @{ $c->{old_values} })
	{
		my $old = WalstarTest::Wire::row_of($c, 'old_values');
		delete $state{ $old->{id} };
	}
	my $r = WalstarTest::Wire::row_of($c);
	$state{ $r->{id} } = "$r->{id}|$r->{name}|$r->{qty}|$r->{price}|$r->{flag}";
}
my $source = $node->safe_psql('postgres', q{SELECT id || '|' || name || '|' || qty || '|' || price || '|' || CASE WHEN flag THEN 't' ELSE 'f' END FROM items ORDER BY id});
is(join("\n", map { $state{$_} } sort { $a <=> $b } keys %state), $source, 'replaying Kafka gives the source table');

# transaction metadata
my @tx = WalstarTest::Sink::read_topic($kafka, 'walstar.transactions');
is(scalar(@tx), scalar(@ref_tx), 'every BEGIN and COMMIT in walstar.transactions');
my @commits = grep { $_->{change}{op_name} eq 'COMMIT' } map { $_ } @tx;
my $no_end = grep { !$_->{change}{commit}{end_lsn} } @commits;
ok(@commits && !$no_end, 'COMMIT records carry end_lsn');
my $counted = 0;
$counted += $_->{change}{commit}{change_count} for @commits;
is($counted, scalar(@ref_rows), 'COMMIT change counts add up to the row changes');
ok(!grep({ $_ eq 'walstar.public.skipme' } WalstarTest::Sink::topics($kafka)), 'excluded table has no topic');

# idle slot: other activity is confirmed too
$node->safe_psql('postgres', 'INSERT INTO skipme SELECT g, $$y$$ FROM generate_series(11, 20) g');
$end = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$node->poll_query_until('postgres',
	"SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = 'walstar'")
  or die "filtered activity not confirmed";
pass('filtered activity is confirmed: the slot does not hold WAL');

is($sink->stop, 0, 'SIGTERM: exit code 0');
like($sink->log_text, qr/info main .*msg="stopped"/, 'logged the stop');
unlike($sink->log_text, qr/ error /, 'no error lines');

$node->stop;
$kafka->stop;
done_testing();
