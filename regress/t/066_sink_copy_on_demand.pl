# On-demand copies while streaming (walstar-sink snapshot --table ...): a
# table added to include-tables while streaming (SIGHUP) after its rows
# were written, and a landing table damaged downstream, are each copied
# into the running pipeline under a write workload on the copied table,
# without a restart and without re-copying the other tables; the landing
# tables equal the source row by row.
# SIGTERM during an on-demand copy exits within shutdown-timeout, keeps the
# request, and the next start copies it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::Shop;
use WalstarTest::Sink;

my $kafka = WalstarTest::Kafka->start;
my $src = WalstarTest::Pipeline::source('demand_source', 'app');
$src->safe_psql('app', q{
CREATE TABLE a (id int PRIMARY KEY, v text);
CREATE TABLE b (id int PRIMARY KEY, v text, n int NOT NULL DEFAULT 0);
INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 20000) g;
INSERT INTO b SELECT g, 'b' || g FROM generate_series(1, 100000) g;
});
my $node = WalstarTest::Pipeline::analytics('demand_analytics', $kafka, 'demand',
	topics => '{walstar.public.a,walstar.public.b,walstar.public.c}', landing_schema => 'public',
	batch_size => 2000, batch_time => '50ms');

my $conf = "$PostgreSQL::Test::Utils::tmp_check/demand.conf";
sub conf
{
	my ($tables) = @_;
	open(my $fh, '>', $conf) or die;
	print $fh "include-tables = $tables\n";
	close($fh);
}
conf('public.a,public.b');
my @args = ("--config=$conf", '--topic-partitions=2', '--shutdown-timeout=5');
my $sink = WalstarTest::Sink->start(name => 'demand', node => $src, db => 'app', kafka => $kafka, args => \@args);
$sink->wait_log(qr/msg="streaming"/);
like($sink->log_text, qr/tables=2 msg="initial copy started"/, 'the initial copy of a and b');

