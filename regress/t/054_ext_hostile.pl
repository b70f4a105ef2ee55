# Hostile input and hostile roles on the analytics side (issue "Trust").
#
# (a) Malformed messages of every invariant class of proto/change_check.c,
#     real records made wrong by appending protobuf fields (repeated fields
#     grow, scalars are overwritten: what a concatenation of two records
#     does), random bytes, a cut record and 5 MB of garbage, produced
#     between real changes: each becomes a dead letter whose reason names the
#     broken invariant, the real changes behind them are applied, retrying
#     every letter fails cleanly, and the server never restarts.
# (b) A non-superuser owner of the analytics database plants
#     public.unnest(text[]) and a schema named after the worker's role with
#     the same trap; the worker's statements never call them.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::Shop;

my $kafka = WalstarTest::Kafka->start;
my $node = WalstarTest::Pipeline::combined('ext_hostile', "restart_after_crash = on\n");
$node->safe_psql('postgres', q{
CREATE ROLE mallory LOGIN;
CREATE DATABASE src;
CREATE DATABASE ana OWNER mallory;
});
$node->safe_psql('src', 'CREATE EXTENSION walstar;' . WalstarTest::Shop::schema_sql()
	  . q{SELECT 'init' FROM pg_create_logical_replication_slot('s', 'walstar_decoder');});

sub take_changes { map { [ $_->[0], $_->[1], $_->[2] ] } WalstarTest::Shop::slot_changes($node) }
sub produce_raw { WalstarTest::Shop::produce_raw($kafka, @_) }
sub landing_equal { WalstarTest::Shop::landing_equal($node, $node, @_) }

my $started = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

# --- (b) the traps, planted before the worker starts
my $worker_role = $node->safe_psql('postgres', 'SELECT current_user');
$node->safe_psql('ana', 'CREATE EXTENSION walstar');
my $trap = q{
RETURNS SETOF text LANGUAGE plpgsql AS $t$
BEGIN
	ALTER ROLE mallory SUPERUSER;
	RETURN QUERY SELECT * FROM pg_catalog.unnest($1);
END $t$;};
$node->safe_psql('ana', qq{
SET ROLE mallory;
CREATE FUNCTION public.unnest(text[]) $trap
CREATE SCHEMA "$worker_role";
CREATE FUNCTION "$worker_role".unnest(text[]) $trap
CREATE FUNCTION "$worker_role".now() RETURNS timestamptz LANGUAGE plpgsql AS \$t\$
BEGIN ALTER ROLE mallory SUPERUSER; RETURN pg_catalog.now(); END \$t\$;
});

$node->safe_psql('ana', "SELECT walstar.create_subscription('s', '" . $kafka->bootstrap . q{',
	topic_pattern => '^walstar\.(public|shop)\.', batch_size => 50, batch_time => '50ms', enabled => true)});

$node->safe_psql('src', q{
INSERT INTO items SELECT g, 'item ' || g, g, NULL, '2024-01-01' FROM generate_series(1, 20) g;
INSERT INTO shop.orders SELECT 'eu', g, g, 1, NULL FROM generate_series(1, 10) g;
INSERT INTO events SELECT g, 'e' FROM generate_series(1, 5) g;
});
my @first = take_changes();
produce_raw(@first);
landing_equal('first changes');

