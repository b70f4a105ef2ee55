# The booking and ratings scenarios (demo/booking, demo/ratings: the
# shared/scenario DDL unchanged) through the real pipeline, set up one way
# for the tests that run them (068 landing tables, 089 booking, 092 ratings):
#
#   WalstarTest::Scenario::create_service($src, 'booking_journey',
#       "$root/demo/booking/booking_sources.sql", \%sizes,
#       before => $sql, history => [ files ], after => $sql);
#       # the database (unless it is the source's first), its section of the
#       # scenario DDL, $sql, the history loaders with \set for every size
#   my @sinks = WalstarTest::Scenario::subscribe($ana, $src, $kafka,
#       'booking_journey', [ 'page_views' ], 'booking_land', role => 'booker',
#       batch_time => '200ms');
#       # a subscription of the database's tables into the landing schema
#       # (created by the role, if one is given) and a sink streaming them
#   WalstarTest::Scenario::wait_caught_up($src, $ana, 'label',
#       [ [ 'booking_journey', 'page_views', 'booking_land' ], ... ]);
#       # every landing table holds what its source table holds (count and
#       # a hash of every row); one passing test
#   WalstarTest::Scenario::workloads($src, \%sizes, 30,
#       { booking_journey => [ "$dir/session_new.sql@10", ... ] });
#       # pgbench on every database at once for WALSTAR_SCENARIO_SECONDS
#       # (10), at the rate given; two tests per database
#   my %cols = WalstarTest::Scenario::copy_tables($src, 'expected',
#       [ [ 'booking_users', 'user_versions' ], ... ]);
#       # a new database of the source cluster with a copy of each table
#       # (enums as text, as they land); returns table => [ columns, COPY text ]
package WalstarTest::Scenario;

use strict;
use warnings;
use IPC::Run ();
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Sink;

my $root = $ENV{WALSTAR_ROOT} // '.';

sub create_service
{
	my ($src, $db, $sections, $sizes, %opt) = @_;
	my ($out, $err);
	IPC::Run::run [ "$root/demo/scenario_section.pl", $sections, $db ], '>', \$out, '2>', \$err
	  or die "scenario_section.pl $db: $err";
	my $exists = $src->safe_psql('postgres', "SELECT count(*) FROM pg_database WHERE datname = '$db'");
	$src->safe_psql('postgres', "CREATE DATABASE $db") unless $exists;
	$src->safe_psql($db, $out);
	$src->safe_psql($db, $opt{before}) if defined $opt{before};
	my $vars = join('', map { "\\set $_ $sizes->{$_}\n" } sort keys %$sizes);
	$src->safe_psql($db, $vars . join('', map { slurp_file($_) } @{ $opt{history} // [] }));
	$src->safe_psql($db, $opt{after}) if defined $opt{after};
	return;
}

sub subscribe
{
	my ($ana, $src, $kafka, $db, $tables, $schema, %opt) = @_;
	my $role = $opt{role} ? "SET ROLE $opt{role};\n" : '';
	$ana->safe_psql('ana', $role . "SELECT walstar.create_subscription('$db', '" . $kafka->bootstrap
		  . "', topics => ARRAY[" . join(', ', map { "'$db.public.$_'" } @$tables)
		  . "], landing_schema => '$schema', batch_time => '" . ($opt{batch_time} // '100ms') . "', enabled => true)");
	return WalstarTest::Sink->start(name => $db, node => $src, db => $db, kafka => $kafka,
		args => [ "--slot=walstar_$db", "--topic-prefix=$db", '--include-tables=' . join(',', map { "public.$_" } @$tables) ]);
}

sub wait_caught_up
{
	my ($src, $ana, $label, $tables) = @_;
	my $fingerprint = q{SELECT count(*) || ':' || coalesce(sum(hashtext(t::text)), 0) FROM %s t};
	for my $d (@$tables)
	{
		my ($db, $t, $schema) = @$d;
		my $want = $src->safe_psql($db, sprintf($fingerprint, $t));
		$ana->poll_query_until('ana', sprintf($fingerprint, "$schema.$t"), $want)
		  or die "$label: $schema.$t did not catch up with $db.$t ($want)";
	}
	pass("$label: the landing tables caught up");
	return;
}

sub workloads
{
	my ($src, $sizes, $rate, $scripts) = @_;
	my $seconds = $ENV{WALSTAR_SCENARIO_SECONDS} // 10;
	my @runs;
	for my $db (sort keys %$scripts)
	{
		my ($out, $err) = ('', '');
		push @runs, [ $db, \$out, \$err, IPC::Run::start(
			[ 'pgbench', '-n', '-T', $seconds, '-R', $rate, '-c', '2', '-j', '1',
			  (map { ('-D', "$_=$sizes->{$_}") } sort keys %$sizes),
			  (map { ('-f', $_) } @{ $scripts->{$db} }),
			  '-h', $src->host, '-p', $src->port, $db ],
			'>', \$out, '2>', \$err) ];
	}
	for my $r (@runs)
	{
		my ($db, $out, $err, $h) = @$r;
		ok($h->finish, "the workload on $db") or diag($$err);
		my ($n) = $$out =~ /number of transactions actually processed: (\d+)/;
		cmp_ok($n // 0, '>', 20, "$db: the workload committed transactions");
	}
	return;
}

sub copy_tables
{
	my ($src, $target, $tables) = @_;
	my %copied;
	$src->safe_psql('postgres', "CREATE DATABASE $target");
	for my $c (@$tables)
	{
		my ($db, $t) = @$c;
		my $data = $src->safe_psql($db, "COPY $t TO STDOUT");
		my $cols = $src->safe_psql($db, qq{SELECT string_agg(quote_ident(attname) || ' ' ||
			CASE WHEN t.typtype = 'e' THEN 'text' ELSE format_type(atttypid, atttypmod) END, ', ' ORDER BY attnum)
			FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
			WHERE attrelid = '$t'::regclass AND attnum > 0 AND NOT attisdropped});
		$src->safe_psql($target, "CREATE TABLE $t ($cols)");
		$src->safe_psql($target, "COPY $t FROM STDIN;\n$data\n\\.\n") if $data ne '';
		$copied{$t} = [ $cols, $data ];
	}
	return %copied;
}

1;
