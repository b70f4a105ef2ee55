# Slot creation waits for the source's open transactions (here a prepared
# transaction and a session idle in a transaction with an xid): the sink
# logs, every status interval, which transactions it waits for, naming the
# prepared transaction's gid and the session's pid; SIGTERM stops it while
# it waits, leaving no slot; once the transactions end the sink proceeds
# and the copy has their rows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Sink;
use WalstarTest::Wire;

my $kafka = WalstarTest::Kafka->start;
my $node = PostgreSQL::Test::Cluster->new('slot_wait');
$node->init(allows_streaming => 'logical');
WalstarTest::Sink::setup_node($node);
$node->append_conf('postgresql.conf', "max_prepared_transactions = 4\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE TABLE t (id int PRIMARY KEY, note text);
BEGIN;
INSERT INTO t VALUES (1, 'prepared');
PREPARE TRANSACTION 'walstar_blocker';
});

sub wait_lines
{
	my ($sink, $re, $n) = @_;
	my $end = time() + $PostgreSQL::Test::Utils::timeout_default;
	while (time() < $end)
	{
		my $count = () = $sink->log_text =~ /$re/g;
		return $count if $count >= $n;
		die "sink exited:\n" . $sink->log_text unless $sink->alive;
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

# 1. SIGTERM while the creation waits
my $sink = WalstarTest::Sink->start(name => 'term', node => $node, kafka => $kafka);
my $waiting = qr/warning replication slot=walstar waited_s=\d+ waiting_for_xid=\d+ transactions=1 named="prepared gid=walstar_blocker xid=\d+ owner=\S+ database=postgres/;
ok(wait_lines($sink, $waiting, 2) >= 2, 'the wait is logged every status interval, naming the prepared transaction')
  or diag($sink->log_text);
my $xid = $node->safe_psql('postgres', q{SELECT transaction FROM pg_prepared_xacts WHERE gid = 'walstar_blocker'});
like($sink->log_text, qr/waiting_for_xid=$xid /, 'the line names the xid the walsender waits on');
is($sink->stop, 0, 'SIGTERM while the slot creation waits: exit code 0');
like($sink->log_text, qr/stopped while creating the slot/, 'the stop is logged');
is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'), '0', 'no slot is left behind');
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'walsender'}),
	'its walsender has gone');

# 2. the creation waits for a prepared transaction and an open session, then proceeds
my $session = $node->background_psql('postgres');
$session->query_safe(q{BEGIN; INSERT INTO t VALUES (2, 'session')});
my $session_pid = $session->query_safe('SELECT pg_backend_pid()');
$sink = WalstarTest::Sink->start(name => 'wait', node => $node, kafka => $kafka);
ok(wait_lines($sink, qr/transactions=2 named="prepared gid=walstar_blocker [^"]*; pid=$session_pid xid=\d+ user=\S+ database=postgres application=[^ ]* state=idle in transaction /, 1),
	'both blocking transactions are named')
  or diag($sink->log_text);
unlike($sink->log_text, qr/slot created/, 'no slot yet');
$node->safe_psql('postgres', q{COMMIT PREPARED 'walstar_blocker'});
ok(wait_lines($sink, qr/transactions=1 named="pid=$session_pid /, 1),
	'after COMMIT PREPARED only the session is named');
unlike($sink->log_text, qr/slot created/, 'still no slot');
$session->query_safe('COMMIT');
$session->quit;
$sink->wait_log(qr/msg="streaming"/);
like($sink->log_text, qr/slot=walstar consistent_point=\S+ msg="slot created"/, 'the slot is created once they ended');
my @rows = map { $_->{change} } WalstarTest::Sink::read_topic($kafka, 'walstar.public.t');
is(join(',', sort map { "$_->{op_name}:" . WalstarTest::Wire::row_of($_)->{id} } @rows), 'READ:1,READ:2',
	'the copy has the rows of both transactions');
is($sink->stop, 0, 'sink stops cleanly');
$node->stop;
done_testing();
