#!/bin/sh
# Checks a PGXN release zip (make dist): META.json follows meta-spec 1.0.0
# (required keys, release_status, semver versions), every file it names is
# in the zip, and each extension's version matches its control file.
set -eu
zip=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
unzip -q "$OLDPWD/$zip" 2>/dev/null || unzip -q "$zip"
top=$(ls)
[ "$(echo "$top" | wc -l)" = 1 ] || { echo "check_dist: the zip must hold one directory" >&2; exit 1; }
cd "$top"
perl -MJSON::PP -e '
	use strict;
	my $m = decode_json(do { local $/; open(my $f, "<", "META.json") or die "no META.json\n"; <$f> });
	my @err;
	for my $k (qw(name abstract version maintainer license provides meta-spec release_status))
	{
		push @err, "missing $k" unless exists $m->{$k};
	}
	my $semver = qr/^\d+\.\d+\.\d+$/;
	push @err, "version $m->{version} is not semver" unless $m->{version} =~ $semver;
	push @err, "release_status must be stable, testing or unstable"
	  unless ($m->{release_status} // "") =~ /^(stable|testing|unstable)$/;
	push @err, "meta-spec must be 1.0.0" unless $m->{"meta-spec"}{version} eq "1.0.0";
	for my $e (sort keys %{ $m->{provides} })
	{
		my $p = $m->{provides}{$e};
		push @err, "$e: version $p->{version} is not semver" unless $p->{version} =~ $semver;
		for my $f (grep { defined } $p->{file}, $p->{docfile})
		{
			push @err, "$e: $f is not in the zip" unless -f $f;
		}
		my ($control) = grep { -f } ("extension/$e.control", glob("extension/*/$e.control"));
		my $c = do { local $/; open(my $f, "<", $control) or die "$e: no control file\n"; <$f> };
		my ($dv) = $c =~ /^default_version\s*=\s*\x27([^\x27]+)\x27/m;
		push @err, "$e: META.json says $p->{version}, $control default_version $dv"
		  unless "$p->{version}" =~ /^\Q$dv\E(\.0)?$/;
	}
	my $pg = $m->{prereqs}{runtime}{requires}{PostgreSQL} // "";
	push @err, "PostgreSQL requirement \"$pg\" must ask for 15.20 or newer" unless $pg =~ />= 15\.20\.0/;
	die map { "check_dist: $_\n" } @err if @err;
	print "check_dist: META.json valid; $m->{name} $m->{version} ($m->{release_status})\n";
'
