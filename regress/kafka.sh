#!/bin/sh
# Single-node KRaft Apache Kafka broker for tests, benchmarks and the demo.
#
#   regress/kafka.sh start DIR [PORT]   format DIR (once) and start a broker on
#                                       127.0.0.1:PORT (a free port if omitted);
#                                       returns when it accepts produce and fetch;
#                                       prints the bootstrap address
#   regress/kafka.sh stop DIR           stop the broker started in DIR (only that one)
#   regress/kafka.sh status DIR         exit 0 when the broker of DIR runs
#
# DIR keeps the broker's data, config, pid and log across stop/start, so a
# restarted broker has the same topics and messages.
set -eu
# The JVM must not inherit an AddressSanitizer preload (make asan-test).
unset LD_PRELOAD

ROOT=$(cd "$(dirname "$0")/.." && pwd)
KAFKA_HOME=${KAFKA_HOME:-$ROOT/.cache/kafka}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}

die() { echo "kafka.sh: $*" >&2; exit 1; }

free_port() {
	# Ask the kernel for an unused loopback port.
	perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1) or die; print $s->sockport'
}

# The pid in DIR/broker.pid, only if that process is our broker for DIR.
our_pid() {
	[ -f "$1/broker.pid" ] || return 1
	pid=$(cat "$1/broker.pid")
	[ -r "/proc/$pid/cmdline" ] || return 1
	tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$1/server.properties" || return 1
	echo "$pid"
}

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: kafka.sh start|stop|status DIR [PORT]"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

case "$cmd" in
start)
	[ -d "$KAFKA_HOME/libs" ] || die "no broker jars in $KAFKA_HOME/libs (run: make deps)"
	if our_pid "$dir" >/dev/null; then
		die "a broker already runs for $dir"
	fi
	if [ -f "$dir/server.properties" ]; then
		port=$(sed -n 's/^# port=//p' "$dir/server.properties")
	else
		port=${3:-$(free_port)}
		cport=$(free_port)
		sport=$(free_port)
		cat > "$dir/server.properties" <<PROPS
# port=$port
# sasl_port=$sport
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport,SASL_PLAINTEXT://127.0.0.1:$sport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SASL_PLAINTEXT://127.0.0.1:$sport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
# a SASL/PLAIN listener for tests of authentication errors: user walstar, password walstar-secret
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="walstar" password="walstar-secret" user_walstar="walstar-secret";
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
message.max.bytes=10485760
log.flush.interval.messages=1
PROPS
		cat > "$dir/log4j2.properties" <<PROPS
rootLogger.level=INFO
rootLogger.appenderRef.file.ref=file
appender.file.type=File
appender.file.name=file
appender.file.fileName=$dir/broker.log
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka
logger.kafka.level=WARN
logger.org.name=org.apache.kafka
logger.org.level=WARN
PROPS
		# A random cluster id: 16 bytes, URL-safe base64 without padding, not
		# starting with '-' (the format tool would take it for an option).
		cid=-
		while [ "${cid#-}" != "$cid" ]; do
			cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
		done
		java -cp "$KAFKA_HOME/libs/*" -Dlog4j2.configurationFile="$dir/log4j2.properties" \
			kafka.tools.StorageTool format -t "$cid" -c "$dir/server.properties" \
			> "$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; die "storage format failed"; }
	fi
	# Small heap: the bed runs beside PostgreSQL clusters on a 2-core machine.
	setsid java -Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
		-Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$dir/log4j2.properties" \
		-cp "$KAFKA_HOME/libs/*" kafka.Kafka "$dir/server.properties" \
		> "$dir/stdout.log" 2>&1 < /dev/null &
	echo $! > "$dir/broker.pid"
	# Ready means a probe message goes in and comes back out.
	probe="ready-$$-$(date +%s%N)"
	deadline=$(( $(date +%s) + START_TIMEOUT ))
	while :; do
		our_pid "$dir" >/dev/null || { tail -20 "$dir/stdout.log" "$dir/broker.log" >&2 2>/dev/null; die "broker exited during start"; }
		if echo "$probe" | kcat -P -b "127.0.0.1:$port" -t __walstar_probe -X message.timeout.ms=3000 2>/dev/null &&
		   kcat -C -b "127.0.0.1:$port" -t __walstar_probe -o -1 -c 1 -e -q -m 5 2>/dev/null | grep -q "$probe"; then
			break
		fi
		[ "$(date +%s)" -lt "$deadline" ] || { "$0" stop "$dir" || true; die "broker not ready after ${START_TIMEOUT}s (see $dir/broker.log)"; }
		sleep 0.5
	done
	echo "127.0.0.1:$port"
	;;
stop)
	pid=$(our_pid "$dir") || exit 0
	kill -TERM "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 300 ]; then
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	rm -f "$dir/broker.pid"
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
