# walstar_booking through the real pipeline: the three booking services
# (shared/scenario/booking_sources.sql, unchanged) in three databases of a
# source cluster, one walstar-sink each, a real Kafka broker, one
# subscription per service into one landing schema, owned by an ordinary
# role who attaches the model first (attach() creates the landing tables,
# so the model sees every row and every users version arrive). The history
# loaders' rows come through the sinks' initial copies; then the scenario
# workloads run on the three services at once (sessions with late views,
# privacy deletes, bookings for sessions not viewed yet, confirmations and
# cancellations, users arriving after their sessions, moving country,
# deleted), and a few late arrivals made on purpose, each landed before the
# next is made: a booking before its session's page views, page views of a
# user not registered yet, the user, then a country change dated before
# the session; bookings confirmed before their session's first view.
#
# After catch-up: the model's answers equal demo/booking/answers.sql over
# copies of the source tables, every metric function (by period, platform,
# country, currency) equals plain SQL from the scenario's definitions over
# those copies, computed here; verify() is empty; the same after rebuild().
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::Scenario;

my $root = $ENV{WALSTAR_ROOT} // '.';
my %sizes = (users => 150, sessions => 1500);
my %services = (booking_users => ['users'], booking_journey => ['page_views'], booking_orders => ['bookings']);
my %history = (
	booking_users => ['history_users.sql'],
	booking_journey => [ 'history_sessions.sql', 'history_journey.sql' ],
	booking_orders => [ 'history_sessions.sql', 'history_orders.sql' ]);
my %workload = (
	booking_users => [ 'user_new.sql@2', 'user_move.sql@4', 'user_delete.sql@1' ],
	booking_journey => [ 'session_new.sql@10', 'view_late.sql@3', 'session_delete.sql@1', 'view_delete.sql@1' ],
	booking_orders => [ 'booking_new.sql@6', 'booking_confirm.sql@4', 'booking_cancel.sql@1' ]);

my $kafka = WalstarTest::Kafka->start;
my $src = WalstarTest::Pipeline::source('booking_source', 'booking_users');
$src->append_conf('postgresql.conf', "timezone = 'UTC'\n");
$src->reload;
my $ana = WalstarTest::Pipeline::analytics_node('booking_analytics', "max_worker_processes = 16\ntimezone = 'UTC'\n");

# the services, their history, and the users' versions as the source keeps
# them (not replicated): every version of every user that still exists
my $dir = "$root/demo/booking";
for my $db (sort keys %services)
{
	WalstarTest::Scenario::create_service($src, $db, "$dir/booking_sources.sql", \%sizes,
		before => ($db eq 'booking_users' ? slurp_file("$dir/user_versions.sql") : undef),
		history => [ map { "$dir/$_" } @{ $history{$db} } ]);
}

# the model first, by the subscriptions' owner
$ana->safe_psql('ana', q{
CREATE ROLE booker LOGIN IN ROLE walstar_admin;
CREATE ROLE analyst LOGIN IN ROLE walstar_reader;
GRANT CREATE ON DATABASE ana TO booker;
CREATE EXTENSION walstar_booking;
});
sub as_booker { return $ana->safe_psql('ana', "SET ROLE booker;\n" . $_[0]); }
is(as_booker(q{SELECT walstar_booking.attach('booking_land')}), 'booking', 'the owner attaches the model');

my @sinks = map { WalstarTest::Scenario::subscribe($ana, $src, $kafka, $_, $services{$_}, 'booking_land',
		role => 'booker', batch_time => '200ms') } sort keys %services;
my @landing = map { my $db = $_; map { [ $db, $_, 'booking_land' ] } @{ $services{$db} } } sort keys %services;
sub wait_caught_up { WalstarTest::Scenario::wait_caught_up($src, $ana, $_[0], \@landing); }

# The model's answers, in the lines of demo/booking/answers.sql.
my $model_answers = slurp_file("$root/demo/booking/model_answers.sql");

# Every metric function per argument set, and the same from the scenario's
# definitions in plain SQL over copies of the source tables.
my $args = q{(VALUES (NULL::date, NULL::date, NULL::text, NULL::text, NULL::text),
	('2023-03-01', '2023-03-31', NULL, NULL, NULL), ('2023-02-10', '2023-09-20', 'ios', 'DE', 'USD'),
	(NULL, NULL, NULL, '??', NULL), (NULL, NULL, 'web', 'FR', 'EUR'), ('2023-01-01', '2023-12-31', 'android', NULL, 'GBP'),
	(date_trunc('month', current_date)::date, NULL, NULL, NULL, NULL), (current_date, current_date, 'web', NULL, 'EUR'),
	(current_date - 400, current_date, NULL, 'ES', NULL)) AS a(f, t, p, c, cur)};
