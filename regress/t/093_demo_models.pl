# make demo for each model, as it is (demo/run.sh), at a size that keeps CI
# short: the claims, booking and ratings demos each start their clusters,
# Kafka, sinks and apply workers, load a small history, run their pgbench
# workload for a few seconds, catch up, print every question's answer and
# pass their checks against plain SQL over the sources. A copy of the tree
# whose demo/ratings/answers.sql says something else makes the ratings demo
# fail with a MISMATCH; an unknown model is refused naming the choices.
use strict;
use warnings;
use File::Copy ();
use File::Path ();
use IPC::Run ();
use PostgreSQL::Test::Utils;
use Test::More;

my $root = $ENV{WALSTAR_ROOT} // '.';
my ($bindir) = grep { -x "$_/pg_config" } split /:/, $ENV{PATH};
my %env = (PG_CONFIG => "$bindir/pg_config", DEMO_SECONDS => 10, DEMO_RATE => 10, DEMO_CLAIMS => 2000,
	DEMO_SESSIONS => 1500, DEMO_MATCHES => 200);

sub demo
{
	my ($tree, $name, @args) = @_;
	my ($out, $err) = ('', '');
	local @ENV{ keys %env } = values %env;
	local $ENV{DEMO_WORK} = PostgreSQL::Test::Utils::tempdir("demo_$name");
	my $ok = IPC::Run::run [ "$tree/demo/run.sh", @args ], '>', \$out, '2>', \$err;
	note("demo/run.sh @args:\n$out$err") unless $ok;
	return ($ok, $out, $err);
}

my ($ok, $out, $err) = demo($root, 'help', '--help');
ok($ok, '--help');
like($out, qr/demo\/run\.sh \[claims\|booking\|ratings\]/, '--help names the models');
($ok, $out, $err) = demo($root, 'unknown', 'shop');
ok(!$ok, 'an unknown model fails');
like($err, qr/unknown model "shop"; the choices are: claims booking ratings/, 'and names the choices');

# Every question's heading, then the checks' lines: the start of a line of
# the demo's output, N standing for a number.
my %expect = (
	claims => [
		'1. How many claims so far?', '2. Minimum, maximum, average and median claim amount',
		'3. How many positive feedbacks?', '4. Feedback sentiment for anomaly claims',
		'5. How long does it take to resolve an anomaly claim',
		'verify(): the model agrees with a full recomputation',
		'count, min, max, avg of claims equal plain SQL on acme_claims: N ',
		'positive feedback equals plain SQL on acme_feedback: N' ],
	booking => [
		'1. The funnel per day and platform', '2. Bookings and revenue per day and platform, per currency',
		'3. Time from the first page view to the confirmed booking', '4. Repeat bookings per month',
		"5. The funnel by the user's country", 'verify(): the model agrees with a full recomputation',
		'every answer of the model (N lines: booking_time N, bookings N, funnel N, funnel_by_country N, '
		  . 'repeat_bookings N) equals demo/booking/answers.sql over the sources' ],
	ratings => [
		'1. Player form', '2. Top players per position', '3. Club ratings',
		'4. The distribution of ratings per league and season',
		'verify(): the model agrees with a full recomputation',
		'every answer of the model (N lines: club_ratings N, league_distribution N, player_form N, top_players N) '
		  . 'equals demo/ratings/answers.sql over the sources' ]);
my %services = (claims => [qw(customers claims feedback)], booking => [qw(users journey orders)],
	ratings => [qw(clubs matches)]);
for my $model (qw(claims booking ratings))
{
	($ok, $out, $err) = demo($root, $model, $model eq 'claims' ? () : ($model));
	ok($ok, "the $model demo passes") or diag($err);
	for my $line (@{ $expect{$model} })
	{
		my $re = join('\d+', map { quotemeta } split /N/, $line, -1);
		like($out, qr/^$re/m, "$model prints: $line");
	}
	like($out, qr/^\Q$_\E +tps = [1-9]/m, "$model: the workload ran on $_") for @{ $services{$model} };
	unlike($out . $err, qr/MISMATCH|differences!/, "$model: no difference reported");
}

# The same ratings demo from a tree whose reference answers differ.
my $tree = PostgreSQL::Test::Utils::tempdir('tree');
IPC::Run::run [ 'sh', '-c', 'tar --exclude=./.cache --exclude=./.git -cf - . | tar -xf - -C "$1"', 'sh', $tree ],
  init => sub { chdir $root or die "$root: $!" }
  or die 'copying the tree failed';
my $answers = slurp_file("$tree/demo/ratings/answers.sql");
ok($answers =~ s/percentile_cont\(0\.9\)/percentile_cont(0.8)/, 'the copy computes p90 as p80');
open(my $fh, '>', "$tree/demo/ratings/answers.sql") or die $!;
print $fh $answers;
close $fh;
{
	local $ENV{KAFKA_HOME} = $ENV{KAFKA_HOME} // "$root/.cache/kafka";
	($ok, $out, $err) = demo($tree, 'mismatch', 'ratings');
}
ok(!$ok, 'the ratings demo fails when an answer differs from plain SQL');
like($err, qr/^MISMATCH: every answer of the model .* equals demo\/ratings\/answers\.sql over the sources does not hold/m,
	'with a message naming the check');
like($err, qr/^[<>] league_distribution \| /m, 'and the differing lines');
like($out, qr/^verify\(\): the model agrees/m, 'verify() still passed');
done_testing();
