# The lake, exactly once: a workload through walstar-sink -> Kafka ->
# walstar-archive -> a real S3-compatible store (signatures checked), with
# the archive killed (-9) 5 times and the store killed and restarted twice
# meanwhile.  Afterwards the objects' names cover every partition's offsets
# once, without gap or overlap; every record in them equals Kafka's at its
# offset; decoded, they hold every committed change of the source (a second
# slot of the same plugin) exactly once by (commit LSN, position), under
# <prefix>/<source>/<schema>.<table>/date=/hour= of their commit time (UTC).
# Then idle, with a heartbeat a second in every partition: the archive keeps
# a partition's heartbeats in one object (stored at its shutdown), not one
# object per object-max-age.
# Wrong credentials and an unreachable store: one clear error, exit 1, no
# offset committed.
use strict;
use warnings;
use IPC::Run ();
use POSIX ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use WalstarTest::Archive;
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::S3;
use WalstarTest::Sink;
use WalstarTest::Wire;

my $kafka = WalstarTest::Kafka->start;
my $s3 = WalstarTest::S3->start;
my $node = WalstarTest::Pipeline::source('lake_source', 'src');
$node->safe_psql('src', q{
CREATE TABLE acct (id int PRIMARY KEY, v int NOT NULL, note text);
CREATE SCHEMA crm;
CREATE TABLE crm.contact (id int PRIMARY KEY, email text, n int);
SELECT pg_create_logical_replication_slot('ref', 'walstar_decoder');
});
my $script = "$PostgreSQL::Test::Utils::tmp_check/lake.sql";
open(my $fh, '>', $script) or die;
print $fh q{\set id random(1, 2000)
BEGIN;
INSERT INTO acct (id, v, note) VALUES (:id, 0, 'n') ON CONFLICT (id) DO UPDATE SET v = acct.v + 1, note = 'u';
UPDATE acct SET v = v + 1 WHERE id = :id + 1;
INSERT INTO crm.contact VALUES (:id, 'c' || :id || '@example.com', 0) ON CONFLICT (id) DO UPDATE SET n = contact.n + 1;
DELETE FROM acct WHERE id = :id + 2 AND v > 2;
COMMIT;
};
close($fh);

my $sink = WalstarTest::Sink->start(name => 'lake', node => $node, db => 'src', kafka => $kafka,
	args => [ '--snapshot=never', '--topic-partitions=2', '--source-id=crm_eu', '--heartbeat-interval=1' ]);
$sink->wait_log(qr/msg="streaming"/);

# a static member: a restarted archive gets its partitions back at once
my @args = ('--topic-pattern=^walstar\.', '--object-max-age=1', '--object-max-records=300',
	'--set', 'kafka.group.instance.id=lake-archive');
my $archive = WalstarTest::Archive->start(name => 'lake', kafka => $kafka, s3 => $s3, args => \@args);
$archive->wait_log(qr/msg="archiving"/);

my $bench = IPC::Run::start([ 'pgbench', '-n', '-T', '100', '-R', '80', '-c', '2', '-f', $script,
	'-h', $node->host, '-p', $node->port, 'src' ], '>', \my $out, '2>', \my $err);

