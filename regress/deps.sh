#!/bin/sh
# Installs what the build, the tests and the demo need, only what is missing:
# Debian packages (PostgreSQL 15 server and headers, librdkafka, protobuf-c,
# libcurl, libzstd, zlib, kcat, Java, Maven, Go, Prometheus and its postgres
# exporter, libsystemd, debhelper for `make deb`, pg_auto_failover for the
# source-failover test bed, ...), Apache Kafka's broker jars, fetched with
# Maven into .cache/kafka, and the S3-compatible test object store
# (SeaweedFS), built from its Go module with the go command into
# .cache/seaweedfs (both ignored by git). Cheap when everything is present.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
KAFKA_HOME=${KAFKA_HOME:-$ROOT/.cache/kafka}
PG_MIN=15.20

PACKAGES="postgresql-15 postgresql-server-dev-15 \
  postgresql-15-wal2json postgresql-15-decoderbufs \
  librdkafka-dev libprotobuf-c-dev protobuf-c-compiler libcurl4-openssl-dev \
  libzstd-dev zlib1g-dev zstd curl \
  libmicrohttpd-dev libinih-dev libssl-dev pkg-config gcc make kcat clang-format \
  clang libclang-rt-14-dev \
  default-jre-headless maven libipc-run-perl libtest-simple-perl \
  prometheus prometheus-postgres-exporter libsystemd-dev \
  debhelper postgresql-server-dev-all postgresql-15-auto-failover"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
# output_plugin_libraries (our tests rely on it) exists from 15.20 on.
pgver=$(dpkg-query -W -f='${Version}' postgresql-15 2>/dev/null || echo 0)
if ! dpkg --compare-versions "$pgver" ge "$PG_MIN"; then
	missing="$missing postgresql-15"
fi

if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing Debian packages:$missing (run as root or install them)" >&2
		exit 1
	fi
	echo "deps: installing Debian packages:$missing"
	# The tests start their own clusters; do not let the package start one on 5432.
	mkdir -p /etc/postgresql-common
	if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
		echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
	fi
	export DEBIAN_FRONTEND=noninteractive
	# Nor Prometheus and the exporter their services: the tests start their
	# own on loopback ports.
	policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' > "$policy"
		chmod 755 "$policy"
	fi
	apt-get update -qq
	status=0
	apt-get install -y -q --no-install-recommends $missing || status=$?
	[ -z "$policy" ] || rm -f "$policy"
	[ "$status" = 0 ] || exit "$status"
fi

# Kafka broker jars, fetched again whenever the pom changes.
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT/regress/kafka/pom.xml")
pomsum=$(md5sum < "$ROOT/regress/kafka/pom.xml" | cut -c1-12)
stamp="$KAFKA_HOME/libs/.fetched-$version-$pomsum"
if [ ! -e "$stamp" ]; then
	echo "deps: fetching Apache Kafka $version broker jars with Maven into $KAFKA_HOME/libs"
	rm -rf "$KAFKA_HOME/libs"
	mkdir -p "$KAFKA_HOME/libs"
	mvn -q -B -f "$ROOT/regress/kafka/pom.xml" \
		org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
		-DoutputDirectory="$KAFKA_HOME/libs" -DincludeScope=runtime
	touch "$stamp"
fi

# The object store of the archive's tests: SeaweedFS at a fixed version,
# built once.  Its module has replace directives, which `go install
# module@version` refuses, so the module's source is downloaded (module
# cache) and built as the main module in a scratch copy.
WEED_VERSION=v0.0.0-20261109003541-7506e5f91cd6
WEED_DIR=$ROOT/.cache/seaweedfs
if [ ! -x "$WEED_DIR/bin/weed" ] || [ "$(cat "$WEED_DIR/version" 2>/dev/null)" != "$WEED_VERSION" ]; then
	GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
	if [ ! -x "$GO" ] && ! command -v "$GO" >/dev/null 2>&1; then
		if [ "$(id -u)" != 0 ]; then
			echo "deps: the go command is missing (install golang-go, 1.24 or newer)" >&2
			exit 1
		fi
		apt-get install -y -q --no-install-recommends golang-go
		GO=go
	fi
	echo "deps: building SeaweedFS $WEED_VERSION into $WEED_DIR (a few minutes, once)"
	src=$("$GO" mod download -json "github.com/seaweedfs/seaweedfs@$WEED_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -n "$src" ] && [ -d "$src" ] || { echo "deps: go mod download of SeaweedFS failed" >&2; exit 1; }
	mkdir -p "$WEED_DIR/bin"
	scratch=$(mktemp -d "$WEED_DIR/src.XXXXXX")
	cp -r "$src/." "$scratch"
	chmod -R u+w "$scratch"
	(cd "$scratch" && GOFLAGS=-buildvcs=false "$GO" build -o "$WEED_DIR/bin/weed" ./weed) || {
		rm -rf "$scratch"; echo "deps: building SeaweedFS failed" >&2; exit 1; }
	rm -rf "$scratch"
	echo "$WEED_VERSION" > "$WEED_DIR/version"
fi
