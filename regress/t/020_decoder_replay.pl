# walstar_decoder: a random mixed workload, decoded in the json format and
# replayed as SQL onto an empty copy of the schema, must reproduce the source
# tables row by row.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use Encode qw(encode_utf8);

my $seed = $ENV{WALSTAR_SEED} // time();
srand($seed);
note "random seed $seed (set WALSTAR_SEED to repeat)";

my $node = PostgreSQL::Test::Cluster->new('replay');
$node->init(allows_streaming => 'logical');
$node->append_conf('postgresql.conf', q{
output_plugin_libraries = 'pgoutput, test_decoding, walstar_decoder'
logical_decoding_work_mem = 64kB
max_replication_slots = 4
});
$node->start;

my $schema = q{
CREATE TABLE t_main (id int PRIMARY KEY, i8 bigint, n numeric(14,3), f float8,
	b bool, t text, d date, ts timestamptz, tsn timestamp);
CREATE TABLE t_multi (a int, b text, u uuid, j jsonb, arr int[], iv interval,
	by bytea, tm time, PRIMARY KEY (a, b));
CREATE TABLE t_toast (id bigint PRIMARY KEY, big text, v varchar(20), c char(5), r real);
CREATE TABLE t_full (x int, y text);
ALTER TABLE t_full REPLICA IDENTITY FULL;
};
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->safe_psql('src', $schema);
$node->safe_psql('dst', $schema);
$node->safe_psql('src',
	"SELECT 'init' FROM pg_create_logical_replication_slot('replay', 'walstar_decoder')");

# --- random workload -------------------------------------------------------
my %ids = (t_main => {}, t_multi => {}, t_toast => {});
my $next_id = 1;

sub maybe_null
{
	my ($v) = @_;
	return rand() < 0.15 ? 'NULL' : $v;
}

sub rnd_text
{
	my @chars = ('a' .. 'z', ' ', "'", '"', '\\', 'é', '€', "\t");
	my $len = int(rand(12));
	my $s = join('', map { $chars[ int(rand(@chars)) ] } 1 .. $len);
	$s =~ s/'/''/g;
	return "E'" . ($s =~ s/\\/\\\\/gr) . "'";
}

sub main_values
{
	my $f = (int(rand(2000000)) - 1000000) / 64;
	return join(', ',
		maybe_null(int(rand(2**40)) - 2**39),
		maybe_null(sprintf("%.3f", rand(1e9) - 5e8)),
		maybe_null(rand() < 0.05 ? "'NaN'" : $f),
		maybe_null(rand() < 0.5 ? 'true' : 'false'),
		maybe_null(rnd_text()),
		maybe_null(sprintf("'%04d-%02d-%02d'", 1900 + int(rand(200)), 1 + int(rand(12)), 1 + int(rand(28)))),
		maybe_null("now() - interval '" . int(rand(1e9)) . " microseconds'"),
		maybe_null(sprintf("'2001-02-03 %02d:%02d:%02d.%06d'", int(rand(24)), int(rand(60)), int(rand(60)), int(rand(1e6)))));
}