$node->safe_psql('src', q{
DELETE FROM items WHERE id <= 5;
UPDATE items SET name = 'renamed' WHERE id = 10;
DELETE FROM shop.orders WHERE no <= 3;
});
my @deletes = take_changes();
produce_raw(@deletes);
landing_equal('deletes and updates applied');
is($node->safe_psql('ana', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f',
	'public.unnest(text[]) and the worker-role schema were never called');

# --- (a) malformed messages between real changes
sub vi
{
	my ($v) = @_;
	my $s = '';
	while ($v >= 0x80) { $s .= chr(($v & 0x7f) | 0x80); $v >>= 7; }
	return $s . chr($v);
}
sub field_bytes { my ($no, $b) = @_; return vi(($no << 3) | 2) . vi(length $b) . $b; }
sub field_varint { my ($no, $v) = @_; return vi($no << 3) . vi($v); }
sub column { my ($name, $type, $key) = @_; return field_bytes(6, field_bytes(1, $name) . field_bytes(4, $type) . ($key ? field_varint(5, 1) : '')); }
sub value_null { return field_bytes(7, field_varint(1, 1)); }
sub value_text { my ($no, $t) = @_; return field_bytes($no, field_bytes(6, $t)); }

my ($insert) = grep { $_->[2] eq 'INSERT' && $_->[0] eq 'walstar.public.items' } @first;
my ($delete) = grep { $_->[2] eq 'DELETE' && $_->[0] eq 'walstar.public.items' } @deletes;
my ($update) = grep { $_->[2] eq 'UPDATE' && $_->[0] eq 'walstar.public.items' } @deletes;
my $t = 'walstar.public.items';
my @bad = (
	[ 'concatenated records', $insert->[1] . $delete->[1], qr/column "id" of "public\.items" appears twice|DELETE record for "public\.items" has \d+ new values/ ],
	[ 'two inserts concatenated', $insert->[1] . $insert->[1], qr/column "id" of "public\.items" appears twice/ ],
	[ 'DELETE with a new value', $delete->[1] . value_null(), qr/DELETE record for "public\.items" has 1 new values/ ],
	[ 'INSERT with one value too many', $insert->[1] . value_null(), qr/has 6 new values for 5 columns/ ],
	[ 'UPDATE with a short old row', $update->[1] . field_bytes(8, field_varint(1, 1)), qr/old values for 5 columns|old row/ ],
	[ 'a non-built-in landing type', $insert->[1] . column('zz', 'public.evil') . value_null(),
		qr/column "zz" of "public\.items": landing type is not a built-in type name/ ],
	[ 'invalid UTF-8', $insert->[1] . column('yy', 'text') . value_text(7, "\xff\xfe"), qr/value of column "yy" is not valid UTF-8/ ],
	[ 'NULL key', $insert->[1] . column('k2', 'integer', 1) . value_null(), qr/key column "k2" is NULL in the new row/ ],
	[ 'wire version 2', $insert->[1] . field_varint(1, 2), qr/unsupported wire format version 2/ ],
	[ 'unknown op', $insert->[1] . field_varint(3, 99), qr/unknown op 99/ ],
	[ 'a 300-byte table name', $insert->[1] . field_bytes(5, 'x' x 300), qr/schema and table names must be 1 to 63 bytes/ ],
	[ 'random bytes', join('', map { chr(int(rand(256))) } 1 .. 300), qr/./ ],
	[ 'a cut record', substr($insert->[1], 0, int(length($insert->[1]) / 2)), qr/./ ],
	[ '5 MB of garbage', "\x0a" . join('', map { chr(int(rand(256))) } 1 .. 5_000_000), qr/./ ],
);

$node->safe_psql('src', q{
INSERT INTO items SELECT g, 'after ' || g, g, NULL, now() FROM generate_series(100, 130) g;
DELETE FROM items WHERE id BETWEEN 11 AND 15;
});
my @after = take_changes();
# A valid record whose value does not fit its type fails in the apply. It
# goes to a topic of its own: in the items topic its position would be a
# resend of what was applied.
push @bad, [ 'a value of the wrong type', $insert->[1] . column('ww', 'integer') . value_text(7, 'abc'),
	qr/invalid input syntax for type integer/, 'walstar.public.wrongtype' ];
produce_raw((map { [ $_->[3] // $t, $_->[1] ] } @bad), @after);
landing_equal('real changes behind the malformed ones are applied');
$node->poll_query_until('ana', 'SELECT count(*) = ' . scalar(@bad) . ' FROM walstar.dead_letters')
  or diag($node->safe_psql('ana', 'SELECT "offset", error FROM walstar.dead_letters ORDER BY "offset"'));
my @errors = split /\n/, $node->safe_psql('ana', 'SELECT error FROM walstar.dead_letters WHERE subscription = \'s\' ORDER BY topic = \'walstar.public.wrongtype\', "offset"');
is(scalar(@errors), scalar(@bad), 'one dead letter per malformed message');
for my $i (0 .. $#bad)
{
	like($errors[$i] // '', $bad[$i][2], "$bad[$i][0]: dead letter names the broken invariant");
}

# every letter retried through walstar.retry_dead_letter: clean failures
is($node->safe_psql('ana', 'SELECT count(*) FILTER (WHERE NOT walstar.retry_dead_letter(id)) FROM walstar.dead_letters'),
	scalar(@bad), 'retrying each letter fails with its error, no crash');
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $started,
	'the server never restarted');
is($node->safe_psql('ana', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f',
	'still nobody became superuser');
is($node->safe_psql('ana', q{SELECT worker_state FROM walstar.subscription_status LIMIT 1}), 'running',
	'the worker keeps running');

# --- (c) a walstar_admin who is no superuser: its worker runs as itself, so
# a trigger it put on "its" landing table gets its rights only
$node->safe_psql('ana', q{
CREATE ROLE eve LOGIN IN ROLE walstar_admin;
CREATE SCHEMA evil AUTHORIZATION eve;
SET ROLE eve;
CREATE TABLE evil.items (id int PRIMARY KEY, name text, price numeric(10,2), big text, at timestamptz);
CREATE FUNCTION evil.grab() RETURNS trigger LANGUAGE plpgsql AS $t$
BEGIN ALTER ROLE eve SUPERUSER; RETURN NULL; END $t$;
CREATE TRIGGER grab AFTER INSERT ON evil.items FOR EACH STATEMENT EXECUTE FUNCTION evil.grab();
});
$node->safe_psql('ana', "SET ROLE eve; SELECT walstar.create_subscription('eve', '" . $kafka->bootstrap . q{',
	topics => '{walstar.public.items}', landing_schema => 'evil', batch_time => '50ms', enabled => true)});
$node->poll_query_until('ana', q{SELECT count(*) > 0 FROM walstar.dead_letters
	WHERE subscription = 'eve' AND (error LIKE 'must be superuser%' OR error LIKE 'permission denied%')})
  or die 'the trigger never failed: ' . $node->safe_psql('ana', q{SELECT error FROM walstar.dead_letters WHERE subscription = 'eve'});
is($node->safe_psql('ana', q{SELECT usename FROM pg_stat_activity
	WHERE backend_type = 'walstar apply' AND application_name = 'walstar apply eve'}), 'eve',
	'the worker connects as the subscription owner');
is($node->safe_psql('ana', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'eve'}), 'f',
	'a landing-table trigger runs with its owner\'s rights, not a superuser\'s');
is($node->safe_psql('ana', 'SELECT count(*) FROM evil.items'), '0',
	'what the trigger could not do rolled back with its changes');
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $started,
	'and the server still never restarted');

# --- (d) a broker nobody listens on: the status view says so, with the kind
my $dead = PostgreSQL::Test::Cluster::get_free_port();
$node->safe_psql('ana', "SELECT walstar.create_subscription('down', '127.0.0.1:$dead',
	topics => '{walstar.public.items}', enabled => true)");
ok($node->poll_query_until('ana', q{SELECT worker_state = 'retrying' AND last_error LIKE 'broker down: %'
	FROM walstar.subscription_status WHERE subscription = 'down'}),
	'an unreachable broker shows as retrying with the kind "broker down"')
  or diag($node->safe_psql('ana', q{SELECT worker_state, last_error FROM walstar.subscription_status
	WHERE subscription = 'down'}));

# --- (e) a wrong SASL password: error, with the authentication cause, within
# 30 s, and never the password; the right one applies
sub within_30s
{
	my ($sql) = @_;
	my $end = time() + 30;
	while (time() < $end)
	{
		return 1 if $node->safe_psql('ana', $sql) eq 't';
		sleep 1;
	}
	return 0;
}
my $sasl = $kafka->sasl_bootstrap;
for my $try ([ 'sasl_bad', 'not-the-password' ], [ 'sasl_good', 'walstar-secret' ])
{
	my ($name, $password) = @{$try};
	$node->safe_psql('ana', "SELECT walstar.create_subscription('$name', '$sasl',
		topics => '{walstar.public.items}', landing_schema => '$name', enabled => true,
		properties => walstar.kafka_properties('{security.protocol=SASL_PLAINTEXT,sasl.mechanism=PLAIN,sasl.username=walstar,sasl.password=$password}'))");
}
ok(within_30s(q{SELECT worker_state = 'error' AND last_error LIKE 'authentication: %'
	FROM walstar.subscription_status WHERE subscription = 'sasl_bad'}),
	'a wrong SASL password shows as error with the authentication cause within 30 s')
  or diag($node->safe_psql('ana', q{SELECT worker_state, last_error FROM walstar.subscription_status
	WHERE subscription = 'sasl_bad'}));
is($node->safe_psql('ana', q{SELECT count(*) FROM walstar.subscription_status
	WHERE last_error LIKE '%not-the-password%' OR last_error LIKE '%walstar-secret%'}), '0',
	'the password is not in the status view');
ok($node->poll_query_until('ana', q{SELECT count(*) > 0 FROM sasl_good.items}),
	'the right SASL password applies');

$node->stop;
done_testing();
