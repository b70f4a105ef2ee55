# The booking-funnel and player-ratings scenarios (shared/scenario/, copied
# into demo/booking and demo/ratings) through the real pipeline, up to the
# landing tables: five service databases on a source cluster (their DDL
# unchanged: enums, uuid, inet, char(2), numeric(3,1), a cascading foreign
# key), one walstar-sink per database, a real Kafka broker, one subscription
# per service on the analytics cluster. The history loaders' rows go through
# the sinks' initial snapshots, then the scenario workloads run on all five
# services at once: sessions with late views, bookings before their views,
# privacy deletes, users arriving after their sessions and moving country;
# transfers (some dated back), free agents, matches with ratings before
# their players, rating corrections and match deletes whose ratings the
# stream carries one by one.
#
# After the pipeline has caught up, every landing table equals its source
# table row by row, and the scenarios' plain-SQL answers (demo/*/answers.sql,
# the reference the models are checked against) are the same computed over
# the landing tables as over copies of the source tables.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::Scenario;

my $root = $ENV{WALSTAR_ROOT} // '.';
my %sizes = (users => 400, sessions => 4000, clubs => 12, players => 300, matches => 240);
my %services = (
	booking_users => [ 'booking', 'users' ],
	booking_journey => [ 'booking', 'page_views' ],
	booking_orders => [ 'booking', 'bookings' ],
	ratings_clubs => [ 'ratings', 'clubs', 'players' ],
	ratings_matches => [ 'ratings', 'matches', 'ratings' ]);
my %history = (
	booking_users => [ 'history_users.sql' ],
	booking_journey => [ 'history_sessions.sql', 'history_journey.sql' ],
	booking_orders => [ 'history_sessions.sql', 'history_orders.sql' ],
	ratings_clubs => [ 'history_clubs.sql' ],
	ratings_matches => [ 'history_matches.sql' ]);
my %workload = (
	booking_users => [ 'user_new.sql@2', 'user_move.sql@4', 'user_delete.sql@1' ],
	booking_journey => [ 'session_new.sql@10', 'view_late.sql@3', 'session_delete.sql@1', 'view_delete.sql@1' ],
	booking_orders => [ 'booking_new.sql@6', 'booking_confirm.sql@4', 'booking_cancel.sql@1' ],
	ratings_clubs => [ 'player_transfer.sql@4', 'player_release.sql@1', 'player_new.sql@1' ],
	ratings_matches => [ 'match_new.sql@3', 'rating_correct.sql@6', 'match_delete.sql@1' ]);
# the version records the scenarios' attribution rules read: every version
# of every row that still exists, kept at the source by a trigger (not
# replicated)
my %versions = (
	booking_users => [ 'users', 'user_versions', 'country_code text' , 'country_code' ],
	ratings_clubs => [ 'players', 'player_versions', 'club_id bigint', 'club_id' ]);

my $kafka = WalstarTest::Kafka->start;
my $src = WalstarTest::Pipeline::source('scen_source', 'booking_users');
$src->append_conf('postgresql.conf', "timezone = 'UTC'\n");
$src->reload;

my $ana = WalstarTest::Pipeline::analytics_node('scen_analytics', "max_worker_processes = 16\ntimezone = 'UTC'\n");

sub scenario_dir { return "$root/demo/" . ($_[0] =~ /^booking/ ? 'booking' : 'ratings'); }

for my $db (sort keys %services)
{
	my $before;
	if (my $v = $versions{$db})
	{
		my ($table, $log, $coldef, $col) = @$v;
		$before = qq{
CREATE TABLE $log (seq bigserial, id bigint, $coldef, updated_at timestamptz);
CREATE FUNCTION record_version() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	IF TG_OP = 'DELETE' THEN
		DELETE FROM $log WHERE id = OLD.id;
		RETURN OLD;
	END IF;
	INSERT INTO $log (id, $col, updated_at) VALUES (NEW.id, NEW.$col, NEW.updated_at);
	RETURN NEW;
END \$\$;
CREATE TRIGGER record_version AFTER INSERT OR UPDATE OR DELETE ON $table
	FOR EACH ROW EXECUTE FUNCTION record_version();
};
	}
	my $name = scenario_dir($db) =~ s{.*/}{}r;
	WalstarTest::Scenario::create_service($src, $db, scenario_dir($db) . "/${name}_sources.sql", \%sizes,
		before => $before, history => [ map { scenario_dir($db) . "/$_" } @{ $history{$db} } ]);
}
cmp_ok($src->safe_psql('booking_journey', 'SELECT count(*) FROM page_views'), '>', $sizes{sessions},
	'the history has its page views');

