# walstar-sink's command line, configuration and startup errors: --help,
# --version, the sample config generated from the option table, one clear
# error line and a non-zero exit for bad settings and unreachable servers,
# the output_plugin_libraries hint, SIGHUP reloads (a bad file keeps the old
# settings), the metrics endpoint, and the oversize policies (stop: exit with
# table and key named; dead-letter: described in <prefix>.dead_letters).
use strict;
use warnings;
use IO::Socket::INET ();
use IPC::Run ();
use JSON::PP ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use WalstarTest::Kafka;
use WalstarTest::Sink;
use WalstarTest::Wire;

# run the sink to its end; returns (exit code, stdout, stderr)
sub run_sink
{
	my @args = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'walstar-sink', @args ], '>', \$out, '2>', \$err, IPC::Run::timeout(60));
	return ($? >> 8, $out, $err);
}

sub one_error_line
{
	my ($label, $re, @args) = @_;
	my ($rc, $out, $err) = run_sink(@args);
	isnt($rc, 0, "$label: non-zero exit");
	my @lines = grep { $_ ne '' } split /\n/, $err;
	is(scalar(@lines), 1, "$label: one line") or diag($err);
	like($lines[0] // '', qr/ error \w+ .*$re/, "$label: says why");
	return $lines[0] // '';
}

my ($rc, $out, $err) = run_sink('--version');
is($rc, 0, '--version exits 0');
like($out, qr/^walstar-sink \d+\.\d+\.\d+$/m, '--version prints the version');
($rc, $out, $err) = run_sink('--help');
is($rc, 0, '--help exits 0');
like($out, qr/oversize-policy.*\n.*stop\|dead-letter/, '--help lists options with their values');
like($out, qr/status-interval \*/, '--help marks reloadable options');
($rc, $out, $err) = run_sink('--print-sample-config');
my $sample = slurp_file("$ENV{WALSTAR_ROOT}/sink/walstar-sink.conf.sample");
is($out, $sample, 'sink/walstar-sink.conf.sample is what --print-sample-config prints');

one_error_line('no conninfo', qr/conninfo.*required/, '--brokers=127.0.0.1:1');
one_error_line('unknown option', qr/unknown option '--colour'/, '--colour=red');
one_error_line('bad enum', qr/snapshot.*sometimes/, '--conninfo=x', '--brokers=y', '--snapshot=sometimes');
one_error_line('bad integer', qr/status-interval.*integer/, '--conninfo=x', '--brokers=y', '--status-interval=soon');
one_error_line('missing file', qr/cannot open config file/, '-c', '/nonexistent/walstar-sink.conf');
my $conf = "$PostgreSQL::Test::Utils::tmp_check/bad.conf";
append_to_file($conf, "conninfo = dbname=x\nbrokers = y\nslot = s\nfrobnicate = 1\n");
one_error_line('bad file', qr/line 4: unknown option 'frobnicate'/, '-c', $conf);
one_error_line('hash without salt', qr/hash-salt/, '--conninfo=x', '--brokers=y', '--hash-columns=a.b.c');

my $free = PostgreSQL::Test::Cluster::get_free_port();
my $line = one_error_line('unreachable source', qr/cannot connect to the source/,
	"--conninfo=host=127.0.0.1 port=$free dbname=x user=u password=sekret", '--brokers=127.0.0.1:1');
unlike($line, qr/sekret/, 'the password is not in the message');

my $kafka = WalstarTest::Kafka->start;
my $node = PostgreSQL::Test::Cluster->new('source');
$node->init(allows_streaming => 'logical');
WalstarTest::Sink::setup_node($node);
$node->start;
my $conninfo = WalstarTest::Sink::conninfo($node);

my $t0 = Time::HiRes::time();
one_error_line('unreachable Kafka', qr/cannot reach Kafka at 127\.0\.0\.1:$free within 3 s/,
	"--conninfo=$conninfo", "--brokers=127.0.0.1:$free", '--startup-timeout=3');
cmp_ok(Time::HiRes::time() - $t0, '<', 20, 'gives up after the startup timeout');
one_error_line('missing slot', qr/slot absent does not exist and create-slot = false/,
	"--conninfo=$conninfo", '--brokers=' . $kafka->bootstrap, '--slot=absent', '--create-slot=false');

# a server that does not trust the plugin
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init(allows_streaming => 'logical');
$plain->start;
$line = one_error_line('plugin not allowed', qr/hint="add walstar_decoder to output_plugin_libraries/,
	'--conninfo=' . WalstarTest::Sink::conninfo($plain), '--brokers=' . $kafka->bootstrap, '--snapshot=never');
like($line, qr/may not be used as an output plugin/, 'the server\'s reason is shown too');
$plain->stop;

# SIGHUP and metrics
$node->safe_psql('postgres', q{CREATE TABLE big_rows (id int PRIMARY KEY, body text)});
my $mport = PostgreSQL::Test::Cluster::get_free_port();
my $good = "$PostgreSQL::Test::Utils::tmp_check/good.conf";
append_to_file($good, "log-level = info\nstatus-interval = 1\n[kafka]\nlinger.ms = 1\n");
my $sink = WalstarTest::Sink->start(name => 'hup', node => $node, kafka => $kafka,
	args => [ '-c', $good, '--snapshot=never', "--metrics-port=$mport" ]);
$sink->wait_log(qr/msg="streaming"/);
$node->safe_psql('postgres', q{INSERT INTO big_rows SELECT g, 'small' FROM generate_series(1, 10) g});
my $end = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$node->poll_query_until('postgres',
	"SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = 'walstar'");

my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$mport", Timeout => 10) or die "metrics: $!";
print $sock "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
my $metrics = do { local $/; <$sock> };
like($metrics, qr/^HTTP\/1\.[01] 200/, 'metrics endpoint answers');
like($metrics, qr/^walstar_sink_changes_total 10$/m, 'changes counted');
like($metrics, qr/^walstar_sink_info\{version="[0-9.]+",slot="walstar",source="postgres"\} 1$/m,
	'info names version, slot and source');
like($metrics, qr/^walstar_sink_connected\{peer="source"\} 1$/m, 'connected to the source');
like($metrics, qr/^walstar_sink_connected\{peer="kafka"\} 1$/m, 'connected to Kafka');
for my $kind (qw(connection delivery oversize wire_format))
{
	like($metrics, qr/^walstar_sink_errors_total\{kind="$kind"\} 0$/m, "no $kind errors yet");
}
# rates are Prometheus' job, and LSNs carry their unit
unlike($metrics, qr/per_second|^walstar_sink_confirmed_lsn |^walstar_sink_bytes_total /m, 'no precomputed rates or unitless names');
my ($commit) = $metrics =~ /^walstar_sink_last_commit_timestamp_seconds (\S+)$/m;
my $inserted = $node->safe_psql('postgres', 'SELECT extract(epoch FROM now())');
ok(defined $commit && $commit > $inserted - 3600 && $commit <= $inserted, 'last commit timestamp is the insert\'s, in seconds');
my ($confirmed_pos) = $metrics =~ /^walstar_sink_confirmed_lsn_bytes (\S+)$/m;
my ($hi, $lo) = split m{/}, $end;
ok(defined $confirmed_pos && $confirmed_pos >= hex($hi) * 2**32 + hex($lo), 'confirmed position in WAL bytes');
for my $m (qw(walstar_sink_received_bytes_total walstar_sink_lag_bytes walstar_sink_queue_messages
	walstar_sink_start_time_seconds walstar_sink_delivery_latency_seconds_count
	walstar_sink_commit_latency_seconds_bucket))
{
	like($metrics, qr/^$m(\{[^}]*\})? \S+$/m, "metric $m");
}
# the exposition passes Prometheus' own linter
my ($body) = $metrics =~ /\r?\n\r?\n(.*)\z/s;
my $tmp = "$PostgreSQL::Test::Utils::tmp_check/metrics.txt";
PostgreSQL::Test::Utils::append_to_file($tmp, $body);
my ($lint_out, $lint_err) = ('', '');
IPC::Run::run([ 'promtool', 'check', 'metrics' ], '<', $tmp, '>', \$lint_out, '2>', \$lint_err);
is($lint_out . $lint_err, '', 'promtool check metrics finds nothing to complain about');

