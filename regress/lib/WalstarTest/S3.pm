# A real S3-compatible object store (SeaweedFS, regress/s3.sh) for TAP tests,
# on 127.0.0.1, checking AWS SigV4 signatures.
#
#   my $s3 = WalstarTest::S3->start;
#   $s3->endpoint;                 # "http://127.0.0.1:PORT"
#   $s3->bucket; $s3->access_key; $s3->secret_key;
#   my @keys = $s3->list('walstar/');     # every key under a prefix
#   my $bytes = $s3->get($key);
#   $s3->put($key, $bytes);
#   my %meta = $s3->metadata($key);       # x-amz-meta-* headers, lower case
#   $s3->kill9; $s3->stop; $s3->start_again;
#
# Requests here go through the curl program (--aws-sigv4), not through
# walstar-archive's client. Every server started here is stopped when the
# script exits.
package WalstarTest::S3;

use strict;
use warnings;
use File::Temp ();
use PostgreSQL::Test::Utils ();
use Test::More ();

my $script = "$ENV{WALSTAR_ROOT}/regress/s3.sh";
my @servers;

sub start
{
	my ($class) = @_;
	my $dir = File::Temp::tempdir('s3_XXXX', DIR => $PostgreSQL::Test::Utils::tmp_check);
	my $self = bless { dir => $dir }, $class;
	push @servers, $self;
	return $self->start_again;
}

sub start_again
{
	my ($self) = @_;
	my $out = `$script start $self->{dir} 2>&1`;
	die "object store did not start: $out" if $? != 0;
	chomp $out;
	($self->{endpoint}) = $out =~ m{(http://127\.0\.0\.1:\d+)\s*$} or die "no endpoint in: $out";
	Test::More::note("object store at $self->{endpoint} ($self->{dir})");
	return $self;
}

sub endpoint { return $_[0]->{endpoint}; }
sub bucket { return 'walstar-lake'; }
sub access_key { return 'walstar-access'; }
sub secret_key { return 'walstar-secret-key'; }
sub dir { return $_[0]->{dir}; }

sub stop { system($script, 'stop', $_[0]->{dir}) == 0 or die "object store stop failed"; }
sub kill9 { system($script, 'kill', $_[0]->{dir}) == 0 or die "object store kill failed"; }

# curl with the test identity; returns (HTTP status, body).
sub _curl
{
	my ($self, $path, $head, $method, $upload) = @_;
	my $tmp = File::Temp->new(DIR => $PostgreSQL::Test::Utils::tmp_check);
	my $code = `curl -s @{[ $head ? '-I' : '' ]} @{[ $method ? "-X $method" : '' ]} @{[ $upload ? "-T $upload" : '' ]} -o $tmp -w '%{http_code}' --aws-sigv4 aws:amz:us-east-1:s3 -u @{[ $self->access_key ]}:@{[ $self->secret_key ]} '$self->{endpoint}/@{[ $self->bucket ]}$path'`;
	open(my $fh, '<:raw', "$tmp") or die;
	local $/;
	my $body = <$fh> // '';
	close($fh);
	return ($code, $body);
}

sub _enc
{
	my ($s) = @_;
	$s =~ s/([^A-Za-z0-9\-_.~])/sprintf('%%%02X', ord($1))/ge;
	return $s;
}

# Every key under $prefix, in the store's order.
sub list
{
	my ($self, $prefix) = @_;
	my (@keys, $token);
	while (1)
	{
		my $q = ($token ? 'continuation-token=' . _enc($token) . '&' : '')
		  . 'list-type=2&prefix=' . _enc($prefix);
		my ($code, $xml) = $self->_curl("?$q");
		die "list $prefix: HTTP $code $xml" unless $code == 200;
		push @keys, map { s/&amp;/&/gr } $xml =~ m{<Key>([^<]*)</Key>}g;
		last unless $xml =~ m{<IsTruncated>true</IsTruncated>};
		($token) = $xml =~ m{<NextContinuationToken>([^<]*)</NextContinuationToken>} or die "no token";
	}
	return @keys;
}

sub get
{
	my ($self, $key) = @_;
	my $path = join('/', map { _enc($_) } split m{/}, $key);
	my ($code, $body) = $self->_curl("/$path");
	die "get $key: HTTP $code" unless $code == 200;
	return $body;
}

sub put
{
	my ($self, $key, $bytes) = @_;
	my $path = join('/', map { _enc($_) } split m{/}, $key);
	my $body = File::Temp->new(DIR => $PostgreSQL::Test::Utils::tmp_check);
	binmode($body);
	print $body $bytes;
	close($body);
	my ($code) = $self->_curl("/$path", 0, 'PUT', "$body");
	die "put $key: HTTP $code" unless $code == 200;
}

sub delete
{
	my ($self, $key) = @_;
	my $path = join('/', map { _enc($_) } split m{/}, $key);
	my ($code) = $self->_curl("/$path", 0, 'DELETE');
	die "delete $key: HTTP $code" unless $code == 204 || $code == 200;
}

# The object's user metadata: x-amz-meta-NAME => value (NAME lower case).
sub metadata
{
	my ($self, $key) = @_;
	my $path = join('/', map { _enc($_) } split m{/}, $key);
	my ($code, $head) = $self->_curl("/$path", 1);
	die "head $key: HTTP $code" unless $code == 200;
	my %meta = $head =~ /^x-amz-meta-([^:]+):\s*(.*?)\r?$/mgi;
	return map { lc($_) => $meta{$_} } keys %meta;
}

END
{
	my $status = $?;
	system("$script stop $_->{dir} >/dev/null 2>&1") for @servers;
	$? = $status;
}

1;
