# A source cluster run by pg_auto_failover (Debian's postgresql-15-auto-failover):
# a monitor and two PostgreSQL nodes, a primary and a standby, each under its
# own `pg_autoctl run` keeper, every server on a loopback port.
#
#   my $ha = WalstarTest::AutoFailover->start(name => 'src', conf => "timezone = 'UTC'\n");
#   $ha->uri('postgres')          # both nodes, target_session_attrs=read-write
#   $ha->primary                  # node name and port of the current primary
#   $ha->psql('node1', 'postgres', 'SELECT 1')
#   $ha->failover                 # pg_autoctl perform failover; waits for the new primary
#   $ha->monitor_settings(health_check_period => 500, ...)   # pgautofailover.* GUCs
#   $ha->crash('node1')           # SIGKILL of the node's keeper and every server process
#   $ha->stop
#
# The data nodes get logical decoding (wal_level, slots, output_plugin_libraries
# with walstar_decoder) and the given postgresql.conf lines; the standby is a
# base backup of the primary, so it has them too. PostgreSQL 15 keeps logical
# slots on the primary only: after a failover the new primary has none.
package WalstarTest::AutoFailover;

use strict;
use warnings;
use IPC::Run ();
use JSON::PP ();
use POSIX ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(sleep);

my @running;

