# NDJSON objects: walstar-sink -> Kafka -> walstar-archive -> a real
# S3-compatible store, with one topic (a table of every value kind the
# decoder types, extremes, NULLs, a TOASTed value, a masked column)
# archived as NDJSON (ndjson-topics) and another raw.  Every NDJSON line
# parses as JSON; the lines cover their object's offsets; folded in
# (commit LSN, position) order they give rows whose values equal the
# source's, each computed by SQL from the source row (casts, to_char,
# extract, encode), not by our renderer.  The object metadata says the
# format, and replay skips the NDJSON objects while the raw topic replays.
# Then the apply side's dead letters (refused updates and a message that
# is no Change) are exported by `walstar-archive dead-letters`: every row
# once, equal to walstar.dead_letters by SQL; a second run stores nothing,
# a run after lost objects (a crash between two PUTs) stores the same
# names again, and a new letter goes into one new object.
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);
use JSON::PP;
use MIME::Base64;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Archive;
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::S3;
use WalstarTest::Sink;

my $kafka = WalstarTest::Kafka->start;
my $s3 = WalstarTest::S3->start;
my $node = WalstarTest::Pipeline::source('ndjson_source', 'src');
$node->safe_psql('src', q{
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TABLE t (
  id int PRIMARY KEY, i2 int2, i8 int8, o oid, n numeric, f4 float4, f8 float8, b bool,
  tx text, vc varchar(10), ch char(3), by bytea, d date, tm time, ttz timetz, ts timestamp,
  tstz timestamptz, iv interval, u uuid, js json, jb jsonb, ia int[], ta text[], m mood,
  r int4range, ip inet, dom posint, secret text, big text);
CREATE TABLE r (id int PRIMARY KEY, v text);
INSERT INTO t VALUES
 (1, 1, 9223372036854775807, 4000000000, 12.3456789012345678901, 1.1, -1.5e300, true,
  E'tab\tnl\n q" bs\\ ctl\x01 é 😀', 'x', 'ab', '\x00ff10fe', '2024-02-29', '23:59:59.999999',
  '12:00+05:30', '2000-01-01 00:00:00', '2024-01-01 12:00:00.123456+02', '1 mon 2 days 03:04:05.5',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2]}', '{"b": null}', '{1,NULL,3}',
  '{"a b",NULL,"c\"d"}', 'happy', '[1,10)', '10.0.0.1/8', 7, 's1',
  (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3000) g));
});
my $sink = WalstarTest::Sink->start(name => 'ndjson', node => $node, db => 'src', kafka => $kafka,
	args => [ '--mask-columns=public.t.secret' ]);
$sink->wait_log(qr/msg="streaming"/);
# streamed: inserts with the other extremes, an UPDATE leaving the TOASTed
# value unchanged, a key change, a delete, and the raw table's rows
$node->safe_psql('src', q{
INSERT INTO t VALUES
 (2, -32768, -9223372036854775808, 0, 'NaN', 'NaN', 'Infinity', false, '', '', '', '\x',
  'infinity', '00:00', '00:00+00', '-infinity', 'infinity', '-1 year -2 hours -0.000001',
  '00000000-0000-0000-0000-000000000000', 'null', '[]', '{}', '{}', 'sad', 'empty', '::1', 1, NULL, ''),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 2, 9007199254740993, 4, '-0', '-0', 4.9e-324, true, repeat('é', 100), 'é', 'é', '\x41',
  '4713-01-01 BC', '12:34:56', '01:02:03-08', '294276-12-31 23:59:59.999999', '0044-03-15 12:00:00+00',
  '0', '11111111-2222-3333-4444-555555555555', '1', '1.5e3', '{{1,2},{3,4}}', '{""}', 'sad',
  '(,5]', '2001:db8::/32', 2, 's4', NULL),
 (5, 5, 5, 5, 'Infinity', '-Infinity', 0.1, false, 'five', 'v', 'c', '\xdeadbeef', '0001-01-01',
  '00:00:00.000001', '23:59:59+14', '0001-01-01 00:00:00', '1999-12-31 23:59:59.999999-01',
  '178000000 years', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '"s"', '3', '{-1}', '{x}', 'happy', '[2,3]',
  '0.0.0.0', 3, 's5', (SELECT string_agg(md5((g * 7)::text), '') FROM generate_series(1, 3000) g));
UPDATE t SET i2 = 11, tx = 'updated' WHERE id = 1;
UPDATE t SET id = 6, f8 = 6.5 WHERE id = 5;
DELETE FROM t WHERE id = 2;
INSERT INTO r SELECT g, 'r' || g FROM generate_series(1, 40) g;
UPDATE r SET v = 'again' WHERE id <= 10;
});

