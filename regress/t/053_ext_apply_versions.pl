# Landing tables with triggers see every row version of a batch, in message
# order; tables without triggers still collapse a key's changes to its last
# state. All changes sit in Kafka before the worker starts and land in one
# batch (checked: one transaction id in the trigger log).
#
# vers (statement-level AFTER INSERT/UPDATE/DELETE triggers with transition
# tables): a key updated twice with an unchanged TOASTed column, a DELETE and
# a re-INSERT of one key, a chain of key changes of a row with a TOASTed
# column. pois (the same triggers): a version the trigger refuses; the
# table's changes are then applied one at a time, the refused change goes to
# the dead letters, the versions before and after it are applied. tr (also a
# TRUNCATE trigger): rows before and after a TRUNCATE. mv (the same triggers
# as vers): the DELETE of an old key that the sink sends to the old key's
# partition when a key change crosses partitions, arriving before the
# key-changing UPDATE of a row with an unchanged TOASTed column.
# plain (no trigger) and quiet (a disabled trigger, and the internal
# triggers of a foreign key referencing it): the same changes as vers; their
# statistics show that no UPDATE or DELETE statement touched a row
# (collapsed to upserts).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Shop;

my $kafka = WalstarTest::Kafka->start;
my $node = PostgreSQL::Test::Cluster->new('ext_apply_versions');
$node->init(allows_streaming => 'logical');
$node->append_conf('postgresql.conf', q{
output_plugin_libraries = 'pgoutput, test_decoding, walstar_decoder'
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('postgres', 'CREATE DATABASE ana');
$node->safe_psql('src', q{
CREATE EXTENSION walstar;
CREATE TABLE vers (id int PRIMARY KEY, v text, big text);
CREATE TABLE plain (id int PRIMARY KEY, v text, big text);
CREATE TABLE quiet (id int PRIMARY KEY, v text, big text);
CREATE TABLE pois (id int PRIMARY KEY, v text);
CREATE TABLE tr (id int PRIMARY KEY, v text);
CREATE TABLE mv (id int PRIMARY KEY, v text, big text);
SELECT 'init' FROM pg_create_logical_replication_slot('s', 'walstar_decoder');
});

# Statement-level triggers (ins, upd, del) logging the rows they see.
sub log_triggers
{
	my ($table, @events) = @_;
	my %name = (INSERT => 'ins', UPDATE => 'upd', DELETE => 'del');
	return join('',
		map { "CREATE TRIGGER $name{$_} AFTER $_ ON walstar_landing.$table REFERENCING "
			  . ($_ eq 'DELETE' ? 'OLD' : 'NEW') . " TABLE AS changed\n"
			  . "\tFOR EACH STATEMENT EXECUTE FUNCTION seen_rows();\n" } @events);
}

# Landing tables made beforehand (as a model does), with triggers that log
# every row they see and the transaction they see it in.
$node->safe_psql('ana', q{
CREATE EXTENSION walstar;
CREATE SCHEMA walstar_landing;
CREATE TABLE walstar_landing.vers (id int PRIMARY KEY, v text, big text);
CREATE TABLE walstar_landing.tr (id int PRIMARY KEY, v text);
CREATE TABLE seen (seq bigserial, xid xid8 DEFAULT pg_current_xact_id(), tab text, op text,
	id int, v text, big text);
-- the worker's search_path is pg_catalog, pg_temp: the triggers name their own
CREATE FUNCTION seen_rows() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_catalog AS $$
BEGIN
	IF EXISTS (SELECT FROM changed WHERE v = 'poison') THEN
		RAISE EXCEPTION 'poison row refused';
	END IF;
	INSERT INTO seen (tab, op, id, v, big)
	SELECT TG_TABLE_NAME, TG_OP, r.id, r.v, md5(to_jsonb(r)->>'big') FROM changed r ORDER BY r.id;
	RETURN NULL;
END $$;
CREATE FUNCTION seen_truncate() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_catalog AS $$
BEGIN
	INSERT INTO seen (tab, op) VALUES (TG_TABLE_NAME, TG_OP);
	RETURN NULL;
END $$;
}
  . log_triggers('vers', qw(INSERT UPDATE DELETE)) . q{
ALTER TABLE walstar_landing.vers ENABLE ALWAYS TRIGGER upd;
CREATE TABLE walstar_landing.mv (id int PRIMARY KEY, v text, big text);
}
  . log_triggers('mv', qw(INSERT UPDATE DELETE))
  . log_triggers('tr', qw(INSERT)) . q{
CREATE TRIGGER trunc AFTER TRUNCATE ON walstar_landing.tr
	FOR EACH STATEMENT EXECUTE FUNCTION seen_truncate();
CREATE TABLE walstar_landing.pois (id int PRIMARY KEY, v text);
}
  . log_triggers('pois', qw(INSERT UPDATE)) . q{
CREATE TABLE walstar_landing.quiet (id int PRIMARY KEY, v text, big text);
}
  . log_triggers('quiet', qw(UPDATE)) . q{
ALTER TABLE walstar_landing.quiet DISABLE TRIGGER upd;
CREATE TABLE quiet_ref (id int REFERENCES walstar_landing.quiet);
});

# One statement per source transaction; vers, plain and quiet get the same changes.
my $big1 = q{(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 500) g)};
my $big2 = q{(SELECT string_agg(md5((-g)::text), '') FROM generate_series(1, 500) g)};
my @sql;
for my $t ('vers', 'plain', 'quiet')
{
	push @sql,
	  "INSERT INTO $t VALUES (1, 'a', $big1), (2, 'only', 'small')",
	  "UPDATE $t SET v = 'b' WHERE id = 1",        # big: unchanged TOAST
	  "UPDATE $t SET v = 'c' WHERE id = 1",
	  "INSERT INTO $t VALUES (20, 'x', 'small')",
	  "DELETE FROM $t WHERE id = 20",
	  "INSERT INTO $t VALUES (20, 'y', 'small')",
	  "INSERT INTO $t VALUES (10, 'k', $big2)",
	  "UPDATE $t SET id = 11 WHERE id = 10",       # key changes, big unchanged TOAST
	  "UPDATE $t SET id = 12 WHERE id = 11",
	  "UPDATE $t SET v = 'k2' WHERE id = 12";
}
push @sql, "INSERT INTO pois VALUES (30, 'p1'), (31, 'q1')",
  "UPDATE pois SET v = CASE id WHEN 30 THEN 'poison' ELSE 'q2' END WHERE id IN (30, 31)",
  "UPDATE pois SET v = 'p3' WHERE id = 30";
push @sql, "INSERT INTO tr VALUES (1, 'before')", 'TRUNCATE tr', "INSERT INTO tr VALUES (2, 'after')";
# The source deletes and re-inserts row 1 before moving it to key 2; the
# re-INSERT is left out of Kafka below, so the DELETE stands where the
# sink's DELETE of the old key would: just before the key change.
push @sql, "INSERT INTO mv VALUES (1, 'a', $big1)", 'DELETE FROM mv WHERE id = 1',
  "INSERT INTO mv VALUES (1, 'a', $big1)", 'UPDATE mv SET id = 2 WHERE id = 1';
$node->safe_psql('src', join(";\n", @sql) . ";\n");
my $mv = 0;
my @msgs = grep { !($_->[0] eq 'walstar.public.mv' && ++$mv == 3) }
  map { [ $_->[0], $_->[1] ] } WalstarTest::Shop::slot_changes($node);
is(scalar(@msgs), 3 * 11 + 5 + 3 + 3, 'messages made by the decoder');
WalstarTest::Shop::produce_raw($kafka, @msgs);

# Everything is in Kafka: one batch takes it all.
$node->safe_psql('ana', "SELECT walstar.create_subscription('v', '" . $kafka->bootstrap . q{',
	topics => '{walstar.public.vers,walstar.public.plain,walstar.public.quiet,walstar.public.pois,walstar.public.tr,walstar.public.mv}',
	batch_size => 1000, batch_time => '3s')});
