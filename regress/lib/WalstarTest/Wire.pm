# A small reader of the walstar wire format (proto/walstar.proto) for tests:
# protobuf decoding of the Change fields the tests look at, independent of
# the extension.
#
#   use WalstarTest::Wire;
#   my $c = WalstarTest::Wire::decode_change($bytes);
#   $c->{op_name}, $c->{schema}, $c->{table}, $c->{commit_lsn}, $c->{position},
#   $c->{columns}[i]{name}, $c->{new_values}[i] (a Value, see below),
#   $c->{key_values} (the decoded Key), $c->{commit}{end_lsn}
#   WalstarTest::Wire::value_text($value) gives a value as PostgreSQL's text
#   for the common types ('NULL' for SQL NULL).
package WalstarTest::Wire;

use strict;
use warnings;

my @OPS = qw(OP_UNSPECIFIED INSERT UPDATE DELETE TRUNCATE READ MESSAGE BEGIN
  COMMIT PREPARE COMMIT_PREPARED ROLLBACK_PREPARED STREAM_START STREAM_STOP
  STREAM_COMMIT STREAM_ABORT);

sub _varint
{
	my ($buf, $pos) = @_;
	my ($v, $shift) = (0, 0);
	while (1)
	{
		die "truncated varint" if $$pos >= length($$buf);
		my $b = ord(substr($$buf, $$pos++, 1));
		$v |= ($b & 0x7f) << $shift;
		return $v unless $b & 0x80;
		$shift += 7;
	}
}

sub _zigzag { my $v = shift; return ($v & 1) ? -($v >> 1) - 1 : $v >> 1; }

# [field, wiretype, value] for each field of a message.
sub fields
{
	my ($buf) = @_;
	my ($pos, @out) = (0);
	while ($pos < length($buf))
	{
		my $tag = _varint(\$buf, \$pos);
		my ($f, $wt) = ($tag >> 3, $tag & 7);
		my $v;
		if ($wt == 0) { $v = _varint(\$buf, \$pos); }
		elsif ($wt == 1) { $v = substr($buf, $pos, 8); $pos += 8; }
		elsif ($wt == 2)
		{
			my $n = _varint(\$buf, \$pos);
			$v = substr($buf, $pos, $n);
			$pos += $n;
		}
		elsif ($wt == 5) { $v = substr($buf, $pos, 4); $pos += 4; }
		else { die "bad wire type $wt"; }
		push @out, [ $f, $wt, $v ];
	}
	return @out;
}

sub decode_value
{
	my ($buf) = @_;
	my %v;
	for my $fv (fields($buf))
	{
		my ($f, undef, $x) = @$fv;
		if    ($f == 1)  { $v{null} = 1; }
		elsif ($f == 2)  { $v{unchanged_toast} = 1; }
		elsif ($f == 3)  { $v{int} = _zigzag($x); }
		elsif ($f == 4)  { $v{double} = unpack('d<', $x); }
		elsif ($f == 5)  { $v{bool} = $x ? 1 : 0; }
		elsif ($f == 6)  { $v{text} = $x; }
		elsif ($f == 7)  { $v{bytes} = $x; }
		elsif ($f == 8)  { $v{numeric} = $x; }
		elsif ($f == 9)  { $v{timestamp} = _zigzag($x); }
		elsif ($f == 10) { $v{date} = _zigzag($x); }
		elsif ($f == 11) { $v{time} = _zigzag($x); }
		elsif ($f == 12) { $v{uuid} = unpack('H*', $x); }
		elsif ($f == 13)
		{
			my %iv = (months => 0, days => 0, micros => 0);
			for my $g (fields($x))
			{
				$iv{months} = $g->[2] if $g->[0] == 1;
				$iv{days} = $g->[2] if $g->[0] == 2;
				$iv{micros} = $g->[2] if $g->[0] == 3;
			}
			$v{interval} = \%iv;
		}
	}
	return \%v;
}

