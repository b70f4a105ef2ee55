# Running walstar-sink in TAP tests, and reading back what it wrote.
#
#   my $sink = WalstarTest::Sink->start(name => 'a', node => $node,
#       kafka => $kafka, args => ['--snapshot=never', ...]);
#   $sink->wait_log(qr/streaming/);
#   $sink->stop;                  # SIGTERM; returns the exit code
#   $sink->kill9;
#   my @msgs = WalstarTest::Sink::read_topic($kafka, 'walstar.public.t');
#   # each: { partition, offset, ts, key (undef: none), value (undef: null),
#   #         change (decoded value, when there is one) }
#   # options: raw => 1 (no decoding), skip_columns => 1 (values by position),
#   peek => 1 (WalstarTest::Wire::peek_change: routing fields and ints only)
#
# Sinks still running when the script exits are killed.
package WalstarTest::Sink;

use strict;
use warnings;
use POSIX ();
use Time::HiRes ();
use PostgreSQL::Test::Utils ();
use Test::More ();
use WalstarTest::Wire;

my @running;

sub conninfo
{
	my ($node, $db) = @_;
	return 'host=' . $node->host . ' port=' . $node->port . ' dbname=' . ($db // 'postgres');
}

sub start
{
	my ($class, %o) = @_;
	my $name = $o{name} // 'sink';
	my $dir = $o{state_dir} // "$PostgreSQL::Test::Utils::tmp_check/sink_state_$name";
	mkdir $dir;
	my $log = "$PostgreSQL::Test::Utils::tmp_check/sink_$name.log";
	my @cmd = ('walstar-sink',
		'--conninfo=' . ($o{conninfo} // conninfo($o{node}, $o{db})),
		'--brokers=' . $o{kafka}->bootstrap,
		"--state-dir=$dir", '--status-interval=1',
		'--set', 'kafka.topic.metadata.refresh.interval.ms=2000',
		# tests count the messages of their topics: heartbeats only where a
		# test asks for them (079_heartbeat.pl)
		'--heartbeat-interval=0',
		@{ $o{args} // [] });
	my ($slot) = map { /^--slot=(.*)/ ? $1 : () } @{ $o{args} // [] };
	my $self = bless { name => $name, log => $log, cmd => \@cmd, state_dir => $dir,
		node => $o{node}, db => $o{db}, slot => $slot // 'walstar' }, $class;
	$self->{offset} = -s $log // 0;
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDOUT, '>>', $log) or die;
		open(STDERR, '>>', $log) or die;
		exec(@cmd) or POSIX::_exit(127);
	}
	$self->{pid} = $pid;
	push @running, $self;
	return $self;
}

sub pid { return $_[0]->{pid}; }

# Send a signal to the running process. Dies when it has exited: Perl's
# kill of an undefined pid signals our own process group (prove and the
# whole run).
sub signal
{
	my ($self, $sig) = @_;
	die "sink $self->{name} is not running (cannot send SIG$sig):\n" . $self->log_text unless $self->alive;
	kill $sig, $self->{pid};
}

# Wait until the slot is confirmed at the source's current WAL position:
# every change committed so far is in Kafka then (the sink confirms only
# what Kafka acknowledged). Kafka's end offsets read before may miss some,
# and a wait for them would end early.
sub wait_confirmed
{
	my ($self) = @_;
	my $node = $self->{node} or die "wait_confirmed: the sink was started without node";
	my $db = $self->{db} // 'postgres';
	my $lsn = $node->safe_psql($db, 'SELECT pg_current_wal_lsn()');
	$node->poll_query_until($db, "SELECT confirmed_flush_lsn >= '$lsn' FROM pg_replication_slots"
		  . " WHERE slot_name = '$self->{slot}'")
	  or die "slot $self->{slot} not confirmed at $lsn";
}
sub log_file { return $_[0]->{log}; }

# Log lines written by this run.
sub log_text
{
	my ($self) = @_;
	open(my $fh, '<', $self->{log}) or return '';
	seek($fh, $self->{offset}, 0);
	local $/;
	my $t = <$fh> // '';
	return $t;
}

sub alive
{
	my ($self) = @_;
	return 0 unless $self->{pid};
	my $r = waitpid($self->{pid}, POSIX::WNOHANG());
	if ($r == $self->{pid})
	{
		$self->{exit} = $? >> 8;
		$self->{signal} = $? & 127;
		$self->{pid} = undef;
		return 0;
	}
	return 1;
}

# Wait until the log of this run matches $re; dies after $timeout seconds
# or when the sink exits first (unless $re matched).
sub wait_log
{
	my ($self, $re, $timeout) = @_;
	$timeout //= $PostgreSQL::Test::Utils::timeout_default;
	my $end = Time::HiRes::time() + $timeout;
	while (Time::HiRes::time() < $end)
	{
		return 1 if $self->log_text =~ $re;
		if (!$self->alive)
		{
			return 1 if $self->log_text =~ $re;
			die "sink $self->{name} exited before logging $re:\n" . $self->log_text;
		}
		Time::HiRes::sleep(0.05);
	}
	die "sink $self->{name} did not log $re within $timeout s:\n" . $self->log_text;
}

# Wait for the process to end by itself; returns its exit code.
sub wait_exit
{
	my ($self, $timeout) = @_;
	$timeout //= $PostgreSQL::Test::Utils::timeout_default;
	my $end = Time::HiRes::time() + $timeout;
	while ($self->alive)
	{
		die "sink $self->{name} did not exit" if Time::HiRes::time() > $end;
		Time::HiRes::sleep(0.05);
	}
	return $self->{exit};
}

sub stop
{
	my ($self) = @_;
	return $self->{exit} unless $self->alive;
	kill 'TERM', $self->{pid};
	return $self->wait_exit(60);
}

sub kill9
{
	my ($self) = @_;
	return unless $self->alive;
	kill 'KILL', $self->{pid};
	waitpid($self->{pid}, 0);
	$self->{pid} = undef;
}

# Every message of a topic, in partition/offset order.
sub read_topic
{
	my ($kafka, $topic, %o) = @_;
	my $fmt = '%p %o %T %K %S\n%k%s';
	open(my $fh, '-|', 'kcat', '-C', '-b', $kafka->bootstrap, '-t', $topic,
		'-o', 'beginning', '-e', '-q', '-f', $fmt)
	  or die "kcat: $!";
	binmode $fh;
	my @out;
	while (my $head = <$fh>)
	{
		chomp $head;
		next if $head eq '';
		my ($p, $off, $ts, $klen, $vlen) = split / /, $head;
		die "unexpected kcat output '$head'" unless defined $vlen;
		my ($k, $v);
		if ($klen >= 0) { read($fh, $k, $klen) == $klen or die "short key"; }
		if ($vlen >= 0) { read($fh, $v, $vlen) == $vlen or die "short value"; }
		my $m = { partition => $p, offset => $off, ts => $ts, key => $k, value => $v };
		if (defined $v && $vlen > 0 && !$o{raw})
		{
			$m->{change} = $o{peek} ? WalstarTest::Wire::peek_change($v)
			  : WalstarTest::Wire::decode_change($v, skip_columns => $o{skip_columns});
		}
		push @out, $m;
	}
	close($fh);
	return @out;
}

# Topic names of the cluster.
sub topics
{
	my ($kafka) = @_;
	my @t = map { /topic "([^"]+)"/ ? $1 : () } `kcat -L -b @{[$kafka->bootstrap]} 2>/dev/null`;
	return sort @t;
}

# Run a command in the background, output to $log; returns its pid.
sub background
{
	my ($log, @cmd) = @_;
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDOUT, '>>', $log) or die;
		open(STDERR, '>>', $log) or die;
		exec(@cmd) or POSIX::_exit(127);
	}
	return $pid;
}

# Wait for a background command; returns its exit code.
sub finish_background
{
	my ($pid) = @_;
	waitpid($pid, 0);
	return $? >> 8;
}

# Configure a node for the decoder.
sub setup_node
{
	my ($node, %o) = @_;
	$node->append_conf('postgresql.conf', qq{
output_plugin_libraries = 'pgoutput, test_decoding, walstar_decoder'
max_replication_slots = 10
max_wal_senders = 10
wal_sender_timeout = 60s
});
	return $node;
}

END
{
	my $status = $?;
	for my $s (@running)
	{
		if ($s->{pid})
		{
			kill 'KILL', $s->{pid};
			waitpid($s->{pid}, 0);
		}
	}
	$? = $status;
}

1;
