# Exactly once across crashes of the analytics server: while a random
# workload streams through Kafka, the analytics cluster is stopped with
# pg_ctl -m immediate at random points, 10 times, mostly while its apply
# worker is in the middle of the stream. Each time the launcher restarts the
# worker, which resumes from the offsets committed with the data; at the end
# the landing tables equal the source, with no row missing or doubled.
use strict;
use warnings;
use File::Temp ();
use POSIX ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use WalstarTest::Kafka;

my $seed = $ENV{WALSTAR_SEED} // int(rand(1_000_000));
srand($seed);
note("random seed $seed (set WALSTAR_SEED to repeat)");

my $kafka = WalstarTest::Kafka->start;

# the source: the decoder makes the messages (walstar.decode() names topics)
my $source = PostgreSQL::Test::Cluster->new('crash_source');
$source->init(allows_streaming => 'logical');
$source->append_conf('postgresql.conf', q{
output_plugin_libraries = 'pgoutput, test_decoding, walstar_decoder'
});
$source->start;
$source->safe_psql('postgres', 'CREATE DATABASE src');
$source->safe_psql('src', q{
CREATE EXTENSION walstar;
CREATE SCHEMA shop;
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2), big text, at timestamptz);
CREATE TABLE shop.orders (region text, no int, item int, qty int, note text, PRIMARY KEY (region, no));
CREATE TABLE events (at int, what text);
ALTER TABLE events REPLICA IDENTITY FULL;
SELECT 'init' FROM pg_create_logical_replication_slot('s', 'walstar_decoder');
});

# the analytics server, crashed over and over
my $node = PostgreSQL::Test::Cluster->new('crash_analytics');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'walstar'
walstar.launcher_naptime = 1
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE ana');
$node->safe_psql('ana', 'CREATE EXTENSION walstar');
# a model-like statement trigger with a transition table on a landing table
# created ahead (the worker uses it as it is)
$node->safe_psql('ana', q{
CREATE SCHEMA walstar_landing;
CREATE TABLE walstar_landing.events (at int, what text);
CREATE SCHEMA walstar_landing_audit;
CREATE TABLE walstar_landing_audit.event_inserts (n bigint);
CREATE FUNCTION walstar_landing_audit.count_inserts() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO walstar_landing_audit.event_inserts SELECT count(*) FROM new_rows; RETURN NULL; END $$;
CREATE TRIGGER count_inserts AFTER INSERT ON walstar_landing.events
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION walstar_landing_audit.count_inserts();
});
my $event_inserts = 0;
$node->safe_psql('ana', "SELECT walstar.create_subscription('s', '" . $kafka->bootstrap . q{',
	topic_pattern => '^walstar\.(public|shop)\.', batch_size => 50, batch_time => '20ms', enabled => true)});

my @tables = ([ 'items', 'walstar_landing.items' ],
	[ 'shop.orders', 'walstar_landing.shop__orders' ],
	[ 'events', 'walstar_landing.events' ]);

my $tmp = File::Temp::tempdir('ship_XXXX', DIR => $PostgreSQL::Test::Utils::tmp_check);
my $nfile = 0;

# Produce raw messages, [topic, bytes] in order, one kcat run per topic.
sub produce_raw
{
	my (@msgs) = @_;
	my (%files, @order);
	for my $m (@msgs)
	{
		my $f = sprintf('%s/m%08d', $tmp, $nfile++);
		open(my $fh, '>:raw', $f) or die;
		print $fh $m->[1];
		close($fh);
		push @order, $m->[0] unless $files{ $m->[0] };
		push @{ $files{ $m->[0] } }, $f;
	}
	for my $topic (@order)
	{
		system('kcat', '-P', '-b', $kafka->bootstrap, '-t', $topic,
			'-X', 'max.in.flight.requests.per.connection=1', '-X', 'message.max.bytes=20000000', @{ $files{$topic} }) == 0
		  or die "kcat produce to $topic failed";
		unlink @{ $files{$topic} };
	}
}

# Take the slot's new row changes; returns them as [topic, bytes].
sub take_changes
{
	my $out = $source->safe_psql('src', q{
SELECT 'walstar.' || (c->>'schema') || '.' || (c->>'table'), encode(data, 'hex'), c->>'op'
FROM (SELECT data, walstar.decode(data) AS c
      FROM pg_logical_slot_get_binary_changes('s', NULL, NULL)) x
WHERE c->>'op' NOT IN ('BEGIN', 'COMMIT')});
	return map {
		my ($t, $h, $op) = split /\|/;
		$event_inserts++ if $t eq 'walstar.public.events' && $op eq 'INSERT';
		[ $t, pack('H*', $h) ]
	} grep { $_ ne '' } split /\n/, $out;
}

sub ship { my @m = take_changes(); produce_raw(@m); return @m; }

sub sum_sql
{
	my ($rel) = @_;
	return "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM $rel t";
}

sub table_sum
{
	my ($db, $rel) = @_;
	return (\$db eq 'src' ? \$source : \$node)->safe_psql(\$db, sum_sql($rel));
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


sub applied
{
	my ($ret, $out) = $node->psql('ana', 'SELECT coalesce(sum(applied_messages), 0) FROM walstar.subscription_offsets');
	return $ret == 0 ? $out : -1;
}

my $crashes = 0;
my $mid_stream = 0;
for my $round (1 .. 10)
{
	random_txs(10 + int(rand(10)));
	my @m = take_changes();
	my $before = applied();
	# produce in the background and crash at a random point meanwhile
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		produce_raw(@m);
		POSIX::_exit(0);    # no END blocks: the parent owns servers and broker
	}
	Time::HiRes::sleep(rand(1.2));
	my $at = applied();
	$mid_stream++ if $at >= 0 && $at < $before + scalar(@m);
	$node->stop('immediate');
	$crashes++;
	$node->start;
	waitpid($pid, 0);
	die "producing round $round failed" if $?;
	note("round $round: " . scalar(@m) . " messages, crashed after $at applied (from $before)");
}
is($crashes, 10, '10 immediate shutdowns of the analytics server');
cmp_ok($mid_stream, '>=', 3, "at least 3 crashes hit the stream in the middle ($mid_stream)");

random_txs(10);
ship();
landing_equal('after 10 crashes');
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no dead letters');
is($node->safe_psql('ana', 'SELECT coalesce(sum(n), 0) FROM walstar_landing_audit.event_inserts'), $event_inserts,
	'the statement trigger on the landing table saw every INSERT exactly once');

$node->stop;
$source->stop;
done_testing();