my ($kills, $store_restarts, $mid_cut) = (0, 0, 0);
my $metrics_port = PostgreSQL::Test::Cluster::get_free_port();
for my $i (1 .. 5)
{
	# kill only an archive that made progress in this run
	$archive->wait_log(qr/msg="object stored"/);
	Time::HiRes::sleep(rand(2));
	if ($i == 2 || $i == 4)
	{
		# the store dies under the running archive: its cut fails and is
		# retried (the cut mark committed, the object not stored), then the
		# archive dies too, and both come back
		$s3->kill9;
		$archive->wait_log(qr/error s3 .*retry=true/);
		$mid_cut++;
	}
	$archive->kill9;
	$kills++;
	if ($i == 2 || $i == 4)
	{
		$s3->start_again;
		$store_restarts++;
	}
	$archive = WalstarTest::Archive->start(name => 'lake', kafka => $kafka, s3 => $s3,
		args => [ @args, ($i == 5 ? ("--metrics-port=$metrics_port") : ()) ]);
	$archive->wait_log(qr/msg="archiving"/);
	ok(eval { $archive->wait_log(qr/cut=\d+ msg="assigned"/, 60) },
		"kill $i during a cut: the restart reads its cut mark") if $i == 2 || $i == 4;
}
$bench->finish;
like($out, qr/number of transactions actually processed: \d+/, 'pgbench finished');
is($kills, 5, 'killed the archive 5 times during the workload');
is($store_restarts, 2, 'killed and restarted the object store twice, each time under a failing cut');

my $end = $node->safe_psql('src', 'SELECT pg_current_wal_lsn()');
$node->poll_query_until('src', "SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = 'walstar'")
  or die 'sink did not confirm to the end';

