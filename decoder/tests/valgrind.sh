#!/bin/bash
# The decoder's pg_regress suites with the server under valgrind memcheck.
#
#   decoder/tests/valgrind.sh [test ...]     (default: every suite of REGRESS)
#
# Needs `make install` first. A private bin directory links the PostgreSQL
# programs and wraps `postgres` in valgrind (not for initdb's bootstrap and
# --single runs, which would only be slow). Every backend's report goes to
# .cache/valgrind-decoder/vg.<pid>.log; the script then prints the errors
# whose stack passes through walstar_decoder.so (our code) and exits 1 if
# there are any. Errors without our frames (Debian's server is not built
# with USE_VALGRIND, so e.g. WAL padding shows up as uninitialised bytes)
# are counted but not fatal. Under root it runs as the postgres OS user.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WALSTAR_VALGRIND_WORK:-$ROOT/.cache/valgrind-decoder}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
REALBIN=$($PG_CONFIG --bindir)
PGXS_DIR=$(dirname "$(dirname "$(dirname "$($PG_CONFIG --pgxs)")")")

if [ "$(id -u)" = 0 ]; then
	rm -rf "$WORK"
	mkdir -p "$WORK"
	chown "${WALSTAR_TEST_USER:-postgres}" "$WORK"
	exec runuser -u "${WALSTAR_TEST_USER:-postgres}" -- env WALSTAR_VALGRIND_WORK="$WORK" "$0" "$@"
fi
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }

mkdir -p "$WORK/bin"
for f in "$REALBIN"/*; do
	ln -sf "$f" "$WORK/bin/$(basename "$f")"
done
rm -f "$WORK/bin/postgres"
cat > "$WORK/bin/postgres" <<EOF
#!/bin/sh
case " \$* " in
	*" --boot "*|*" --single "*|*" -V "*|*" --version "*|*" -C "*|*" --describe-config "*)
		exec "$REALBIN/postgres" "\$@" ;;
esac
exec valgrind --quiet --tool=memcheck --error-limit=no --num-callers=30 \
	--read-var-info=no --trace-children=no \
	--log-file="$WORK/vg.%p.log" "$REALBIN/postgres" "\$@"
EOF
chmod +x "$WORK/bin/postgres"

tests=$*
if [ -z "$tests" ]; then
	tests=$(make -s -C "$ROOT/decoder" -f Makefile -f "$ROOT/regress/print.mk" print-REGRESS)
fi

export PGCTLTIMEOUT=600
# shellcheck disable=SC2086
"$PGXS_DIR/src/test/regress/pg_regress" --inputdir="$ROOT/decoder" --outputdir="$WORK" \
	--bindir="$WORK/bin" --temp-instance="$WORK/tmp_check" \
	--temp-config="$ROOT/decoder/regress.conf" $tests
regress_status=$?

ours=0
others=0
for log in "$WORK"/vg.*.log; do
	[ -s "$log" ] || continue
	# one valgrind error = a block of "==pid== " lines ending with an empty one
	n=$(awk '
		/^==[0-9]+== [A-Z]/ && !/^==[0-9]+== +(at|by) / { inblock = 1; block = $0 "\n"; next }
		inblock && /^==[0-9]+== +(at|by|Address|Uninitialised) / { block = block $0 "\n"; next }
		inblock {
			if (block ~ /walstar_decoder\.so|\(walstar_decoder|encode_|relation_cache|options_|pii_/) {
				printf "%s\n", block > "/dev/stderr"; ours++
			} else others++
			inblock = 0
		}
		END { print ours + 0, others + 0 }' "$log" 2>>"$WORK/ours.txt")
	ours=$((ours + ${n% *}))
	others=$((others + ${n#* }))
done

echo "valgrind: $ours error(s) in walstar_decoder, $others elsewhere (logs in $WORK)"
[ "$ours" -gt 0 ] && { cat "$WORK/ours.txt"; exit 1; }
exit $regress_status
