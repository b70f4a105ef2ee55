# A real Apache Kafka broker (KRaft) for TAP tests, on 127.0.0.1: one node,
# or a cluster (regress/kafka.sh start-cluster: combined broker+controller
# nodes; with 3 nodes, topics have replication factor 3 and
# min.insync.replicas 2).
#
#   use lib 'regress/lib'; use WalstarTest::Kafka;
#   my $kafka = WalstarTest::Kafka->start;      # waits until produce/fetch work
#   my $kafka = WalstarTest::Kafka->start(brokers => 3);
#   $kafka->bootstrap;                           # "127.0.0.1:PORT[,...]"
#   # a cluster's nodes are numbered 1 .. $kafka->brokers:
#   $kafka->leader('topic', 0);                  # node id of the partition leader
#   $kafka->kill_node(2); $kafka->start_node(2); $kafka->stop_node(2);
#   $kafka->wait_in_sync;                        # every replica back in its ISR
#   $kafka->sasl_bootstrap;                      # its SASL/PLAIN listener
#   $kafka->produce('topic', 'a', 'b');          # one message per line
#   my @msgs = $kafka->consume('topic', 2);      # the first N messages' values
#   $kafka->stop; $kafka->start_again; $kafka->kill9;
#
# Every broker started here is stopped when the test script exits, also when
# it dies. Data lives in a directory under the TAP tmp_check dir, kept across
# stop/start_again.
package WalstarTest::Kafka;

use strict;
use warnings;
use File::Temp ();
use JSON::PP ();
use PostgreSQL::Test::Utils ();
use Test::More ();
use Time::HiRes ();

my $script = "$ENV{WALSTAR_ROOT}/regress/kafka.sh";
my @brokers;

