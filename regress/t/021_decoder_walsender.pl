# walstar_decoder through the replication protocol (walsender, as the sink
# uses it) and its protobuf output checked against the json rendering of the
# same changes, decoded by an independent protobuf-c reader (pb_dump).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;

my $root = $ENV{WALSTAR_ROOT} // '.';
my $tmp = PostgreSQL::Test::Utils::tempdir();

# the protobuf reader: generated code of the one wire format + pb_dump.c
my $pb_dump = "$tmp/pb_dump";
system('cc', '-O1', '-o', $pb_dump, "$root/decoder/tests/pb_dump.c",
	"$root/proto/walstar.pb-c.c", "-I$root/proto", '-lprotobuf-c') == 0
  or BAIL_OUT('cannot build pb_dump (run make first)');

my $node = PostgreSQL::Test::Cluster->new('walsender');
$node->init(allows_streaming => 'logical');
$node->append_conf('postgresql.conf', q{
output_plugin_libraries = 'pgoutput, test_decoding, walstar_decoder'
logical_decoding_work_mem = 64kB
max_replication_slots = 6
});
$node->start;
my $connstr = $node->connstr('postgres');

# slots created through the replication protocol
for my $slot (qw(w_json w_pb w_stream))
{
	$node->command_ok(
		[ 'pg_recvlogical', '-d', $connstr, '-S', $slot, '--plugin', 'walstar_decoder', '--create-slot' ],
		"pg_recvlogical creates slot $slot");
}

$node->safe_psql('postgres', q{
CREATE TYPE color AS ENUM ('red', 'green');
CREATE TABLE items (id int PRIMARY KEY, i8 bigint, n numeric(10,2), f float8, b bool,
	t text, by bytea, d date, ts timestamptz, tm time, u uuid, iv interval, c color,
	j jsonb, a int[], big text);
CREATE TABLE edges (id int PRIMARY KEY, s int2, r real, nm name, o oid, iv interval,
	d date, ts timestamp, n numeric);
INSERT INTO edges VALUES
	(1, -32768, 1.1, 'name', 4294967295, '-1 year -2 days -00:00:00.000001',
	 '1900-01-01', '1900-01-01 00:00:00.000001', '-0.000001'),
	(2, 0, 'NaN', '', 0, '0', 'infinity', '-infinity', 'NaN'),
	(3, 1, '-Infinity', 'x', 1, '178000000 years', '0001-01-01 BC', '2262-04-12 00:00:00', '1e100');
CREATE TABLE nokey (x int, y text);
ALTER TABLE nokey REPLICA IDENTITY FULL;
INSERT INTO items VALUES (1, 9000000000, 12.34, 0.25, true, 'tab	é "q"', '\x0001ff',
	'2020-02-02', '2020-02-02 10:00:00.123456+00', '12:34:56.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
	'1 mon 2 days 00:00:03', 'green', '{"a": [1, 2]}', '{1,NULL,3}',
	(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 200) i));
INSERT INTO items (id) VALUES (2);
BEGIN;
UPDATE items SET t = 'changed', f = 'NaN' WHERE id = 1;
UPDATE items SET id = 3 WHERE id = 2;
SELECT pg_logical_emit_message(true, 'outbox', 'hello');
COMMIT;
SELECT pg_logical_emit_message(false, 'now', '\x00ff'::bytea);
INSERT INTO nokey VALUES (1, 'a'), (1, NULL);
UPDATE nokey SET y = 'b' WHERE y IS NULL;
DELETE FROM items WHERE id = 3;
DELETE FROM nokey;
TRUNCATE nokey;
CREATE TABLE ddl_only (a int);
});

# --- protobuf and json agree ----------------------------------------------
my $json = JSON::PP->new->utf8(1)->allow_bignum;
my @pb = map { $json->decode($_) } split /\n/, run_pb_dump(
	$node->safe_psql('postgres',
		"SELECT data FROM pg_logical_slot_peek_binary_changes('w_pb', NULL, NULL)"));
my @js = map { $json->decode($_) } split /\n/, $node->safe_psql('postgres',
	"SELECT data FROM pg_logical_slot_peek_changes('w_pb', NULL, NULL, 'format', 'json', "
	  . "'include-lsn', 'true', 'include-xids', 'true', 'include-columns', 'true')");

sub run_pb_dump
{
	my ($in) = @_;
	my ($out, $err);
	IPC::Run::run([$pb_dump], \$in, \$out, \$err) or die "pb_dump failed: $err";
	return $out;
}