open(my $fh, '>', $good) or die;
print $fh "log-level = debug\nstatus-interval = 2\nslot = renamed\n";
close($fh);
$sink->signal('HUP');
$sink->wait_log(qr/msg="configuration reloaded"/);
like($sink->log_text, qr/option=log-level msg="reloaded"/, 'reloadable option applied');
$node->safe_psql('postgres', q{INSERT INTO big_rows VALUES (11, 'small')});
ok($sink->wait_log(qr/debug replication slot=walstar confirmed=/), 'and in effect (debug lines)');
like($sink->log_text, qr/option=slot msg="changed in the file; needs a restart/, 'non-reloadable change reported, not applied');
open($fh, '>', $good) or die;
print $fh "log-level = loud\n";
close($fh);
$sink->signal('HUP');
$sink->wait_log(qr/reload failed, keeping the running configuration: .*log-level/);
ok($sink->alive, 'a bad reload keeps the sink running');
is($sink->stop, 0, 'clean stop');

# oversize: stop
my @small = ('--set', 'kafka.message.max.bytes=2000', '--snapshot=never');
$sink = WalstarTest::Sink->start(name => 'big', node => $node, kafka => $kafka,
	args => [ @small, '--oversize-policy=stop' ]);
$sink->wait_log(qr/msg="streaming"/);
my $before = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$node->safe_psql('postgres', q{INSERT INTO big_rows VALUES (4242, repeat('x', 5000))});
$node->safe_psql('postgres', q{INSERT INTO big_rows VALUES (43, 'after')});
isnt($sink->wait_exit(60), 0, 'oversize-policy = stop: the sink exits non-zero');
like($sink->log_text, qr/error stream .*larger than Kafka accepts.*table=public\.big_rows key=\(4242\)/,
	'the error names table and key');
my $confirmed = $node->safe_psql('postgres', "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'walstar'");
cmp_ok(WalstarTest::Wire::lsn_num($confirmed), '<=', WalstarTest::Wire::lsn_num($before), 'nothing confirmed past the refused change');

# oversize: dead letter
$sink = WalstarTest::Sink->start(name => 'big', node => $node, kafka => $kafka,
	args => [ @small, '--oversize-policy=dead-letter' ]);
$sink->wait_log(qr/msg="streaming"/);
# a key with a quote and a newline: the dead letter stays valid JSON
$node->safe_psql('postgres', q{CREATE TABLE big_text (k text PRIMARY KEY, body text);
INSERT INTO big_text VALUES (E'a"b\nc', repeat('y', 5000))});
$end = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$node->poll_query_until('postgres',
	"SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = 'walstar'")
  or die 'dead-letter run did not confirm';
my @dl = WalstarTest::Sink::read_topic($kafka, 'walstar.dead_letters', raw => 1);
is(scalar(@dl), 2, 'two dead letters');
my $dl2 = eval { JSON::PP::decode_json($dl[1]{value} // '') };
ok($dl2 && $dl2->{topic} eq 'walstar.public.big_text' && $dl2->{key} =~ /a"b\nc/,
	'a key with a quote and a newline is escaped as JSON') or diag($dl[1]{value});
like($dl[0]{value} // '', qr/"error":"message too large","topic":"walstar\.public\.big_rows".*"op":"INSERT","key":"\(4242\)"/,
	'the dead letter describes topic, op and key');
my @rows = map { WalstarTest::Wire::row_of($_->{change}) } WalstarTest::Sink::read_topic($kafka, 'walstar.public.big_rows');
ok((grep { $_->{id} == 43 } @rows), 'the pipeline continued after the dead letter');
like($sink->log_text, qr/error stream .*table=public\.big_rows key="\(4242\)".*dead-letter topic/, 'logged as an error');
is($sink->stop, 0, 'clean stop');

# snapshot = initial_only: copy through a temporary slot, then exit 0
($rc, $out, $err) = run_sink("--conninfo=$conninfo", '--brokers=' . $kafka->bootstrap, '--snapshot=initial_only',
	'--topic-prefix=once', "--state-dir=$PostgreSQL::Test::Utils::tmp_check/once");
is($rc, 0, 'initial_only: exit 0 after the copy') or diag($err);
my $nrows = $node->safe_psql('postgres', 'SELECT count(*) FROM big_rows');
my @once = grep { $_->{change}{op_name} eq 'READ' } WalstarTest::Sink::read_topic($kafka, 'once.public.big_rows');
is(scalar(@once), $nrows, "initial_only: every row as a READ record ($nrows)");
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '%initial%'}), '0',
	'initial_only: its temporary slot is gone');

$node->stop;
$kafka->stop;
done_testing();
