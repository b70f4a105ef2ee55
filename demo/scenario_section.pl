#!/usr/bin/perl
# Prints the part of a scenario's source DDL (shared/scenario/*_sources.sql,
# copied into demo/) that belongs in one service database: the lines after
# '-- \connect DB' up to the next '-- \connect'. A type that the section uses
# but another section creates (booking_orders' bookings.platform is the
# journey's enum) is created first, as each service would have its own copy.
#   demo/scenario_section.pl demo/booking/booking_sources.sql booking_orders | psql -d booking_orders
use strict;
use warnings;

my ($file, $db) = @ARGV;
die "usage: $0 SOURCES.sql DATABASE\n" unless defined $db;
open(my $fh, '<', $file) or die "$file: $!\n";
my $ddl = do { local $/; <$fh> };
my %sections = $ddl =~ /^-- \\connect (\S+)\n(.*?)(?=^-- \\connect |\z)/gms;
my $mine = $sections{$db} // die "$file has no section for $db\n";
my %types;
for my $other (grep { $_ ne $db } sort keys %sections)
{
	$types{$1} = $& while $sections{$other} =~ /^CREATE TYPE (\w+) .*?;\n/gms;
}
my %own = map { $_ => 1 } $mine =~ /^CREATE TYPE (\w+) /gm;
for my $t (sort keys %types)
{
	print $types{$t} if !$own{$t} && $mine =~ /^\s+\w+\s+\Q$t\E\b/m;
}
print $mine;
