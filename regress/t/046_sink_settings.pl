# Hostile session settings on the source (postgresql.conf, ALTER DATABASE,
# ALTER ROLE: DateStyle, IntervalStyle, TimeZone, extra_float_digits,
# bytea_output, search_path) change nothing downstream: through the real
# pipeline (walstar-sink, Kafka, the apply worker) every column of every
# row of the decoder's type suite -- plus ranges, multiranges, arrays and
# composites of dates, timestamps and floats, and the extremes of the
# date/time types -- lands with the text form the source has under ISO/UTC
# settings, for the initial copy and for streamed changes.  The copy's
# values are the same as the stream's, field by field, and pg_recvlogical
# (no fixed settings on its connection) gets ISO text from the decoder too.
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::Sink;
use WalstarTest::Wire;

my $kafka = WalstarTest::Kafka->start;

my $source = PostgreSQL::Test::Cluster->new('settings_source');
$source->init(allows_streaming => 'logical');
WalstarTest::Sink::setup_node($source);
$source->append_conf('postgresql.conf', q{
DateStyle = 'SQL, DMY'
IntervalStyle = sql_standard
TimeZone = 'Asia/Kolkata'
extra_float_digits = 0
bytea_output = escape
});
$source->start;
$source->safe_psql('postgres', q{
CREATE DATABASE src;
ALTER DATABASE src SET DateStyle = 'Postgres, DMY';
ALTER DATABASE src SET search_path = other, public;
ALTER ROLE CURRENT_USER IN DATABASE src SET TimeZone = 'America/St_Johns';
});
is($source->safe_psql('src', q{SELECT current_setting('DateStyle') || ' ' || current_setting('TimeZone') || ' '
	|| current_setting('IntervalStyle') || ' ' || current_setting('extra_float_digits') || ' '
	|| current_setting('bytea_output') || ' ' || current_setting('search_path')}),
	'Postgres, DMY America/St_Johns sql_standard 0 escape other, public', 'the source sessions are hostile');

# The type suite of decoder/sql/types.sql, and what travels as output text.
$source->safe_psql('src', q{
CREATE SCHEMA other;
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN public.posint AS int CHECK (VALUE > 0);
CREATE DOMAIN public.email AS text;
CREATE DOMAIN public.money_amount AS numeric(12,2);
CREATE TYPE public.pair AS (a int, b text);
CREATE TYPE public.dated AS (d date, at timestamptz, ts timestamp, n float8, iv interval);
CREATE TABLE public.everything (id int PRIMARY KEY, note text,
	i2 int2, i4 int4, i8 int8, o oid,
	f4 float4, f8 float8, n numeric, n2 numeric(12,2),
	t text, v varchar(10), c char(4), nm name, b bool, by bytea,
	d date, tm time, ts timestamp, tz timestamptz, iv interval, tt timetz,
	u uuid, j json, jb jsonb, m public.mood, a int[], ta text[], ma public.mood[],
	p public.posint, e public.email, am public.money_amount, r public.pair,
	ip inet, x xml, pt point, rc regclass, rt regtype[],
	dr daterange, tr tstzrange, tsr tsrange, dm datemultirange, tza timestamptz[],
	tsa timestamp[], da date[], dt public.dated, f8a float8[], f4a float4[],
	ba bytea[], iva interval[], mo money, tta timetz[], nr numrange);
});

