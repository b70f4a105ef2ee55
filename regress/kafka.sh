#!/bin/sh
# KRaft Apache Kafka brokers for tests, benchmarks and the demo: one node,
# or a cluster of N nodes.
#
#   regress/kafka.sh start DIR [PORT]   format DIR (once) and start a broker on
#                                       127.0.0.1:PORT (a free port if omitted);
#                                       returns when it accepts produce and fetch;
#                                       prints the bootstrap address
#   regress/kafka.sh stop DIR           stop the broker started in DIR (only that one)
#   regress/kafka.sh kill DIR           kill -9 it (fault tests)
#   regress/kafka.sh status DIR         exit 0 when the broker of DIR runs
#   regress/kafka.sh start-cluster DIR N
#                                       N nodes in DIR/node1 .. DIR/nodeN (formatted
#                                       once, with one cluster id), started together;
#                                       returns when a message produced with acks=all
#                                       to a topic replicated on every node comes back;
#                                       prints the bootstrap list.  Each node
#                                       directory then takes start, stop, kill and
#                                       status like a single broker's (a restarted
#                                       node rejoins its cluster).
#   regress/kafka.sh stop-cluster DIR   stop every node of DIR
#
# DIR keeps the broker's data, config, pid and log across stop/start, so a
# restarted broker has the same topics and messages.
#
# A cluster's nodes are combined broker+controller nodes, each a voter of the
# KRaft quorum.  Three dedicated controllers beside three brokers would be
# six JVMs on a 2-core test machine shared with PostgreSQL clusters; with
# combined nodes, killing one node (a broker, and possibly the active
# controller) still leaves a quorum of two that elects a new controller and
# moves the partition leaders: the failure the tests are about.  Topics of
# a cluster of 3 or more get replication factor 3 and min.insync.replicas 2
# (the internal ones too), so acks=all survives the loss of any one node.
set -eu
# The JVM must not inherit an AddressSanitizer preload (make asan-test).
unset LD_PRELOAD

ROOT=$(cd "$(dirname "$0")/.." && pwd)
KAFKA_HOME=${KAFKA_HOME:-$ROOT/.cache/kafka}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}

die() { echo "kafka.sh: $*" >&2; exit 1; }

free_ports() {
	# N distinct unused loopback ports, space-separated: every socket is
	# held open until all are picked, so the kernel cannot hand one out twice.
	perl -MIO::Socket::INET -e 'my @s = map { IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1) or die "no free port: $!\n" } 1 .. $ARGV[0]; print join(" ", map { $_->sockport } @s)' "$1"
}

# The pid in DIR/broker.pid, only if that process is our broker for DIR.
our_pid() {
	[ -f "$1/broker.pid" ] || return 1
	pid=$(cat "$1/broker.pid")
	[ -r "/proc/$pid/cmdline" ] || return 1
	tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$1/server.properties" || return 1
	echo "$pid"
}

# A random cluster id: 16 bytes, URL-safe base64 without padding, not
# starting with '-' (the format tool would take it for an option).
new_cluster_id() {
	cid=-
	while [ "${cid#-}" != "$cid" ]; do
		cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
	done
	echo "$cid"
}

# write_config DIR NODE_ID PORT CPORT SPORT VOTERS NODES HEAP
write_config() {
	wc_d=$1; wc_count=$7
	if [ "$wc_count" -ge 3 ]; then rf=3; isr=2; else rf=1; isr=1; fi
	mkdir -p "$wc_d"
	cat > "$wc_d/server.properties" <<PROPS
# port=$3
# sasl_port=$5
# heap=$8
process.roles=broker,controller
node.id=$2
controller.quorum.voters=$6
listeners=PLAINTEXT://127.0.0.1:$3,CONTROLLER://127.0.0.1:$4,SASL_PLAINTEXT://127.0.0.1:$5
advertised.listeners=PLAINTEXT://127.0.0.1:$3,SASL_PLAINTEXT://127.0.0.1:$5
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
# a SASL/PLAIN listener for tests of authentication errors: user walstar, password walstar-secret
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="walstar" password="walstar-secret" user_walstar="walstar-secret";
log.dirs=$wc_d/data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
message.max.bytes=10485760
log.flush.interval.messages=1
PROPS
	if [ "$wc_count" -gt 1 ]; then
		cat >> "$wc_d/server.properties" <<PROPS
default.replication.factor=$rf
min.insync.replicas=$isr
unclean.leader.election.enable=false
# a killed node is fenced (its partitions get new leaders) after this long
broker.session.timeout.ms=6000
broker.heartbeat.interval.ms=1000
PROPS
	fi
	cat > "$wc_d/log4j2.properties" <<PROPS
rootLogger.level=INFO
rootLogger.appenderRef.file.ref=file
appender.file.type=File
appender.file.name=file
appender.file.fileName=$wc_d/broker.log
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka
logger.kafka.level=WARN
logger.org.name=org.apache.kafka
logger.org.level=WARN
PROPS
}

# format DIR CLUSTER_ID
format_storage() {
	java -cp "$KAFKA_HOME/libs/*" -Dlog4j2.configurationFile="$1/log4j2.properties" \
		kafka.tools.StorageTool format -t "$2" -c "$1/server.properties" \
		> "$1/format.log" 2>&1 || { cat "$1/format.log" >&2; die "storage format failed"; }
}

