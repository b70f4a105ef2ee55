# The Debian packages, installed: clean clusters whose server and walstar
# files come from an extracted tree (make test-packages: the PostgreSQL 15
# server files plus postgresql-15-walstar and walstar-sink extracted with
# dpkg -x into WALSTAR_PKG_ROOT), and the installed /usr/bin/walstar-sink,
# attach the walstar_booking model and run the claims pipeline end to end:
# source -> sink -> Kafka -> apply worker (launcher from
# shared_preload_libraries) -> walstar_claims metric.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Sink;

my $root = $ENV{WALSTAR_PKG_ROOT};
plan skip_all => 'WALSTAR_PKG_ROOT not set (make test-packages sets it)' unless $root;
my $pg = "$root/usr/lib/postgresql/15";
my $sink_bin = "$root/usr/bin/walstar-sink";
ok(-x $sink_bin, 'walstar-sink installed as /usr/bin/walstar-sink');
ok(-f "$root/lib/systemd/system/walstar-sink\@.service", 'with its systemd unit');
ok(-f "$pg/lib/walstar_decoder.so" && -f "$pg/lib/walstar.so", 'plugin and extension library installed');
ok(-f "$root/usr/share/postgresql/15/extension/walstar_ratings--0.2.sql", 'the walstar_ratings model extension installed');
ok(-x "$root/usr/bin/walstar-archive", 'walstar-archive installed as /usr/bin/walstar-archive');
ok(-f "$root/lib/systemd/system/walstar-archive\@.service", 'with its systemd unit');
like(scalar(`$root/usr/bin/walstar-archive --help 2>&1`), qr/walstar-archive/, 'the installed walstar-archive runs');

my $kafka = WalstarTest::Kafka->start;
my $src = PostgreSQL::Test::Cluster->new('pkg_source', install_path => $pg);
$src->init(allows_streaming => 'logical');
WalstarTest::Sink::setup_node($src);
$src->start;
is($src->safe_psql('postgres', q{SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'}), "$pg/lib",
	'the source server is the extracted one');
$src->safe_psql('postgres', 'CREATE DATABASE acme_claims');
my $ddl = slurp_file("$ENV{WALSTAR_ROOT}/demo/acme_sources.sql");
my ($claims_ddl) = $ddl =~ /^-- \\connect acme_claims\n(.*?)(?=^-- \\connect |\z)/ms;
$src->safe_psql('acme_claims', $claims_ddl);

my $ana = PostgreSQL::Test::Cluster->new('pkg_analytics', install_path => $pg);
$ana->init;
$ana->append_conf('postgresql.conf', "shared_preload_libraries = 'walstar'\nwalstar.launcher_naptime = 1\n");
$ana->start;
$ana->safe_psql('postgres', 'CREATE DATABASE analytics');
$ana->safe_psql('analytics', 'CREATE EXTENSION walstar_claims CASCADE');
$ana->safe_psql('analytics', 'CREATE EXTENSION walstar_booking');
is($ana->safe_psql('analytics', q{SELECT string_agg(extname || ' ' || extversion, ', ' ORDER BY extname)
	FROM pg_extension WHERE extname LIKE 'walstar%'}), 'walstar 0.2, walstar_booking 0.2, walstar_claims 0.2',
	'extensions from the package');
# the booking model's declaration is accepted by the packaged engine
is($ana->safe_psql('analytics', q{SELECT walstar_booking.attach('booking_land');
	SELECT booking.sessions() || ' ' || booking.bookings() || ' ' || count(*) FROM booking.verify()}), "booking\n0 0 0",
	'walstar_booking attaches and answers');
$ana->safe_psql('analytics', q{SELECT walstar_claims.attach('acme')});
$ana->safe_psql('analytics', "SELECT walstar.create_subscription('claims', '" . $kafka->bootstrap
	  . q{', topics => ARRAY['acme_claims.public.claims'], landing_schema => 'acme', batch_time => '100ms', enabled => true)});

# WalstarTest::Sink runs the walstar-sink on PATH: the installed one here
local $ENV{PATH} = "$root/usr/bin:$ENV{PATH}";
my $sink = WalstarTest::Sink->start(name => 'pkg', node => $src, db => 'acme_claims', kafka => $kafka,
	args => [ '--topic-prefix=acme_claims', '--include-tables=public.claims' ]);
$sink->wait_log(qr/msg="streaming"/);
is(readlink('/proc/' . $sink->pid . '/exe'), $sink_bin, 'the installed sink runs');
$src->safe_psql('acme_claims', q{INSERT INTO claims (customer_id, amount) SELECT g % 5, g FROM generate_series(1, 40) g});
ok($ana->poll_query_until('analytics', 'SELECT walstar_claims.total_claims() = 40'),
	'the metric function answers 40 claims through the installed pipeline');
is($ana->safe_psql('analytics', 'SELECT count(*) FROM walstar_claims.verify()'), '0', 'verify() agrees');

$sink->stop;
$ana->stop;
$src->stop;
$kafka->stop;
done_testing();
