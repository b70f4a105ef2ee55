# Lag figures tell the truth while the apply worker is busy: a backlog of
# 20,000 changes is applied slowly (a landing trigger that sleeps), 10,000
# more arrive meanwhile, and while the worker is behind, walstar.subscription_status shows the topic's
# real end offset as high_watermark (counted in Kafka), lag_messages equal
# to what is really left, lag_seconds above 0, and a messages_per_second no
# higher than the messages the worker really applied per second of the run;
# walstar_claims.freshness() reads the same view.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::Sink;

my $kafka = WalstarTest::Kafka->start;

my $src = WalstarTest::Pipeline::source('lag_source', 'app');
$src->safe_psql('app', 'CREATE TABLE t (id int PRIMARY KEY, v text)');

my $sink = WalstarTest::Sink->start(name => 'lag', node => $src, db => 'app', kafka => $kafka,
	args => ['--snapshot=never']);
$sink->wait_log(qr/msg="streaming"/);
my $total = 20000;
$src->safe_psql('app', "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, $total) g");
my $topic = 'walstar.public.t';
my $deadline = time + 120;
Time::HiRes::sleep(0.5) while $kafka->count($topic) < $total && time < $deadline;
is($kafka->count($topic), $total, "the backlog of $total changes is in Kafka");

my $node = WalstarTest::Pipeline::analytics_node('lag_analytics');
$node->safe_psql('ana', q{
CREATE TABLE public.t (id int PRIMARY KEY, v text);
CREATE FUNCTION public.slow() RETURNS trigger LANGUAGE plpgsql AS
	$$BEGIN PERFORM pg_sleep(0.001); RETURN NEW; END$$;
CREATE TRIGGER slow BEFORE INSERT OR UPDATE ON public.t FOR EACH ROW EXECUTE FUNCTION public.slow();
});
my $started = Time::HiRes::time();
$node->safe_psql('ana', "SELECT walstar.create_subscription('lag', '" . $kafka->bootstrap . qq{',
	topics => '{$topic}', landing_schema => 'public', batch_size => 200, enabled => true)});

# While the worker is behind, the source writes 10,000 more changes: the
# status must show the new end of the partition before the worker is
# anywhere near it (a high watermark refreshed only when idle would not).
ok($node->poll_query_until('ana', qq{SELECT offset_applied >= 400 FROM walstar.subscription_status}),
	'the worker applies the backlog');
$src->safe_psql('app', "INSERT INTO t SELECT g, 'w' || g FROM generate_series($total + 1, $total + 10000) g");
$total += 10000;
$deadline = time + 120;
Time::HiRes::sleep(0.5) while $kafka->count($topic) < $total && time < $deadline;
ok($node->poll_query_until('ana', qq{SELECT high_watermark = $total OR offset_applied + 1 >= $total / 2
	FROM walstar.subscription_status}), 'the status moves');
my ($applied, $hwm, $lag, $lag_s, $rate, $count) = split /\|/, $node->safe_psql('ana', q{
SELECT offset_applied, high_watermark, lag_messages, lag_seconds > 0, messages_per_second,
	applied_messages FROM walstar.subscription_status});
my $elapsed = Time::HiRes::time() - $started;
note("applied $applied of $total after $elapsed s: high_watermark $hwm, lag $lag, rate $rate");
ok($applied + 1 < $total / 2, 'read while the worker is far behind')
  or diag('the trigger is too fast for this machine, or the watermark lags: nothing seen while busy');
is($hwm, $total, 'high_watermark is the real end offset of the partition while busy');
is($lag, $total - ($applied + 1), 'lag_messages is what is really left');
is($lag_s, 't', 'lag_seconds is above 0 while behind');
ok($rate <= $count / ($elapsed > 1 ? $elapsed - 1 : 0.001) * 20 + 1000,
	'messages_per_second is of the order of the real rate')
  or diag("rate $rate, $count applied in $elapsed s");

ok($node->poll_query_until('ana', q{SELECT lag_messages = 0 FROM walstar.subscription_status}),
	'caught up in the end');
is($node->safe_psql('ana', 'SELECT count(*) FROM public.t'), $total, 'every row applied');

$sink->stop;
$kafka->stop;
done_testing();