$node->safe_psql('ana', "SELECT walstar.start_subscription('v')");
$node->poll_query_until('ana', q{SELECT coalesce(sum(applied_messages), 0) = 44
	FROM walstar.subscription_offsets}) or die 'the changes were not applied';

is($node->safe_psql('ana', 'SELECT count(DISTINCT xid) FROM seen'), '1', 'all changes applied in one batch');
like($node->safe_psql('ana', 'SELECT count(*) || \' \' || string_agg(error, \'; \') FROM walstar.dead_letters'),
	qr/^1 poison row refused$/, 'the refused version, alone, went to the dead letters');
for my $t ([ 'vers', 'walstar_landing.vers' ], [ 'plain', 'walstar_landing.plain' ],
	[ 'quiet', 'walstar_landing.quiet' ], [ 'pois', 'walstar_landing.pois' ], [ 'tr', 'walstar_landing.tr' ],
	[ 'mv', 'walstar_landing.mv' ])
{
	is($node->safe_psql('ana', WalstarTest::Shop::sum_sql($t->[1])),
		$node->safe_psql('src', WalstarTest::Shop::sum_sql($t->[0])), "$t->[0]: landing table equals the source");
}

my ($m1, $m2) = split /\n/, $node->safe_psql('src', q{SELECT md5(big) FROM vers WHERE id IN (1, 12) ORDER BY id});
is($node->safe_psql('src', 'SELECT md5(big) FROM mv WHERE id = 2'), $m1, 'mv 2 holds the first big value');
my $seen = $node->safe_psql('ana', q{
SELECT tab || ' ' || coalesce(id::text, '-') || ': ' || string_agg(op || coalesce(' ' || v, '')
	|| coalesce(' ' || CASE WHEN big = md5('small') THEN 'small' ELSE big END, ''), ', ' ORDER BY seq)
FROM seen GROUP BY tab, id ORDER BY tab, id});
$seen =~ s/\Q$m1\E/BIG1/g;
$seen =~ s/\Q$m2\E/BIG2/g;
is($seen, join("\n",
	'mv 1: INSERT a BIG1, DELETE a BIG1',
	'mv 2: INSERT a BIG1',
	'pois 30: INSERT p1, UPDATE p3',
	'pois 31: INSERT q1, UPDATE q2',
	'tr 1: INSERT before',
	'tr 2: INSERT after',
	'tr -: TRUNCATE',
	'vers 1: INSERT a BIG1, UPDATE b BIG1, UPDATE c BIG1',
	'vers 2: INSERT only small',
	'vers 10: INSERT k BIG2, DELETE k BIG2',
	'vers 11: INSERT k BIG2, DELETE k BIG2',
	'vers 12: INSERT k BIG2, UPDATE k2 BIG2',
	'vers 20: INSERT x small, DELETE x small, INSERT y small'),
	'the triggers saw every row version in order');
