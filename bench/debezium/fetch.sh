#!/bin/sh
# Fetches Debezium's PostgreSQL connector and the Kafka Connect runtime
# (versions pinned in bench/debezium/pom.xml) with Maven into
# $DEBEZIUM_HOME/libs (default .cache/debezium, ignored by git).
# Cheap when the pinned versions are already there.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEBEZIUM_HOME=${DEBEZIUM_HOME:-$ROOT/.cache/debezium}
POM=$ROOT/bench/debezium/pom.xml

dbz=$(sed -n 's:.*<debezium.version>\(.*\)</debezium.version>.*:\1:p' "$POM")
connect=$(sed -n 's:.*<connect.version>\(.*\)</connect.version>.*:\1:p' "$POM")
stamp="$DEBEZIUM_HOME/libs/.fetched-$dbz-$connect-$(cksum < "$POM" | cut -d' ' -f1)"
if [ ! -e "$stamp" ]; then
	echo "fetch: Debezium $dbz and Kafka Connect $connect with Maven into $DEBEZIUM_HOME/libs"
	rm -rf "$DEBEZIUM_HOME/libs"
	mkdir -p "$DEBEZIUM_HOME/libs"
	mvn -q -B -Dstyle.color=never -f "$POM" \
		org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
		-DoutputDirectory="$DEBEZIUM_HOME/libs" -DincludeScope=runtime
	touch "$stamp"
fi
