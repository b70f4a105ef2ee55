# walstar_ratings through the real pipeline: the player-ratings scenario's
# two service databases (their DDL unchanged, the history loaders' rows), one
# walstar-sink per database, a real Kafka broker, two subscriptions owned by
# an ordinary admin role, who attaches the model once the history has landed;
# then the scenario's workloads run on both services at once: transfers
# (some dated back), free agents, players signing after their ratings, new
# matches, rating corrections and match deletes whose ratings the stream
# carries one by one.
#
# Asserted, after catch-up: every answer of walstar_ratings.answers() (the
# model's metric functions) equals demo/ratings/answers.sql computed over
# copies of the source tables and the source's own record of every players
# version; verify() is empty; the same after rebuild(); the reader reads.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::Scenario;

my $root = $ENV{WALSTAR_ROOT} // '.';
my $dir = "$root/demo/ratings";
my %sizes = (clubs => 10, players => 240, matches => 200);
my %services = (ratings_clubs => [ 'clubs', 'players' ], ratings_matches => [ 'matches', 'ratings' ]);
my %history = (ratings_clubs => 'history_clubs.sql', ratings_matches => 'history_matches.sql');
my %workload = (
	ratings_clubs => [ 'player_transfer.sql@4', 'player_release.sql@1', 'player_new.sql@1' ],
	ratings_matches => [ 'match_new.sql@3', 'rating_correct.sql@6', 'match_delete.sql@1' ]);

my $kafka = WalstarTest::Kafka->start;
my $src = WalstarTest::Pipeline::source('ratings_source', 'ratings_clubs');
$src->append_conf('postgresql.conf', "timezone = 'UTC'\n");
$src->reload;
my $ana = WalstarTest::Pipeline::analytics_node('ratings_analytics', "timezone = 'UTC'\n");

for my $db (sort keys %services)
{
	WalstarTest::Scenario::create_service($src, $db, "$dir/ratings_sources.sql", \%sizes, history => ["$dir/$history{$db}"]);
}
# the source's record of every version of every players row (not replicated)
$src->safe_psql('ratings_clubs', slurp_file("$dir/player_versions.sql"));

$ana->safe_psql('ana', q{
CREATE EXTENSION walstar_ratings CASCADE;
CREATE ROLE league LOGIN IN ROLE walstar_admin;
CREATE ROLE analyst LOGIN IN ROLE walstar_reader;
GRANT CREATE ON DATABASE ana TO league;
SET ROLE league;
CREATE SCHEMA ratings_land;
});
sub as_league { return $ana->safe_psql('ana', "SET ROLE league;\n" . $_[0]); }
my @sinks = map { WalstarTest::Scenario::subscribe($ana, $src, $kafka, $_, $services{$_}, 'ratings_land', role => 'league') }
  sort keys %services;
my @landing = map { my $db = $_; map { [ $db, $_, 'ratings_land' ] } @{ $services{$db} } } sort keys %services;
sub wait_caught_up { WalstarTest::Scenario::wait_caught_up($src, $ana, $_[0], \@landing); }

# The reference: answers.sql over copies of the source tables.
my $round = 0;
sub compare
{
	my ($label) = @_;
	my $db = 'expected_' . ++$round;
	WalstarTest::Scenario::copy_tables($src, $db, [ [ 'ratings_clubs', 'player_versions' ], [ 'ratings_clubs', 'clubs' ],
		[ 'ratings_clubs', 'players' ], [ 'ratings_matches', 'matches' ], [ 'ratings_matches', 'ratings' ] ]);
	my $want = $src->safe_psql($db, slurp_file("$dir/answers.sql"));
	my $got = $ana->safe_psql('ana', q{SELECT string_agg(a, E'\n' ORDER BY a) FROM walstar_ratings.answers() a});
	my %kinds = map { (split / \| /)[0] => 1 } split /\n/, $got;
	is(join(',', sort keys %kinds), 'club_ratings,league_distribution,player_form,top_players',
		"$label: every question has answers");
	is($got, $want, "$label: every answer of the model equals answers.sql over the sources") or diag_versions();
	is($ana->safe_psql('ana', q{SET ROLE league; SELECT string_agg(concat_ws(' ', object, problem, detail), E'\n')
		FROM (SELECT * FROM ratings.verify() LIMIT 10) v}), '', "$label: verify() reports no difference");
}