my $model_metrics = qq{SELECT string_agg(concat_ws(' ', a.f, a.t, a.p, a.c, a.cur, ':',
	booking.sessions(a.f, a.t, a.p, a.c), booking.product_sessions(a.f, a.t, a.p, a.c),
	booking.cart_sessions(a.f, a.t, a.p, a.c), booking.payment_sessions(a.f, a.t, a.p, a.c),
	booking.confirmation_sessions(a.f, a.t, a.p, a.c), booking.cart_conversion(a.f, a.t, a.p, a.c),
	booking.payment_conversion(a.f, a.t, a.p, a.c), booking.confirmation_conversion(a.f, a.t, a.p, a.c),
	booking.cart_dropoff(a.f, a.t, a.p, a.c), booking.payment_dropoff(a.f, a.t, a.p, a.c),
	booking.confirmation_dropoff(a.f, a.t, a.p, a.c), '/',
	booking.bookings(a.f, a.t, a.p, a.cur), CASE WHEN a.cur IS NOT NULL THEN booking.revenue(a.f, a.t, a.p, a.cur) END,
	booking.booking_times(a.f, a.t, a.p, a.cur), booking.avg_booking_time(a.f, a.t, a.p, a.cur),
	booking.median_booking_time(a.f, a.t, a.p, a.cur), booking.p90_booking_time(a.f, a.t, a.p, a.cur),
	booking.negative_booking_times(a.f, a.t, a.p, a.cur), booking.repeat_bookings(a.f, a.t, a.p, a.cur),
	booking.booking_users(a.f, a.t, a.p, a.cur), booking.returning_users(a.f, a.t, a.p, a.cur),
	booking.returning_user_share(a.f, a.t, a.p, a.cur)), E'\\n') FROM $args};
