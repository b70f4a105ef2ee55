#!/bin/sh
# A real S3-compatible object store (SeaweedFS, built by regress/deps.sh into
# .cache/seaweedfs) for tests, benchmarks and the demo, on 127.0.0.1 only,
# with signature checking on: requests must be signed (AWS SigV4) with the
# identity below.
#
#   regress/s3.sh start DIR    start a server keeping its data in DIR (ports
#                              chosen once, kept across restarts); returns when
#                              the bucket accepts signed requests; prints the
#                              endpoint http://127.0.0.1:PORT
#   regress/s3.sh stop DIR     stop the server started in DIR (only that one)
#   regress/s3.sh kill DIR     kill -9 it (fault tests)
#   regress/s3.sh status DIR   exit 0 when it runs
#
# Identity: access key walstar-access, secret key walstar-secret-key (test
# credentials, not secrets), region us-east-1, bucket walstar-lake.  Also
# virtual-host style at http://walstar-lake.localhost:PORT (libcurl resolves
# *.localhost to the loopback address itself).
set -eu
unset LD_PRELOAD

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WEED=${WALSTAR_WEED:-$ROOT/.cache/seaweedfs/bin/weed}
START_TIMEOUT=${S3_START_TIMEOUT:-90}
ACCESS=walstar-access
SECRET=walstar-secret-key
BUCKET=walstar-lake

die() { echo "s3.sh: $*" >&2; exit 1; }

our_pid() {
	[ -f "$1/weed.pid" ] || return 1
	pid=$(cat "$1/weed.pid")
	[ -r "/proc/$pid/cmdline" ] || return 1
	tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "-dir=$1/data" || return 1
	echo "$pid"
}

pick_ports() {
	# every port of every component, so none lands on a default one; the
	# sockets stay open until all are chosen, so the ten differ
	perl -MIO::Socket::INET -e 'my @s; for my $n (@ARGV) { my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1) or die; push @s, $s; print "$n=", $s->sockport, "\n" }' \
		master master_grpc volume volume_grpc filer filer_grpc s3 s3_grpc s3_iceberg s3_lance > "$dir/ports"
}

# Start the server and wait until it is ready; false when it exited.
launch() {
	. "$dir/ports"
	setsid "$WEED" server -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
		-master.port="$master" -master.port.grpc="$master_grpc" \
		-master.volumeSizeLimitMB=64 \
		-volume.port="$volume" -volume.port.grpc="$volume_grpc" -volume.max=20 \
		-filer -filer.port="$filer" -filer.port.grpc="$filer_grpc" \
		-s3 -s3.port="$s3" -s3.port.grpc="$s3_grpc" -s3.ip.bind=127.0.0.1 \
		-s3.port.iceberg="$s3_iceberg" -s3.port.lance="$s3_lance" \
		-s3.config="$dir/identities.json" -s3.domainName=localhost \
		> "$dir/weed.log" 2>&1 < /dev/null &
	pid=$!
	echo "$pid" > "$dir/weed.pid"
	endpoint="http://127.0.0.1:$s3"
	deadline=$(( $(date +%s) + START_TIMEOUT ))
	# Ready means a signed PUT into the bucket (created once) succeeds: the
	# store has a writable volume then, not only a listening gateway.
	probe="$dir/probe"
	echo ready > "$probe"
	while :; do
		# (alive by its state: our_pid reads cmdline, which is setsid's
		# before the exec and empty during one; a zombie has exited)
		state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)
		case "$state" in ''|Z|X) rm -f "$dir/weed.pid"; return 1 ;; esac
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --aws-sigv4 "aws:amz:us-east-1:s3" \
			-u "$ACCESS:$SECRET" -X PUT "$endpoint/$BUCKET" 2>/dev/null || true)
		case "$code" in
		200|409)
			# The probe PUT may take until the deadline: one given up on
			# could still land after the DELETE below, and tests would
			# list .probe (074 did under load)
			left=$(( deadline - $(date +%s) )); [ "$left" -gt 0 ] || left=1
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time "$left" --aws-sigv4 "aws:amz:us-east-1:s3" \
				-u "$ACCESS:$SECRET" -T "$probe" "$endpoint/$BUCKET/.probe" 2>/dev/null || true)
			[ "$code" = 200 ] && return 0
			;;
		esac
		[ "$(date +%s)" -lt "$deadline" ] || { "$0" stop "$dir" || true; die "object store not ready after ${START_TIMEOUT}s (see $dir/weed.log)"; }
		sleep 0.5
	done
}

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: s3.sh start|stop|kill|status DIR"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

case "$cmd" in
start)
	[ -x "$WEED" ] || die "no SeaweedFS binary at $WEED (run: make deps)"
	if our_pid "$dir" >/dev/null; then
		die "a server already runs for $dir"
	fi
	fresh=false
	if [ ! -f "$dir/ports" ]; then
		fresh=true
		pick_ports
		cat > "$dir/identities.json" <<JSON
{
  "identities": [
    {
      "name": "walstar",
      "credentials": [ { "accessKey": "$ACCESS", "secretKey": "$SECRET" } ],
      "actions": [ "Admin", "Read", "Write", "List", "Tagging" ]
    }
  ]
}
JSON
		mkdir -p "$dir/data"
	fi
	# A port found free can be taken by another process (a test starting
	# beside us) before the server binds it: on a first start, pick new
	# ports and try again.
	tries=0
	while ! launch; do
		tries=$((tries + 1))
		if ! $fresh || [ $tries -ge 3 ] || ! grep -q 'address already in use' "$dir/weed.log"; then
			tail -20 "$dir/weed.log" >&2
			die "server exited during start"
		fi
		echo "s3.sh: a port was taken meanwhile; new ports" >&2
		rm -rf "$dir/data"
		mkdir -p "$dir/data"
		pick_ports
	done
	# The probe goes before any test lists the bucket
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time "$START_TIMEOUT" --aws-sigv4 "aws:amz:us-east-1:s3" \
		-u "$ACCESS:$SECRET" -X DELETE "$endpoint/$BUCKET/.probe" 2>/dev/null || true)
	case "$code" in 200|204|404) ;; *) "$0" stop "$dir" || true; die "could not delete the readiness probe (HTTP $code)" ;; esac
	echo "$endpoint"
	;;
stop|kill)
	pid=$(our_pid "$dir") || exit 0
	if [ "$cmd" = kill ]; then
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
	else
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	fi
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 300 ]; then
			kill -KILL -- "-$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	rm -f "$dir/weed.pid"
	;;
status)
	our_pid "$dir" >/dev/null
	;;
*)
	die "unknown command $cmd"
	;;
esac
