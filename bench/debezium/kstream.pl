#!/usr/bin/perl
# Reads one Kafka topic through kcat and understands both pipelines' records:
# walstar's (protobuf Change value, protobuf Key key) and Debezium's (JSON
# envelope value, JSON key, converters without embedded schemas).
#
#   kstream.pl check BOOTSTRAP TOPIC
#       Reads the topic from the beginning to its end and prints one line of
#       key=value pairs: per operation (ins, upd, del, other) the message
#       count, the sum and the maximum of the row ids, plus the number of
#       messages and the first and last broker timestamps (ms).
#   kstream.pl arrivals BOOTSTRAP TOPIC FILE
#       Follows the topic from the beginning until SIGTERM and appends
#       "id<TAB>arrival-microseconds" to FILE for every message, the moment
#       the message has reached this consumer.
#
# The row id is the single bigint key column "id". Only the few protobuf
# fields needed are decoded: Change.op (3) from the value and
# Key.values[0].int_value (1 -> 3, zigzag) from the key.
use strict;
use warnings;
use Time::HiRes qw(time);
use IO::Handle;

my ($mode, $bootstrap, $topic, $file) = @ARGV;
die "usage: kstream.pl check|arrivals BOOTSTRAP TOPIC [FILE]\n"
  unless $mode && $bootstrap && $topic && ($mode eq 'check' || ($mode eq 'arrivals' && $file));

# One header line "keylen valuelen timestamp" then the raw key and value.
my @kcat = ('kcat', '-C', '-q', '-b', $bootstrap, '-t', $topic, '-o', 'beginning',
	'-f', '%K %S %T\n%k%s');
push @kcat, ($mode eq 'check' ? '-e' : '-u');

my $kpid = open(my $in, '-|', @kcat) or die "kstream: cannot run kcat: $!\n";
binmode $in;
$SIG{TERM} = $SIG{INT} = sub { kill 'TERM', $kpid; exit 0 };

# Protobuf base-128 varint at $$pos of $$buf.
sub varint
{
	my ($buf, $pos) = @_;
	my ($v, $shift) = (0, 0);
	while (1)
	{
		my $b = ord(substr($$buf, $$pos++, 1));
		$v |= ($b & 0x7f) << $shift;
		return $v if $b < 0x80;
		$shift += 7;
	}
}

# Skip one field of wire type $wt.
sub skip_field
{
	my ($buf, $pos, $wt) = @_;
	if ($wt == 0) { varint($buf, $pos) }
	elsif ($wt == 1) { $$pos += 8 }
	elsif ($wt == 2) { my $l = varint($buf, $pos); $$pos += $l }
	elsif ($wt == 5) { $$pos += 4 }
	else { die "kstream: bad protobuf wire type $wt\n" }
}

# walstar Change.op (field 3), 0 when absent.
sub walstar_op
{
	my ($buf) = @_;
	my $pos = 0;
	my $end = length $$buf;
	while ($pos < $end)
	{
		my $tag = varint($buf, \$pos);
		my ($field, $wt) = ($tag >> 3, $tag & 7);
		return varint($buf, \$pos) if $field == 3 && $wt == 0;
		skip_field($buf, \$pos, $wt);
	}
	return 0;
}

# walstar Key: first Value's int_value (sint64, zigzag).
sub walstar_id
{
	my ($buf) = @_;
	my $pos = 0;
	my $end = length $$buf;
	while ($pos < $end)
	{
		my $tag = varint($buf, \$pos);
		if ($tag == 0x0a)
		{
			my $l = varint($buf, \$pos);
			my $vend = $pos + $l;
			while ($pos < $vend)
			{
				my $t = varint($buf, \$pos);
				if ($t == 0x18)
				{
					my $z = varint($buf, \$pos);
					return $z & 1 ? -(($z + 1) >> 1) : $z >> 1;
				}
				skip_field($buf, \$pos, $t & 7);
			}
			return undef;
		}
		skip_field($buf, \$pos, $tag & 7);
	}
	return undef;
}

my %walstar_ops = (1 => 'ins', 2 => 'upd', 3 => 'del', 5 => 'ins');
my %debezium_ops = (c => 'ins', u => 'upd', d => 'del', r => 'ins');

# Returns (op, id) of one record.
sub classify
{
	my ($key, $value) = @_;
	my ($op, $id);
	if (substr($key, 0, 1) eq '{')
	{
		($id) = $key =~ /"id":(-?\d+)/;
		my ($o) = $value =~ /"op":"([a-z])"/;
		$op = defined $o ? ($debezium_ops{$o} // 'other') : 'other';
	}
	else
	{
		$id = length $key ? walstar_id(\$key) : undef;
		$op = $walstar_ops{walstar_op(\$value)} // 'other';
	}
	return ($op, $id);
}

my $out;
if ($mode eq 'arrivals')
{
	open($out, '>>', $file) or die "kstream: $file: $!\n";
	$out->autoflush(1);
}

my (%count, %sum, %max);
my ($messages, $ts_min, $ts_max) = (0, undef, undef);
while (defined(my $hdr = <$in>))
{
	my ($klen, $vlen, $ts) = split ' ', $hdr;
	my ($key, $value) = ('', '');
	read($in, $key, $klen) if $klen > 0;
	read($in, $value, $vlen) if $vlen > 0;
	if ($mode eq 'arrivals')
	{
		my $now = time;
		my (undef, $id) = classify($key, $value);
		printf $out "%d\t%d\n", $id, $now * 1e6 if defined $id;
		next;
	}
	my ($op, $id) = classify($key, $value);
	$messages++;
	$count{$op}++;
	if (defined $id)
	{
		$sum{$op} += $id;
		$max{$op} = $id if !defined $max{$op} || $id > $max{$op};
	}
	$ts_min = $ts if !defined $ts_min || $ts < $ts_min;
	$ts_max = $ts if !defined $ts_max || $ts > $ts_max;
}
close $in;
exit 0 if $mode eq 'arrivals';

my @pairs = ("messages=$messages", 'ts_min=' . ($ts_min // 0), 'ts_max=' . ($ts_max // 0));
for my $op (qw(ins upd del other))
{
	push @pairs, "${op}_count=" . ($count{$op} // 0), "${op}_sum=" . ($sum{$op} // 0),
	  "${op}_max=" . ($max{$op} // 0);
}
print join(' ', @pairs), "\n";
