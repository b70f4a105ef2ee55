# Standby sink, on a 3-node Kafka cluster: two walstar-sink processes
# configured for one slot (kafka-transactions: one transactional.id derived
# from the slot).  One streams, the other finds the slot active and stands
# by.  Under a pgbench workload the streaming one is killed with SIGKILL
# five times (and started again, as the new standby); each time the
# standby takes over, the time from the kill to its takeover is recorded.
# Then the streaming one is frozen (SIGSTOP) until its walsender times out,
# the standby takes over and fences it, and the frozen one, thawed, stops
# without writing anything.  Then the Kafka node of the transaction
# coordinator is killed: the streaming sink rides through.  At the end the
# landing tables equal the source
# row by row (no gap, no duplicate), and Kafka shows that the two never
# produced at once: in every partition the records' walstar.sink headers
# form one run per sink process, in takeover order, and within a run the
# records' (commit LSN, position) only grow.
use strict;
use warnings;
use IO::Socket::INET;
use IPC::Run ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::Sink;
use WalstarTest::Wire;

my @TABLES = qw(accounts tellers branches history);

my $kafka = WalstarTest::Kafka->start(brokers => 3);

my $source = WalstarTest::Pipeline::source('sb_source', 'src');
# a frozen sink's walsender lets the slot go after this long
$source->append_conf('postgresql.conf', "wal_sender_timeout = 5s\n");
$source->reload;
$source->safe_psql('src', q{
CREATE TABLE branches (bid int PRIMARY KEY, bbalance bigint NOT NULL, filler text);
CREATE TABLE tellers (tid int PRIMARY KEY, bid int NOT NULL, tbalance bigint NOT NULL, filler text);
CREATE TABLE accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance bigint NOT NULL, filler text);
CREATE TABLE history (hid bigserial PRIMARY KEY, tid int, bid int, aid int, delta int, mtime timestamptz);
});

my $ana = WalstarTest::Pipeline::analytics('sb_analytics', $kafka, 'sb',
	topic_pattern => '^walstar\.public\.', batch_size => 500, batch_time => '50ms');

my @args = ('--snapshot=never', '--topic-partitions=2', '--kafka-transactions=true',
	'--transaction-interval=100');
sub start_sink
{
	my ($name, @more) = @_;
	return WalstarTest::Sink->start(name => $name, node => $source, db => 'src', kafka => $kafka,
		args => [ @args, @more ]);
}

# walstar_sink_standby of the sink serving metrics on $port
sub standby_gauge
{
	my ($port) = @_;
	my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 10) or return 'no answer';
	print $sock "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
	my $m = do { local $/; <$sock> };
	return $m =~ /^walstar_sink_standby (\S+)\r?$/m ? $1 : 'missing';
}

my %sink;
$sink{a} = start_sink('a');
$sink{a}->wait_log(qr/msg="streaming"/);
like($sink{a}->log_text, qr/msg="took the slot over: Kafka transactions initialized/,
	'the first sink initialized its Kafka transactions');
my $mport = PostgreSQL::Test::Cluster::get_free_port();
$sink{b} = start_sink('b', "--metrics-port=$mport");
$sink{b}->wait_log(qr/standing by/);
unlike($sink{b}->log_text, qr/streaming|took the slot over/, 'the second sink stands by');
is(standby_gauge($mport), '1', 'its metrics say so (walstar_sink_standby 1)');
my $active = 'a';
my @order = ($sink{a}->pid);    # sink processes in takeover order

$source->safe_psql('src', q{
INSERT INTO branches SELECT g, 0, 'branch' FROM generate_series(1, 4) g;
INSERT INTO tellers SELECT g, 1 + g % 4, 0, 'teller' FROM generate_series(1, 40) g;
INSERT INTO accounts SELECT g, 1 + g % 4, 0, repeat('a', 80) FROM generate_series(1, 10000) g;
});

sub table_sums
{
	my ($node, $db, $schema) = @_;
	return $node->safe_psql($db, join(' UNION ALL ',
		map { "(SELECT '$_', count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '')"
			  . " FROM $schema.$_ t)" } @TABLES));
}

sub landing_equal
{
	my ($what) = @_;
	my $want = table_sums($source, 'src', 'public');
	my $have = '';
	my $end = Time::HiRes::time() + $PostgreSQL::Test::Utils::timeout_default;
	while (Time::HiRes::time() < $end)
	{
		my ($rc, $out) = $ana->psql('ana', "SELECT count(*) FROM pg_tables WHERE schemaname = 'walstar_landing'");
		if ($rc == 0 && $out == @TABLES)
		{
			$have = table_sums($ana, 'ana', 'walstar_landing');
			last if $have eq $want;
		}
		Time::HiRes::sleep(0.2);
	}
	is($have, $want, "$what: every landing table equals its source row by row");
}

