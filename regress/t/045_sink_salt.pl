# The PII hash salt never travels: the decoder reads it on the source server
# (walstar_decoder.hash_salt_file), walstar-sink sends only its fingerprint
# (hash-salt-id). With log_replication_commands = on the source's log never
# holds the salt; hashed values in Kafka, from the initial copy (hashed by
# the sink) and from the stream (hashed by the decoder), are
# HMAC-SHA256(salt, text); a sink whose salt differs from the server's fails
# with a clear error before it sends a single row.
use strict;
use warnings;
use Digest::SHA qw(hmac_sha256_hex);
use IPC::Run ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Sink;
use WalstarTest::Wire;

my $salt = 'salt-' . join('', map { ('a' .. 'z')[ int(rand(26)) ] } 1 .. 16);
my $wrong = 'wrong-' . join('', map { ('a' .. 'z')[ int(rand(26)) ] } 1 .. 16);
my $salt_id = substr(hmac_sha256_hex('walstar-salt-id', $salt), 0, 16);

sub write_secret
{
	my ($path, $text, $mode) = @_;
	open(my $fh, '>', $path) or die "$path: $!";
	print $fh $text;
	close($fh);
	chmod($mode, $path) or die "chmod $path: $!";
	return $path;
}

sub run_sink
{
	my @args = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'walstar-sink', @args ], '>', \$out, '2>', \$err, IPC::Run::timeout(60));
	return ($? >> 8, $out, $err);
}

my $kafka = WalstarTest::Kafka->start;
my $node = PostgreSQL::Test::Cluster->new('source');
$node->init(allows_streaming => 'logical');
WalstarTest::Sink::setup_node($node);
$node->append_conf('postgresql.conf', qq{
log_replication_commands = on
log_statement = 'all'
log_min_error_statement = error
});
# the default walstar_decoder.hash_salt_file, relative to the data directory
write_secret($node->data_dir . '/walstar_hash_salt', "$salt\n", 0600);
$node->start;
my $conninfo = WalstarTest::Sink::conninfo($node);

$node->safe_psql('postgres', q{
CREATE TABLE customers (id int PRIMARY KEY, email text, city text);
INSERT INTO customers VALUES (1, 'ann@example.com', 'Berlin'), (2, 'bob@example.com', 'Paris'),
	(3, 'cy@example.com', NULL);
});

my $tmp = $PostgreSQL::Test::Utils::tmp_check;
my $salt_file = write_secret("$tmp/sink_salt", "$salt\n", 0600);

# configuration: the file alternative, --check-config shows the fingerprint only
my ($rc, $out, $err) = run_sink("--conninfo=$conninfo", '--brokers=' . $kafka->bootstrap,
	'--hash-columns=public.customers.email', "--hash-salt-file=$salt_file", '--check-config');
is($rc, 0, '--check-config with hash-salt-file exits 0') or diag($err);
like($out, qr/hash-salt-id $salt_id\b/, '--check-config prints the salt\'s fingerprint');
unlike($out . $err, qr/\Q$salt\E/, '--check-config never prints the salt');
($rc, $out, $err) = run_sink("--conninfo=$conninfo", '--brokers=' . $kafka->bootstrap,
	'--hash-columns=public.customers.email', "--hash-salt=$salt", '--check-config');
unlike($out . $err, qr/\Q$salt\E/, '--check-config with hash-salt never prints the salt');
($rc, $out, $err) = run_sink("--conninfo=$conninfo", '--brokers=y', '--hash-columns=public.customers.email',
	"--hash-salt=$salt", "--hash-salt-file=$salt_file");
isnt($rc, 0, 'hash-salt and hash-salt-file together: non-zero exit');
like($err, qr/ error \w+ .*'hash-salt' and 'hash-salt-file' exclude each other/, 'and says so');
my $open_file = write_secret("$tmp/open_salt", "$salt\n", 0644);
($rc, $out, $err) = run_sink("--conninfo=$conninfo", '--brokers=y', '--hash-columns=public.customers.email',
	"--hash-salt-file=$open_file");
isnt($rc, 0, 'a salt file others can read: non-zero exit');
like($err, qr/ error \w+ .*hash-salt-file.*group or world access/, 'and says why');
unlike($err, qr/\Q$salt\E/, 'without the salt');
my $empty_file = write_secret("$tmp/empty_salt", "\n", 0600);
($rc, $out, $err) = run_sink("--conninfo=$conninfo", '--brokers=y', '--hash-columns=public.customers.email',
	"--hash-salt-file=$empty_file");
like($err, qr/ error \w+ .*hash-salt-file.*is empty/, 'an empty salt file is refused');

# the copy (hashed by the sink) and the stream (hashed by the decoder)
my $sink = WalstarTest::Sink->start(name => 'salt', node => $node, kafka => $kafka,
	args => [ '--hash-columns=public.customers.email', "--hash-salt-file=$salt_file" ]);