# c's rows are written while the sink does not capture c; then it does
$src->safe_psql('app', q{
CREATE TABLE c (id int PRIMARY KEY, v text, n int NOT NULL DEFAULT 0);
INSERT INTO c SELECT g, 'c' || g FROM generate_series(1, 150000) g;
});
conf('public.a,public.b,public.c');
$sink->signal('HUP');
$sink->wait_log(qr/msg="table selection changed: streaming restarts with it"/);
$sink->wait_log(qr/streaming restarts with it"(?s:.*)msg="streaming"/);

sub request
{
	my ($tables) = @_;
	my @cmd = @{ $sink->{cmd} };
	splice(@cmd, 1, 0, 'snapshot');
	push @cmd, "--table=$tables";
	my ($out, $err) = ('', '');
	my $rc = system(@cmd);
	return $rc >> 8;
}

sub reads_by_copy
{
	my ($t) = @_;
	my %n;
	$n{ $_->{change}{commit_lsn} }++ for grep { $_->{change}{op_name} eq 'READ' }
	  WalstarTest::Sink::read_topic($kafka, "walstar.public.$t", peek => 1);
	return %n;
}

sub equal
{
	my ($t, $label) = @_;
	my $want = $src->safe_psql('app', WalstarTest::Shop::sum_sql($t));
	ok($node->poll_query_until('ana', 'SELECT (' . WalstarTest::Shop::sum_sql("public.$t") . ") = '$want'", 't'),
		"$t: $label")
	  or diag('have ' . $node->safe_psql('ana', WalstarTest::Shop::sum_sql("public.$t")) . " want $want");
}

my $script = "$PostgreSQL::Test::Utils::tmp_check/demand.sql";
open(my $fh, '>', $script) or die;
print $fh q{\set id random(1, 160000)
BEGIN;
UPDATE c SET n = n + 1 WHERE id = :id;
DELETE FROM c WHERE id = :id + 5;
INSERT INTO c VALUES (:id + 200000, 'new') ON CONFLICT (id) DO UPDATE SET n = c.n + 1;
UPDATE b SET n = n + 1 WHERE id = :id % 100000;
UPDATE a SET v = v || '.' WHERE id = :id % 20000;
COMMIT;
};
close($fh);
sub pgbench
{
	my ($secs) = @_;
	local $ENV{PGAPPNAME} = 'pgbench';
	return WalstarTest::Sink::background("$PostgreSQL::Test::Utils::tmp_check/pgbench.log", 'pgbench', '-n', '-T',
		$secs, '-c', '2', '-f', $script, '-h', $src->host, '-p', $src->port, 'app');
}

# 1. a table the stream never carried
my $bench = pgbench(8);
$src->poll_query_until('app', q{SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'pgbench'});
is(request('public.c'), 0, 'walstar-sink snapshot --table=public.c queues a request');
$sink->wait_log(qr/request=\S+ msg="copy complete and acknowledged; streaming resumes"/);
like($sink->log_text, qr/tables=1 msg="initial copy started"/, 'only the requested table is copied');
is(WalstarTest::Sink::finish_background($bench), 0, 'the workload ran during the copy');
ok($sink->alive, 'the sink kept running');
equal('c', 'landing equals the source after the on-demand copy under writes');
equal('a', 'landing equals the source (streamed meanwhile)');
equal('b', 'landing equals the source (streamed meanwhile)');
my %ra = reads_by_copy('a');
is(scalar(keys %ra), 1, 'a was not copied again');
my %rc = reads_by_copy('c');
is(scalar(keys %rc), 1, 'c was copied once');
cmp_ok((values %rc)[0], '>', 149000, 'with every row it had (150000, and what pgbench did before the copy)');

# 2. a landing table damaged downstream is copied again
$node->safe_psql('ana', 'DELETE FROM public.b WHERE id % 3 = 0');
$bench = pgbench(5);
is(request('public.b'), 0, 'walstar-sink snapshot --table=public.b');
$sink->wait_log(qr/request=\S+ msg="copy complete and acknowledged; streaming resumes"(?s:.*)request=\S+ msg="copy complete and acknowledged/);
WalstarTest::Sink::finish_background($bench);
equal('b', 'landing equals the source again after its copy');
equal('c', 'landing still equals the source');
%ra = reads_by_copy('a');
is(scalar(keys %ra), 1, 'a still not copied again');
my %rb = reads_by_copy('b');
is(scalar(keys %rb), 2, 'b: the initial copy and the on-demand one');

# 3. SIGTERM during an on-demand copy
$src->safe_psql('app', q{INSERT INTO c SELECT g, 'more' FROM generate_series(400001, 800000) g});
equal('c', 'the bulk insert streamed');
is(request('public.c'), 0, 'another copy of c requested');
$sink->wait_log(qr/tables=1 msg="initial copy started"(?s:.*)tables=1 msg="initial copy started"(?s:.*)tables=1 msg="initial copy started"/);
$sink->signal('TERM');
is($sink->wait_exit(5 + 10), 0, 'SIGTERM during the on-demand copy: exit 0 within shutdown-timeout');
like($sink->log_text, qr/stopped during the copy; the request is taken again at the next start/, 'the request is kept');
ok(scalar(glob("$sink->{state_dir}/walstar.requests/*.request")), 'its file is still queued');
$src->safe_psql('app', q{DELETE FROM c WHERE id % 7 = 0; UPDATE c SET v = 'down' WHERE id % 11 = 0});
$sink = WalstarTest::Sink->start(name => 'demand', node => $src, db => 'app', kafka => $kafka, args => \@args);
$sink->wait_log(qr/msg="copy complete and acknowledged; streaming resumes"/);
ok(!scalar(glob("$sink->{state_dir}/walstar.requests/*.request")), 'the request is done');
$src->safe_psql('app', q{UPDATE c SET n = n + 1 WHERE id % 13 = 0});
equal('c', 'landing equals the source after the cut copy was taken again');
equal('a', 'a still equals the source');
equal('b', 'b still equals the source');
is($node->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no dead letters');
is($sink->stop, 0, 'clean stop');
$node->stop;
$src->stop;
$kafka->stop;
done_testing();