sub start
{
	my ($class, %opts) = @_;
	my $dir = File::Temp::tempdir('kafka_XXXX', DIR => $PostgreSQL::Test::Utils::tmp_check);
	my $self = bless { dir => $dir, brokers => $opts{brokers} // 1 }, $class;
	push @brokers, $self;
	$self->start_again;
	return $self;
}

# Start (or restart) the broker of this directory. A failed start is
# retried once, after stopping whatever it left (one CI run saw the start
# script end without a word while the machine was loaded).
sub start_again
{
	my ($self) = @_;
	my $out;
	for my $attempt (1, 2)
	{
		$out = $self->{brokers} > 1
		  ? `$script start-cluster $self->{dir} $self->{brokers} 2>&1`
		  : `$script start $self->{dir} 2>&1`;
		last if $? == 0;
		my $why = sprintf("kafka broker did not start (%s): %s",
			$? == -1 ? "could not run $script: $!"
			: $? & 127 ? 'killed by signal ' . ($? & 127)
			: 'exit status ' . ($? >> 8), $out);
		die $why if $attempt == 2;
		Test::More::diag("$why; trying once more");
		system($script, $self->{brokers} > 1 ? 'stop-cluster' : 'stop', $self->{dir});
	}
	chomp $out;
	($self->{bootstrap}) = $out =~ /((?:127\.0\.0\.1:\d+,?)+)\s*$/;
	Test::More::note("kafka broker at $self->{bootstrap} ($self->{dir})");
	return $self;
}

sub bootstrap { return $_[0]->{bootstrap}; }

# "127.0.0.1:PORT" of the broker's SASL_PLAINTEXT listener (mechanism PLAIN,
# user walstar, password walstar-secret).
sub sasl_bootstrap
{
	my ($self) = @_;
	my $conf = $self->{brokers} > 1 ? "$self->{dir}/node1" : $self->{dir};
	open(my $fh, '<', "$conf/server.properties") or die "no broker config: $!";
	my ($port) = map { /^# sasl_port=(\d+)/ ? $1 : () } <$fh>;
	close($fh);
	return "127.0.0.1:$port";
}
sub dir { return $_[0]->{dir}; }

sub brokers { return $_[0]->{brokers}; }

# The directories of the nodes (one: the broker's).
sub node_dirs
{
	my ($self) = @_;
	return ($self->{dir}) if $self->{brokers} == 1;
	return map { "$self->{dir}/node$_" } 1 .. $self->{brokers};
}

sub stop
{
	my ($self) = @_;
	system($script, $self->{brokers} > 1 ? 'stop-cluster' : 'stop', $self->{dir}) == 0
	  or die "kafka stop failed";
}

sub kill9
{
	my ($self) = @_;
	for my $d ($self->node_dirs)
	{
		system($script, 'kill', $d) == 0 or die "kafka kill failed";
	}
}

sub running
{
	my ($self) = @_;
	return (grep { system("$script status $_") == 0 } $self->node_dirs) > 0;
}

sub node_dir
{
	my ($self, $id) = @_;
	return $self->{brokers} == 1 ? $self->{dir} : "$self->{dir}/node$id";
}

# kill -9 node $id of a cluster (returns when the process is gone).
sub kill_node
{
	my ($self, $id) = @_;
	system($script, 'kill', $self->node_dir($id)) == 0 or die "kafka kill of node $id failed";
}

# SIGTERM (controlled shutdown) of node $id.
sub stop_node
{
	my ($self, $id) = @_;
	system($script, 'stop', $self->node_dir($id)) == 0 or die "kafka stop of node $id failed";
}

# Start node $id again; returns when the cluster takes and serves a
# message through it.
sub start_node
{
	my ($self, $id) = @_;
	my $dir = $self->node_dir($id);
	for my $attempt (1, 2)
	{
		my $out = `$script start $dir 2>&1`;
		return if $? == 0;
		my $why = "kafka node $id did not start (status $?): $out";
		die $why if $attempt == 2;
		Test::More::diag("$why; trying once more");
		system($script, 'stop', $dir);
	}
}

sub node_running
{
	my ($self, $id) = @_;
	return system("$script status @{[ $self->node_dir($id) ]}") == 0;
}

sub node_pid
{
	my ($self, $id) = @_;
	open(my $fh, '<', $self->node_dir($id) . '/broker.pid') or return undef;
	my $pid = <$fh>;
	chomp $pid;
	return $pid;
}

# Cluster metadata (kcat -L -J), optionally of one topic; undef if no
# broker answers.
sub metadata
{
	my ($self, $topic) = @_;
	my $json = `kcat -L -J -m 5 -b $self->{bootstrap} @{[ defined $topic ? "-t $topic" : '' ]} 2>/dev/null`;
	return undef if $? != 0 || $json eq '';
	return eval { JSON::PP::decode_json($json) };
}

# Node id of the leader of $topic's partition $partition (undef: none now).
sub leader
{
	my ($self, $topic, $partition) = @_;
	my $md = $self->metadata($topic) or return undef;
	for my $t (@{ $md->{topics} })
	{
		for my $p (@{ $t->{partitions} })
		{
			return $p->{leader} >= 0 ? $p->{leader} : undef if $p->{partition} == $partition;
		}
	}
	return undef;
}

# Wait (up to $timeout s) until every partition of every topic has all its
# replicas in sync (a restarted node caught up); returns the seconds
# waited, dies after the timeout.
sub wait_in_sync
{
	my ($self, $timeout) = @_;
	$timeout //= $PostgreSQL::Test::Utils::timeout_default;
	my $start = Time::HiRes::time();
	my $behind = 'no metadata';
	while (Time::HiRes::time() < $start + $timeout)
	{
		my $md = $self->metadata;
		if ($md)
		{
			my @lag;
			for my $t (@{ $md->{topics} })
			{
				for my $p (@{ $t->{partitions} })
				{
					push @lag, "$t->{topic}/$p->{partition}"
					  if @{ $p->{isrs} // [] } < @{ $p->{replicas} } || $p->{leader} < 0;
				}
			}
			return Time::HiRes::time() - $start unless @lag;
			$behind = join(' ', @lag);
		}
		Time::HiRes::sleep(0.2);
	}
	die "replicas not in sync after $timeout s: $behind";
}

# Produce each value as one message (values must not contain newlines).
sub produce
{
	my ($self, $topic, @values) = @_;
	open(my $fh, '|-', 'kcat', '-P', '-b', $self->{bootstrap}, '-t', $topic,
		'-X', 'message.timeout.ms=30000')
	  or die "kcat: $!";
	print $fh "$_\n" for @values;
	close($fh) or die "kcat produce to $topic failed";
}

# The values of the first $n messages of $topic (all partitions), waiting up
# to $timeout seconds for them.
sub consume
{
	my ($self, $topic, $n, $timeout) = @_;
	$timeout //= 60;
	my @out = `timeout $timeout kcat -C -b $self->{bootstrap} -t $topic -o beginning -c $n -q -e 2>/dev/null`;
	chomp @out;
	return @out;
}

# Message count of a topic: sum over partitions of high watermark - low watermark.
sub count
{
	my ($self, $topic) = @_;
	my @lines = `kcat -C -b $self->{bootstrap} -t $topic -o beginning -e -q -f '.' 2>/dev/null`;
	my $n = 0;
	$n += length($_) for @lines;
	return $n;
}

END
{
	my $status = $?;
	for my $b (@brokers)
	{
		my $cmd = $b->{brokers} > 1 ? 'stop-cluster' : 'stop';
		system("$script $cmd $b->{dir} >/dev/null 2>&1");
	}
	$? = $status;
}

1;