is($node->safe_psql('ana', q{SELECT string_agg(coalesce(id::text, op), ' ' ORDER BY seq) FROM seen WHERE tab = 'tr'}),
	'1 TRUNCATE 2', 'tr: the insert before the TRUNCATE, the TRUNCATE, the insert after it');

# plain and quiet have no trigger that fires: one upsert per key, no UPDATE
# or DELETE touched a row. The worker's table statistics are flushed when it
# exits.
$node->safe_psql('ana', "SELECT walstar.stop_subscription('v')");
$node->poll_query_until('ana', q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'walstar apply'})
  or die 'worker did not stop';
$node->poll_query_until('ana', q{SELECT count(*) = 2 FROM pg_stat_user_tables
	WHERE relid IN ('walstar_landing.plain'::regclass, 'walstar_landing.quiet'::regclass) AND n_tup_ins > 0})
  or die 'no statistics for plain and quiet';
for my $t ('plain', 'quiet')
{
	is($node->safe_psql('ana', qq{SELECT n_tup_ins || ' ' || n_tup_upd || ' ' || n_tup_del FROM pg_stat_user_tables
		WHERE relid = 'walstar_landing.$t'::regclass}), '4 0 0', "$t: collapsed to one upsert per surviving key");
}

$node->stop;
done_testing();
