# A real single-node Apache Kafka broker (KRaft) for TAP tests, on 127.0.0.1.
#
#   use lib 'regress/lib'; use WalstarTest::Kafka;
#   my $kafka = WalstarTest::Kafka->start;      # waits until produce/fetch work
#   $kafka->bootstrap;                           # "127.0.0.1:PORT"
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
use PostgreSQL::Test::Utils ();
use Test::More ();

my $script = "$ENV{WALSTAR_ROOT}/regress/kafka.sh";
my @brokers;

sub start
{
	my ($class, %opts) = @_;
	my $dir = File::Temp::tempdir('kafka_XXXX', DIR => $PostgreSQL::Test::Utils::tmp_check);
	my $self = bless { dir => $dir }, $class;
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
		$out = `$script start $self->{dir} 2>&1`;
		last if $? == 0;
		my $why = sprintf("kafka broker did not start (%s): %s",
			$? == -1 ? "could not run $script: $!"
			: $? & 127 ? 'killed by signal ' . ($? & 127)
			: 'exit status ' . ($? >> 8), $out);
		die $why if $attempt == 2;
		Test::More::diag("$why; trying once more");
		system($script, 'stop', $self->{dir});
	}
	chomp $out;
	($self->{bootstrap}) = $out =~ /(127\.0\.0\.1:\d+)\s*$/;
	Test::More::note("kafka broker at $self->{bootstrap} ($self->{dir})");
	return $self;
}

sub bootstrap { return $_[0]->{bootstrap}; }

# "127.0.0.1:PORT" of the broker's SASL_PLAINTEXT listener (mechanism PLAIN,
# user walstar, password walstar-secret).
sub sasl_bootstrap
{
	my ($self) = @_;
	open(my $fh, '<', "$self->{dir}/server.properties") or die "no broker config: $!";
	my ($port) = map { /^# sasl_port=(\d+)/ ? $1 : () } <$fh>;
	close($fh);
	return "127.0.0.1:$port";
}
sub dir { return $_[0]->{dir}; }

sub stop
{
	my ($self) = @_;
	system($script, 'stop', $self->{dir}) == 0 or die "kafka stop failed";
}

sub kill9
{
	my ($self) = @_;
	system($script, 'kill', $self->{dir}) == 0 or die "kafka kill failed";
}

sub running
{
	my ($self) = @_;
	return system("$script status $self->{dir}") == 0;
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
		system("$script stop $b->{dir} >/dev/null 2>&1");
	}
	$? = $status;
}

1;
