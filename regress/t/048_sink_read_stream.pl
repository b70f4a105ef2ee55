# One row contract: the same table gives byte-identical column descriptions
# and values in READ records (the sink's initial copy: snapshot_catalog.c,
# snapshot_value.c) and in streamed records (the decoder): every type of the
# decoder's type suite, every object-name (reg*) type, enums, domains over
# domains, arrays of them, a hashed and a masked column, a dropped column
# (Column.attnum) and a column with a default.
#
# One field is left out of the comparison, on purpose: Column.missing, the
# value PostgreSQL keeps (pg_attribute.attmissingval) for rows older than an
# ADD COLUMN with a constant default.  Only the decoder can send it: the
# copy runs as an ordinary user, and attmissingval is readable by
# superusers only.  READ records do not need it either, since every copied
# row carries the column's real value.  The test checks that the stream
# does send it, so that leaving it out is a decision and not a blind spot.
use strict;
use warnings;
use Digest::SHA qw(hmac_sha256_hex);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Sink;
use WalstarTest::Wire;

my $salt = 'salt-' . join('', map { ('a' .. 'z')[ int(rand(26)) ] } 1 .. 16);

my $kafka = WalstarTest::Kafka->start;
my $node = PostgreSQL::Test::Cluster->new('contract_source');
$node->init(allows_streaming => 'logical');
WalstarTest::Sink::setup_node($node);
my $salt_path = $node->data_dir . '/walstar_hash_salt';
open(my $fh, '>', $salt_path) or die "$salt_path: $!";
print $fh "$salt\n";
close($fh);
chmod(0600, $salt_path) or die "chmod: $!";
$node->start;
my $sink_salt = "$PostgreSQL::Test::Utils::tmp_check/contract_salt";
open($fh, '>', $sink_salt) or die "$sink_salt: $!";
print $fh "$salt\n";
close($fh);
chmod(0600, $sink_salt) or die "chmod: $!";

$node->safe_psql('postgres', q{
CREATE SCHEMA kinds;
CREATE TYPE kinds.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN kinds.posint AS int CHECK (VALUE > 0);
CREATE DOMAIN kinds.small AS kinds.posint CHECK (VALUE < 1000);
CREATE DOMAIN kinds.email AS text;
CREATE DOMAIN kinds.money_amount AS numeric(12,2);
CREATE TYPE kinds.pair AS (a int, b text);
CREATE TABLE public.contract (id int PRIMARY KEY, gone int,
	i2 int2, i4 int4, i8 int8, o oid, f4 float4, f8 float8, n numeric, n2 numeric(12,2),
	t text, v varchar(10), c char(4), nm name, b bool, by bytea,
	d date, tm time, ts timestamp, tz timestamptz, iv interval, tt timetz,
	u uuid, j json, jb jsonb, m kinds.mood, a int[], ta text[], ma kinds.mood[],
	p kinds.posint, sm kinds.small, e kinds.email, am kinds.money_amount, r kinds.pair, ra kinds.pair[],
	ip inet, x xml, pt point, dr daterange, mo money,
	rp regproc, rpd regprocedure, ro regoper, rop regoperator, rc regclass, rt regtype,
	rcf regconfig, rd regdictionary, rn regnamespace, rr regrole, rcl regcollation,
	rca regclass[], rta regtype[],
	secret text, masked text, dflt int DEFAULT 42);
ALTER TABLE public.contract DROP COLUMN gone;
});
my $values = q{
	1, 2, 3, 4, 1.5, 0.30000000000000004, 123456789012345678901234567890.12, 10.10,
	E'quote " backslash \\\\ tab \t é', 'vc', 'ab', 'nm', true, '\x00ff10',
	'2024-03-10', '23:59:59.999999', '2024-03-10 01:02:03.5', '2024-03-10 01:02:03.5+00',
	'1 year 2 mons -3 days 04:05:06.7', '10:11:12.5+02',
	'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"k": [1, 2]}', '{"k": null}', 'happy', '{1,NULL}', '{"a b",NULL}', '{sad,ok}',
	7, 8, 'x@example.com', 12.5, '(1,"x y")', ARRAY['(2,z)'::kinds.pair], '10.0.0.1/8', '<a>1</a>', '(1,2)',
	'[2024-03-10,2024-04-02)', 12.34,
	'now', 'now()', '||/', '+(integer,integer)', 'pg_class', 'integer',
	'english', 'simple', 'public', 'pg_monitor', '"C"',
	'{pg_class,pg_type}', '{int4,text}',
	'ann@example.com', 'hidden'};
my $nulls = join(', ', ('NULL') x 53);
$node->safe_psql('postgres', qq{
INSERT INTO public.contract VALUES (1, $values, 1);
INSERT INTO public.contract VALUES (2, $nulls, NULL);
INSERT INTO public.contract (id) VALUES (3);
-- rows older than this column carry it only in attmissingval
ALTER TABLE public.contract ADD COLUMN late int DEFAULT 5;
});

my $sink = WalstarTest::Sink->start(name => 'contract', node => $node, kafka => $kafka,
	args => [ '--hash-columns=public.contract.secret', '--mask-columns=public.contract.masked',
		"--hash-salt-file=$sink_salt" ]);
$sink->wait_log(qr/msg="streaming"/);
$node->safe_psql('postgres', qq{
INSERT INTO public.contract VALUES (101, $values, 1, 5);
INSERT INTO public.contract VALUES (102, $nulls, NULL, 5);
INSERT INTO public.contract (id) VALUES (103);
});

