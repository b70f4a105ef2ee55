#!/bin/sh
# Checks that the daemons' C sources (sink/, archive/) follow .clang-format (close to pgindent).
# The PostgreSQL-side parts follow pgindent, which is not packaged for Debian.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
files=$(ls "$ROOT"/sink/*.c "$ROOT"/sink/*.h "$ROOT"/archive/*.c "$ROOT"/archive/*.h 2>/dev/null || true)
[ -n "$files" ] || { echo "check_format: no sink sources yet"; exit 0; }
# shellcheck disable=SC2086
clang-format --style=file --dry-run -Werror $files
echo "check_format: $(echo "$files" | wc -w) files formatted"