my $plain_views = q{
-- a session: its page views; its first view (earliest, ties by id) gives
-- its day, platform and user; the country in effect then, else the
-- user's first, else ??
CREATE VIEW plain_sessions AS
SELECT s.*, (s.first_at AT TIME ZONE 'UTC')::date AS day,
	coalesce((SELECT uv.country_code FROM user_versions uv WHERE uv.id = s.user_id AND uv.updated_at <= s.first_at
			  ORDER BY uv.updated_at DESC, uv.seq DESC LIMIT 1),
			 (SELECT uv.country_code FROM user_versions uv WHERE uv.id = s.user_id ORDER BY uv.updated_at, uv.seq LIMIT 1),
			 '??') AS country
FROM (SELECT session_id, min(viewed_at) AS first_at,
		(array_agg(platform ORDER BY viewed_at, id))[1] AS platform, (array_agg(user_id ORDER BY viewed_at, id))[1] AS user_id,
		bool_or(page = 'product') AS product, bool_or(page = 'cart') AS cart,
		bool_or(page = 'payment') AS payment, bool_or(page = 'confirmation') AS confirmation
	  FROM page_views GROUP BY session_id) s;
-- a confirmed booking: its time from the session's first view, whether the
-- user had an earlier one (by confirmed_at, then id), or one in an earlier month
CREATE VIEW plain_bookings AS
SELECT b.*, (b.confirmed_at AT TIME ZONE 'UTC')::date AS day,
	b.confirmed_at - (SELECT s.first_at FROM plain_sessions s WHERE s.session_id = b.session_id) AS d,
	EXISTS (SELECT FROM bookings e WHERE e.user_id = b.user_id AND e.status = 'confirmed' AND e.confirmed_at IS NOT NULL
			AND (e.confirmed_at < b.confirmed_at OR e.confirmed_at = b.confirmed_at AND e.id < b.id)) AS is_repeat,
	EXISTS (SELECT FROM bookings e WHERE e.user_id = b.user_id AND e.status = 'confirmed' AND e.confirmed_at IS NOT NULL
			AND date_trunc('month', e.confirmed_at AT TIME ZONE 'UTC') < date_trunc('month', b.confirmed_at AT TIME ZONE 'UTC')) AS before_month
FROM bookings b WHERE b.status = 'confirmed' AND b.confirmed_at IS NOT NULL;
};
my $plain_metrics = qq{SELECT string_agg(concat_ws(' ', a.f, a.t, a.p, a.c, a.cur, ':',
	s.n, s.pr, s.ca, s.pa, s.co, s.r1, s.r2, s.r3, s.d1, s.d2, s.d3, '/',
	b.n, b.rev, b.bt, b.av, b.med, b.p90, b.neg, b.rep, b.bu, b.ru, b.sh), E'\\n') FROM $args,
	LATERAL (SELECT count(*), count(*) FILTER (WHERE product), count(*) FILTER (WHERE cart),
		count(*) FILTER (WHERE payment), count(*) FILTER (WHERE confirmation),
		(count(*) FILTER (WHERE cart))::numeric / nullif(count(*) FILTER (WHERE product), 0),
		(count(*) FILTER (WHERE payment))::numeric / nullif(count(*) FILTER (WHERE cart), 0),
		(count(*) FILTER (WHERE confirmation))::numeric / nullif(count(*) FILTER (WHERE payment), 0),
		1 - (count(*) FILTER (WHERE cart))::numeric / nullif(count(*) FILTER (WHERE product), 0),
		1 - (count(*) FILTER (WHERE payment))::numeric / nullif(count(*) FILTER (WHERE cart), 0),
		1 - (count(*) FILTER (WHERE confirmation))::numeric / nullif(count(*) FILTER (WHERE payment), 0)
		FROM plain_sessions x WHERE (a.f IS NULL OR x.day >= a.f) AND (a.t IS NULL OR x.day <= a.t)
		  AND (a.p IS NULL OR x.platform = a.p) AND (a.c IS NULL OR x.country = a.c)) s(n, pr, ca, pa, co, r1, r2, r3, d1, d2, d3),
	LATERAL (SELECT count(*), CASE WHEN a.cur IS NOT NULL THEN sum(amount) END, count(*) FILTER (WHERE d >= interval '0'), avg(d) FILTER (WHERE d >= interval '0'),
		percentile_cont(0.5) WITHIN GROUP (ORDER BY d) FILTER (WHERE d >= interval '0'),
		percentile_cont(0.9) WITHIN GROUP (ORDER BY d) FILTER (WHERE d >= interval '0'),
		count(*) FILTER (WHERE d < interval '0'), count(*) FILTER (WHERE is_repeat),
		count(DISTINCT user_id), count(DISTINCT user_id) FILTER (WHERE before_month),
		(count(DISTINCT user_id) FILTER (WHERE before_month))::numeric / nullif(count(DISTINCT user_id), 0)
		FROM plain_bookings y WHERE (a.f IS NULL OR y.day >= a.f) AND (a.t IS NULL OR y.day <= a.t)
		  AND (a.p IS NULL OR y.platform = a.p) AND (a.cur IS NULL OR y.currency = a.cur)) b(n, rev, bt, av, med, p90, neg, rep, bu, ru, sh)};
my $answers = slurp_file("$root/demo/booking/answers.sql");

# Copies of the source tables (enums as text, as they land) in a scratch
# database of the source cluster, the plain SQL over them, and the model.
my $round = 0;
sub compare
{
	my ($label) = @_;
	$round++;
	my $db = "expected_$round";
	WalstarTest::Scenario::copy_tables($src, $db, [ [ 'booking_users', 'user_versions' ], [ 'booking_users', 'users' ],
		[ 'booking_journey', 'page_views' ], [ 'booking_orders', 'bookings' ] ]);
	$src->safe_psql($db, $plain_views);
	my $want = $src->safe_psql($db, $answers);
	my @lines = split /\n/, $want;
	my %kinds = map { (split / \| /)[0] => 1 } @lines;
	is(join(',', sort keys %kinds), 'booking_time,bookings,funnel,funnel_by_country,repeat_bookings',
		"$label: every question has answers (" . scalar(@lines) . ' lines)');
	is($ana->safe_psql('ana', $model_answers), $want, "$label: the model's answers equal answers.sql over the sources");
	is($ana->safe_psql('ana', $model_metrics), $src->safe_psql($db, $plain_metrics),
		"$label: every metric function equals plain SQL over the sources");
	is($ana->safe_psql('ana', q{SELECT string_agg(concat_ws(' ', object, problem, detail), E'\n')
		FROM (SELECT * FROM booking.verify() LIMIT 10) v}), '', "$label: verify() reports no difference");
	return $db;
}