my @args = ('--topic-pattern=^walstar\.public\.(t|r)$', '--ndjson-topics=^walstar\.public\.t$',
	'--object-max-age=1', '--object-max-records=3');
my $archive = WalstarTest::Archive->start(name => 'ndjson', kafka => $kafka, s3 => $s3, args => \@args);
$archive->wait_log(qr/msg="archiving"/);
ok(WalstarTest::Archive::wait_covered($s3, $kafka, 'walstar/', 90, 'walstar.public.t', 'walstar.public.r'),
	'the archive holds every offset');
is($archive->stop, 0, 'the archive stops cleanly');

my @objs = WalstarTest::Archive::objects($s3, 'walstar/');
my @json = grep { $_->{topic} eq 'walstar.public.t' } @objs;
my @raw = grep { $_->{topic} eq 'walstar.public.r' } @objs;
ok(@json > 1 && !(grep { $_->{ext} ne 'ndjson.zst' } @json), scalar(@json) . ' objects of public.t, all .ndjson.zst');
ok(@raw && !(grep { $_->{ext} ne 'pb.zst' } @raw), scalar(@raw) . ' objects of public.r, all .pb.zst');
my %meta = $s3->metadata($json[0]{key});
is($meta{'walstar-format'}, 'walstar.v1.Change-ndjson', 'metadata: the NDJSON format');
%meta = $s3->metadata($raw[0]{key});
is($meta{'walstar-format'}, 'walstar.v1.Change-length-delimited', 'metadata: the raw format');

# every line is one JSON object, carrying its Kafka offset
my $codec = JSON::PP->new->utf8->allow_bignum;
my (@lines, @bad);
for my $o (@json)
{
	my @offsets;
	for my $line (@{ $o->{records} })
	{
		my $v = eval { $codec->decode($line) };
		if (ref($v) ne 'HASH') { push @bad, "$o->{key}: $line"; next; }
		push @offsets, $v->{offset};
		push @lines, $v;
	}
	push @bad, "$o->{key}: offsets @offsets" unless "@offsets" eq join(' ', $o->{first} .. $o->{last});
}
is(join("\n", @bad), '', 'every NDJSON line parses, one per offset of its object');
is(join(',', sort map { $_->{op} } @lines), 'DELETE,INSERT,INSERT,INSERT,INSERT,READ,UPDATE,UPDATE',
	'the lines: one snapshot row, four inserts, two updates, a delete');
ok(!(grep { $_->{source} ne 'src' || $_->{schema} ne 'public' || $_->{table} ne 't' } @lines), 'source, schema, table');
ok(!(grep { $_->{op} ne 'READ' && ($_->{commit_lsn} !~ m{^[0-9A-F]+/[0-9A-F]+$} || $_->{commit_time} !~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/) } @lines),
	'commit_lsn as X/Y, commit_time as RFC 3339 UTC');

