# A real Prometheus (the Debian package's binary) and real
# prometheus-postgres-exporters for TAP tests, on free loopback ports with
# their own directories under tmp_check.
#
#   my $exp = WalstarTest::Prometheus->exporter(name => 'ana', node => $node,
#       db => 'ana', user => 'walstar_exporter', queries => [ $file, ... ]);
#   my $prom = WalstarTest::Prometheus->start(rules => $rules_file,
#       jobs => { 'walstar-sink' => [ "127.0.0.1:$port" ], 'pg' => [ $exp->target ] });
#   my $r = $prom->query('walstar_sink_info');     # the result vector
#   my $a = $prom->alerts;                         # active alerts
#   $prom->poll(sub { ... true when done ... }, 'what');
#
# Processes still running when the script exits are stopped.
package WalstarTest::Prometheus;

use strict;
use warnings;
use HTTP::Tiny;
use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils ();

my @running;

sub _spawn
{
	my ($self, $env, @cmd) = @_;
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDOUT, '>>', $self->{log}) or die;
		open(STDERR, '>>', $self->{log}) or die;
		@ENV{ keys %$env } = values %$env;
		exec(@cmd) or POSIX::_exit(127);
	}
	$self->{pid} = $pid;
	push @running, $self;
	return $self;
}

sub _http_get
{
	my ($self, $path) = @_;
	my $r = HTTP::Tiny->new(timeout => 10)->get("http://127.0.0.1:$self->{port}$path");
	return $r->{success} ? $r->{content} : undef;
}

# Wait until GET $path answers, or die when the process exited.
sub _wait_ready
{
	my ($self, $path) = @_;
	my $end = Time::HiRes::time() + $PostgreSQL::Test::Utils::timeout_default;
	while (!defined $self->_http_get($path))
	{
		die "$self->{name} exited; its log:\n" . PostgreSQL::Test::Utils::slurp_file($self->{log})
		  if waitpid($self->{pid}, POSIX::WNOHANG()) == $self->{pid};
		die "$self->{name} not ready" if Time::HiRes::time() > $end;
		Time::HiRes::sleep(0.2);
	}
}

# prometheus-postgres-exporter connected to $o{db} of $o{node} as $o{user},
# with the queries files concatenated into one (the exporter takes one).
sub exporter
{
	my ($class, %o) = @_;
	my $dir = "$PostgreSQL::Test::Utils::tmp_check/exporter_$o{name}";
	mkdir $dir;
	my $queries = "$dir/queries.yaml";
	open(my $fh, '>', $queries) or die "$queries: $!";
	print $fh PostgreSQL::Test::Utils::slurp_file($_), "\n" for @{ $o{queries} };
	close($fh);
	my $self = bless { name => "exporter $o{name}", log => "$dir/exporter.log",
		port => PostgreSQL::Test::Cluster::get_free_port() }, $class;
	my $dsn = sprintf('host=%s port=%d dbname=%s user=%s sslmode=disable',
		$o{node}->host, $o{node}->port, $o{db}, $o{user});
	$self->_spawn({ DATA_SOURCE_NAME => $dsn }, 'prometheus-postgres-exporter',
		"--web.listen-address=127.0.0.1:$self->{port}", "--extend.query-path=$queries",
		'--disable-settings-metrics');
	$self->_wait_ready('/metrics');
	return $self;
}

sub target { return "127.0.0.1:$_[0]->{port}"; }

# Prometheus scraping every target each second and evaluating $o{rules}
# each second.
sub start
{
	my ($class, %o) = @_;
	my $dir = "$PostgreSQL::Test::Utils::tmp_check/prometheus";
	mkdir $dir;
	my $self = bless { name => 'prometheus', log => "$dir/prometheus.log",
		port => PostgreSQL::Test::Cluster::get_free_port() }, $class;
	my $yml = "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
	  . "rule_files:\n  - $o{rules}\nscrape_configs:\n";
	for my $job (sort keys %{ $o{jobs} })
	{
		$yml .= "  - job_name: '$job'\n    static_configs:\n      - targets: ["
		  . join(', ', map { "'$_'" } @{ $o{jobs}{$job} }) . "]\n";
	}
	PostgreSQL::Test::Utils::append_to_file("$dir/prometheus.yml", $yml);
	$self->_spawn({}, 'prometheus', "--config.file=$dir/prometheus.yml",
		"--storage.tsdb.path=$dir/data", "--web.listen-address=127.0.0.1:$self->{port}");
	$self->_wait_ready('/-/ready');
	return $self;
}

sub _api
{
	my ($self, $path) = @_;
	my $body = $self->_http_get($path) // return undef;
	my $r = JSON::PP::decode_json($body);
	return $r->{status} eq 'success' ? $r->{data} : undef;
}

# The instant vector of a PromQL expression: [ { metric => {...}, value => v } ].
sub query
{
	my ($self, $expr) = @_;
	my $q = $expr =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord($1))/ger;
	my $data = $self->_api("/api/v1/query?query=$q") // return [];
	return [ map { { metric => $_->{metric}, value => $_->{value}[1] } } @{ $data->{result} } ];
}

# Active alerts (pending and firing): [ { labels => {...}, state => ... } ].
sub alerts
{
	my ($self) = @_;
	my $data = $self->_api('/api/v1/alerts') // return [];
	return $data->{alerts};
}

# Call $check until it returns true; false after the default timeout.
sub poll
{
	my ($self, $check) = @_;
	my $end = Time::HiRes::time() + $PostgreSQL::Test::Utils::timeout_default;
	while (Time::HiRes::time() < $end)
	{
		return 1 if $check->();
		Time::HiRes::sleep(0.5);
	}
	return 0;
}

sub log_text { return PostgreSQL::Test::Utils::slurp_file($_[0]->{log}); }

sub stop
{
	my ($self) = @_;
	return unless $self->{pid};
	kill 'TERM', $self->{pid};
	waitpid($self->{pid}, 0);
	$self->{pid} = undef;
}

END
{
	my $status = $?;
	$_->stop for @running;
	$? = $status;
}

1;