# Idle: at least 5 heartbeats after the last change in every partition
# (the archive would have stored an object of them at each), then the sink
# stops so that Kafka's records are final.
my @topics = grep { /^walstar\./ } WalstarTest::Sink::topics($kafka);
my $idle_deadline = time() + 90;
while (1)
{
	my %beats;
	for my $t (@topics)
	{
		for my $m (WalstarTest::Sink::read_topic($kafka, $t, peek => 1))
		{
			my $tp = "$t/$m->{partition}";
			$beats{$tp} = ($m->{change} && $m->{change}{op_name} eq 'HEARTBEAT') ? ($beats{$tp} // 0) + 1 : 0;
		}
	}
	last unless grep { $_ < 5 } values %beats;
	die 'no heartbeats: ' . join(' ', %beats) if time() > $idle_deadline;
	sleep 1;
}
is($sink->stop, 0, 'sink stops cleanly');

# Kafka's records per (topic, partition, offset), the reference for the objects.
my (%kafka_rec, %kafka_count);
for my $t (@topics)
{
	for my $m (WalstarTest::Sink::read_topic($kafka, $t, raw => 1))
	{
		$kafka_rec{"$t/$m->{partition}/$m->{offset}"} = $m->{value};
		$kafka_count{"$t/$m->{partition}"}++;
	}
}

# wait until the archive has stored everything (its names reach each end)
# but each partition's tail of heartbeats, and holds that open
my @objs;
my $deadline = time() + 120;
while (1)
{
	my %covered;
	@objs = WalstarTest::Archive::objects($s3, 'walstar/', names_only => 1);
	$covered{"$_->{topic}/$_->{partition}"} += $_->{last} - $_->{first} + 1 for @objs;
	my %behind = map { $_ => $covered{$_} // 0 } grep { ($covered{$_} // 0) < $kafka_count{$_} } keys %kafka_count;
	my @tails = WalstarTest::Archive::heartbeat_tails($kafka, \%behind);
	my $open = 0;
	$open += $kafka_count{$_} - $behind{$_} for @tails;
	my ($have) = `curl -s http://127.0.0.1:$metrics_port/metrics` =~ /^walstar_archive_open_records (\d+)$/m;
	last if @tails == keys %behind && defined $have && $have == $open;
	die 'the archive did not catch up: ' . $archive->log_text if time() > $deadline;
	sleep 1;
}
is($archive->stop, 0, 'the archive stops cleanly (SIGTERM)');
@objs = WalstarTest::Archive::objects($s3, 'walstar/');
note(scalar(@objs) . ' objects, ' . scalar(keys %kafka_rec) . ' records in Kafka');

# names: per partition, ranges from 0 on, contiguous, not overlapping
my %ranges;
push @{ $ranges{"$_->{topic}/$_->{partition}"} }, $_ for @objs;
my @bad_ranges;
for my $tp (sort keys %kafka_count)
{
	my $next = 0;
	for my $o (sort { $a->{first} <=> $b->{first} } @{ $ranges{$tp} // [] })
	{
		push @bad_ranges, "$tp: $o->{first}-$o->{last} after $next" if $o->{first} != $next;
		$next = $o->{last} + 1;
	}
	push @bad_ranges, "$tp: ends at $next, Kafka at $kafka_count{$tp}" if $next != $kafka_count{$tp};
}
is(join('; ', @bad_ranges), '', 'object names cover every offset of every partition exactly once');

# contents: each object's records are Kafka's records of its range, byte for byte
my (@bad_content, %seen, @bad_layout, %beats_only);
for my $o (@objs)
{
	my $n = $o->{last} - $o->{first} + 1;
	if (scalar(@{ $o->{records} }) != $n)
	{
		push @bad_content, "$o->{key}: " . scalar(@{ $o->{records} }) . " records for $n offsets";
		next;
	}
	for my $i (0 .. $n - 1)
	{
		my $k = "$o->{topic}/$o->{partition}/" . ($o->{first} + $i);
		push @bad_content, "$k differs" if ($kafka_rec{$k} // '') ne $o->{records}[$i];
	}
	my $c = WalstarTest::Wire::decode_change($o->{records}[0], skip_columns => 1);
	my @t = gmtime($c->{commit_time} / 1e6);
	my $want_table = $c->{table} ne '' ? "$c->{schema}.$c->{table}" : "_$o->{topic}";
	my $want = sprintf('%s/%s/%04d-%02d-%02d/%02d', $c->{source}, $want_table, $t[5] + 1900, $t[4] + 1, $t[3], $t[2]);
	push @bad_layout, "$o->{key} (want $want)" if "$o->{source}/$o->{table}/$o->{date}/$o->{hour}" ne $want;
	my $beats = 0;
	for my $r (@{ $o->{records} })
	{
		my $p = WalstarTest::Wire::peek_change($r);
		$seen{"$p->{commit_lsn}/$p->{position}"}++ if $p->{op_name} =~ /^(INSERT|UPDATE|DELETE)$/;
		$beats++ if $p->{op_name} eq 'HEARTBEAT';
	}
	push @{ $beats_only{"$o->{topic}/$o->{partition} $o->{date} $o->{hour}"} }, "$o->{first}-$o->{last}"
	  if $beats == @{ $o->{records} };
}
my @split = map { "$_: @{ $beats_only{$_} }" } grep { @{ $beats_only{$_} } > 1 } sort keys %beats_only;
is(join('; ', @split), '', 'idle: a partition\'s heartbeats wait in one object an hour, not one per object-max-age');
cmp_ok(scalar(keys %beats_only), '>=', scalar(keys %kafka_count), 'idle: heartbeats archived in every partition');
is(join('; ', @bad_content[0 .. ($#bad_content < 4 ? $#bad_content : 4)]), '', 'every object holds its range\'s Kafka records unchanged');
is(join('; ', @bad_layout[0 .. ($#bad_layout < 4 ? $#bad_layout : 4)]), '', 'objects lie under <prefix>/<source>/<schema>.<table>/date=/hour= of their first commit (UTC)');
ok((grep { $_->{key} =~ m{^walstar/crm_eu/public\.acct/} } @objs) && (grep { $_->{key} =~ m{^walstar/crm_eu/crm\.contact/} } @objs),
	'grouped by origin: crm_eu/public.acct and crm_eu/crm.contact');

# ground truth: the reference slot's committed row changes
my %ref;
for my $hex (split /\n/, $node->safe_psql('src', q{
SELECT encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('ref', NULL, NULL, 'format', 'protobuf')}))
{
	my $c = WalstarTest::Wire::peek_change(pack('H*', $hex));
	$ref{"$c->{commit_lsn}/$c->{position}"} = 1 if $c->{op_name} =~ /^(INSERT|UPDATE|DELETE)$/;
}
my @missing = grep { !$seen{$_} } keys %ref;
my @bogus = grep { !$ref{$_} } keys %seen;
my @dups = grep { $seen{$_} > 1 } keys %seen;
cmp_ok(scalar(keys %ref), '>', 10000, scalar(keys %ref) . ' committed changes');
is(scalar(@missing), 0, 'every committed change is in the archive');
is(scalar(@bogus), 0, 'nothing in the archive that was not committed');
is(scalar(@dups), 0, 'no change archived twice');
my $marks = () = $archive->log_text =~ /cut=\d+ msg="assigned"/g;
note("cut marks honoured at the last start: $marks");

# Replay into replay topics: every partition again, record for record in
# Kafka's order, same keys.
my ($rc, $status) = WalstarTest::Archive::run($kafka, $s3, 'replay', '--from=2000-01-01', '--to=2100-01-01',
	'--replay-topic-prefix=replay');
is($rc, 0, 'replay into replay.<topic>') or diag($status);
my @replay_bad;
for my $t (@topics)
{
	my @orig = WalstarTest::Sink::read_topic($kafka, $t, raw => 1);
	my @again = WalstarTest::Sink::read_topic($kafka, "replay.$t", raw => 1);
	my (%o, %a);
	push @{ $o{ $_->{partition} } }, ($_->{key} // '') . "\0" . $_->{value} for @orig;
	push @{ $a{ $_->{partition} } }, ($_->{key} // '') . "\0" . $_->{value} for @again;
	for my $p (sort keys %o)
	{
		push @replay_bad, "$t/$p" unless join("\n", @{ $o{$p} }) eq join("\n", @{ $a{$p} // [] });
	}
}
is(join(', ', @replay_bad), '', 'replayed partitions equal the originals: same records, keys and order');

# Wrong credentials: one clear error, exit 1, nothing committed.
$node->safe_psql('src', 'INSERT INTO acct VALUES (999999, 1, NULL)');
my $bad = WalstarTest::Archive->start(name => 'badcred', kafka => $kafka, s3 => $s3,
	secret_key => 'not-the-secret', args => [ @args, '--group-id=badcred' ]);
is($bad->wait_exit(60), 1, 'wrong credentials: exit 1');
my @errors = grep { /^\S+ error / || /^error / } split /\n/, $bad->log_text;
is(scalar(@errors), 1, 'wrong credentials: one error line');
like($errors[0] // '', qr/error s3 .*HTTP 403 SignatureDoesNotMatch/, 'wrong credentials: the store\'s reason');
unlike($bad->log_text, qr/not-the-secret/, 'the secret is not logged');
($rc, $status) = WalstarTest::Archive::run($kafka, $s3, 'status', '--topic-pattern=^walstar\.', '--group-id=badcred');
is($rc, 0, 'status runs');
ok($status =~ /committed=/ && $status !~ /committed=\d/, 'wrong credentials: no offset committed') or diag($status);

# Unreachable store: the same.
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $down = WalstarTest::Archive->start(name => 'down', kafka => $kafka, s3 => $s3,
	args => [ @args, '--group-id=down', "--s3-endpoint=http://127.0.0.1:$port" ]);
is($down->wait_exit(60), 1, 'unreachable store: exit 1');
@errors = grep { /^\S+ error / } split /\n/, $down->log_text;
is(scalar(@errors), 1, 'unreachable store: one error line');
like($errors[0] // '', qr/error s3 .*(Couldn't connect|Could not connect)/i, 'unreachable store: says so');
($rc, $status) = WalstarTest::Archive::run($kafka, $s3, 'status', '--topic-pattern=^walstar\.', '--group-id=down');
ok($status =~ /committed=/ && $status !~ /committed=\d/, 'unreachable store: no offset committed') or diag($status);

$node->stop;
done_testing();