# fold the lines into rows, in commit order
my %rows;
my @toast;
for my $l (sort { $a->{commit_lsn_int} <=> $b->{commit_lsn_int} || $a->{position} <=> $b->{position} } @lines)
{
	my $old = $l->{old} ? $rows{ $l->{old}{id} } : undef;
	delete $rows{ $l->{old}{id} } if $l->{old};
	next if $l->{op} eq 'DELETE';
	my %row = %{ $l->{new} };
	my $prev = $old // $rows{ $l->{key}{id} };
	for my $c (@{ $l->{unchanged_toast} // [] })
	{
		push @toast, $c;
		$row{$c} = $prev->{$c};
	}
	$rows{ $l->{key}{id} } = \%row;
}
is(join(',', @toast), 'big,big', 'the two updates left the TOASTed value out ("unchanged_toast")');
ok(!(grep { !grep { $_ eq 'secret' } @{ $_->{masked} // [] } } grep { $_->{new} } @lines), 'the masked column is listed in "masked"');

# what each column must read as, from the source row by SQL; out(): the
# type's output function (what the decoder sends for these types)
sub out { return "CASE WHEN $_[0] IS NOT NULL THEN format('%s', $_[0]) END"; }
my @cols = (
	[ id => 'id::text' ], [ i2 => 'i2::text' ], [ i8 => 'i8::text' ], [ o => 'o::text' ],
	[ n => 'n::text' ], [ f4 => 'f4::float8::text', 'float' ], [ f8 => 'f8::text', 'float' ],
	[ b => 'b::text' ], [ tx => 'tx' ], [ vc => 'vc::text' ], [ ch => out('ch') ],
	[ by => q{translate(encode(by, 'base64'), E'\n', '')} ], [ d => 'd::text' ],
	[ tm => q{to_char('2000-01-01'::timestamp + tm, 'HH24:MI:SS.US')} ], [ ttz => out('ttz') ],
	[ ts => q{CASE WHEN isfinite(ts) AND ts >= '0001-01-01' AND ts < '10000-01-01'
		THEN to_char(ts, 'YYYY-MM-DD"T"HH24:MI:SS.US') WHEN isfinite(ts)
		THEN to_char(ts, 'YYYY-MM-DD HH24:MI:SS.US') || CASE WHEN ts < '0001-01-01' THEN ' BC' ELSE '' END
			-- past int64 microseconds since 1970: the decoder's text
			|| CASE WHEN ts >= '294247-01-10 04:00:54.775807' THEN '+00' ELSE '' END
		ELSE ts::text END} ],
	[ tstz => q{CASE WHEN isfinite(tstz) AND tstz >= '0001-01-01Z' AND tstz < '10000-01-01Z'
		THEN to_char(tstz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') ELSE tstz::text END} ],
	[ iv => q{(extract(year FROM iv) * 12 + extract(month FROM iv))::bigint || '/' || extract(day FROM iv)::bigint
		|| '/' || (extract(hour FROM iv) * 3600000000 + extract(minute FROM iv) * 60000000
		+ extract(microsecond FROM iv))::bigint} ],
	[ u => 'u::text' ], [ js => out('js') ], [ jb => out('jb') ], [ ia => out('ia') ],
	[ ta => out('ta') ], [ m => out('m') ], [ r => out('r') ], [ ip => out('ip') ],
	[ dom => 'dom::text' ], [ secret => 'NULL::text' ], [ big => 'big' ]);
my $want_json = $node->safe_psql('src', "SET DateStyle = ISO; SET IntervalStyle = postgres; SET TimeZone = 'UTC';\n"
	  . 'SELECT json_build_object(' . join(', ', map { "'$_->[0]', $_->[1]" } @cols) . ')::text FROM t ORDER BY id');
my @want = map { $codec->decode($_) } split /\n/, $want_json;

sub as_text
{
	my ($v) = @_;
	return undef unless defined $v;
	return $v ? 'true' : 'false' if JSON::PP::is_bool($v);
	return "$v->{months}/$v->{days}/$v->{micros}" if ref($v) eq 'HASH';
	return "$v";
}
my @diff;
is(join(',', sort { $a <=> $b } keys %rows), join(',', map { $_->{id} } @want), 'the same row keys as the source');
for my $w (@want)
{
	my $got = $rows{ $w->{id} } // {};
	for my $c (@cols)
	{
		my ($name, undef, $kind) = @$c;
		my ($g, $e) = (as_text($got->{$name}), $w->{$name});
		next if !defined($g) && !defined($e);
		my $same = defined($g) && defined($e)
		  && ($kind && $e =~ /^-?[\d.]+(e[-+]?\d+)?$/i ? $g == $e : $g eq $e);
		push @diff, "id $w->{id} $name: got " . ($g // 'null') . ', want ' . ($e // 'null') unless $same;
	}
}
is(join("\n", @diff), '', 'every value of every row equals the source, column by column');

# replay: the raw topic's records, the NDJSON objects skipped with a reason
my $raw_records = 0;
$raw_records += scalar(@{ $_->{records} }) for @raw;
my ($rc, $out) = WalstarTest::Archive::run($kafka, $s3, 'replay', '--from=2000-01-01', '--to=2100-01-01',
	'--replay-topic-prefix=lake');
is($rc, 0, 'replay runs') or diag($out);
like($out, qr/skipped=\d+ .*NDJSON objects skipped: replay reads raw objects only/, 'replay says it skips the NDJSON objects');
is(join(',', grep { /^lake\./ } WalstarTest::Sink::topics($kafka)), 'lake.walstar.public.r', 'only the raw topic is replayed');
is($kafka->count('lake.walstar.public.r'), $raw_records, "the raw topic replays its $raw_records records");

# dead letters: a landing CHECK refuses the ten 'again' updates of r, and
# one message on the topic is no Change
$kafka->produce('walstar.public.r', 'not a walstar change');
my $ana = WalstarTest::Pipeline::analytics_node('ndjson_analytics');
$ana->safe_psql('ana', q{CREATE SCHEMA walstar_landing;
CREATE TABLE walstar_landing.r (id int PRIMARY KEY, v text CONSTRAINT not_again CHECK (v <> 'again'))});
$ana->safe_psql('ana', "SELECT walstar.create_subscription('s', '" . $kafka->bootstrap
	  . q{', topics => '{walstar.public.r}', batch_time => '20ms', enabled => true)});
sub applied
{
	my $n = $kafka->count('walstar.public.r');
	$ana->poll_query_until('ana', "SELECT coalesce(sum(next_offset), 0) >= $n FROM walstar.subscription_offsets")
	  or die "the worker did not reach offset $n";
}
applied();
my $want_letters = q{SELECT string_agg(concat_ws('|', id, subscription, topic, partition, "offset", error, retries,
	to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), md5(raw)), E'\n' ORDER BY id)
	FROM walstar.dead_letters};
is($ana->safe_psql('ana', q{SELECT count(*) FILTER (WHERE error LIKE '%not_again%') || '+' || count(*) FROM walstar.dead_letters}),
	'10+11', 'ten refused updates and one malformed message are dead letters');
my @dl_args = ('--dsn=' . $ana->connstr('ana'), '--object-max-records=3');
my $dl_prefix = 'walstar/dead_letters/apply=ana.s/';
sub letters
{
	my (@bad, @got);
	for my $o (WalstarTest::Archive::objects($s3, $dl_prefix))
	{
		my @l = map { $codec->decode($_) } @{ $o->{records} };
		my @offsets = map { $_->{offset} } @l;
		push @bad, "$o->{key}: offsets @offsets" unless $o->{topic} eq 'walstar.public.r'
		  && $offsets[0] == $o->{first} && $offsets[-1] == $o->{last}
		  && !(grep { $_->{topic} ne $o->{topic} || $_->{partition} != $o->{partition} } @l)
		  && "$o->{date}T$o->{hour}" eq substr($l[0]{created_at}, 0, 13);
		push @got, map { join('|', @$_{qw(id subscription topic partition offset error retries created_at)},
			md5_hex(decode_base64($_->{raw}))) } @l;
	}
	return (join("\n", @bad), join("\n", sort { (split /\|/, $a)[0] <=> (split /\|/, $b)[0] } @got));
}
my ($rc2, $out2) = WalstarTest::Archive::run($kafka, $s3, 'dead-letters', @dl_args);
is($rc2, 0, 'dead-letters runs') or diag($out2);
like($out2, qr/exported=11 objects=4 /, 'it stores the 11 letters in 4 objects of at most 3');
my @dl_keys = $s3->list($dl_prefix);
my %dl_meta = $s3->metadata($dl_keys[0]);
is("$dl_meta{'walstar-format'} $dl_meta{'walstar-subscription'} $dl_meta{'walstar-database'}",
	'walstar.dead_letters-ndjson s ana', 'metadata: format, subscription, database');
my ($bad, $got) = letters();
is($bad, '', 'objects are named by topic, partition, first-last offset and hour of their letters');
is($got, $ana->safe_psql('ana', $want_letters), 'the objects hold every dead letter once, equal to walstar.dead_letters');

($rc2, $out2) = WalstarTest::Archive::run($kafka, $s3, 'dead-letters', @dl_args);
like($out2, qr/exported=0 objects=0 /, 'a second run stores nothing');
# a crash between two PUTs leaves the first objects only
$s3->delete($_) for @dl_keys[ 2 .. 3 ];
($rc2, $out2) = WalstarTest::Archive::run($kafka, $s3, 'dead-letters', @dl_args);
like($out2, qr/exported=5 objects=2 /, 'after losing the last two objects the next run stores their 5 letters');
is(join(' ', $s3->list($dl_prefix)), "@dl_keys", 'under the same names');
is((letters())[1], $ana->safe_psql('ana', $want_letters), 'nothing missing, nothing twice');

$node->safe_psql('src', q{UPDATE r SET v = 'again' WHERE id = 11});
applied();
($rc2, $out2) = WalstarTest::Archive::run($kafka, $s3, 'dead-letters', @dl_args);
like($out2, qr/exported=1 objects=1 /, 'a new letter goes into one new object');
is((letters())[1], $ana->safe_psql('ana', $want_letters), 'the store still equals walstar.dead_letters');
$ana->stop;

is($sink->stop, 0, 'sink stops cleanly');
$node->stop;
done_testing();