my @sinks = map { my ($schema, @tables) = @{ $services{$_} };
	WalstarTest::Scenario::subscribe($ana, $src, $kafka, $_, \@tables, $schema) } sort keys %services;

# A table as text, row by row in key order: what its landing copy must equal.
sub rows
{
	my ($node, $db, $table) = @_;
	return $node->safe_psql($db, "COPY (SELECT * FROM $table ORDER BY id) TO STDOUT");
}

my @landing = map { my ($db, $schema, @tables) = ($_, @{ $services{$_} }); map { [ $db, $_, $schema ] } @tables }
  sort keys %services;
sub wait_caught_up
{
	my ($label) = @_;
	WalstarTest::Scenario::wait_caught_up($src, $ana, $label, \@landing);
	for my $l (@landing)
	{
		my ($db, $t, $schema) = @$l;
		is(rows($ana, 'ana', "$schema.$t"), rows($src, $db, $t), "$label: $schema.$t equals $db.$t row by row");
	}
}

wait_caught_up('initial snapshot');

WalstarTest::Scenario::workloads($src, \%sizes, 40,
	{ map { my $db = $_; ($db => [ map { scenario_dir($db) . "/workload/$_" } @{ $workload{$db} } ]) } keys %workload });
wait_caught_up('after the workload');

# The features the workloads are for did happen.
cmp_ok($src->safe_psql('booking_orders', q{SELECT count(*) FROM bookings WHERE status = 'confirmed'
	AND confirmed_at > now() - interval '1 hour'}), '>', 0, 'the workload confirmed bookings');
cmp_ok($src->safe_psql('booking_journey', q{SELECT count(*) FROM page_views WHERE user_id > } . $sizes{users}),
	'>', 0, 'sessions name users registered after them');
cmp_ok($src->safe_psql('ratings_matches', q{SELECT count(*) FROM ratings WHERE player_id > } . $sizes{players}),
	'>', 0, 'ratings name players registered after them');
cmp_ok($src->safe_psql('ratings_clubs', q{SELECT count(*) FROM player_versions v
	WHERE v.updated_at < (SELECT max(w.updated_at) FROM player_versions w WHERE w.id = v.id AND w.seq < v.seq)}),
	'>', 0, 'some transfers are dated before the version they follow');

# The answers, over copies of the source tables (a scratch database of the
# source cluster) and over the landing tables with the same version records.
for my $scenario ([ 'booking', [ 'booking_users', 'user_versions' ], [ 'booking_journey', 'page_views' ],
		[ 'booking_orders', 'bookings' ] ],
	[ 'ratings', [ 'ratings_clubs', 'player_versions' ], [ 'ratings_clubs', 'clubs' ], [ 'ratings_clubs', 'players' ],
		[ 'ratings_matches', 'matches' ], [ 'ratings_matches', 'ratings' ] ])
{
	my ($name, @copies) = @$scenario;
	my %copied = WalstarTest::Scenario::copy_tables($src, "expected_$name", \@copies);
	$ana->safe_psql('ana', "CREATE SCHEMA ${name}_versions");
	for my $t (grep { /_versions$/ } sort keys %copied)
	{
		my ($cols, $data) = @{ $copied{$t} };
		$ana->safe_psql('ana', "CREATE TABLE ${name}_versions.$t ($cols)");
		$ana->safe_psql('ana', "COPY ${name}_versions.$t FROM STDIN;\n$data\n\\.\n") if $data ne '';
	}
	my $answers = slurp_file("$root/demo/$name/answers.sql");
	my $want = $src->safe_psql("expected_$name", $answers);
	my $got = $ana->safe_psql('ana', "SET search_path = ${name}_versions, $name;\n$answers");
	my @lines = split /\n/, $want;
	cmp_ok(scalar(@lines), '>', 100, "$name: " . scalar(@lines) . ' reference answers');
	my %kinds = map { (split / \| /)[0] => 1 } @lines;
	is(join(',', sort keys %kinds),
		$name eq 'booking' ? 'booking_time,bookings,funnel,funnel_by_country,repeat_bookings'
		: 'club_ratings,league_distribution,player_form,top_players',
		"$name: every question has answers");
	is($got, $want, "$name: the answers over the landing tables equal those over the sources");
}

$_->stop for @sinks;
$ana->stop;
$src->stop;
$kafka->stop;
done_testing();
