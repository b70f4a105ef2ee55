# The extensions' upgrade paths: for every older version that still has an
# install script, CREATE EXTENSION ... VERSION 'old' followed by ALTER
# EXTENSION ... UPDATE must leave exactly the objects of a fresh install of
# the default version. The objects are compared through pg_dump in
# binary-upgrade mode, the one mode in which pg_dump writes out every member
# of an extension (tables, columns in their order, functions with their
# bodies and settings, grants, comments, triggers, indexes) instead of the
# CREATE EXTENSION line; only what is OID-specific is left out of the
# comparison, and the values an ADD COLUMN gave existing rows (the column's
# default, in the dump anyway).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = $ENV{WALSTAR_ROOT};
my $sharedir = `pg_config --sharedir`;
chomp $sharedir;
my $extdir = "$sharedir/extension";

# extension name => the versions with a full install script, and its default
sub versions
{
	my ($ext) = @_;
	my $control = slurp_file("$extdir/$ext.control");
	my ($default) = $control =~ /^default_version\s*=\s*'([^']+)'/m
	  or die "$ext.control has no default_version";
	my @full = sort grep { !/--/ } map { m{/\Q$ext\E--(.+)\.sql$} ? $1 : () } glob("$extdir/$ext--*.sql");
	return ($default, @full);
}

# What pg_dump writes of one database's objects, without what differs from
# one database to the next for the same objects: OIDs and relfilenodes, the
# session's restrict key, and the header's version line.
sub objects
{
	my ($node, $db) = @_;
	my ($out, $err);
	my $ok = IPC::Run::run [ 'pg_dump', '--binary-upgrade', '--schema-only', '--no-owner',
		'-d', $node->connstr($db) ], '>', \$out, '2>', \$err;
	die "pg_dump $db: $err" unless $ok;
	my @lines;
	for (split /\n/, $out)
	{
		next if /^\\(un)?restrict /;
		next if /binary_upgrade_set_next_/;
		next if /^-- Dumped (from|by) /;
		# the value rows that existed before an ADD COLUMN ... DEFAULT read
		# (attmissingval): the default itself, which the dump has anyway
		next if /binary_upgrade_set_missing_value/ || /^-- set missing value\.$/;
		# the frozen-xid fix-ups after each table
		next if /^SET relfrozenxid = / || /^WHERE oid = '\d+'(::pg_catalog.oid)?;/;
		s/(binary_upgrade_create_empty_extension\([^{]*)'\{[0-9,]*\}'/$1'{config oids}'/;
		push @lines, $_;
	}
	my $dump = join("\n", @lines) . "\n";
	$dump =~ s/\n{3,}/\n\n/g;	# the blank lines around what was left out
	return $dump;
}

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'walstar'\n");
$node->start;

my $paths = 0;
for my $ext ('walstar', 'walstar_claims')
{
	my ($default, @full) = versions($ext);
	ok(grep({ $_ eq $default } @full), "$ext: the default version $default has its own install script");
	(my $fresh = "fresh_$ext") =~ s/[^a-z_]/_/g;
	$node->safe_psql('postgres', "CREATE DATABASE $fresh");
	$node->safe_psql($fresh, "CREATE EXTENSION $ext CASCADE");
	my $want = objects($node, $fresh);
	for my $old (grep { $_ ne $default } @full)
	{
		(my $db = "from_${ext}_$old") =~ s/[^a-z0-9_]/_/g;
		$node->safe_psql('postgres', "CREATE DATABASE $db");
		# the required extensions at their default versions, as in an
		# installation that updates walstar first
		$node->safe_psql($db, "CREATE EXTENSION walstar") if $ext ne 'walstar';
		$node->safe_psql($db, "CREATE EXTENSION $ext VERSION '$old'");
		my ($ret, $stdout, $stderr) = $node->psql($db, "ALTER EXTENSION $ext UPDATE");
		is($ret, 0, "$ext: ALTER EXTENSION UPDATE from $old") or diag $stderr;
		is($node->safe_psql($db, "SELECT extversion FROM pg_extension WHERE extname = '$ext'"),
			$default, "$ext: $old updates to $default");
		my $got = objects($node, $db);
		$got =~ s/\Q$db\E/$fresh/g;
		if ($got eq $want)
		{
			pass("$ext: $old updated to $default has the objects of a fresh $default");
		}
		else
		{
			my $dir = PostgreSQL::Test::Utils::tempdir;
			PostgreSQL::Test::Utils::append_to_file("$dir/fresh.sql", $want);
			PostgreSQL::Test::Utils::append_to_file("$dir/updated.sql", $got);
			my $diff = `diff -u $dir/fresh.sql $dir/updated.sql | head -80`;
			fail("$ext: $old updated to $default has the objects of a fresh $default");
			diag $diff;
		}
		$paths++;
	}
}
# A release that changes SQL ships an update script; the oldest release
# still supported is 0.1, so there is at least one path to check.
cmp_ok($paths, '>=', 1, 'at least one update path was checked');

$node->stop;
done_testing();
