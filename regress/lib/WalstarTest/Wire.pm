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
  STREAM_COMMIT STREAM_ABORT DDL HEARTBEAT SNAPSHOT_BEGIN SNAPSHOT_END);

# A varint's bytes -> its value.
sub _vi
{
	my ($s) = @_;
	return ord($s) if length($s) == 1;
	my ($v, $shift) = (0, 0);
	for my $b (unpack('C*', $s))
	{
		$v |= ($b & 0x7f) << $shift;
		$shift += 7;
	}
	return $v;
}

sub _zigzag { my $v = shift; return ($v & 1) ? -($v >> 1) - 1 : $v >> 1; }

# [field, wiretype, value] for each field of a message.
sub fields
{
	my ($buf) = @_;
	my @out;
	my $len = length($buf);
	pos($buf) = 0;
	while (pos($buf) < $len)
	{
		$buf =~ /\G([\x80-\xff]*[\x00-\x7f])/gc or die "bad tag";
		my $tag = _vi($1);
		my ($f, $wt) = ($tag >> 3, $tag & 7);
		my $v;
		if ($wt == 0)
		{
			$buf =~ /\G([\x80-\xff]*[\x00-\x7f])/gc or die "bad varint";
			$v = _vi($1);
		}
		elsif ($wt == 2)
		{
			$buf =~ /\G([\x80-\xff]*[\x00-\x7f])/gc or die "bad length";
			my $n = _vi($1);
			my $p = pos($buf);
			$v = substr($buf, $p, $n);
			pos($buf) = $p + $n;
		}
		elsif ($wt == 1 || $wt == 5)
		{
			my $n = $wt == 1 ? 8 : 4;
			my $p = pos($buf);
			$v = substr($buf, $p, $n);
			pos($buf) = $p + $n;
		}
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
				# int32/int64 varints: two's complement
				use integer;
				$iv{months} = $g->[2] + 0 if $g->[0] == 1;
				$iv{days} = $g->[2] + 0 if $g->[0] == 2;
				$iv{micros} = $g->[2] + 0 if $g->[0] == 3;
			}
			$v{interval} = \%iv;
		}
	}
	return \%v;
}

# The routing fields of a Change, fast (for large topics): op_name,
# commit_lsn, position, xid, timeline, key (bytes), ints => the int values of
# new_values (undef for other kinds), key_int => first key value if int.
sub peek_change
{
	my ($buf) = @_;
	my %c = (op => 0, commit_lsn => 0, position => 0, xid => 0, timeline => 0, key => '');
	my @ints;
	my $len = length($buf);
	pos($buf) = 0;
	while (pos($buf) < $len)
	{
		$buf =~ /\G([\x80-\xff]*[\x00-\x7f])/gc or die "bad tag";
		my $tag = _vi($1);
		my ($f, $wt) = ($tag >> 3, $tag & 7);
		if ($wt == 0)
		{
			$buf =~ /\G([\x80-\xff]*[\x00-\x7f])/gc or die "bad varint";
			if    ($f == 3)  { $c{op} = _vi($1); }
			elsif ($f == 11) { $c{commit_lsn} = _vi($1); }
			elsif ($f == 14) { $c{position} = _vi($1); }
			elsif ($f == 10) { $c{xid} = _vi($1); }
			elsif ($f == 25) { $c{timeline} = _vi($1); }
			next;
		}
		if ($wt == 1 || $wt == 5)
		{
			pos($buf) += $wt == 1 ? 8 : 4;
			next;
		}
		die "unexpected wire type $wt" unless $wt == 2;
		$buf =~ /\G([\x80-\xff]*[\x00-\x7f])/gc or die "bad length";
		my $n = _vi($1);
		my $p = pos($buf);
		if ($f == 7) { push @ints, _int_value(substr($buf, $p, $n)); }
		elsif ($f == 9) { $c{key} = substr($buf, $p, $n); }
		pos($buf) = $p + $n;
	}
	$c{op_name} = $OPS[ $c{op} ];
	$c{ints} = \@ints;
	if ($c{key} =~ /^\x0a[\x00-\x7f](.*)$/s)
	{
		$c{key_int} = _int_value($1);
	}
	return \%c;
}

# A serialized Value holding an int (field 3) -> the int, else undef.
sub _int_value
{
	my ($v) = @_;
	return undef unless $v =~ /^\x18([\x80-\xff]*[\x00-\x7f])$/;
	return _zigzag(_vi($1));
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

# %o: skip_columns => 1 leaves out the column descriptions (faster).
sub decode_change
{
	my ($buf, %o) = @_;
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
			next if $o{skip_columns};
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
		elsif ($f == 23) { $c{system_id} = unpack('Q<', $x); }
		elsif ($f == 25) { $c{timeline} = $x; }
		elsif ($f == 27) { $c{old_key_elsewhere} = $x; }
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

# A value as a varint's bytes.
sub _varint
{
	my ($v) = @_;
	my $out = '';
	while ($v >= 0x80)
	{
		$out .= chr(($v & 0x7f) | 0x80);
		$v >>= 7;
	}
	return $out . chr($v);
}

# A message with its varint field $f set to $v (sint fields: pass zigzag => 1);
# every other field as it was.
sub with_varint_field
{
	my ($buf, $f, $v, %o) = @_;
	$v = $v >= 0 ? $v << 1 : ((-$v) << 1) - 1 if $o{zigzag};
	my $out = '';
	for my $fld (grep { $_->[0] != $f } fields($buf))
	{
		my ($n, $wt, $val) = @$fld;
		$out .= _varint(($n << 3) | $wt);
		$out .= $wt == 0 ? _varint($val) : $wt == 2 ? _varint(length($val)) . $val : $val;
	}
	return $out . _varint($f << 3) . _varint($v);
}

1;