# Rows as SQL (ISO input: the session reads them under DMY as well).
my @rows = (
	q{1, 'typical', 1, 2, 3, 4, 0.1, 0.30000000000000004, 123456789012345678901234567890.123456789, 10.10,
	  E'quote " backslash \\\\ tab \t newline \n é', 'vc', 'ab', 'nm', true, '\x00ff10',
	  '2024-03-10', '23:59:59.999999', '2024-03-10 01:02:03.5', '2024-03-10 01:02:03.5+00', '1 year 2 mons -3 days 04:05:06.7', '10:11:12.5+02',
	  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"k": [1, 2]}', '{"k": [1, 2], "a": null}', 'happy', '{1,2,NULL}', '{"a b","c,d",NULL}', '{sad,ok}',
	  7, 'x@example.com', 12.5, '(1,"x y")', '192.168.0.1/24', '<a>1</a>', '(0.1,0.30000000000000004)', 'public.everything', '{int4,text}',
	  '[2024-03-10,2024-04-02)', '[2024-03-10 01:02:03.5+00,2024-12-01 00:00+00)', '[2024-03-10 01:02:03,2024-12-01 00:00)',
	  '{[2024-01-02,2024-01-05),[2024-02-03,2024-02-04)}', '{"2024-03-10 01:02:03+00","1999-12-31 23:59:59.999999+00"}',
	  '{"2024-03-10 01:02:03","1999-12-31 23:59:59.999999"}', '{2024-03-10,2024-12-01}',
	  '(2024-03-02,"2024-03-02 10:00:00+00","2024-03-02 10:00:00",0.30000000000000004,"1 day -02:00:00")',
	  '{0.30000000000000004,1e-300,-0}', '{0.1,3.4e38}', '{"\\\\x00ff","\\\\x41"}', '{"1 year 2 mons -3 days 04:05:06.7","-1 day -00:00:01"}',
	  1234.56, '{10:11:12+05:30}', '[0.1,0.30000000000000004]'},
	q{2, 'extremes', -32768, -2147483648, -9223372036854775808, 4294967295, 'NaN', '-Infinity', 'NaN', -0.01,
	  '', '', '', '', false, '',
	  '4714-11-24 BC', '24:00:00', '294276-12-31 23:59:59.999999', '294276-12-31 23:59:59.999999+00', '-178000000 years', '00:00:00-15:59',
	  NULL, 'null', '[]', 'sad', '{}', '{}', '{}', 2147483647, '', -9999999999.99, '(,)', '::1', '<a/>', '(-1e300,1e-300)', 'pg_class', '{}',
	  '[4714-11-24 BC,5874897-12-31)', '[4714-11-24 00:00:00+00 BC,294276-12-31 23:59:59.999999+00]', '(,294276-12-31 23:59:59.999999)',
	  '{}', '{"294276-12-31 23:59:59.999999+00","4714-11-24 00:00:00+00 BC",infinity,-infinity}',
	  '{"294276-12-31 23:59:59.999999","4714-11-24 00:00:00 BC"}', '{5874897-12-31,"4714-11-24 BC",infinity}',
	  '("5874897-12-31","294276-12-31 23:59:59.999999+00","294276-12-31 23:59:59.999999",-1e-300,"178000000 years")',
	  '{NaN,Infinity,-Infinity,2.2250738585072014e-308}', '{1.17549435e-38,-3.4028235e38}', '{NULL,"\\\\x"}', '{"178000000 years"}',
	  -92233720368547758.08, '{}', 'empty'},
	q{3, 'boundary of 64-bit epoch microseconds', 0, 0, 0, 0, 0, 0, 0, 0, 'x', 'x', 'x', 'x', true, '\x00',
	  '5874897-12-31', '00:00', '294247-01-10 04:00:54.775807', '294247-01-10 04:00:54.775808+00', '0', '24:00:00+15:59',
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	  NULL, '[294247-01-10 04:00:54.775807+00,294247-01-10 04:00:54.775808+00]', '[294247-01-10 04:00:54.775807,294247-01-10 04:00:54.775808]',
	  NULL, '{"294247-01-10 04:00:54.775807+00","294247-01-10 04:00:54.775808+00"}', '{"294247-01-10 04:00:54.775807","294247-01-10 04:00:54.775808"}',
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
	q{4, 'infinities', NULL, NULL, NULL, NULL, 'Infinity', 'Infinity', 'Infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	  'infinity', NULL, '-infinity', 'infinity', NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	  '[-infinity,infinity)', '[-infinity,infinity)', '(-infinity,infinity)', '{[-infinity,infinity)}', '{infinity,-infinity}', '{infinity}', '{-infinity}',
	  '(infinity,infinity,-infinity,Infinity,)', NULL, NULL, NULL, NULL, NULL, NULL, NULL},
	q{5, 'nulls', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL});
$source->safe_psql('src', 'INSERT INTO public.everything VALUES ' . join(', ', map { "($_)" } @rows));

my @columns = split /\n/, $source->safe_psql('src', q{SELECT attname FROM pg_attribute
	WHERE attrelid = 'public.everything'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum});

# Every row as [column texts], under fixed settings; undef for NULL.
my $fixed = q{SET DateStyle = 'ISO, MDY'; SET IntervalStyle = postgres; SET TimeZone = UTC;
SET extra_float_digits = 3; SET bytea_output = hex; SET lc_monetary = 'C'; SET search_path = pg_catalog;};
sub rows_text
{
	my ($node, $db, $rel) = @_;
	my $list = join(', ', map { qq{t."$_"::text} } @columns);
	my ($ret, $out, $err) = $node->psql($db,
		"$fixed SELECT coalesce(json_agg(json_build_array($list) ORDER BY t.id), '[]') FROM $rel t");
	return undef if $ret != 0;
	return decode_json($out);
}

