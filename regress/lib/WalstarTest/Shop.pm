# The "shop" workload of the extension's TAP tests: three source tables
# (a plain key, a two-column key in another schema, a keyless table with
# REPLICA IDENTITY FULL), random transactions over them (inserts, updates,
# key changes, deletes, TRUNCATE) and the checks that the landing tables
# equal the source. Databases are called src (source) and ana (analytics).
#
#   use WalstarTest::Shop;
#   $src->safe_psql('src', WalstarTest::Shop::schema_sql());
#   WalstarTest::Shop::random_txs($src, 20);
#   WalstarTest::Shop::landing_equal($src, $ana, 'after the workload');
#   my @msgs = WalstarTest::Shop::slot_changes($src);   # [topic, bytes, op]
#   WalstarTest::Shop::produce_raw($kafka, @msgs);
#   WalstarTest::Shop::wait_applied($ana, $kafka);        # before comparing
package WalstarTest::Shop;

use strict;
use warnings;
use File::Temp ();
use JSON::PP ();
use PostgreSQL::Test::Utils ();
use Test::More;
use Time::HiRes ();

# [source table, landing table]
our @TABLES = ([ 'items', 'walstar_landing.items' ],
	[ 'shop.orders', 'walstar_landing.shop__orders' ],
	[ 'events', 'walstar_landing.events' ]);

sub schema_sql
{
	return q{
CREATE SCHEMA shop;
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2), big text, at timestamptz);
CREATE TABLE shop.orders (region text, no int, item int, qty int, note text, PRIMARY KEY (region, no));
CREATE TABLE events (at int, what text);
ALTER TABLE events REPLICA IDENTITY FULL;
};
}

# "count:md5 of the ordered rows" of a relation.
sub sum_sql
{
	my ($rel) = @_;
	return "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM $rel t";
}

# Wait (up to 60 s) until every landing table in ana equals its source in src.
sub landing_equal
{
	my ($src, $ana, $what) = @_;
	my $end = Time::HiRes::time() + 60;
	my @diff;
	while (Time::HiRes::time() < $end)
	{
		@diff = ();
		my @want = split /\n/, $src->safe_psql('src', join(' UNION ALL ', map { '(' . sum_sql($_->[0]) . ')' } @TABLES));
		my ($ret, $out) = $ana->psql('ana', join(' UNION ALL ', map { '(' . sum_sql($_->[1]) . ')' } @TABLES));
		my @have = $ret == 0 ? split(/\n/, $out) : ('missing') x @TABLES;
		for my $i (0 .. $#TABLES)
		{
			push @diff, "$TABLES[$i][0]: want $want[$i] have $have[$i]" if $want[$i] ne $have[$i];
		}
		last unless @diff;
		Time::HiRes::sleep(0.1);
	}
	ok(!@diff, "$what: landing tables equal the source") or diag(join("\n", @diff));
}

# The topic of each source table (the decoder's default prefix).
sub topics
{
	return map { 'walstar.' . ($_->[0] =~ /\./ ? $_->[0] : "public.$_->[0]") } @TABLES;
}

# Wait (up to 60 s) until the subscriptions in ana have applied every message
# Kafka holds in the three tables' topics: stored next offsets at the
# partitions' end offsets. Until then landing_equal may meet a passing
# state: the topics are applied independently, so a table whose last
# changes are still in Kafka can already equal the source (e.g. emptied by
# TRUNCATE both before and after them), and anything counted from those
# changes (a trigger's) is not there yet.
sub wait_applied
{
	my ($ana, $kafka) = @_;
	my @ends;
	for my $topic (topics())
	{
		my $md = JSON::PP::decode_json(scalar `kcat -L -J -b @{[ $kafka->bootstrap ]} -t $topic 2>/dev/null`);
		for my $p (map { @{ $_->{partitions} } } @{ $md->{topics} })
		{
			my ($end) = `kcat -Q -b @{[ $kafka->bootstrap ]} -t $topic:$p->{partition}:-1 2>/dev/null` =~ /offset (-?\d+)/
			  or die "no end offset of $topic partition $p->{partition}";
			push @ends, "('$topic', $p->{partition}, $end)";
		}
	}
	my $lagging = "FROM (VALUES " . join(', ', @ends) . ") e(topic, part, end_offset)"
	  . " LEFT JOIN walstar.subscription_offsets o ON o.topic = e.topic AND o.partition = e.part"
	  . " WHERE coalesce(o.next_offset, 0) < e.end_offset";
	ok($ana->poll_query_until('ana', "SELECT count(*) = 0 $lagging"), 'every message in Kafka applied')
	  or diag('partitions behind Kafka (topic|partition|end|next_offset): '
		  . ($ana->psql('ana', "SELECT e.topic, e.part, e.end_offset, o.next_offset $lagging"))[1]);
}

# One random transaction over the three tables, as SQL.
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

# $n random transactions in src, in one session.
sub random_txs
{
	my ($src, $n) = @_;
	$src->safe_psql('src', join('', map { random_tx() } 1 .. $n));
}

# The new data records of slot "s" in src (walstar_decoder, decoded with
# walstar.decode, which src must have), as [topic, bytes, op].
sub slot_changes
{
	my ($src) = @_;
	my $out = $src->safe_psql('src', q{
SELECT 'walstar.' || (c->>'schema') || '.' || (c->>'table'), encode(data, 'hex'), c->>'op'
FROM (SELECT data, walstar.decode(data) AS c
      FROM pg_logical_slot_get_binary_changes('s', NULL, NULL)) x
WHERE c->>'op' NOT IN ('BEGIN', 'COMMIT')});
	return map { my ($t, $h, $op) = split /\|/; [ $t, pack('H*', $h), $op ] } grep { $_ ne '' } split /\n/, $out;
}

# Produce raw messages, [topic, bytes] in order, one kcat run per topic, each
# message from a file of its own (kcat -P sends one message per file).
my ($tmp, $nfile) = (undef, 0);
sub produce_raw
{
	my ($kafka, @msgs) = @_;
	$tmp //= File::Temp::tempdir('ship_XXXX', DIR => $PostgreSQL::Test::Utils::tmp_check);
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

1;