sub multi_values
{
	return join(', ',
		maybe_null('gen_random_uuid()'),
		maybe_null(q{jsonb_build_object('k', } . int(rand(100)) . q{, 'txt', } . rnd_text() . ')'),
		maybe_null("ARRAY[" . int(rand(9)) . ", NULL, " . int(rand(9)) . "]"),
		maybe_null("interval '" . int(rand(30)) . " mons " . int(rand(40)) . " days " . int(rand(1e9)) . " microseconds'"),
		maybe_null("decode(md5('" . rand() . "'), 'hex')"),
		maybe_null(sprintf("'%02d:%02d:%02d.%03d'", int(rand(24)), int(rand(60)), int(rand(60)), int(rand(1000)))));
}

sub toast_values
{
	my $big = rand() < 0.3
	  ? "(SELECT string_agg(md5(i::text || '" . rand() . "'), '') FROM generate_series(1, 100) i)"
	  : rnd_text();
	return join(', ', maybe_null($big), maybe_null(rnd_text()),
		maybe_null("'ab'"), maybe_null(sprintf('%.2f', rand(100))));
}

sub pick
{
	my ($table) = @_;
	my @k = keys %{ $ids{$table} };
	return @k ? $k[ int(rand(@k)) ] : undef;
}

sub statement
{
	my $r = rand();
	my $table = (qw(t_main t_multi t_toast t_full))[ int(rand(4)) ];
	my $id;

	if ($table eq 't_full')
	{
		return "INSERT INTO t_full VALUES (" . int(rand(20)) . ", " . maybe_null(rnd_text()) . ")"
		  if $r < 0.5;
		return "UPDATE t_full SET y = " . maybe_null(rnd_text()) . " WHERE x = " . int(rand(20))
		  if $r < 0.8;
		return "DELETE FROM t_full WHERE x = " . int(rand(20));
	}
	if ($r < 0.5 || !defined($id = pick($table)))
	{
		$id = $next_id++;
		$ids{$table}{$id} = 1;
		return "INSERT INTO t_main VALUES ($id, " . main_values() . ")" if $table eq 't_main';
		return "INSERT INTO t_multi VALUES ($id, 'k$id', " . multi_values() . ")" if $table eq 't_multi';
		return "INSERT INTO t_toast VALUES ($id, " . toast_values() . ")";
	}
	my $where = $table eq 't_multi' ? "a = $id AND b = 'k$id'" : "id = $id";
	if ($r < 0.65)
	{
		# primary key change
		my $new = $next_id++;
		delete $ids{$table}{$id};
		$ids{$table}{$new} = 1;
		return "UPDATE t_multi SET a = $new, b = 'k$new' WHERE $where" if $table eq 't_multi';
		return "UPDATE $table SET id = $new WHERE $where";
	}
	if ($r < 0.85)
	{
		return "UPDATE t_main SET (i8, n, f, b, t, d, ts, tsn) = (" . main_values() . ") WHERE $where"
		  if $table eq 't_main';
		return "UPDATE t_multi SET (u, j, arr, iv, by, tm) = (" . multi_values() . ") WHERE $where"
		  if $table eq 't_multi';
		# leaves the TOASTed column alone half of the time
		return rand() < 0.5
		  ? "UPDATE t_toast SET v = " . maybe_null(rnd_text()) . " WHERE $where"
		  : "UPDATE t_toast SET (big, v, c, r) = (" . toast_values() . ") WHERE $where";
	}
	delete $ids{$table}{$id};
	return "DELETE FROM $table WHERE $where";
}

sub workload
{
	my ($ntx) = @_;
	my $sql = '';
	for my $tx (1 .. $ntx)
	{
		my @stmts = map { statement() . ";\n" } 1 .. (1 + int(rand(8)));
		$sql .= "BEGIN;\n" . join('', @stmts) . (rand() < 0.1 ? "ROLLBACK;\n" : "COMMIT;\n");
		# a rolled back transaction left our id bookkeeping wrong: resync
		if ($sql =~ /ROLLBACK;\n$/)
		{
			$node->safe_psql('src', $sql);
			$sql = '';
			for my $t (keys %ids)
			{
				my $col = $t eq 't_multi' ? 'a' : 'id';
				$ids{$t} = { map { $_ => 1 } split /\n/, $node->safe_psql('src', "SELECT $col FROM $t") };
			}
		}
	}
	$node->safe_psql('src', $sql) if $sql ne '';
}

# --- replay ---------------------------------------------------------------
# bytes in, characters out; encoded back to UTF-8 for psql
my $json = JSON::PP->new->utf8(1)->allow_bignum;

sub literal
{
	my ($v) = @_;
	return 'NULL' unless defined $v;
	if (ref($v) eq 'HASH')
	{
		return "'$v->{months} mons $v->{days} days $v->{micros} microseconds'::interval";
	}
	if (JSON::PP::is_bool($v))
	{
		return $v ? 'true' : 'false';
	}
	my $s = "$v";
	$s =~ s/'/''/g;
	return "'$s'";
}

sub quote_ident { return '"' . ($_[0] =~ s/"/""/gr) . '"'; }

sub where_clause
{
	my ($cols, $vals) = @_;
	return join(' AND ',
		map { defined($vals->{$_}) ? quote_ident($_) . ' = ' . literal($vals->{$_}) : quote_ident($_) . ' IS NULL' }
		  @$cols);
}

my ($records, $replayed) = (0, 0);

sub replay
{
	my $out = $node->safe_psql('src',
		"SELECT data FROM pg_logical_slot_get_changes('replay', NULL, NULL, "
		  . "'format', 'json', 'include-columns', 'true')");
	my @sql;
	for my $line (split /\n/, $out)
	{
		my $c = $json->decode($line);
		my $op = $c->{op};
		$records++;
		if ($op eq 'BEGIN') { push @sql, 'BEGIN;'; next; }
		if ($op eq 'COMMIT') { push @sql, 'COMMIT;'; next; }
		my $table = quote_ident($c->{table});
		if ($op eq 'TRUNCATE') { push @sql, "TRUNCATE $table;"; $replayed++; next; }
		my @keys = map { $_->{name} } grep { $_->{key} } @{ $c->{columns} };
		my @ordered = map { $_->{name} } @{ $c->{columns} };
		my $new = $c->{new} // {};
		my @newcols = grep { exists $new->{$_} } @ordered;
		if ($op eq 'INSERT')
		{
			push @sql, "INSERT INTO $table (" . join(', ', map { quote_ident($_) } @newcols)
			  . ") VALUES (" . join(', ', map { literal($new->{$_}) } @newcols) . ");";
		}
		elsif ($op eq 'UPDATE')
		{
			my $old = $c->{old};
			my $where;
			if (@keys)
			{
				$where = where_clause(\@keys, $old // $new);
			}
			else
			{
				# REPLICA IDENTITY FULL without a key: the whole old row, one row
				my @oldcols = grep { exists $old->{$_} } @ordered;
				$where = "ctid = (SELECT ctid FROM $table WHERE " . where_clause(\@oldcols, $old) . " LIMIT 1)";
			}
			push @sql, "UPDATE $table SET " . join(', ', map { quote_ident($_) . ' = ' . literal($new->{$_}) } @newcols)
			  . " WHERE $where;";
		}
		elsif ($op eq 'DELETE')
		{
			my $old = $c->{old};
			my @oldcols = grep { exists $old->{$_} } @ordered;
			my $where = @keys
			  ? where_clause(\@keys, $old)
			  : "ctid = (SELECT ctid FROM $table WHERE " . where_clause(\@oldcols, $old) . " LIMIT 1)";
			push @sql, "DELETE FROM $table WHERE $where;";
		}
		else
		{
			die "unexpected record: $line";
		}
		$replayed++;
	}
	$node->safe_psql('dst', encode_utf8(join("\n", @sql))) if @sql;
}

sub table_digest
{
	my ($db, $table, $order) = @_;
	return $node->safe_psql($db,
		"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY $order)), '') FROM $table t");
}

sub compare_all
{
	my ($label) = @_;
	for my $t (['t_main', 'id'], ['t_multi', 'a, b'], ['t_toast', 'id'], ['t_full', 't::text'])
	{
		my ($got, $want) = (table_digest('dst', @$t), table_digest('src', @$t));
		is($got, $want, "$label: $t->[0] identical");
		next if $got eq $want;
		# show the first differing row
		my $q = "SELECT t::text FROM $t->[0] t ORDER BY $t->[1]";
		my @d = split /\n/, $node->safe_psql('dst', $q);
		my @s = split /\n/, $node->safe_psql('src', $q);
		for my $i (0 .. $#s)
		{
			next if ($d[$i] // '') eq $s[$i];
			diag "source:  $s[$i]\nreplica: " . ($d[$i] // '(none)');
			last;
		}
	}
}

workload(250);
replay();
compare_all('first batch');

# more work, with a TRUNCATE in the middle of a transaction
workload(100);
$node->safe_psql('src', q{
BEGIN;
INSERT INTO t_full VALUES (99, 'before truncate');
TRUNCATE t_full, t_toast;
INSERT INTO t_full VALUES (100, 'after truncate');
COMMIT;
});
%ids = (t_main => $ids{t_main}, t_multi => $ids{t_multi}, t_toast => {});
workload(150);
replay();
compare_all('second batch');

# the digests are not trivially equal: the source holds data
my $rows = $node->safe_psql('src',
	'SELECT (SELECT count(*) FROM t_main) + (SELECT count(*) FROM t_multi) + (SELECT count(*) FROM t_toast)');
cmp_ok($rows, '>', 50, "source tables hold rows ($rows)");
cmp_ok($replayed, '>', 1000, "replayed $replayed changes out of $records records");

$node->stop;
done_testing();
