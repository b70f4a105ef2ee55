# Retention per origin: `walstar-archive expire` against a real
# S3-compatible store (signatures checked) holding objects of three sources
# and the dead letters, some older than their source's retention, and keys
# that are no archive object.  --dry-run lists exactly the expired objects
# and deletes nothing; expire deletes exactly those (an object goes once its
# whole hour is older than the source's days), keeps the rest and every
# foreign key; without a retention, or with wrong credentials, it is one
# clear error, exit 1, and nothing is deleted.
use strict;
use warnings;
use POSIX qw(strftime);
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::S3;

my $s3 = WalstarTest::S3->start;
my @base = ('--s3-endpoint=' . $s3->endpoint, '--s3-bucket=' . $s3->bucket, '--prefix=lake');

sub expire
{
	my ($key, $secret, @args) = @_;
	local $ENV{AWS_ACCESS_KEY_ID} = $key;
	local $ENV{AWS_SECRET_ACCESS_KEY} = $secret;
	my $out = `walstar-archive expire @{[ map { "'$_'" } @base, @args ]} 2>&1`;
	return ($? >> 8, $out);
}

# An object of SOURCE whose hour began DAYS_AGO days (and HOURS hours) ago.
my $now = time();
my %expired;
my @all;
sub object
{
	my ($source, $table, $days_ago, $hours, $expired) = @_;
	my $t = $now - $days_ago * 86400 - $hours * 3600;
	my $topic = $source eq 'dead_letters' ? $table : "walstar.$source.$table";
	my $key = sprintf('lake/%s/%s/date=%s/hour=%s/%s+0+%d-%d.pb.zst', $source, $table,
		strftime('%Y-%m-%d', gmtime($t)), strftime('%H', gmtime($t)), $topic, 10 * @all, 10 * @all + 9);
	$s3->put($key, "object $key");
	push @all, $key;
	$expired{$key} = 1 if $expired;
}

my $retention = 'crm_eu:730,billing:3650,dead_letters:30,*:365';
object('crm_eu', 'public.customers', 800, 0, 1);
object('crm_eu', 'public.customers', 731, 2, 1);
object('crm_eu', 'public.customers', 700, 0, 0);
object('crm_eu', 'public.customers', 0, 0, 0);
# its hour ends less than 730 days ago: kept
object('crm_eu', 'public.claims', 730, 0, 0);
object('billing', 'public.invoices', 3000, 0, 0);
object('billing', 'public.invoices', 3700, 0, 1);
object('shop', 'public.orders', 400, 0, 1);
object('shop', 'public.orders', 300, 0, 0);
object('dead_letters', 'walstar.dead_letters', 40, 0, 1);
object('dead_letters', 'walstar.dead_letters', 10, 0, 0);
# keys that are no archive object, old or not: never touched
my @foreign = ('lake/README.txt', 'lake/shop/public.orders/date=2001-01-01/hour=00/notes.txt',
	'other/shop/public.orders/date=2001-01-01/hour=00/walstar.shop.public.orders+0+0-9.pb.zst');
$s3->put($_, 'not ours') for @foreign;
my @want_gone = sort grep { $expired{$_} } @all;
my @want_kept = sort((grep { !$expired{$_} } @all), @foreign);

my ($rc, $out) = expire($s3->access_key, $s3->secret_key, "--retention=$retention", '--dry-run');
is($rc, 0, 'expire --dry-run exits 0') or diag($out);
is_deeply([ sort $out =~ /^would delete (\S+)$/mg ], \@want_gone,
	'--dry-run lists exactly the objects older than their source\'s retention');
is_deeply([ sort $s3->list('') ], [ sort @all, @foreign ], '--dry-run deletes nothing');

($rc, $out) = expire($s3->access_key, $s3->secret_key, "--retention=$retention");
is($rc, 0, 'expire exits 0') or diag($out);
is_deeply([ sort $s3->list('') ], \@want_kept, 'expire deleted exactly the expired objects');
like($out, qr/deleted=@{[ scalar @want_gone ]} kept=@{[ @all - @want_gone ]}/, 'and counts them');
($rc, $out) = expire($s3->access_key, $s3->secret_key, "--retention=$retention");
like($out, qr/deleted=0 /, 'a second expire deletes nothing');

($rc, $out) = expire($s3->access_key, $s3->secret_key, '--retention=shop:1');
is_deeply([ sort $s3->list('') ], [ sort grep { !/^lake\/shop\/public\.orders\/date=(?!2001)/ } @want_kept ],
	'a shorter retention of one source deletes only its objects');

($rc, $out) = expire($s3->access_key, $s3->secret_key);
is($rc, 1, 'expire without a retention exits 1');
like($out, qr/no retention set/, 'and says so');

my @before = sort $s3->list('');
($rc, $out) = expire($s3->access_key, 'wrong-secret', '--retention=*:0');
is($rc, 1, 'expire with wrong credentials exits 1');
like($out, qr/error s3 msg=.*(403|SignatureDoesNotMatch|Access Denied)/, 'with the store\'s refusal') or diag($out);
unlike($out, qr/wrong-secret/, 'the secret is not in the output');
is_deeply([ sort $s3->list('') ], \@before, 'and nothing is deleted');

$s3->stop;
done_testing();
