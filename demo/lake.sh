#!/bin/sh
# The lake beside the demo: an S3-compatible object store on 127.0.0.1
# (regress/s3.sh, SeaweedFS from make deps) and walstar-archive over the
# demo's topics (acme_<service>.*), until every offset is in an object;
# then the objects by origin, and everything started here is stopped.
#
#   DEMO_KEEP=1 make demo     # the demo, left running
#   demo/lake.sh              # this
#
#   LAKE_WORK=dir    where the store keeps its data (default .cache/lake)
#   DEMO_WORK=dir    the demo's directory (default .cache/demo)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
DEMO=${DEMO_WORK:-$ROOT/.cache/demo}
WORK=${LAKE_WORK:-$ROOT/.cache/lake}
export PATH="$($PG_CONFIG --bindir):$ROOT/archive:$PATH"

port=$(sed -n 's/^# port=//p' "$DEMO/kafka/server.properties" 2>/dev/null || true)
[ -n "$port" ] && "$ROOT/regress/kafka.sh" status "$DEMO/kafka" ||
	{ echo "lake: no demo broker running in $DEMO (run: DEMO_KEEP=1 make demo)" >&2; exit 1; }
BROKER=127.0.0.1:$port

mkdir -p "$WORK"
ARCHIVE_PID=""
cleanup() {
	[ -z "$ARCHIVE_PID" ] || { kill -TERM "$ARCHIVE_PID" 2>/dev/null; wait "$ARCHIVE_PID" || true; }
	"$ROOT/regress/s3.sh" stop "$WORK/s3" || true
}
trap cleanup EXIT INT TERM
ENDPOINT=$("$ROOT/regress/s3.sh" start "$WORK/s3" | tail -1)
echo "== object store at $ENDPOINT, bucket walstar-lake"

# the test bed's identity (regress/s3.sh), through the environment only
export AWS_ACCESS_KEY_ID=walstar-access AWS_SECRET_ACCESS_KEY=walstar-secret-key
ARGS="--brokers=$BROKER --s3-endpoint=$ENDPOINT --s3-bucket=walstar-lake --topic-pattern=^acme_ --group-id=lake-demo"
walstar-archive run $ARGS --object-max-age=2 > "$WORK/archive.log" 2>&1 &
ARCHIVE_PID=$!
echo "== walstar-archive archiving ^acme_ from $BROKER (log: $WORK/archive.log)"

# caught up: every partition's committed offset at its end offset
while :; do
	behind=0
	walstar-archive status $ARGS > "$WORK/status" 2>/dev/null || behind=1
	while read -r line; do
		t=$(echo "$line" | sed -n 's/.*topic=\([^ ]*\) partition=\([0-9]*\) committed=\(-\{0,1\}[0-9]*\).*/\1:\2 \3/p')
		tp=${t% *}; committed=${t#* }
		end=$(kcat -Q -b "$BROKER" -t "$tp:-1" 2>/dev/null | sed -n 's/.*offset \([0-9]*\).*/\1/p')
		[ "$committed" -ge "${end:-0}" ] 2>/dev/null || behind=1
	done < "$WORK/status"
	[ "$behind" = 0 ] && [ -s "$WORK/status" ] && break
	kill -0 "$ARCHIVE_PID" || { cat "$WORK/archive.log" >&2; exit 1; }
	sleep 2
done
echo "== caught up: $(grep -c 'object stored' "$WORK/archive.log") objects stored; by origin:"
curl -s --aws-sigv4 aws:amz:us-east-1:s3 -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
	"$ENDPOINT/walstar-lake?list-type=2&max-keys=1000&prefix=walstar%2F" |
	grep -o '<Key>[^<]*</Key>' | sed 's:<Key>walstar/\([^/]*\)/\([^/]*\)/.*:\1 \2:' | sort | uniq -c
echo "== replay any window back into Kafka with, e.g.:"
echo "   walstar-archive replay $ARGS --from=$(date -u +%Y-%m-%d) --to=2100-01-01 --replay-topic-prefix=replay"   # topics replay.acme_<service>.<schema>.<table>
