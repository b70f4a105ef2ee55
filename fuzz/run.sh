#!/bin/sh
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a
# bounded time from a seed corpus the build makes:
#   fuzz/run.sh [SECONDS] [OUTDIR]      (default 60 s each, .cache/fuzz)
# change_fuzz: the extension's decode + validate (proto/change_check.c) and
#   the indexes its batch building takes; peek_fuzz: walstar-sink's record
#   peek, its wire-format checks (the same verdicts as change_fuzz's) and
#   routing; options_fuzz: the decoder's option values (decoder/
#   option_values.c, common/name_pattern.c); request_fuzz: the sink's
#   on-demand copy requests (sink/snapshot_request.c); archive_fuzz:
#   walstar-archive's readers of external bytes (objects, object names, cut
#   marks, S3 list answers, times and retention; archive/); ndjson_fuzz:
#   the archive's NDJSON rendering of records (common/change_ndjson.c: one
#   line of valid JSON whatever the bytes). A crash leaves
#   its input in OUTDIR/<target>/crash-*
#   and fails the run.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
SECONDS_EACH=${1:-60}
OUT=${2:-$ROOT/.cache/fuzz}
PG_CONFIG_BIN=${PG_CONFIG:-pg_config}
CLANG=${CLANG:-$(command -v clang || command -v clang-14 || true)}
[ -n "$CLANG" ] || { echo "fuzz: clang not found (make deps installs it)" >&2; exit 1; }
[ -f "$ROOT/proto/walstar.pb-c.c" ] || make -C "$ROOT" proto/walstar.pb-c.c
mkdir -p "$OUT/bin"
FLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror -Wno-unused-parameter -I$ROOT/proto -I$ROOT/common -I$ROOT/sink"

cc -std=c11 -Wall -Wextra -Werror -I"$ROOT/proto" -o "$OUT/bin/make_seeds" \
	"$HERE/make_seeds.c" "$ROOT/proto/walstar.pb-c.c" -lprotobuf-c
# shellcheck disable=SC2086
"$CLANG" $FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-o "$OUT/bin/change_fuzz" "$HERE/change_fuzz.c" "$ROOT/proto/change_check.c" \
	"$ROOT/proto/walstar.pb-c.c" -lprotobuf-c
# shellcheck disable=SC2086
"$CLANG" $FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-o "$OUT/bin/peek_fuzz" "$HERE/peek_fuzz.c" "$ROOT/sink/change_peek.c" \
	"$ROOT/common/change_key.c" "$ROOT/common/change_op.c" \
	"$ROOT/common/encode_proto.c" "$ROOT/proto/change_check.c" "$ROOT/proto/walstar.pb-c.c" -lprotobuf-c

# shellcheck disable=SC2086
"$CLANG" $FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I"$ROOT/decoder" -o "$OUT/bin/options_fuzz" "$HERE/options_fuzz.c" \
	"$ROOT/decoder/option_values.c" "$ROOT/common/name_pattern.c"

# shellcheck disable=SC2086
"$CLANG" $FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-o "$OUT/bin/request_fuzz" "$HERE/request_fuzz.c" "$ROOT/sink/snapshot_request.c" \
	"$ROOT/sink/log.c" "$ROOT/common/name_pattern.c"

# shellcheck disable=SC2086
"$CLANG" -I"$ROOT/archive" -DARCHIVE_VERSION='"fuzz"' $FLAGS \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-o "$OUT/bin/archive_fuzz" "$HERE/archive_fuzz.c" \
	"$ROOT/archive/object.c" "$ROOT/archive/layout.c" "$ROOT/archive/s3.c" \
	"$ROOT/archive/config.c" "$ROOT/sink/log.c" "$ROOT/common/change_ndjson.c" \
	"$ROOT/common/change_key.c" "$ROOT/common/change_op.c" "$ROOT/common/encode_proto.c" \
	"$ROOT/proto/walstar.pb-c.c" -I"$($PG_CONFIG_BIN --includedir)" \
	-L"$($PG_CONFIG_BIN --libdir)" -lpq -lprotobuf-c -lzstd -lz -lcurl -lssl -lcrypto -linih -lm

# shellcheck disable=SC2086
"$CLANG" $FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-o "$OUT/bin/ndjson_fuzz" "$HERE/ndjson_fuzz.c" "$ROOT/common/change_ndjson.c" \
	"$ROOT/common/change_key.c" "$ROOT/common/change_op.c" \
	"$ROOT/common/encode_proto.c" "$ROOT/proto/walstar.pb-c.c" -lprotobuf-c -lm

# archive_fuzz seeds: first byte = reader (0 object, 1 name, 2 cut mark,
# 3 list answer, 4 time/retention)
archive_seeds() {
	d=$1
	printf '\005hello\003abc' | gzip -c > "$d/frames"
	{ printf '\000'; cat "$d/frames"; } > "$d/seed-object-gzip"
	if command -v zstd >/dev/null; then
		{ printf '\000'; printf '\005hello\003abc' | zstd -q -c; } > "$d/seed-object-zstd"
	fi
	rm -f "$d/frames"
	printf '\001walstar/crm/public.acct/date=2026-12-03/hour=05/walstar.public.acct+1+300-599.pb.zst' > "$d/seed-name"
	printf '\002cut=599' > "$d/seed-cut"
	printf '\002cut=599,ndjson' > "$d/seed-cut-ndjson"
	printf '\003<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a&amp;b</Key><Size>3</Size></Contents><NextContinuationToken>t1</NextContinuationToken></ListBucketResult>' > "$d/seed-list"
	printf '\0042026-12-03T05:00:00Z' > "$d/seed-time"
	printf '\004crm:730,*:365' > "$d/seed-retention"
	# found by the fuzzer: a frame length spelled 0x80 0x00 (two zstd frames)
	printf '\000\050\265\057\375\000\000\000\000\000\023\000\000\200\050\265\057\375\000\000\133\000\000\000' > "$d/seed-object-overlong"
}

status=0
for target in change_fuzz peek_fuzz options_fuzz request_fuzz archive_fuzz ndjson_fuzz; do
	corpus="$OUT/$target/corpus"
	mkdir -p "$corpus"
	if [ "$target" = options_fuzz ]; then
		"$OUT/bin/make_seeds" "$corpus" options
	elif [ "$target" = request_fuzz ]; then
		printf 'public.c\n' > "$corpus/seed-1"
		printf 'public.c,sales.*,a\\.b.c' > "$corpus/seed-2"
		printf 'x\tbad' > "$corpus/seed-3"
	elif [ "$target" = archive_fuzz ]; then
		archive_seeds "$corpus"
	else
		"$OUT/bin/make_seeds" "$corpus"
	fi
	echo "== fuzz: $target for ${SECONDS_EACH}s"
	if ! (cd "$OUT/$target" && "$OUT/bin/$target" -max_total_time="$SECONDS_EACH" \
		-max_len=65536 -rss_limit_mb=1024 -print_final_stats=1 corpus \
		> "$OUT/$target/log" 2>&1); then
		echo "fuzz: $target failed; see $OUT/$target/log" >&2
		tail -30 "$OUT/$target/log" >&2
		status=1
	else
		grep -E "^stat::number_of_executed_units|^Done" "$OUT/$target/log" || true
	fi
done
exit $status
