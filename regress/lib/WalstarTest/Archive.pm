# Running walstar-archive in TAP tests, and reading its objects back
# independently of it (the curl program, the zstd program, Perl's gunzip).
#
#   my $ar = WalstarTest::Archive->start(name => 'a', kafka => $kafka,
#       s3 => $s3, args => ['--topic-pattern=^walstar\.']);
#   $ar->wait_log(qr/msg="archiving"/); $ar->kill9; $ar->stop;  # as Sink
#   my ($rc, $out) = WalstarTest::Archive::run($kafka, $s3, 'replay', @args);
#   my @objs = WalstarTest::Archive::objects($s3, 'walstar/');
#   WalstarTest::Archive::wait_covered($s3, $kafka, 'walstar/', 120, @topics);
#   # each: { key, source, table, date, hour, topic, partition, first,
#   #         last, ext, records => [ value bytes, ... ] }; for an NDJSON
#   #         object (ext ndjson.*) records are its lines, undecoded
#
# The S3 credentials reach the archive through the environment
# (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), never its command line.
package WalstarTest::Archive;

use strict;
use warnings;
use File::Temp ();
use IO::Uncompress::Gunzip ();
use POSIX ();
use PostgreSQL::Test::Utils ();
use WalstarTest::Sink;

our @ISA = ('WalstarTest::Sink');
my @running;

sub base_args
{
	my ($kafka, $s3) = @_;
	return ('--brokers=' . $kafka->bootstrap, '--s3-endpoint=' . $s3->endpoint,
		'--s3-bucket=' . $s3->bucket, '--set', 'kafka.topic.metadata.refresh.interval.ms=2000');
}

sub start
{
	my ($class, %o) = @_;
	my $name = $o{name} // 'archive';
	my $log = "$PostgreSQL::Test::Utils::tmp_check/archive_$name.log";
	my @cmd = ('walstar-archive', base_args($o{kafka}, $o{s3}),
		'--set', 'kafka.session.timeout.ms=6000', @{ $o{args} // [] });
	my $self = bless { name => $name, log => $log, cmd => \@cmd }, $class;
	$self->{offset} = -s $log // 0;
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		$ENV{AWS_ACCESS_KEY_ID} = $o{access_key} // $o{s3}->access_key;
		$ENV{AWS_SECRET_ACCESS_KEY} = $o{secret_key} // $o{s3}->secret_key;
		open(STDOUT, '>>', $log) or die;
		open(STDERR, '>>', $log) or die;
		exec(@cmd) or POSIX::_exit(127);
	}
	$self->{pid} = $pid;
	push @running, $self;
	return $self;
}

# Run a command of walstar-archive to its end: (exit code, output).
sub run
{
	my ($kafka, $s3, @args) = @_;
	local $ENV{AWS_ACCESS_KEY_ID} = $s3->access_key;
	local $ENV{AWS_SECRET_ACCESS_KEY} = $s3->secret_key;
	my $cmd = $args[0] =~ /^-/ ? [] : [ shift @args ];
	my $out = `walstar-archive @$cmd @{[ map { "'$_'" } base_args($kafka, $s3), @args ]} 2>&1`;
	return ($? >> 8, $out);
}

sub _frames
{
	my ($plain) = @_;
	my @recs;
	my $pos = 0;
	while ($pos < length($plain))
	{
		my ($len, $shift) = (0, 0);
		while (1)
		{
			die "truncated varint" if $pos >= length($plain);
			my $b = ord(substr($plain, $pos++, 1));
			$len |= ($b & 0x7f) << $shift;
			$shift += 7;
			last unless $b & 0x80;
		}
		die "frame past the end" if $pos + $len > length($plain);
		push @recs, substr($plain, $pos, $len);
		$pos += $len;
	}
	return @recs;
}

sub decompress
{
	my ($bytes) = @_;
	if (substr($bytes, 0, 2) eq "\x1f\x8b")
	{
		my $plain;
		IO::Uncompress::Gunzip::gunzip(\$bytes => \$plain) or die "gunzip failed";
		return $plain;
	}
	my $tmp = File::Temp->new(DIR => $PostgreSQL::Test::Utils::tmp_check);
	binmode $tmp;
	print $tmp $bytes;
	close $tmp;
	my $plain = `zstd -q -dc $tmp`;
	die "zstd -d failed" if $?;
	return $plain;
}

# Every object under $prefix, parsed by its name and decoded.
sub objects
{
	my ($s3, $prefix, %o) = @_;
	my @out;
	for my $key ($s3->list($prefix))
	{
		my ($source, $table, $date, $hour, $topic, $part, $first, $last, $ext) =
		  $key =~ m{^[^/]+/([^/]+)/([^/]+)/date=(\d{4}-\d\d-\d\d)/hour=(\d\d)/([^+/]+)\+(\d+)\+(\d+)-(\d+)\.(.+)$}
		  or die "object name $key does not follow the layout";
		my $obj = { key => $key, source => $source, table => $table, date => $date,
			hour => $hour, topic => $topic, partition => $part, first => $first,
			last => $last, ext => $ext };
		unless ($o{names_only})
		{
			my $plain = decompress($s3->get($key));
			$obj->{records} = $ext =~ /^ndjson\./ ? [ split /\n/, $plain ] : [ _frames($plain) ];
		}
		push @out, $obj;
	}
	return @out;
}

# The partitions of %$behind ("topic/partition" => first offset not
# covered by a name) whose records from there on are all HEARTBEATs: an
# object of heartbeats alone stays open until a change, the next hour or
# the archive's shutdown.
sub heartbeat_tails
{
	my ($kafka, $behind) = @_;
	my %topics = map { (split m{/})[0] => 1 } keys %$behind;
	my %other;
	for my $t (keys %topics)
	{
		for my $m (WalstarTest::Sink::read_topic($kafka, $t, peek => 1))
		{
			my $tp = "$t/$m->{partition}";
			next unless defined $behind->{$tp} && $m->{offset} >= $behind->{$tp};
			$other{$tp} = 1 unless $m->{change} && $m->{change}{op_name} eq 'HEARTBEAT';
		}
	}
	return grep { !$other{$_} } keys %$behind;
}

# Wait (up to $timeout s) until the object names under $prefix cover every
# offset of every partition of @topics (their end offsets in Kafka), but a
# tail of heartbeats alone (stored at the archive's shutdown).
sub wait_covered
{
	my ($s3, $kafka, $prefix, $timeout, @topics) = @_;
	my %end;
	for my $topic (@topics)
	{
		for my $line (`kcat -L -b @{[ $kafka->bootstrap ]} -t $topic 2>/dev/null`)
		{
			next unless $line =~ /partition (\d+),/;
			my $p = $1;
			my ($e) = `kcat -Q -b @{[ $kafka->bootstrap ]} -t $topic:$p:-1 2>/dev/null` =~ /offset (-?\d+)/
			  or die "no end offset of $topic partition $p";
			$end{"$topic/$p"} = $e;
		}
	}
	my $deadline = time() + ($timeout // 120);
	while (1)
	{
		my %covered;
		$covered{"$_->{topic}/$_->{partition}"} += $_->{last} - $_->{first} + 1
		  for objects($s3, $prefix, names_only => 1);
		my %behind = map { $_ => $covered{$_} // 0 } grep { ($covered{$_} // 0) < $end{$_} } keys %end;
		delete @behind{ heartbeat_tails($kafka, \%behind) } if %behind;
		my @behind = sort keys %behind;
		return 1 unless @behind;
		die "the archive did not cover @behind" if time() > $deadline;
		sleep 1;
	}
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