$sink->wait_log(qr/msg="streaming"/);
$node->safe_psql('postgres', q{
INSERT INTO customers VALUES (4, 'dee@example.com', 'Rome');
UPDATE customers SET city = 'Oslo' WHERE id = 1;
INSERT INTO customers VALUES (5, '', 'Lima');
});
my $end = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$node->poll_query_until('postgres',
	"SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = 'walstar'")
  or die "slot not confirmed up to $end";
is($sink->stop, 0, 'clean stop');

my %email = (1 => 'ann@example.com', 2 => 'bob@example.com', 3 => 'cy@example.com', 4 => 'dee@example.com', 5 => '');
my @msgs = grep { defined $_->{change} } WalstarTest::Sink::read_topic($kafka, 'walstar.public.customers');
my %ops;
my ($checked, $bad) = (0, 0);
for my $m (@msgs)
{
	my $c = $m->{change};
	$ops{ $c->{op_name} }++;
	my $r = WalstarTest::Wire::row_of($c);
	my $want = hmac_sha256_hex($email{ $r->{id} }, $salt);
	$checked++;
	if ($r->{email} ne $want)
	{
		$bad++;
		diag("id $r->{id} ($c->{op_name}): email $r->{email}, want $want");
	}
}
is($ops{READ} // 0, 3, 'three rows from the initial copy');
is(($ops{INSERT} // 0) + ($ops{UPDATE} // 0), 3, 'three changes from the stream');
is($checked, 6, 'six records checked');
is($bad, 0, 'every hashed email is HMAC-SHA256(salt, text), copy and stream alike');
ok(!(grep { $_->{value} =~ /\@example\.com/ } @msgs), 'no raw email in Kafka');

# a sink with another salt: refused before the copy sends anything ...
$sink = WalstarTest::Sink->start(name => 'wrong', node => $node, kafka => $kafka,
	args => [ '--slot=wrong', '--topic-prefix=wrong', '--hash-columns=public.customers.email',
		"--hash-salt=$wrong" ]);
isnt($sink->wait_exit(60), 0, 'another salt, initial copy: the sink exits non-zero');
# the server's message is quoted and escaped as a logfmt value (sink/log.c)
like($sink->log_text, qr/ error snapshot .*msg="the source refuses our hash salt: option \\"hash-salt-id\\" does not match the hash salt of this server"$/m,
	'the error says the salts differ');
ok(!(grep { $_ eq 'wrong.public.customers' } WalstarTest::Sink::topics($kafka)), 'no row of the copy reached Kafka');
unlike($sink->log_text, qr/\Q$wrong\E/, 'the sink\'s log does not hold its salt');

# ... and when streaming only
$sink = WalstarTest::Sink->start(name => 'wrong_stream', node => $node, kafka => $kafka,
	args => [ '--slot=wrong_stream', '--topic-prefix=wrong', '--snapshot=never',
		'--hash-columns=public.customers.email', "--hash-salt=$wrong" ]);
isnt($sink->wait_exit(60), 0, 'another salt, streaming: the sink exits non-zero');
like($sink->log_text, qr/ error replication .*msg="cannot start replication: option \\"hash-salt-id\\" does not match the hash salt of this server"$/m,
	'the error says the salts differ');

# a server without a salt file refuses hash-columns, naming the file
unlink($node->data_dir . '/walstar_hash_salt') or die;
$sink = WalstarTest::Sink->start(name => 'nofile', node => $node, kafka => $kafka,
	args => [ '--slot=nofile', '--topic-prefix=wrong', '--snapshot=never',
		'--hash-columns=public.customers.email' ]);
isnt($sink->wait_exit(60), 0, 'no salt file on the server: the sink exits non-zero');
like($sink->log_text, qr/could not open hash salt file \\?"walstar_hash_salt\\?"/, 'the error names the file');

# the old option is refused by the decoder, without echoing the value
my ($ret, $stdout, $stderr) = $node->psql('postgres', q{
SELECT pg_create_logical_replication_slot('old', 'walstar_decoder');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('old', NULL, NULL, 'hash-salt', 'oldsecret');
});
like($stderr, qr/option "hash-salt" is no longer accepted/, 'option hash-salt is refused');
unlike($stderr, qr/oldsecret/, 'without echoing its value');

my $log = slurp_file($node->logfile);
like($log, qr/START_REPLICATION SLOT "?walstar"? LOGICAL .*"hash-salt-id" '$salt_id'/,
	'the source logged START_REPLICATION with the fingerprint');
unlike($log, qr/\Q$salt\E/, 'the source\'s log never contains the salt');
unlike($log, qr/\Q$wrong\E/, 'nor the other sink\'s salt');

$node->stop;
$kafka->stop;
done_testing();