# Raw protobuf fields of a record: its column descriptions (without
# Column.missing, field 9) and its values, as bytes.
sub contract_of
{
	my ($bytes) = @_;
	my (@cols, @vals, $missing);
	for my $f (WalstarTest::Wire::fields($bytes))
	{
		if ($f->[0] == 6)
		{
			my @sub = WalstarTest::Wire::fields($f->[2]);
			$missing++ if grep { $_->[0] == 9 } @sub;
			push @cols, join(',', map { "$_->[0]:$_->[1]:" . unpack('H*', $_->[2]) } grep { $_->[0] != 9 } @sub);
		}
		push @vals, unpack('H*', $f->[2]) if $f->[0] == 7;
	}
	return { cols => \@cols, vals => \@vals, missing => $missing // 0 };
}

my (%read, %insert);
for (my $try = 0; $try < 100 && keys(%insert) < 3; $try++)
{
	%read = %insert = ();
	for my $m (WalstarTest::Sink::read_topic($kafka, 'walstar.public.contract'))
	{
		next unless defined $m->{change};
		my $c = $m->{change};
		my $id = WalstarTest::Wire::value_text($c->{new_values}[0]);
		$read{$id} = contract_of($m->{value}) if $c->{op_name} eq 'READ';
		$insert{ $id - 100 } = contract_of($m->{value}) if $c->{op_name} eq 'INSERT';
	}
	last if keys(%insert) >= 3;
	sleep 1;
}
is(join(',', sort keys %read), '1,2,3', 'every row was copied');
is(join(',', sort keys %insert), '1,2,3', 'every row was streamed');

my $ncols = scalar(@{ $read{1}{cols} });
is($ncols, 56, 'READ records describe every column but the dropped one');
my @diff;
for my $id (1 .. 3)
{
	my ($r, $s) = ($read{$id}, $insert{$id});
	next unless $r && $s;
	push @diff, "id $id: $ncols columns in READ, " . scalar(@{ $s->{cols} }) . ' streamed'
	  if @{ $s->{cols} } != $ncols;
	for my $i (0 .. $ncols - 1)
	{
		push @diff, "id $id column $i: READ $r->{cols}[$i], stream " . ($s->{cols}[$i] // 'none')
		  if ($s->{cols}[$i] // '') ne $r->{cols}[$i];
		next if $i == 0;    # the id differs by design
		push @diff, "id $id value $i: READ $r->{vals}[$i], stream " . ($s->{vals}[$i] // 'none')
		  if ($s->{vals}[$i] // '') ne ($r->{vals}[$i] // '');
	}
}
is(join("\n", @diff), '', 'READ and streamed records: byte-identical column descriptions (but Column.missing) and values');

# Change.key (and the Kafka key) of both writers: Key{values: [id]} packed
# one way (common/change_key.c), tag 1, length, the id Value's bytes
my (@badkeys, %keyed);
for my $m (WalstarTest::Sink::read_topic($kafka, 'walstar.public.contract'))
{
	next unless defined $m->{change} && $m->{change}{op_name} =~ /^(READ|INSERT)$/;
	my @f = WalstarTest::Wire::fields($m->{value});
	my ($id) = map { $_->[2] } grep { $_->[0] == 7 } @f;
	my ($key) = map { $_->[2] } grep { $_->[0] == 9 } @f;
	my $want = "\x0a" . chr(length $id) . $id;
	$keyed{ $m->{change}{op_name} }++;
	push @badkeys, "$m->{change}{op_name}: Change.key " . unpack('H*', $key // '') .
	  ', Kafka key ' . unpack('H*', $m->{key} // '') . ', want ' . unpack('H*', $want)
	  unless defined $key && $key eq $want && defined $m->{key} && $m->{key} eq $want;
}
is(join(',', map { "$_=$keyed{$_}" } sort keys %keyed), 'INSERT=3,READ=3', 'every record has its key checked');
is(join("\n", @badkeys), '', 'READ and streamed records: the key is the packed Key of the id value, in Change.key and as the Kafka key');

is($read{1}{missing}, 0, 'READ records never carry Column.missing');
is($insert{1}{missing}, 1, 'the stream sends Column.missing for the column added with a constant default');

# what the shared rules decided, so that agreeing on a wrong answer fails too
my $c = (grep { $_->{change}{op_name} eq 'READ' } WalstarTest::Sink::read_topic($kafka, 'walstar.public.contract'))[0]{change};
my %landing = map { $_->{name} => $_->{landing_type} } @{ $c->{columns} };
is(join(' ', map { $landing{$_} } qw(rc rca rt rr m ma r ra secret sm am tz)),
	'text text text text text text text text text integer numeric(12,2) timestamp with time zone',
	'landing types: reg*, enums, composites, arrays of them, hashed columns as text; domains (over domains) as their base type');
my %pii = map { $_->{name} => $_->{pii} // 0 } @{ $c->{columns} };
is("$pii{secret} $pii{masked} $pii{t}", '2 1 0', 'secret is hashed, masked is masked');
my ($one) = grep { $_->{change}{op_name} eq 'READ' && WalstarTest::Wire::value_text($_->{change}{new_values}[0]) eq '1' }
  WalstarTest::Sink::read_topic($kafka, 'walstar.public.contract');
my %row = %{ WalstarTest::Wire::row_of($one->{change}) };
is($row{secret}, hmac_sha256_hex('ann@example.com', $salt), 'the hashed value is HMAC-SHA256(salt, text)');
is($row{masked}, 'NULL', 'the masked value is NULL');

is($sink->stop, 0, 'sink stops cleanly');
$node->stop;
done_testing();
