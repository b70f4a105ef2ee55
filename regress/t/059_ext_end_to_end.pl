# End to end: source database -> walstar-sink -> Kafka -> walstar apply
# worker -> landing tables, equal to the source tables row by row after a
# random mixed workload (inserts, updates also of keys, deletes, truncates,
# TOASTed values, a table without a key), with the initial snapshot (READ
# rows) first. Meanwhile the sink is killed with SIGKILL and the analytics
# server is stopped with -m immediate, several times each.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use WalstarTest::Kafka;
use WalstarTest::Sink;

my $seed = $ENV{WALSTAR_SEED} // int(rand(1_000_000));
srand($seed);
note("random seed $seed (set WALSTAR_SEED to repeat)");

my $kafka = WalstarTest::Kafka->start;

my $source = PostgreSQL::Test::Cluster->new('e2e_source');
$source->init(allows_streaming => 'logical');
WalstarTest::Sink::setup_node($source);
$source->start;
$source->safe_psql('postgres', 'CREATE DATABASE src');
$source->safe_psql('src', q{
CREATE SCHEMA shop;
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2), big text, at timestamptz);
CREATE TABLE shop.orders (region text, no int, item int, qty int, note text, PRIMARY KEY (region, no));
CREATE TABLE events (at int, what text);
ALTER TABLE events REPLICA IDENTITY FULL;
INSERT INTO items SELECT g, 'before ' || g, g, 'snap', now() FROM generate_series(100001, 100300) g;
INSERT INTO shop.orders SELECT 'snap', g, g, g, 'before' FROM generate_series(500001, 500200) g;
INSERT INTO events SELECT g % 10, 'snap' FROM generate_series(1, 50) g;
});

my $node = PostgreSQL::Test::Cluster->new('e2e_analytics');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'walstar'
walstar.launcher_naptime = 1
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE ana');
$node->safe_psql('ana', 'CREATE EXTENSION walstar');
$node->safe_psql('ana', "SELECT walstar.create_subscription('e2e', '" . $kafka->bootstrap . q{',
	topic_pattern => '^walstar\.(public|shop)\.', batch_size => 500, batch_time => '50ms', enabled => true)});

my @tables = ([ 'items', 'walstar_landing.items' ],
	[ 'shop.orders', 'walstar_landing.shop__orders' ],
	[ 'events', 'walstar_landing.events' ]);


sub sum_sql
{
	my ($rel) = @_;
	return "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM $rel t";
}

sub table_sum
{
	my ($db, $rel) = @_;
	return ($db eq 'src' ? $source : $node)->safe_psql(\$db, sum_sql($rel));
}

# Wait until every landing table equals its source table.
sub landing_equal
{
	my ($what) = @_;
	my $end = Time::HiRes::time() + 60;
	my @diff;
	while (Time::HiRes::time() < $end)
	{
		@diff = ();
		my @want = split /\n/, $source->safe_psql('src', join(' UNION ALL ', map { '(' . sum_sql($_->[0]) . ')' } @tables));
		my ($ret, $out) = $node->psql('ana', join(' UNION ALL ', map { '(' . sum_sql($_->[1]) . ')' } @tables));
		my @have = $ret == 0 ? split(/\n/, $out) : ('missing') x @tables;
		for my $i (0 .. $#tables)
		{
			push @diff, "$tables[$i][0]: want $want[$i] have $have[$i]" if $want[$i] ne $have[$i];
		}
		last unless @diff;
		Time::HiRes::sleep(0.1);
	}
	ok(!@diff, "$what: landing tables equal the source") or diag(join("\n", @diff));
}

# A random transaction over the three tables.
my $next_id = 1;
sub random_tx
{
	my @sql = ('BEGIN');
	for (1 .. 1 + int(rand(8)))
	{
		my $r = rand();
		my $id = 1 + int(rand($next_id + 1));
		if ($r < 0.35)
		{
			my $n = 1 + int(rand(20));
			my $big = rand() < 0.1 ? "(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 300) g)" : "'small'";
			push @sql, "INSERT INTO items SELECT g, 'item ' || g, g * 0.5, $big, now() FROM generate_series($next_id, $next_id + $n - 1) g";
			push @sql, "INSERT INTO shop.orders SELECT (ARRAY['eu','us','asia'])[1 + g % 3], g, g, 1, NULL FROM generate_series($next_id, $next_id + $n - 1) g";
			push @sql, "INSERT INTO events VALUES ($id, 'e$id'), ($id, 'e$id')";
			$next_id += $n;
		}
		elsif ($r < 0.55) { push @sql, "UPDATE items SET price = price + 1, name = name || '+' WHERE id % 29 = $id % 29"; }
		elsif ($r < 0.65) { push @sql, "UPDATE items SET id = id + 1000000 WHERE id = $id"; }
		elsif ($r < 0.72) { push @sql, "UPDATE shop.orders SET region = 'moved', no = no + 1000000 WHERE no = $id"; }
		elsif ($r < 0.82) { push @sql, "UPDATE shop.orders SET qty = qty + 1 WHERE no % 23 = $id % 23"; }
		elsif ($r < 0.90) { push @sql, "DELETE FROM items WHERE id % 31 = $id % 31"; push @sql, "DELETE FROM shop.orders WHERE no = $id"; }
		elsif ($r < 0.96) { push @sql, "DELETE FROM events WHERE ctid = (SELECT ctid FROM events WHERE at = $id LIMIT 1)"; push @sql, "UPDATE events SET what = what || '!' WHERE at = $id + 1"; }
		else { push @sql, "TRUNCATE events"; }
	}
	push @sql, 'COMMIT';
	return join(";\n", @sql) . ";\n";
}

# $n random transactions, in one session.
sub random_txs
{
	my ($n) = @_;
	$source->safe_psql('src', join('', map { random_tx() } 1 .. $n));
}



my $sink = WalstarTest::Sink->start(name => 'e2e', node => $source, db => 'src', kafka => $kafka);
$sink->wait_log(qr/msg="streaming"/);
landing_equal('initial snapshot (READ rows)');

my ($sink_kills, $crashes) = (0, 0);
# 10 analytics crashes at random points of the stream, 5 sink kills between them.
for my $round (1 .. 15)
{
	random_txs(10 + int(rand(10)));
	if ($round % 3 == 0)
	{
		$sink->kill9;
		$sink_kills++;
		random_txs(5);
		$sink = WalstarTest::Sink->start(name => 'e2e', node => $source, db => 'src', kafka => $kafka);
		$sink->wait_log(qr/msg="streaming"/);
	}
	else
	{
		Time::HiRes::sleep(rand(0.5));
		$node->stop('immediate');
		$crashes++;
		$node->start;
	}
}
random_txs(10);
landing_equal('after the workload, ' . "$sink_kills sink kills and $crashes analytics crashes");
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no dead letters');
ok($node->poll_query_until('ana', q{SELECT bool_and(worker_state = 'running' AND lag_messages = 0)
	FROM walstar.subscription_status}), 'status: worker running, no lag');

is($sink->stop, 0, 'sink stops cleanly');
$node->stop;
$source->stop;
done_testing();