wait_caught_up('initial copy');
compare('initial copy');

# the workloads on the three services at once
WalstarTest::Scenario::workloads($src, \%sizes, 30,
	{ map { my $db = $_; ($db => [ map { "$dir/workload/$_" } @{ $workload{$db} } ]) } keys %workload });

# late arrivals on purpose, each landed before the next: a booking, its
# session's views (of a user not registered), the user, a country change
# dated before the session
my $late = q{md5('late session')::uuid};
$src->safe_psql('booking_orders', qq{INSERT INTO bookings (session_id, user_id, platform, amount, currency, status, confirmed_at)
	VALUES ($late, 99001, 'ios', 42.50, 'EUR', 'confirmed', now() + interval '10 minutes')});
wait_caught_up('a booking before its session');
$src->safe_psql('booking_journey', qq{INSERT INTO page_views (session_id, user_id, page, platform, viewed_at)
	VALUES ($late, 99001, 'product', 'ios', now() - interval '1 hour'), ($late, 99001, 'cart', 'ios', now() - interval '50 minutes'),
		   ($late, 99001, 'payment', 'ios', now() - interval '40 minutes'), ($late, 99001, 'confirmation', 'ios', now())});
wait_caught_up('its page views, of a user not there yet');
is($ana->safe_psql('ana', qq{SELECT user_country FROM booking.f_session WHERE session_id = $late}), '??',
	'the session counts under ?? while its user is missing');
$src->safe_psql('booking_users', q{INSERT INTO users (id, email, country_code, updated_at) VALUES (99001, 'late@x', 'SE', now())});
wait_caught_up('the user');
$src->safe_psql('booking_users', q{UPDATE users SET country_code = 'PT', updated_at = now() - interval '2 hours' WHERE id = 99001});
wait_caught_up('a country change dated before the session');
is($ana->safe_psql('ana', qq{SELECT user_country FROM booking.f_session WHERE session_id = $late}), 'PT',
	'the session moves to the country in effect at its first view');
# confirmed before their session's first view (clock skew)
$src->safe_psql('booking_orders', q{UPDATE bookings SET status = 'confirmed', confirmed_at = created_at - interval '1 day'
	WHERE id IN (SELECT id FROM bookings WHERE status IN ('pending', 'cancelled') ORDER BY id LIMIT 5)});
wait_caught_up('after the workload');
my $db = compare('after the workload');

# what the workload is for did happen
is($src->safe_psql($db, q{SELECT count(*) FILTER (WHERE d < interval '0') > 0 AND count(*) FILTER (WHERE d >= interval '0') > 10
	AND count(*) FILTER (WHERE is_repeat) > 5 AND count(*) FILTER (WHERE before_month) > 5
	AND count(DISTINCT currency) = 3 AND count(*) FILTER (WHERE d IS NULL) > 0 FROM plain_bookings}), 't',
	'bookings: negative and positive booking times, repeats, returning users, three currencies, sessions never viewed');
is($src->safe_psql($db, q{SELECT count(*) FILTER (WHERE country = '??') > 10 AND count(DISTINCT country) > 5
	AND count(*) FILTER (WHERE confirmation) > 10 AND count(*) FILTER (WHERE day = current_date) > 5 FROM plain_sessions}), 't',
	'sessions: anonymous or of missing users, many countries, confirmations, today\'s');
cmp_ok($src->safe_psql('booking_journey', "SELECT count(*) FROM page_views WHERE user_id > $sizes{users}"), '>', 0,
	'sessions name users registered after them');

as_booker('SELECT booking.rebuild()');
compare('after rebuild()');
is($ana->safe_psql('ana', q{SET ROLE analyst; SELECT booking.sessions() > 0 AND booking.bookings() > 0}), 't',
	'the reader calls the metrics');
my ($rc, $out, $err) = $ana->psql('ana', q{SET ROLE analyst; SELECT walstar_booking.detach()});
like($err, qr/permission denied for function detach/, 'the reader cannot detach');
is($ana->safe_psql('ana', q{SELECT count(*) FROM walstar.dead_letters}), '0', 'no dead letters');

is($_->stop, 0, 'clean stop') for @sinks;
$ana->stop;
$src->stop;
$kafka->stop;
done_testing();
