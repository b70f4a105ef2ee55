# One row contract: a row copied by the snapshot (READ) and the same row
# streamed by the decoder (INSERT) are byte-identical in what describes the
# row: the packed column descriptions, the packed new values, the key, the
# schema, table and relation OID.  The table has every value kind the
# decoder types, NULLs, a TOASTed value, a dropped column (attnum differs
# from the position) and columns added with a default after its rows.
# As in 048, Column.missing (attmissingval, readable by superusers only) is
# left out: only the stream sends it, and copied rows carry real values.
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
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TABLE t (
  id int, gone text, i2 int2, i8 int8, o oid, n numeric, n2 numeric(12,2), f4 float4, f8 float8,
  b bool, tx text, vc varchar(10), ch char(3), nm name, by bytea, d date, tm time, ttz timetz,
  ts timestamp, tstz timestamptz, iv interval, u uuid, js json, jb jsonb, x xml, ia int[],
  ta text[], m mood, r int4range, ip inet, dom posint, big text DEFAULT 'd',
  PRIMARY KEY (id, u));
ALTER TABLE t DROP COLUMN gone;
INSERT INTO t VALUES
 (1, 1, 9223372036854775807, 4000000000, 12.3456789012345678901, 1.5, 0.1, -1.5e300, true, 'tab	nl
 bs\ q''', 'x', 'ab', 'nm', '\x00ff10', '2024-02-29', '23:59:59.999999', '12:00+05:30',
  '2000-01-01 00:00:00', '2024-01-01 12:00:00.123456+02', '1 mon 2 days 03:04:05.5',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2]}', '{"b": null}', '<x>1</x>', '{1,NULL,3}',
  '{"a b",NULL,"c\"d"}', 'happy', '[1,10)', '10.0.0.1/8', 7,
  (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3000) g)),
 (2, -32768, -9223372036854775808, 0, 'NaN', -0.01, 'NaN', 'Infinity', false, '', '', '', '',
  '\x', 'infinity', '00:00', '00:00+00', '-infinity', 'infinity', '-1 year -2 hours',
  '00000000-0000-0000-0000-000000000000', 'null', '[]', '', '{}', '{}', 'sad', 'empty', '::1', 1, ''),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, 'ffffffff-ffff-ffff-ffff-ffffffffffff', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL),
 (4, 2, 3, 4, '-0', 0, '-0', 'NaN', true, repeat('é', 100), 'é', 'é', 'é', '\x41', '4713-01-01 BC',
  '12:34:56', '01:02:03-08', '294276-12-31 23:59:59.999999', '1970-01-01 00:00:00+00', '0',
  '11111111-2222-3333-4444-555555555555', '1', '1.5e3', NULL, '{{1,2},{3,4}}', '{""}', 'sad',
  '(,5]', '2001:db8::/32', 2, NULL);
ALTER TABLE t ADD COLUMN late int DEFAULT 42, ADD COLUMN late_text text DEFAULT 'late';
});

my $sink = WalstarTest::Sink->start(name => 'bytes', node => $node, kafka => $kafka,
	args => [ '--include-tables=public.t' ]);
$sink->wait_log(qr/msg="initial copy complete and acknowledged"/);
# the same rows again through the stream, each in full
$node->safe_psql('postgres', q{
CREATE TEMP TABLE keep AS SELECT * FROM t;
DELETE FROM t;
INSERT INTO t SELECT * FROM keep;
});
my $end = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$node->poll_query_until('postgres',
	"SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = 'walstar'")
  or die 'not confirmed';

# the fields that describe the row, as packed bytes
my %FIELD = (4 => 'schema', 5 => 'table', 6 => 'columns', 7 => 'new_values', 9 => 'key', 22 => 'relation_oid');
my %by;
for my $m (WalstarTest::Sink::read_topic($kafka, 'walstar.public.t', raw => 1))
{
	next unless defined $m->{value};
	my (%f, $op);
	for my $fv (WalstarTest::Wire::fields($m->{value}))
	{
		my ($no, $wt, $v) = @$fv;
		$op = $v if $no == 3;
		# a Column without its field 9 (missing), fields in their order
		$v = join('', map { pack('w w w', $_->[0], $_->[1], length($_->[2])) . $_->[2] } grep { $_->[0] != 9 } WalstarTest::Wire::fields($v))
		  if $no == 6;
		push @{ $f{ $FIELD{$no} } }, $v if $FIELD{$no};
	}
	next unless $op == 5 || $op == 1;
	my $rec = join("\n", map { "$_=" . unpack('H*', join("\x00", @{ $f{$_} // [] })) } sort values %FIELD);
	$by{ $m->{key} }{ $op == 5 ? 'READ' : 'INSERT' } = [ $rec, scalar(@{ $f{new_values} // [] }) ];
}
is(scalar(keys %by), 4, 'four keys');
for my $k (sort keys %by)
{
	my ($read, $ins) = ($by{$k}{READ}, $by{$k}{INSERT});
	ok($read && $ins, 'READ and INSERT for key ' . unpack('H*', $k)) or next;
	is($read->[1], 33, 'every column has a value');
	is($read->[0], $ins->[0],
		'READ and INSERT byte-identical in columns (but missing), values, key, relation: ' . unpack('H*', $k));
}
is($sink->stop, 0, 'clean stop');
$node->stop;
$kafka->stop;
done_testing();
