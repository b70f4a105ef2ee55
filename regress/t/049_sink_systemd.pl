# walstar-sink under systemd: the sd_notify protocol (Type=notify) spoken to
# a notification socket of the test's own, as systemd would listen on it:
# READY=1 only once the slot streams and Kafka is up, WATCHDOG=1 pings at
# half WATCHDOG_USEC, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on
# SIGTERM.  Secrets from files (systemd credentials): kafka-password-file
# authenticates to a SASL listener, a readable-by-others file is refused,
# and the password never reaches the log.
use strict;
use warnings;
use IO::Select ();
use IO::Socket::UNIX ();
use IPC::Run ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Socket qw(SOCK_DGRAM);
use Test::More;
use Time::HiRes ();
use WalstarTest::Kafka;
use WalstarTest::Sink;

my $kafka = WalstarTest::Kafka->start;
my $node = PostgreSQL::Test::Cluster->new('systemd');
$node->init(allows_streaming => 'logical');
WalstarTest::Sink::setup_node($node);
$node->start;
$node->safe_psql('postgres', 'CREATE TABLE t (id int PRIMARY KEY)');

my $sockpath = "$PostgreSQL::Test::Utils::tmp_check/notify.sock";
my $sock = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $sockpath) or die "notify socket: $!";
chmod 0777, $sockpath;
my $sel = IO::Select->new($sock);

# Next notification datagram (undef after the default timeout).
sub next_message
{
	my $end = Time::HiRes::time() + $PostgreSQL::Test::Utils::timeout_default;
	while (Time::HiRes::time() < $end)
	{
		next unless $sel->can_read(0.5);
		my $buf;
		$sock->recv($buf, 4096);
		return $buf;
	}
	return undef;
}

# Messages until one matches $re; returns them all.
sub until_message
{
	my ($re) = @_;
	my @seen;
	while (defined(my $m = next_message()))
	{
		push @seen, $m;
		return @seen if $m =~ $re;
	}
	return (@seen, '(none)');
}

my @seen;
{
	local $ENV{NOTIFY_SOCKET} = $sockpath;
	local $ENV{WATCHDOG_USEC} = 1_000_000;
	my $sink = WalstarTest::Sink->start(name => 'notify', node => $node, kafka => $kafka,
		args => [ '--snapshot=never' ]);
	@seen = until_message(qr/READY=1/);
	like($seen[-1], qr/^READY=1\nSTATUS=streaming slot walstar to Kafka$/, 'READY=1 with a status');
	like($sink->log_text, qr/msg="streaming"/, 'sent once streaming had started');
	is($node->safe_psql('postgres', q{SELECT active FROM pg_replication_slots WHERE slot_name = 'walstar'}),
		't', 'the slot is streamed when READY=1 arrives');
	is(scalar(grep { /WATCHDOG/ } @seen), 0, 'no watchdog ping before readiness');
	@seen = until_message(qr/WATCHDOG=1/);
	is($seen[-1], 'WATCHDOG=1', 'watchdog pinged');
	@seen = until_message(qr/WATCHDOG=1/);
	is($seen[-1], 'WATCHDOG=1', 'and pinged again');

	$sink->signal('HUP');
	@seen = until_message(qr/RELOADING=1/);
	is($seen[-1], 'RELOADING=1', 'SIGHUP: RELOADING=1');
	@seen = until_message(qr/READY=1/);
	like($seen[-1], qr/^READY=1\nSTATUS=configuration reloaded$/, 'then READY=1');

	$sink->signal('TERM');
	@seen = until_message(qr/STOPPING=1/);
	is($seen[-1], 'STOPPING=1', 'SIGTERM: STOPPING=1');
	is($sink->wait_exit, 0, 'and exit 0');
}

# A sink outside systemd sends nothing and runs as before.
my $plain = WalstarTest::Sink->start(name => 'plain', node => $node, kafka => $kafka, args => [ '--snapshot=never' ]);
$plain->wait_log(qr/msg="streaming"/);
is($plain->stop, 0, 'without NOTIFY_SOCKET the sink runs and stops as before');

# The Kafka SASL password from a file.
my $password = "$PostgreSQL::Test::Utils::tmp_check/kafka-password";
append_to_file($password, "walstar-secret\n");
chmod 0600, $password;
my @sasl = ('--brokers=' . $kafka->sasl_bootstrap, '--set', 'kafka.security.protocol=SASL_PLAINTEXT',
	'--set', 'kafka.sasl.mechanism=PLAIN', '--set', 'kafka.sasl.username=walstar');
my $sasl = WalstarTest::Sink->start(name => 'sasl', node => $node, kafka => $kafka,
	args => [ '--snapshot=never', @sasl, "--kafka-password-file=$password" ]);
$sasl->wait_log(qr/msg="streaming"/);
$node->safe_psql('postgres', 'INSERT INTO t SELECT generate_series(1, 5)');
my $end = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
ok($node->poll_query_until('postgres',
	"SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = 'walstar'"),
	'kafka-password-file: authenticated and delivered through the SASL listener');
is($sasl->stop, 0, 'stopped');
unlike($sasl->log_text, qr/walstar-secret/, 'the password is not in the log');

my $wrong = "$PostgreSQL::Test::Utils::tmp_check/wrong-password";
append_to_file($wrong, "not-the-password\n");
chmod 0600, $wrong;
my ($out, $err) = ('', '');
IPC::Run::run([ 'walstar-sink', '--conninfo=' . WalstarTest::Sink::conninfo($node), '--snapshot=never',
	'--startup-timeout=5', @sasl, "--kafka-password-file=$wrong" ], '>', \$out, '2>', \$err, IPC::Run::timeout(120));
isnt($? >> 8, 0, 'a wrong password in the file: the sink does not start');
unlike($err, qr/not-the-password/, 'and does not print it');

chmod 0644, $password;
IPC::Run::run([ 'walstar-sink', '--conninfo=' . WalstarTest::Sink::conninfo($node), '--check-config',
	'--brokers=x', "--kafka-password-file=$password" ], '>', \$out, '2>', \$err);
like($err, qr/option 'kafka-password-file': '.*' has group or world access/, 'a file others may read is refused');
chmod 0600, $password;
IPC::Run::run([ 'walstar-sink', '--conninfo=' . WalstarTest::Sink::conninfo($node), '--check-config',
	'--brokers=x', '--set', 'kafka.sasl.password=inline', "--kafka-password-file=$password" ], '>', \$out, '2>', \$err);
like($err, qr/options 'kafka.sasl.password' and 'kafka-password-file' exclude each other/,
	'the password from a file and inline exclude each other');

$node->stop;
$kafka->stop;
done_testing();