my $script = "$PostgreSQL::Test::Utils::tmp_check/tpcb.sql";
open(my $fh, '>', $script) or die;
print $fh q{\set aid random(1, 10000)
\set bid random(1, 4)
\set tid random(1, 40)
\set delta random(-5000, 5000)
BEGIN;
UPDATE accounts SET abalance = abalance + :delta WHERE aid = :aid;
UPDATE tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE branches SET bbalance = bbalance + :delta WHERE bid = :bid;
INSERT INTO history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
END;
};
close($fh);
my $rate = 100;
my $bench = IPC::Run::start([ 'pgbench', '-n', '-T', '1200', '-R', $rate, '-c', '2', '-f', $script,
	'-h', $source->host, '-p', $source->port, 'src' ], '>', \my $bench_out, '2>', \my $bench_err);
$source->poll_query_until('src', 'SELECT count(*) > 50 FROM history') or die 'pgbench does not run';

sub load { my $u = `uptime`; return $u =~ /load averages?: (.*)$/ ? $1 : '?'; }

# Seconds from $t0 until the landing table has every history row committed
# before it.
sub landing_has
{
	my ($t0, $hid) = @_;
	while (Time::HiRes::time() < $t0 + 180)
	{
		my ($rc, $out) = $ana->psql('ana', 'SELECT coalesce(max(hid), 0) FROM walstar_landing.history');
		return Time::HiRes::time() - $t0 if $rc == 0 && $out >= $hid;
		Time::HiRes::sleep(0.1);
	}
	return undef;
}

sub fmt { return defined $_[0] ? sprintf('%.1f', $_[0]) : 'never'; }

# 1. the streaming sink killed five times
for my $kill (1 .. 5)
{
	Time::HiRes::sleep(1 + rand(2));
	my $standby = $active eq 'a' ? 'b' : 'a';
	my $hid = $source->safe_psql('src', 'SELECT max(hid) FROM history');
	my $t0 = Time::HiRes::time();
	$sink{$active}->kill9;
	my $took;
	while (Time::HiRes::time() < $t0 + 120)
	{
		if ($sink{$standby}->log_text =~ /msg="streaming"/) { $took = Time::HiRes::time() - $t0; last; }
		die "standby $standby exited:\n" . $sink{$standby}->log_text unless $sink{$standby}->alive;
		Time::HiRes::sleep(0.05);
	}
	ok(defined $took, "kill $kill: sink $standby took over from $active");
	is(standby_gauge($mport), '0', 'sink b streams: walstar_sink_standby 0') if $kill == 1;
	my $caught = landing_has($t0, $hid);
	my $line = sprintf('kill %d: takeover %s s after the kill, landing had every earlier row after %s s (load %s)',
		$kill, fmt($took), fmt($caught), load());
	diag("standby: $line");
	push @order, $sink{$standby}->pid;
	# the killed one comes back as the standby
	$sink{$active} = start_sink($active);
	$sink{$active}->wait_log(qr/standing by/);
	$active = $standby;
}

# 2. the streaming sink frozen: its walsender times out, the standby takes
# the slot and fences it; thawed, the frozen one must not write anything
{
	my $standby = $active eq 'a' ? 'b' : 'a';
	my $frozen = $sink{$active};
	my $t0 = Time::HiRes::time();
	$frozen->signal('STOP');
	$sink{$standby}->wait_log(qr/msg="streaming"/, 120);
	my $took = Time::HiRes::time() - $t0;
	diag(sprintf('standby: SIGSTOP of the streaming sink: takeover %.1f s later (wal_sender_timeout 5 s; load %s)', $took, load()));
	push @order, $sink{$standby}->pid;
	Time::HiRes::sleep(1);
	$frozen->signal('CONT');
	isnt($frozen->wait_exit(60), 0, 'the thawed sink stops with an error');
	like($frozen->log_text, qr/fenced|took the slot over \(its Kafka transactions fenced ours\)|PRODUCER_FENCED|INVALID_PRODUCER_EPOCH/i,
		'it stops because it was fenced') or diag($frozen->log_text);
	$active = $standby;
}