# Start the JVM of DIR in the background (its pid in DIR/broker.pid).
launch() {
	heap=$(sed -n 's/^# heap=//p' "$1/server.properties")
	# Small heap: the bed runs beside PostgreSQL clusters on a 2-core machine.
	setsid java -Xms128m -Xmx"${heap:-512m}" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
		-Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$1/log4j2.properties" \
		-cp "$KAFKA_HOME/libs/*" kafka.Kafka "$1/server.properties" \
		> "$1/stdout.log" 2>&1 < /dev/null &
	echo $! > "$1/broker.pid"
	# until setsid has exec'ed java, the process is not yet recognisable
	# as this directory's broker (our_pid)
	i=0
	while [ $i -lt 100 ] && ! our_pid "$1" >/dev/null; do
		kill -0 "$(cat "$1/broker.pid")" 2>/dev/null || break
		sleep 0.05
		i=$((i + 1))
	done
}

# wait_ready BOOTSTRAP DIR...: a probe message goes in (acks=all) and comes
# back out; every DIR's broker must stay up meanwhile.
wait_ready() {
	bootstrap=$1; shift
	probe="ready-$$-$(date +%s%N)"
	deadline=$(( $(date +%s) + START_TIMEOUT ))
	while :; do
		for wr_d in "$@"; do
			our_pid "$wr_d" >/dev/null || { tail -20 "$wr_d/stdout.log" "$wr_d/broker.log" >&2 2>/dev/null; die "broker exited during start ($wr_d)"; }
		done
		if echo "$probe" | kcat -P -b "$bootstrap" -t __walstar_probe -X message.timeout.ms=3000 -X acks=all 2>/dev/null &&
		   kcat -C -b "$bootstrap" -t __walstar_probe -o -1 -c 1 -e -q -m 5 2>/dev/null | grep -q "$probe"; then
			return 0
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			for wr_d in "$@"; do "$0" stop "$wr_d" || true; done
			die "broker not ready after ${START_TIMEOUT}s (see $1/broker.log)"
		fi
		sleep 0.5
	done
}

stop_one() {
	pid=$(our_pid "$1") || return 0
	kill -TERM "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt "${2:-300}" ]; then
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	rm -f "$1/broker.pid"
}

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: kafka.sh start|stop|kill|status DIR [PORT] | start-cluster DIR N | stop-cluster DIR"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

case "$cmd" in
start)
	[ -d "$KAFKA_HOME/libs" ] || die "no broker jars in $KAFKA_HOME/libs (run: make deps)"
	if our_pid "$dir" >/dev/null; then
		die "a broker already runs for $dir"
	fi
	if [ ! -f "$dir/server.properties" ]; then
		given=${3:-}
		# the controller and SASL ports differ from each other and from a given one
		while :; do
			set -- $(free_ports 3)
			port=${given:-$1} cport=$2 sport=$3
			[ "$port" != "$cport" ] && [ "$port" != "$sport" ] && break
		done
		write_config "$dir" 1 "$port" "$cport" "$sport" "1@127.0.0.1:$cport" 1 512m
		format_storage "$dir" "$(new_cluster_id)"
	fi
	port=$(sed -n 's/^# port=//p' "$dir/server.properties")
	launch "$dir"
	wait_ready "127.0.0.1:$port" "$dir"
	echo "127.0.0.1:$port"
	;;
start-cluster)
	[ -d "$KAFKA_HOME/libs" ] || die "no broker jars in $KAFKA_HOME/libs (run: make deps)"
	n=${3:-3}
	[ "$n" -ge 1 ] 2>/dev/null || die "start-cluster: bad node count $n"
	nodes=""
	i=1
	while [ $i -le "$n" ]; do nodes="$nodes $dir/node$i"; i=$((i + 1)); done
	for d in $nodes; do
		our_pid "$d" >/dev/null && die "a broker already runs for $d"
	done
	if [ ! -f "$dir/node1/server.properties" ]; then
		voters=""; ports=""; cports=""; sports=""
		# three listeners a node, every port distinct
		set -- $(free_ports $((3 * n)))
		i=1
		while [ $i -le "$n" ]; do
			p=$1; c=$2
			ports="$ports $p"; cports="$cports $c"; sports="$sports $3"
			shift 3
			voters="${voters:+$voters,}$i@127.0.0.1:$c"
			i=$((i + 1))
		done
		cid=$(new_cluster_id)
		i=1
		for p in $ports; do
			c=$(echo $cports | cut -d' ' -f$i)
			write_config "$dir/node$i" "$i" "$p" "$c" "$(echo $sports | cut -d' ' -f$i)" "$voters" "$n" "${KAFKA_NODE_HEAP:-384m}"
			format_storage "$dir/node$i" "$cid"
			i=$((i + 1))
		done
	fi
	bootstrap=""
	for d in $nodes; do
		launch "$d"
		bootstrap="${bootstrap:+$bootstrap,}127.0.0.1:$(sed -n 's/^# port=//p' "$d/server.properties")"
	done
	wait_ready "$bootstrap" $nodes
	echo "$bootstrap"
	;;
stop-cluster)
	# every node at once: TERM, and KILL after 5 s (a node whose quorum
	# is gone may wait for it in its controlled shutdown)
	for d in "$dir"/node*; do
		[ -d "$d" ] && stop_one "$d" 50 &
	done
	wait
	;;
stop)
	stop_one "$dir"
	;;
kill)
	# Crash the broker (fault tests).
	pid=$(our_pid "$dir") || exit 0
	kill -KILL "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	rm -f "$dir/broker.pid"
	;;
status)
	our_pid "$dir" >/dev/null
	;;
*)
	die "unknown command $cmd"
	;;
esac