# On a difference: the players versions the two sides know, where they differ.
sub diag_versions
{
	my %src = map { $_ => 1 } split /\n/, $src->safe_psql('ratings_clubs',
		q{SELECT DISTINCT ON (id, updated_at) concat_ws(' ', id, club_id, updated_at) FROM player_versions
		  ORDER BY id, updated_at, seq DESC});
	my %ana = map { $_ => 1 } split /\n/, $ana->safe_psql('ana',
		q{SET ROLE league; SELECT concat_ws(' ', id, club_id, valid_from) FROM ratings.d_player});
	diag("source only: $_") for grep { !$ana{$_} } sort keys %src;
	diag("model only: $_") for grep { !$src{$_} } sort keys %ana;
	my %want = map { split / /, $_, 2 } split /\n/, $src->safe_psql('expected_' . $round, q{
		SELECT r.id || ' ' || concat_ws(' ', r.player_id, m.played_at, (coalesce(
			(SELECT ARRAY[pv.club_id] FROM player_versions pv WHERE pv.id = r.player_id AND pv.updated_at <= m.played_at
			 ORDER BY pv.updated_at DESC, pv.seq DESC LIMIT 1),
			(SELECT ARRAY[pv.club_id] FROM player_versions pv WHERE pv.id = r.player_id
			 ORDER BY pv.updated_at, pv.seq DESC LIMIT 1)))[1])
		FROM ratings r JOIN matches m ON m.id = r.match_id});
	my %have = map { split / /, $_, 2 } split /\n/, $ana->safe_psql('ana', q{SET ROLE league;
		SELECT id || ' ' || concat_ws(' ', player_key, match_played_at, club_key) FROM ratings.f_rating});
	my $n = 0;
	for my $id (sort { $a <=> $b } keys %want)
	{
		next if ($have{$id} // '') eq $want{$id};
		diag("rating $id: source $want{$id}, model " . ($have{$id} // 'none')) if $n++ < 15;
		next if $n > 2;
		my ($p) = split / /, $want{$id};
		diag("source versions of $p:\n" . $src->safe_psql('ratings_clubs',
			"SELECT seq, club_id, updated_at FROM player_versions WHERE id = $p ORDER BY seq"));
		diag("history of $p:\n" . $ana->safe_psql('ana',
			"SELECT walstar_version, walstar_op, club_id, updated_at FROM walstar_versions.ratings_land__players WHERE id = $p ORDER BY 1"));
	}
}

wait_caught_up('history');
is(as_league(q{SELECT walstar_ratings.attach('ratings_land')}), 'ratings', 'the subscriptions\' owner attaches the model');
compare('built from the landing tables');

WalstarTest::Scenario::workloads($src, \%sizes, 30,
	{ map { my $db = $_; ($db => [ map { "$dir/workload/$_" } @{ $workload{$db} } ]) } keys %workload });
wait_caught_up('workload');

# the features the workloads are for did happen
cmp_ok($src->safe_psql('ratings_matches', "SELECT count(*) FROM ratings WHERE player_id > $sizes{players}"),
	'>', 0, 'ratings name players registered after them');
cmp_ok($src->safe_psql('ratings_clubs', q{SELECT count(*) FROM player_versions v
	WHERE v.updated_at < (SELECT max(w.updated_at) FROM player_versions w WHERE w.id = v.id AND w.seq < v.seq)}),
	'>', 0, 'some transfers are dated before the version they follow');
cmp_ok($src->safe_psql('ratings_clubs', q{SELECT count(*) FROM players WHERE club_id IS NULL}), '>', 0, 'free agents');
cmp_ok($src->safe_psql('ratings_matches', q{SELECT count(*) FROM ratings WHERE rated_at > now() - interval '1 hour'}),
	'>', 0, 'ratings were corrected');
cmp_ok($src->safe_psql('ratings_matches', "SELECT $sizes{matches} - count(*) FROM matches WHERE id <= $sizes{matches}"),
	'>', 0, 'matches were deleted with their ratings');
compare('kept by the apply workers');

as_league('SELECT ratings.rebuild()');
compare('after rebuild()');

is($ana->safe_psql('ana', q{SET ROLE analyst; SELECT count(*) > 100 FROM walstar_ratings.answers()}), 't',
	'the reader reads the answers');
my ($rc, $out, $err) = $ana->psql('ana', q{SET ROLE analyst; SELECT walstar_ratings.detach()});
like($err, qr/permission denied for function detach/, 'the reader cannot detach');
is($ana->safe_psql('ana', q{SELECT count(*) FROM walstar.dead_letters}), '0', 'no dead letters');

$_->stop for @sinks;
$ana->stop;
$src->stop;
$kafka->stop;
done_testing();
