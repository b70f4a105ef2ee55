# The extension's update path, with data. walstar 0.2 has no install script
# of its own: as in PostgreSQL's contrib modules, CREATE EXTENSION installs
# 0.1 (walstar--0.1.sql, as released) and runs walstar--0.1--0.2.sql, the
# script ALTER EXTENSION UPDATE runs, so a fresh installation and an updated
# one cannot differ and the 0.2 objects are written once.
#
# What can differ is what an installation made under 0.1 holds: a 0.1
# installation gets a subscription (disabled) and, as dead letters, real
# messages walstar_decoder made of a source table in the same database; then
# ALTER EXTENSION UPDATE, and the 0.2 functions take the 0.1 data: the
# subscription keeps its settings, the letters apply into a landing table
# that equals the source row by row, the status view and
# alter/drop_subscription work on it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init(allows_streaming => 'logical');
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'walstar'
output_plugin_libraries = 'pgoutput, test_decoding, walstar_decoder'
});
$node->start;

# every model extension and walstar at their default versions, fresh
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION walstar_claims CASCADE; CREATE EXTENSION walstar_booking; '
	  . 'CREATE EXTENSION walstar_ratings');
is($node->safe_psql('fresh', q{SELECT string_agg(extname || ' ' || extversion, ', ' ORDER BY extname)
	FROM pg_extension WHERE extname LIKE 'walstar%'}),
	'walstar 0.2, walstar_booking 0.2, walstar_claims 0.2, walstar_ratings 0.2',
	'CREATE EXTENSION installs 0.2 through the update path');

$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('old', q{
CREATE EXTENSION walstar VERSION '0.1';
SELECT walstar.create_subscription('shop', '127.0.0.1:1', topics => '{walstar.public.fruit}',
	landing_schema => 'landing', batch_size => 500);
SELECT 'slot' FROM pg_create_logical_replication_slot('s_old', 'walstar_decoder');
CREATE TABLE fruit (id int PRIMARY KEY, name text, price numeric(10,2), seen timestamptz);
INSERT INTO fruit SELECT g, 'fruit ' || g, g / 4.0, timestamptz '2024-05-01 12:00+02' + g * interval '1 hour'
	FROM generate_series(1, 200) g;
UPDATE fruit SET price = price * 2, name = name || '!' WHERE id % 3 = 0;
DELETE FROM fruit WHERE id % 7 = 0;
UPDATE fruit SET id = id + 1000 WHERE id % 11 = 0;
INSERT INTO walstar.dead_letters (subscription, topic, partition, "offset", raw, error)
SELECT 'shop', 'walstar.public.fruit', 0, row_number() OVER (), data, 'made under 0.1'
FROM pg_logical_slot_get_binary_changes('s_old', NULL, NULL)
WHERE walstar.decode(data)->>'op' NOT IN ('BEGIN', 'COMMIT');
});
my $settings = q{SELECT concat_ws(' ', name, brokers, topics, landing_schema, batch_size, properties, enabled)
	FROM walstar.subscriptions};
my $before = $node->safe_psql('old', $settings);
my $letters = $node->safe_psql('old', 'SELECT count(*) FROM walstar.dead_letters');
cmp_ok($letters, '>', 300, "0.1 holds a subscription and $letters dead letters");

my ($ret, $out, $err) = $node->psql('old', 'ALTER EXTENSION walstar UPDATE');
is($ret, 0, 'ALTER EXTENSION walstar UPDATE from 0.1') or diag $err;
is($node->safe_psql('old', q{SELECT extversion FROM pg_extension WHERE extname = 'walstar'}), '0.2', 'now 0.2');
is($node->safe_psql('old', $settings), $before, 'the subscription keeps its settings');
is($node->safe_psql('old', q{SELECT count(*) FILTER (WHERE walstar.retry_dead_letter(id))
	FROM (SELECT id FROM walstar.dead_letters ORDER BY id) d}), $letters, 'every 0.1 letter applies under 0.2');
is($node->safe_psql('old', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no letter left');
is($node->safe_psql('old', q{SELECT (SELECT array_agg(t::text ORDER BY id) FROM fruit t)
	= (SELECT array_agg(t::text ORDER BY id) FROM landing.fruit t)}), 't',
	'the landing table equals the source row by row');
is($node->safe_psql('old', q{SELECT string_agg(concat_ws(' ', topic, partition, worker_state IS NOT NULL), ',')
	FROM walstar.subscription_status WHERE subscription = 'shop'}),
	't', 'the status view reads the 0.1 subscription (one row: no partition consumed, a worker state)');
$node->safe_psql('old', q{SELECT walstar.alter_subscription('shop', batch_size => 1000)});
is($node->safe_psql('old', q{SELECT batch_size FROM walstar.subscriptions}), '1000', 'alter_subscription works on it');
is($node->safe_psql('old', q{SELECT walstar.drop_subscription('shop')}), 't', 'drop_subscription works on it');
$node->safe_psql('old', q{SELECT pg_drop_replication_slot('s_old')});

$node->stop;
done_testing();
