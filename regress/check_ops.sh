#!/bin/sh
# The operations files: Prometheus alert rules (syntax, then the promtool
# unit tests of every alert), the Grafana dashboard (valid JSON whose
# queries only use series walstar exports) and the sink's systemd unit
# (systemd-analyze verify, when systemd is installed).
set -eu
cd "$(dirname "$0")/../ops"

promtool check rules prometheus/walstar-alerts.yml
(cd prometheus && promtool test rules tests/walstar-alerts-test.yml)

# Every walstar_* series the dashboard and the alert rules use is one that
# walstar-sink (sink/metrics.c) or the shipped exporter queries produce.
perl -MJSON::PP -e '
	use strict;
	my %known;
	my $c = do { local $/; open(my $f, "<", "../sink/metrics.c") or die; <$f> };
	$known{$1} = 1 while $c =~ /"(walstar_sink_[a-z_]+)/g;
	for my $h (grep { /_seconds$/ } keys %known) { $known{"${h}_$_"} = 1 for qw(bucket sum count); }
	for my $y (glob "prometheus/*-queries.yaml")
	{
		open(my $f, "<", $y) or die; my ($q, $col);
		while (<$f>)
		{
			$q = $1 if /^(\w+):\s*$/;
			$col = $1 if /^\s+- (\w+):\s*$/;
			$known{"${q}_$col"} = 1 if /usage: "(GAUGE|COUNTER)"/;
		}
	}
	my $d = do { local $/; open(my $f, "<", "grafana/walstar.json") or die; <$f> };
	my $dash = decode_json($d);
	my @exprs;
	my @todo = @{ $dash->{panels} };
	while (my $p = shift @todo)
	{
		push @todo, @{ $p->{panels} // [] };
		push @exprs, map { $_->{expr} } @{ $p->{targets} // [] };
	}
	push @exprs, map { $_->{query}{query} } @{ $dash->{templating}{list} };
	my $r = do { local $/; open(my $f, "<", "prometheus/walstar-alerts.yml") or die; <$f> };
	push @exprs, $r =~ /expr:\s*(.*?)(?=\n\s+(?:for|labels):)/gs;
	my @bad = grep { !$known{$_} } map { /\b(walstar_\w+)/g } @exprs;
	die "unknown series: @bad\n" if @bad;
	printf "check_ops: dashboard (%d panels) and alert rules use only exported series\n", scalar @{ $dash->{panels} };
'

if command -v systemd-analyze >/dev/null; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# the binary need not be installed for the unit's syntax to be checked
	sed 's|/usr/bin/walstar-sink|/bin/true|g' ../sink/walstar-sink.service > "$tmp/walstar-sink@.service"
	out=$(cd "$tmp" && systemd-analyze verify --man=no ./walstar-sink@check.service 2>&1) || true
	if [ -n "$out" ]; then
		echo "$out" >&2
		exit 1
	fi
	echo "check_ops: sink/walstar-sink.service verified"
	sed 's|/usr/bin/walstar-archive|/bin/true|g' ../archive/walstar-archive.service > "$tmp/walstar-archive@.service"
	out=$(cd "$tmp" && systemd-analyze verify --man=no ./walstar-archive@check.service 2>&1) || true
	if [ -n "$out" ]; then
		echo "$out" >&2
		exit 1
	fi
	echo "check_ops: archive/walstar-archive.service verified"
fi