# Column-by-column differences between the source and the landing table.
sub differences
{
	my ($want, $have) = @_;
	return ('landing table missing') unless defined $have;
	my @diff;
	push @diff, 'source has ' . scalar(@$want) . ' rows, landing ' . scalar(@$have) if @$want != @$have;
	for my $i (0 .. $#$want)
	{
		my ($w, $h) = ($want->[$i], $have->[$i] // []);
		for my $c (0 .. $#columns)
		{
			my ($a, $b) = map { defined $_ ? $_ : 'NULL' } ($w->[$c], $h->[$c]);
			push @diff, "id $w->[0] $columns[$c]: source '$a', landing '$b'" if $a ne $b;
		}
	}
	return @diff;
}

my $node = WalstarTest::Pipeline::analytics('settings_analytics', $kafka, 'settings',
	topic_pattern => '^walstar\.public\.', batch_size => 100, batch_time => '50ms');

sub landing_equal
{
	my ($what) = @_;
	my $want = rows_text($source, 'src', 'public.everything');
	my @diff;
	my $end = Time::HiRes::time() + $PostgreSQL::Test::Utils::timeout_default;
	while (Time::HiRes::time() < $end)
	{
		@diff = differences($want, rows_text($node, 'ana', 'walstar_landing.everything'));
		last unless @diff;
		Time::HiRes::sleep(0.2);
	}
	is(join("\n", @diff), '', "$what: every column of every row lands as the source's ISO/UTC text ("
		  . scalar(@$want) . ' rows)');
}

my $sink = WalstarTest::Sink->start(name => 'settings', node => $source, db => 'src', kafka => $kafka);
$sink->wait_log(qr/msg="streaming"/);
landing_equal('initial snapshot');

# pg_recvlogical sets nothing: the decoder fixes the settings itself
$source->safe_psql('src', q{SELECT pg_create_logical_replication_slot('json_check', 'walstar_decoder')});

# streamed: the same values as new rows, and updates of the copied ones
$source->safe_psql('src', q{
INSERT INTO public.everything SELECT id + 100, 'streamed', i2, i4, i8, o, f4, f8, n, n2, t, v, c, nm, b, by, d, tm, ts, tz, iv, tt,
	u, j, jb, m, a, ta, ma, p, e, am, r, ip, x, pt, rc, rt, dr, tr, tsr, dm, tza, tsa, da, dt, f8a, f4a, ba, iva, mo, tta, nr
FROM public.everything WHERE id < 100;
UPDATE public.everything SET note = note || ' updated' WHERE id < 100 AND id % 2 = 1;
});
landing_equal('streamed inserts and updates');
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no dead letters');

# The copy's READ values are the stream's INSERT values, field by field.
my %by_id;
for my $m (WalstarTest::Sink::read_topic($kafka, 'walstar.public.everything'))
{
	my $c = $m->{change};
	next unless $c->{op_name} eq 'READ' || $c->{op_name} eq 'INSERT';
	my $id = $c->{new_values}[0]{int};
	$by_id{ $c->{op_name} eq 'READ' ? $id : $id - 100 }{ $c->{op_name} } = $c;
}
my @mismatch;
for my $id (sort { $a <=> $b } keys %by_id)
{
	my ($r, $s) = @{ $by_id{$id} }{qw(READ INSERT)};
	unless ($r && $s) { push @mismatch, "id $id: READ or INSERT missing"; next; }
	for my $i (2 .. $#columns)
	{
		my ($a, $b) = map { JSON::PP->new->canonical->allow_blessed->encode($_->{new_values}[$i]) } ($r, $s);
		push @mismatch, "id $id $columns[$i]: copy $a, stream $b" if $a ne $b;
	}
	for my $i (0 .. $#columns)
	{
		my ($a, $b) = map { join('|', map { $_ // '' } @{ $_->{columns}[$i] }{qw(name type_oid type_name landing_type is_key)}) } ($r, $s);
		push @mismatch, "id $id column $i: copy $a, stream $b" if $a ne $b;
	}
}
is(scalar(keys %by_id), 5, 'every row was copied and streamed');
is(join("\n", @mismatch), '', 'the copy encodes every value and column exactly as the stream (extremes included)');

# pg_recvlogical: output-function text in ISO/UTC although the walsender's are not
my $end_lsn = $source->safe_psql('src', 'SELECT pg_current_wal_lsn()');
my $json_file = "$PostgreSQL::Test::Utils::tmp_check/recvlogical.json";
my ($stdout, $stderr);
IPC::Run::run([ 'pg_recvlogical', '-d', $source->connstr('src'), '-S', 'json_check', '--start', '-o', 'format=json',
	'-o', 'include-transaction=false', "--endpos=$end_lsn", '-n', '-f', $json_file ], '>', \$stdout, '2>', \$stderr)
  or die "pg_recvlogical: $stderr";
my %got;
for my $line (split /\n/, slurp_file($json_file))
{
	my $rec = decode_json($line);
	$got{ $rec->{new}{id} } = $rec->{new} if $rec->{op} eq 'INSERT';
}
my $want = rows_text($source, 'src', 'public.everything');
my @recv_diff;
for my $row (grep { $_->[0] > 100 } @$want)
{
	my $rec = $got{ $row->[0] } or do { push @recv_diff, "id $row->[0] missing"; next; };
	for my $col (qw(dr tr tsr dm tza tsa da dt f8a f4a ba iva tt tta rc rt r nr pt))
	{
		my ($c) = grep { $columns[$_] eq $col } 0 .. $#columns;
		my ($a, $b) = map { $_ // 'NULL' } ($row->[$c], $rec->{$col});
		push @recv_diff, "id $row->[0] $col: source '$a', pg_recvlogical '$b'" if $a ne $b;
	}
}
is(scalar(keys %got), 5, 'pg_recvlogical got the streamed inserts');
is(join("\n", @recv_diff), '', 'pg_recvlogical: output-function text is the ISO/UTC text');

is($sink->stop, 0, 'sink stops cleanly');
$node->stop;
$source->stop;
done_testing();
