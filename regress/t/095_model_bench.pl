# The model benchmarks (bench/booking, bench/ratings) at a small size: each
# runs to its end, every metric function it times returns the same rows as
# its plain SQL over the landing tables, and the model's verify() finds no
# difference after the benchmark's apply batches. The benchmarks are meant
# to be run again after changes to the engine (at 10M events, by hand: see
# their RESULTS.md); this keeps their plain SQL and their batches honest.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = $ENV{WALSTAR_ROOT};
my $work = PostgreSQL::Test::Utils::tempdir;

for my $model ('booking', 'ratings')
{
	my ($out, $err);
	local $ENV{BENCH_WORK} = "$work/$model";
	local $ENV{BENCH_RESULTS} = "$work/results";
	local $ENV{BENCH_EVENTS} = 20000;
	local $ENV{BENCH_BATCHES} = 2;
	local $ENV{BENCH_CALLS} = 5;
	local $ENV{BENCH_PLAIN_CALLS} = 1;
	local $ENV{BENCH_TIMEOUT} = 300;
	local $ENV{PG_CONFIG} = $ENV{PG_CONFIG} // 'pg_config';
	my $ok = IPC::Run::run [ 'sh', "$root/bench/$model/run.sh" ], '<', \undef, '>', \$out, '2>', \$err;
	ok($ok, "bench/$model/run.sh runs to its end") or diag("stdout:\n$out\nstderr:\n$err");

	# metric lines: label, function ms, calls, plain SQL ms, ratio, same
	my @lines = grep { /^\S.*\s+(yes|NO|-)$/ } split /\n/, $out;
	cmp_ok(scalar(@lines), '>=', 30, "bench/$model times every function") or diag($out);
	my @differ = grep { !/\syes$/ } @lines;
	is(join("\n", @differ), '', "bench/$model: every function returns what its plain SQL returns");
	like($out, qr/^  landing tables \+ the model: +[0-9.]+ s/m, "bench/$model measures the apply cost");
	like($out, qr/^  $model\.verify\(\) after the batches: 0 differences$/m,
		"bench/$model: the model agrees with the landing tables after the batches");
}

done_testing();
