#!/bin/sh
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a
# bounded time from a seed corpus the build makes:
#   fuzz/run.sh [SECONDS] [OUTDIR]      (default 60 s each, .cache/fuzz)
# change_fuzz: the extension's decode + validate (proto/change_check.c) and
#   the indexes its batch building takes; peek_fuzz: walstar-sink's record
#   peek, its wire-format checks (the same verdicts as change_fuzz's) and
#   routing; options_fuzz: the decoder's option values (decoder/
#   option_values.c, common/name_pattern.c); request_fuzz: the sink's
#   on-demand copy requests (sink/snapshot_request.c). A crash leaves its input in OUTDIR/<target>/crash-*
#   and fails the run.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
SECONDS_EACH=${1:-60}
OUT=${2:-$ROOT/.cache/fuzz}
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

status=0
for target in change_fuzz peek_fuzz options_fuzz request_fuzz; do
	corpus="$OUT/$target/corpus"
	mkdir -p "$corpus"
	if [ "$target" = options_fuzz ]; then
		"$OUT/bin/make_seeds" "$corpus" options
	elif [ "$target" = request_fuzz ]; then
		printf 'public.c\n' > "$corpus/seed-1"
		printf 'public.c,sales.*,a\\.b.c' > "$corpus/seed-2"
		printf 'x\tbad' > "$corpus/seed-3"
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
