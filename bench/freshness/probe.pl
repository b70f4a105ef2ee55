#!/usr/bin/perl
# The freshness probe of bench/freshness/run.sh: for SECONDS seconds, commits
# a probe claim at the source (one at a time, at most one a second) and
# polls the analytics side's metric function until the claim is counted;
# meanwhile samples the apply side's progress every 5 s. Prints, as
# key=value pairs on one line: probes, p50_ms, p99_ms, max_ms, applied_per_s
# (Kafka messages applied by every subscription per second over the run),
# backlog_start and backlog_end (messages not applied yet).
#   probe.pl SOURCE_CONNINFO ANALYTICS_CONNINFO SECONDS PROBE_CUSTOMER
use strict;
use warnings;
use IPC::Run ();
use Time::HiRes qw(time sleep);

my ($src_conn, $ana_conn, $seconds, $customer) = @ARGV;
die "usage: $0 SOURCE_CONNINFO ANALYTICS_CONNINFO SECONDS PROBE_CUSTOMER\n" unless defined $customer;

# A psql session kept open: each query's answer is read up to a marker line.
sub session
{
	my ($conn) = @_;
	my ($in, $out) = ('', '');
	my $h = IPC::Run::start([ 'psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $conn ],
		'<', \$in, '>', \$out, '2>', \*STDERR);
	return { h => $h, in => \$in, out => \$out };
}

sub query
{
	my ($s, $sql) = @_;
	${ $s->{out} } = '';
	${ $s->{in} } .= "$sql;\n\\echo __done__\n";
	$s->{h}->pump until ${ $s->{out} } =~ /__done__\n/;
	my ($answer) = ${ $s->{out} } =~ /^(.*?)__done__\n/s;
	chomp $answer;
	return $answer;
}

my $src = session($src_conn);
my $ana = session($ana_conn);
# ids above the workload's random range: its deletes and updates never
# touch a probe claim (a deleted probe would never be counted)
my $probe_sql = "INSERT INTO claims (id, customer_id, amount) SELECT coalesce(max(id), 1900000000) + 1, $customer, 1"
  . " FROM claims WHERE id > 1900000000";
my $count_sql = q{SELECT walstar_claims.total_claims(NULL, NULL, 'ZZ')};
my $progress_sql = q{SELECT coalesce(sum(offset_applied + 1), 0) || ' ' || coalesce(sum(lag_messages), 0)
	FROM walstar.subscription_status};

my $seen = query($ana, $count_sql);
my ($applied0, $backlog0) = split / /, query($ana, $progress_sql);
my $t_start = time;
my ($applied1, $backlog1, $t_sample) = ($applied0, $backlog0, $t_start);
my @latencies;
my $next_probe = $t_start;
while (time < $t_start + $seconds)
{
	sleep($next_probe - time) if $next_probe > time;
	$next_probe = time + 1;
	query($src, $probe_sql);
	my $committed = time;
	my $want = $seen + 1;
	# an overloaded pipeline may take minutes; a probe is given up after 10
	while (query($ana, $count_sql) < $want)
	{
		if (time - $t_sample >= 5)
		{
			($applied1, $backlog1) = split / /, query($ana, $progress_sql);
			$t_sample = time;
		}
		last if time - $committed > 600;
		sleep 0.01;
	}
	push @latencies, (time - $committed) * 1000;
	$seen = $want;
}
($applied1, $backlog1) = split / /, query($ana, $progress_sql);
$t_sample = time;
$_->{h}->finish for ($src, $ana);

my @sorted = sort { $a <=> $b } @latencies;
sub pct { my ($p) = @_; return @sorted ? $sorted[int($p * $#sorted + 0.5)] : 0; }
printf "probes=%d p50_ms=%.0f p99_ms=%.0f max_ms=%.0f applied_per_s=%.0f backlog_start=%d backlog_end=%d\n",
	scalar(@sorted), pct(0.5), pct(0.99), (@sorted ? $sorted[-1] : 0),
	($applied1 - $applied0) / ($t_sample - $t_start), $backlog0, $backlog1;