# 3. the node of the transaction coordinator killed with SIGKILL: the
# streaming sink rides through (same process), its commits retried
{
	my $coordinator = $kafka->leader('__transaction_state', 0);
	ok(defined $coordinator, 'the transaction coordinator runs on node ' . ($coordinator // '?'));
	my $pid = $sink{$active}->pid;
	my $hid = $source->safe_psql('src', 'SELECT max(hid) FROM history');
	my $t0 = Time::HiRes::time();
	$kafka->kill_node($coordinator);
	my $caught = landing_has($t0, $hid);
	diag(sprintf('standby: kill -9 of node %d (transaction coordinator): landing had every earlier row after %s s (load %s)',
		$coordinator, fmt($caught), load()));
	$kafka->start_node($coordinator);
	$kafka->wait_in_sync;
	ok($sink{$active}->alive && $sink{$active}->pid == $pid,
		'the streaming sink rode through the loss of the coordinator node (same pid)')
	  or diag($sink{$active}->log_text);
}

Time::HiRes::sleep(2);
$bench->kill_kill;
note('pgbench wrote ' . $source->safe_psql('src', 'SELECT count(*) FROM history') . " history rows at about $rate transactions/s");

my $end_lsn = $source->safe_psql('src', 'SELECT pg_current_wal_lsn()');
ok($source->poll_query_until('src',
	"SELECT confirmed_flush_lsn >= '$end_lsn' FROM pg_replication_slots WHERE slot_name = 'walstar'"),
	'the slot is confirmed to the end of the workload');
landing_equal('after 5 kills and a freeze of the streaming sink');
is($ana->safe_psql('ana', 'SELECT count(*) FROM walstar.dead_letters'), '0', 'no dead letters');

# Kafka: per partition, runs of one sink process each, in takeover order;
# (commit LSN, position) strictly grows within a run
my %rank;
$rank{ $order[$_] } = $_ for 0 .. $#order;
my ($records, $runs_total, $bad, $resent) = (0, 0, 0, 0);
for my $t (map { "walstar.public.$_" } @TABLES)
{
	open(my $k, '-|', 'kcat', '-C', '-b', $kafka->bootstrap, '-t', $t, '-o', 'beginning', '-e', '-q',
		'-f', '%p %o %S %h\n%s')
	  or die "kcat: $!";
	binmode $k;
	my %last;    # partition -> [rank, commit_lsn, position]
	my %seen;    # "partition commit_lsn position" of every record read
	while (my $head = <$k>)
	{
		chomp $head;
		next if $head eq '';
		my ($p, $off, $vlen, $hdrs) = split / /, $head, 4;
		my $v = '';
		read($k, $v, $vlen) == $vlen or die 'short value' if $vlen > 0;
		my ($pid) = ($hdrs // '') =~ /walstar\.sink=[^,]*:(\d+)/;
		my $c = WalstarTest::Wire::peek_change($v);
		$records++;
		if (!defined $pid || !defined $rank{$pid})
		{
			$bad++;
			diag("$t/$p\@$off: no walstar.sink header of a known sink: " . ($hdrs // ''));
			next;
		}
		my $r = $rank{$pid};
		my $id = "$p $c->{commit_lsn} $c->{position}";
		if (my $l = $last{$p})
		{
			if ($r == $l->[0])
			{
				# a sink that lost its source connection resends from the
				# confirmed position: records it already wrote, nothing new
				if ($c->{commit_lsn} < $l->[1] || ($c->{commit_lsn} == $l->[1] && $c->{position} <= $l->[2]))
				{
					if ($seen{$id}) { $resent++; }
					else
					{
						$bad++;
						diag("$t/$p\@$off: (commit LSN, position) goes back within the run of sink pid $pid to a record not seen before");
					}
				}
			}
			elsif ($r < $l->[0])
			{
				$bad++;
				diag("$t/$p\@$off: sink pid $pid writes again after its successor (interleaved)");
			}
			else { $runs_total++; }
		}
		else { $runs_total++; }
		$last{$p} = [ $r, $c->{commit_lsn}, $c->{position} ]
		  unless $seen{$id} && $r == $last{$p}[0];
		$seen{$id} = 1;
	}
	close($k);
}
cmp_ok($records, '>', 1000, "Kafka holds the records ($records)");
is($bad, 0, 'no two sinks produced at once: one run per sink process in every partition, in takeover order, growing positions within each');
note("$runs_total runs of one sink process over all partitions; $resent records resent within a run (after a lost source connection)");

ok($sink{$active}->alive, 'the last sink that took over still streams');
is($sink{$active}->stop, 0, 'it stops cleanly');
for my $n (keys %sink) { $sink{$n}->stop if $n ne $active; }
$ana->stop;
$source->stop;
$kafka->stop;
done_testing();
