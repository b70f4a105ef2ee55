# The two ends of the end-to-end tests, set up one way:
#
#   my $src = WalstarTest::Pipeline::source('ddl_source', 'app');
#       # logical WAL, walstar_decoder loadable (WalstarTest::Sink::setup_node),
#       # started, with an empty database 'app'
#   my $node = WalstarTest::Pipeline::analytics('ddl_analytics', $kafka, 'ddl',
#       topics => '{walstar.public.t}', batch_size => 100);
#       # walstar preloaded (launcher naptime 1 s), started, a database 'ana'
#       # with the extension and an enabled subscription 'ddl' on the
#       # broker; the other arguments go to walstar.create_subscription by
#       # name, as quoted literals
#   my $node = WalstarTest::Pipeline::analytics_node('ana', "timezone = 'UTC'\n");
#       # the same without a subscription, with more postgresql.conf lines
#   my $node = WalstarTest::Pipeline::combined('ext_apply', "timezone = 'UTC'\n");
#       # one cluster as both ends (logical WAL, walstar preloaded,
#       # walstar_decoder loadable, 16 worker processes) with the given
#       # postgresql.conf lines too, started
package WalstarTest::Pipeline;

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use WalstarTest::Sink;

sub source
{
	my ($name, $db) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => 'logical');
	WalstarTest::Sink::setup_node($node);
	$node->start;
	$node->safe_psql('postgres', 'CREATE DATABASE "' . ($db =~ s/"/""/gr) . '"');
	return $node;
}

# A value as an SQL string literal.
sub literal
{
	my ($v) = @_;
	$v =~ s/'/''/g;
	return "'$v'";
}

sub analytics_node
{
	my ($name, $conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'walstar'
walstar.launcher_naptime = 1
} . ($conf // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE DATABASE ana');
	$node->safe_psql('ana', 'CREATE EXTENSION walstar');
	return $node;
}

sub analytics
{
	my ($name, $kafka, $subscription, %args) = @_;
	my $node = analytics_node($name);
	my $named = join('', map { ", $_ => " . literal($args{$_}) } sort keys %args);
	$node->safe_psql('ana', 'SELECT walstar.create_subscription(' . literal($subscription) . ', '
		  . literal($kafka->bootstrap) . "$named, enabled => true)");
	return $node;
}

sub combined
{
	my ($name, $conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => 'logical');
	$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'walstar'
walstar.launcher_naptime = 1
output_plugin_libraries = 'pgoutput, test_decoding, walstar_decoder'
max_worker_processes = 16
} . ($conf // ''));
	$node->start;
	return $node;
}

1;