# A value as comparable text: ints, text, numeric as they are, bool as t/f,
# bytea as \x hex, NULL as 'NULL'; other kinds as kind:value.
sub value_text
{
	my ($v) = @_;
	return 'NULL' if $v->{null};
	return 'UNCHANGED_TOAST' if $v->{unchanged_toast};
	for my $k (qw(int text numeric timestamp date time uuid))
	{
		return "$v->{$k}" if exists $v->{$k};
	}
	return $v->{bool} ? 't' : 'f' if exists $v->{bool};
	return '\\x' . unpack('H*', $v->{bytes}) if exists $v->{bytes};
	return $v->{double} if exists $v->{double};
	return 'UNSET';
}

sub decode_key
{
	my ($buf) = @_;
	return [ map { decode_value($_->[2]) } grep { $_->[0] == 1 } fields($buf) ];
}

sub decode_change
{
	my ($buf) = @_;
	my %c = (columns => [], new_values => [], old_values => [], key => '',
		op => 0, position => 0, commit_lsn => 0, lsn => 0, xid => 0);
	for my $fv (fields($buf))
	{
		my ($f, undef, $x) = @$fv;
		if    ($f == 1)  { $c{version} = $x; }
		elsif ($f == 2)  { $c{source} = $x; }
		elsif ($f == 3)  { $c{op} = $x; }
		elsif ($f == 4)  { $c{schema} = $x; }
		elsif ($f == 5)  { $c{table} = $x; }
		elsif ($f == 6)
		{
			my %col;
			for my $g (fields($x))
			{
				my ($n, undef, $y) = @$g;
				$col{name} = $y if $n == 1;
				$col{type_oid} = $y if $n == 2;
				$col{type_name} = $y if $n == 3;
				$col{landing_type} = $y if $n == 4;
				$col{is_key} = $y if $n == 5;
				$col{pii} = $y if $n == 6;
			}
			push @{ $c{columns} }, \%col;
		}
		elsif ($f == 7)  { push @{ $c{new_values} }, decode_value($x); }
		elsif ($f == 8)  { push @{ $c{old_values} }, decode_value($x); }
		elsif ($f == 9)  { $c{key} = $x; }
		elsif ($f == 10) { $c{xid} = $x; }
		elsif ($f == 11) { $c{commit_lsn} = $x; }
		elsif ($f == 12) { $c{commit_time} = _zigzag($x); }
		elsif ($f == 13) { $c{lsn} = $x; }
		elsif ($f == 14) { $c{position} = $x; }
		elsif ($f == 15) { $c{last_in_tx} = $x; }
		elsif ($f == 18)
		{
			my %cm = (change_count => 0, end_lsn => 0, tables => []);
			for my $g (fields($x))
			{
				$cm{change_count} = $g->[2] if $g->[0] == 1;
				$cm{end_lsn} = $g->[2] if $g->[0] == 3;
				if ($g->[0] == 2)
				{
					my %tc = (count => 0);
					for my $h (fields($g->[2]))
					{
						$tc{schema} = $h->[2] if $h->[0] == 1;
						$tc{table} = $h->[2] if $h->[0] == 2;
						$tc{count} = $h->[2] if $h->[0] == 3;
					}
					push @{ $cm{tables} }, \%tc;
				}
			}
			$c{commit} = \%cm;
		}
	}
	$c{op_name} = $OPS[ $c{op} ] // "OP_$c{op}";
	$c{key_values} = decode_key($c{key});
	return \%c;
}

# The row as { column name => value text }.
sub row_of
{
	my ($c, $which) = @_;
	my $vals = $c->{ $which // 'new_values' };
	my %row;
	for my $i (0 .. $#{ $c->{columns} })
	{
		next unless $vals->[$i];
		$row{ $c->{columns}[$i]{name} } = value_text($vals->[$i]);
	}
	return \%row;
}

# LSN as PostgreSQL prints it.
sub lsn_text { my $l = shift; return sprintf('%X/%X', $l >> 32, $l & 0xffffffff); }

# PostgreSQL's "X/X" as a number.
sub lsn_num
{
	my ($t) = @_;
	my ($hi, $lo) = $t =~ m{^([0-9A-Fa-f]+)/([0-9A-Fa-f]+)$} or die "not an LSN: $t";
	return (hex($hi) << 32) | hex($lo);
}

1;