# protobuf sends BEGIN/COMMIT of every transaction (the sink confirms from
# them), json only around transactions with records
my %has_data = map { $_->{xid} => 1 } grep { $_->{op} !~ /^(BEGIN|COMMIT)$/ && $_->{xid} } @pb;
my $empty = grep { $_->{op} =~ /^(BEGIN|COMMIT)$/ && !$has_data{ $_->{xid} } } @pb;
cmp_ok($empty, '>', 0, 'protobuf has BEGIN/COMMIT of transactions without records');
my @pb_data = grep { $_->{op} !~ /^(BEGIN|COMMIT)$/ || $has_data{ $_->{xid} } } @pb;
is(scalar(@pb_data), scalar(@js), 'same number of records in protobuf and json');
is(scalar(grep { $_->{error} } @pb), 0, 'every protobuf record parses');
is(scalar(grep { $_->{version} != 1 } @pb), 0, 'wire version 1 everywhere');

sub json_value
{
	my ($v) = @_;
	return 'null' unless defined $v;
	return $v ? 'true' : 'false' if JSON::PP::is_bool($v);
	return "interval $v->{months}/$v->{days}/$v->{micros}" if ref($v) eq 'HASH';
	return "$v";
}

sub pb_value
{
	my ($v, $js) = @_;
	return 'null' unless defined $v;
	return $v ? 'true' : 'false' if JSON::PP::is_bool($v);
	if (ref($v) eq 'HASH')
	{
		return "interval $v->{months}/$v->{days}/$v->{micros}" if exists $v->{months};
		# kinds json renders as text: compare through PostgreSQL
		return 'toast' if $v->{unchanged_toast};
		return "$js" if exists $v->{double} && "$js" eq 'NaN' && $v->{double} =~ /nan/i;
		# both sides as Perl doubles (json numbers arrive as exact bignums)
		return "$js" if exists $v->{double} && defined $js && ($v->{double} + 0) == (0 + "$js");
		return "timestamp $v->{timestamp}" if exists $v->{timestamp};
		return "date $v->{date}" if exists $v->{date};
		return "time $v->{time}" if exists $v->{time};
		return "double $v->{double}";
	}
	# uuid: 16 bytes on the wire, text in json
	if ($v =~ /^\\x([0-9a-f]{32})$/ && defined $js)
	{
		my $hex = $1;
		return "$js" if ($js =~ s/-//gr) eq $hex;
	}
	return "$v";
}

my $mismatch = 0;
my %typed;
for my $i (0 .. $#js)
{
	my ($p, $j) = ($pb_data[$i], $js[$i]);
	for my $f (qw(op schema table position xid commit_lsn lsn change_count end_lsn))
	{
		next if ($p->{$f} // '') eq ($j->{$f} // '');
		diag "record $i field $f: protobuf " . ($p->{$f} // 'none') . ", json " . ($j->{$f} // 'none');
		$mismatch++;
	}
	$mismatch++, diag "record $i last_in_tx differs" if !!$p->{last} != !!$j->{last};
	for my $part (qw(new old))
	{
		my $pv = $p->{$part} // {};
		my $jv = $j->{$part} // {};
		my %toast = map { $_ => 1 } @{ $j->{"${part}_unchanged_toast"} // [] };
		for my $col (sort keys %$pv)
		{
			my $want = $toast{$col} ? 'toast' : json_value($jv->{$col});
			my $got = pb_value($pv->{$col}, $jv->{$col});
			$typed{$1}++ if $got =~ /^(timestamp|date|time|interval|double)/;
			next if $got eq $want;
			# json shows timestamps, dates and times as text: ask the server
			if ($got =~ /^(timestamp|date|time) (-?\d+)$/)
			{
				my ($kind, $n) = ($1, $2);
				my $sql = $kind eq 'timestamp'
				  ? "SELECT timestamptz 'epoch' + $n * interval '1 microsecond' = '$want'::timestamptz"
				  : $kind eq 'date' ? "SELECT date '1970-01-01' + $n = '$want'::date"
				  : "SELECT time '00:00' + $n * interval '1 microsecond' = '$want'::time";
				next if $node->safe_psql('postgres', $sql) eq 't';
			}
			diag "record $i $part.$col: protobuf $got, json $want";
			$mismatch++;
		}
		my @missing = grep { !exists $pv->{$_} } (keys %$jv, keys %toast);
		$mismatch += @missing;
		diag "record $i $part: json has @missing, protobuf not" if @missing;
	}
	my $jk = defined $j->{key} ? scalar(@{ $j->{key} }) : 0;
	my $pk = defined $p->{key} ? scalar(@{ $p->{key} }) : 0;
	$mismatch++, diag "record $i key length $pk vs $jk" if $pk != $jk;
}
is($mismatch, 0, 'protobuf and json records carry the same data');
ok($typed{timestamp} && $typed{date} && $typed{time} && $typed{interval},
	'protobuf carries native timestamp, date, time and interval values');
my ($items_insert) = grep { $_->{op} eq 'INSERT' && $_->{table} eq 'items' } @pb;
is($items_insert->{new}{u}, '\\xa0eebc999c0b4ef8bb6d6bb9bd380a11', 'uuid as its 16 bytes');
is($items_insert->{new}{by}, '\\x0001ff', 'bytea as bytes');
is_deeply($items_insert->{key}, [1], 'key decodes from Change.key');
ok((grep { $_->{op} eq 'COMMIT' && $_->{end_lsn} ne '0/0' } @pb) == (grep { $_->{op} eq 'COMMIT' } @pb),
	'every COMMIT carries end_lsn');

# --- the replication protocol ------------------------------------------------
my $endpos = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
my $expected_json = $node->safe_psql('postgres',
	"SELECT data FROM pg_logical_slot_peek_changes('w_json', NULL, NULL, 'format', 'json', 'include-lsn', 'true')");
$node->command_ok(
	[ 'pg_recvlogical', '-d', $connstr, '-S', 'w_json', '--start', '--endpos', $endpos,
		'--no-loop', '-o', 'format=json', '-o', 'include-lsn=true', '-f', "$tmp/stream.json" ],
	'pg_recvlogical streams json');
is(slurp_file("$tmp/stream.json"), "$expected_json\n", 'walsender json equals the SQL interface json');

my $pb_bytes = $node->safe_psql('postgres',
	"SELECT sum(octet_length(data) + 1) FROM pg_logical_slot_peek_binary_changes('w_pb', NULL, NULL)");
$node->command_ok(
	[ 'pg_recvlogical', '-d', $connstr, '-S', 'w_pb', '--start', '--endpos', $endpos,
		'--no-loop', '-f', "$tmp/stream.pb" ],
	'pg_recvlogical streams protobuf');
is(-s "$tmp/stream.pb", $pb_bytes, 'walsender protobuf has the bytes of the SQL interface');
is($node->safe_psql('postgres',
	"SELECT confirmed_flush_lsn >= '$endpos' FROM pg_replication_slots WHERE slot_name = 'w_pb'"),
	't', 'the walsender client confirmed up to the end position');

# bad options fail the START_REPLICATION with the option's name
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"START_REPLICATION SLOT w_stream LOGICAL 0/0 (\"format\" 'yaml')",
	replication => 'database');
like($stderr, qr/invalid value "yaml" for option "format"/, 'bad option names itself over the walsender');

# streaming of a large in-progress transaction over the walsender
$node->safe_psql('postgres', q{
INSERT INTO nokey SELECT i, repeat('x', 200) FROM generate_series(1, 5000) i;
});
$endpos = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$node->command_ok(
	[ 'pg_recvlogical', '-d', $connstr, '-S', 'w_stream', '--start', '--endpos', $endpos,
		'--no-loop', '-o', 'format=json', '-o', 'stream-changes=true', '-f', "$tmp/streamed.json" ],
	'pg_recvlogical with stream-changes');
my @streamed = map { $json->decode($_) } grep { /^\{/ } split /\n/, slurp_file("$tmp/streamed.json");
my %ops;
$ops{ $_->{op} }++ for @streamed;
cmp_ok($ops{STREAM_START} // 0, '>', 1, 'the transaction came in several chunks');
is($ops{STREAM_COMMIT}, 1, 'one STREAM_COMMIT');
my ($commit) = grep { $_->{op} eq 'STREAM_COMMIT' } @streamed;
is($commit->{change_count}, 5000, 'STREAM_COMMIT counts the streamed records');
cmp_ok($ops{INSERT}, '>=', 5000, 'every row was streamed');

# a LATIN1 database: protobuf strings are UTF-8, json stays in the server encoding
$node->safe_psql('postgres',
	"CREATE DATABASE latin ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
my $latin_sql = join("\n",
	"CREATE TYPE latin_mood AS ENUM (E'caf\\xe9');",
	"CREATE TABLE items_l (name text PRIMARY KEY, m latin_mood, a text[]);",
	"SELECT 'init' FROM pg_create_logical_replication_slot('latin', 'walstar_decoder');",
	"INSERT INTO items_l VALUES (E'caf\\xe9', E'caf\\xe9', ARRAY[E'\\xe9t\\xe9']);");
$node->safe_psql('latin', $latin_sql);
my ($latin_rec) = grep { $_->{op} eq 'INSERT' } map { $json->decode($_) } split /\n/, run_pb_dump(
	$node->safe_psql('latin', "SELECT data FROM pg_logical_slot_peek_binary_changes('latin', NULL, NULL)"));
is($latin_rec->{new}{name}, "caf\x{e9}", 'LATIN1 text arrives as UTF-8');
is($latin_rec->{new}{m}, "caf\x{e9}", 'LATIN1 enum label arrives as UTF-8');
is($latin_rec->{new}{a}, "{\x{e9}t\x{e9}}", 'LATIN1 array text arrives as UTF-8');
is($node->safe_psql('latin',
	"SELECT position('\"caf' || chr(233) || '\"' in data) > 0 "
	  . "FROM pg_logical_slot_peek_changes('latin', NULL, NULL, 'format', 'json') WHERE data LIKE '%INSERT%'"),
	't', 'json stays in the database encoding');

$node->stop;
done_testing();