sub start
{
	my ($class, %o) = @_;
	my $name = $o{name} // 'ha';
	my $base = "$PostgreSQL::Test::Utils::tmp_check/autoctl_$name";
	PostgreSQL::Test::Utils::system_or_bail('rm', '-rf', $base);
	mkdir $base or die "$base: $!";
	mkdir "$base/$_" for qw(config data run);
	my $self = bless { base => $base, keepers => {}, ports => {}, conf => $o{conf} // '' }, $class;
	push @running, $self;
	$self->{env} = { XDG_CONFIG_HOME => "$base/config", XDG_DATA_HOME => "$base/data",
		XDG_RUNTIME_DIR => "$base/run", PGHOST => $base };
	$self->{ports}{$_} = PostgreSQL::Test::Cluster::get_free_port() for qw(monitor node1 node2);

	# The monitor: our own initdb, so that its socket is in $base.
	$self->initdb('monitor', '');
	$self->autoctl('create', 'monitor', '--pgdata', "$base/monitor", '--pgport', $self->{ports}{monitor},
		'--hostname', '127.0.0.1', '--auth', 'trust', '--no-ssl');
	# pg_autoctl starts the monitor with -h '*': make that loopback
	$self->autoctl('config', 'set', '--pgdata', "$base/monitor", 'postgresql.listen_addresses', '127.0.0.1');
	$self->limit('monitor');
	$self->run_keeper('monitor');
	$self->{monitor_uri} = "postgres://autoctl_node\@127.0.0.1:$self->{ports}{monitor}/pg_auto_failover?sslmode=disable";
	$self->wait_for(sub { $self->monitor_ready }, 'the monitor accepts connections');

	$self->initdb('node1', q{
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
output_plugin_libraries = 'pgoutput, test_decoding, walstar_decoder'
} . $self->{conf});
	$self->create_node('node1');
	$self->wait_for(sub { $self->states->{node1} eq 'primary/primary' || $self->states->{node1} eq 'single/single' },
		'node1 is the primary');
	$self->create_node('node2');
	$self->wait_for(sub { $self->states->{node2} eq 'secondary/secondary' }, 'node2 is a streaming standby');
	$self->wait_for(sub { $self->states->{node1} eq 'primary/primary' }, 'node1 is a primary with a standby');
	return $self;
}

sub initdb
{
	my ($self, $node, $conf) = @_;
	my $dir = "$self->{base}/$node";
	PostgreSQL::Test::Utils::system_or_bail('initdb', '-D', $dir, '-A', 'trust', '-U', 'postgres', '--no-sync');
	PostgreSQL::Test::Utils::append_to_file("$dir/postgresql.conf",
		"unix_socket_directories = '$self->{base}'\n$conf");
}

# pg_auto_failover's tuning sizes shared_buffers after the machine (a quarter
# of its memory) and turns on the logging collector: three of those on a test
# machine are too many. postgresql.auto.conf is read last, and a base backup
# takes it to the standby.
sub limit
{
	my ($self, $node) = @_;
	PostgreSQL::Test::Utils::append_to_file("$self->{base}/$node/postgresql.auto.conf",
		"shared_buffers = '64MB'\nlogging_collector = off\nmax_connections = 40\n");
}

sub create_node
{
	my ($self, $node) = @_;
	$self->autoctl('create', 'postgres', '--pgdata', "$self->{base}/$node", '--pgport', $self->{ports}{$node},
		'--pghost', $self->{base}, '--listen', '127.0.0.1', '--hostname', '127.0.0.1',
		'--monitor', $self->{monitor_uri}, '--auth', 'trust', '--no-ssl', '--name', $node);
	$self->limit($node) if $node eq 'node1';
	$self->run_keeper($node);
}

sub autoctl
{
	my ($self, @args) = @_;
	my ($out, $err) = ('', '');
	local @ENV{ keys %{ $self->{env} } } = values %{ $self->{env} };
	IPC::Run::run [ 'pg_autoctl', @args ], '>', \$out, '2>', \$err
	  or die "pg_autoctl @args failed:\n$err$out";
	return $out;
}

sub run_keeper
{
	my ($self, $node) = @_;
	local @ENV{ keys %{ $self->{env} } } = values %{ $self->{env} };
	my $log = "$PostgreSQL::Test::Utils::log_path/autoctl_" . ($self->{base} =~ s{.*/autoctl_}{}r) . "_$node.log";
	# In its own process group: a keeper whose services are slow to stop
	# signals its whole group (pg_autoctl's supervisor escalates to killpg
	# after about 5 s), which was the test's, prove's and run_tests.sh's
	# under load, and CI ended with "Terminated".
	$self->{keepers}{$node} = IPC::Run::start([ 'pg_autoctl', 'run', '--pgdata', "$self->{base}/$node" ],
		init => sub { POSIX::setsid() or die "setsid: $!" }, '<', \undef, '>>', $log, '2>&1');
}

sub keeper_pid { my ($self, $node) = @_; return $self->{keepers}{$node}{KIDS}[0]{PID}; }

sub monitor_ready
{
	my ($self) = @_;
	my ($out, $err);
	return IPC::Run::run [ 'psql', '-X', '-At', '-d', $self->{monitor_uri}, '-c', 'SELECT 1' ], '>', \$out, '2>', \$err;
}

# node name => 'reported/assigned' state, as the monitor sees it
sub states
{
	my ($self) = @_;
	my $json = eval { $self->autoctl('show', 'state', '--pgdata', "$self->{base}/monitor", '--json') } // '[]';
	my $nodes = eval { JSON::PP::decode_json($json) } // [];
	my %s = map { $_->{nodename} => "$_->{current_group_state}/$_->{assigned_group_state}" } @$nodes;
	$s{$_} //= 'none' for qw(node1 node2);
	return \%s;
}

sub wait_for
{
	my ($self, $cond, $what) = @_;
	for (1 .. 1200)
	{
		return 1 if $cond->();
		sleep 0.1;
	}
	my $s = $self->states;
	die "pg_auto_failover: timed out waiting until $what (states: "
	  . join(', ', map { "$_ $s->{$_}" } sort keys %$s) . ')';
}

sub port { return $_[0]->{ports}{ $_[1] }; }
sub monitor_uri { return $_[0]->{monitor_uri}; }
sub host { return '127.0.0.1'; }

sub uri
{
	my ($self, $db) = @_;
	return "postgresql://127.0.0.1:$self->{ports}{node1},127.0.0.1:$self->{ports}{node2}/$db"
	  . '?target_session_attrs=read-write&sslmode=disable';
}

# (node name, port) of the node the monitor has as primary
sub primary
{
	my ($self) = @_;
	my $s = $self->states;
	my ($node) = grep { $s->{$_} eq 'primary/primary' } sort keys %$s;
	return ($node, $node ? $self->{ports}{$node} : undef);
}

sub psql
{
	my ($self, $node, $db, $sql) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run [ 'psql', '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', $self->{ports}{$node},
		'-U', 'postgres', '-d', $db, '-c', $sql ], '>', \$out, '2>', \$err
	  or die "psql on $node: $err";
	chomp $out;
	return $out;
}

# A failover the monitor runs: the standby is promoted, the old primary
# follows it as the new standby. Returns the new primary's name.
sub failover
{
	my ($self) = @_;
	my ($old) = $self->primary;
	$self->autoctl('perform', 'failover', '--pgdata', "$self->{base}/monitor");
	my $new = $old eq 'node1' ? 'node2' : 'node1';
	$self->wait_for(sub { $self->states->{$new} eq 'primary/primary' && $self->states->{$old} eq 'secondary/secondary' },
		"$new is the primary and $old its standby");
	return $new;
}

# pgautofailover.* settings of the monitor (ALTER SYSTEM, reloaded).
sub monitor_settings
{
	my ($self, %gucs) = @_;
	for my $g (sort keys %gucs)
	{
		PostgreSQL::Test::Utils::system_or_bail('psql', '-X', '-q', '-h', $self->{base}, '-p',
			$self->{ports}{monitor}, '-U', 'postgres', '-d', 'postgres', '-c',
			"ALTER SYSTEM SET pgautofailover.$g = '$gucs{$g}'");
	}
	PostgreSQL::Test::Utils::system_or_bail('psql', '-X', '-q', '-h', $self->{base}, '-p', $self->{ports}{monitor},
		'-U', 'postgres', '-d', 'postgres', '-c', 'SELECT pg_reload_conf()');
}

# The processes started for a node: its keeper and everything below it (the
# server and its backends), and the postmaster named in postmaster.pid.
sub node_pids
{
	my ($self, $node) = @_;
	my %parent;
	for my $stat (glob('/proc/[0-9]*/stat'))
	{
		open(my $fh, '<', $stat) or next;
		my $line = <$fh> // '';
		$parent{$1} = $2 if $line =~ /^(\d+) \(.*\) \S (\d+)/s;
	}
	my %mine = map { $_ => 1 } grep { $_ } ($self->{keepers}{$node} ? $self->keeper_pid($node) : ());
	if (open(my $fh, '<', "$self->{base}/$node/postmaster.pid"))
	{
		my $pid = <$fh>;
		chomp $pid;
		$mine{$pid} = 1 if $pid && kill(0, $pid);
	}
	for (1 .. 8)
	{
		$mine{$_} = 1 for grep { $mine{ $parent{$_} } } keys %parent;
	}
	return sort { $a <=> $b } keys %mine;
}

# The node's machine is lost: its keeper and server processes are frozen
# (nobody reacts, no WAL leaves) and killed. The monitor then fails over.
sub crash
{
	my ($self, $node) = @_;
	my @pids = $self->node_pids($node);
	kill 'STOP', @pids;
	kill 'KILL', @pids;
	my $h = delete $self->{keepers}{$node};
	eval { $h->finish; 1 };
	return scalar @pids;
}

sub stop
{
	my ($self) = @_;
	for my $node (grep { $self->{keepers}{$_} } qw(node2 node1 monitor))
	{
		eval { $self->autoctl('stop', '--pgdata', "$self->{base}/$node") };
		my $h = delete $self->{keepers}{$node};
		eval { $h->finish; 1 } or $h->kill_kill(grace => 10);
	}
	@running = grep { $_ != $self } @running;
}

# Nothing outlives the test, even when it dies.
END
{
	for my $self (@running)
	{
		for my $h (values %{ $self->{keepers} })
		{
			eval { $h->kill_kill(grace => 5) };
		}
		for my $node (qw(node1 node2 monitor))
		{
			my $pidfile = "$self->{base}/$node/postmaster.pid";
			next unless -f $pidfile;
			system('pg_ctl', '-D', "$self->{base}/$node", '-m', 'immediate', 'stop');
		}
	}
}

1;
