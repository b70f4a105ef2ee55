#!/bin/sh
# Runs every suite against the installed build:
#   for each part given: pg_regress over <part>/sql + <part>/expected (a temporary
#   instance configured by <part>/regress.conf) and <part>/tests/run_unit.sh if present;
#   then the TAP tests regress/t/*.pl through prove.
# Output of all runs goes to .cache/testrun (ignored). PostgreSQL refuses to run
# as root, so under root the suites run as the unprivileged user $WALSTAR_TEST_USER
# (default postgres, created by the Debian packages).
# Usage: regress/run_tests.sh [part ...]      (WALSTAR_TAP=pattern limits TAP tests,
# WALSTAR_NO_TAP=1 skips them, WALSTAR_TAP_JOBS=N runs N at once, default 3;
# part "." is the top-level cross-part suite)
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WALSTAR_TEST_WORK:-$ROOT/.cache/testrun}
TEST_USER=${WALSTAR_TEST_USER:-postgres}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BINDIR=$($PG_CONFIG --bindir)
PGXS_DIR=$(dirname "$(dirname "$(dirname "$($PG_CONFIG --pgxs)")")")
PG_REGRESS=$PGXS_DIR/src/test/regress/pg_regress

if [ "$(id -u)" = 0 ]; then
	if ! runuser -u "$TEST_USER" -- test -r "$ROOT/regress/run_tests.sh"; then
		# The checkout is not readable by the test user (e.g. under /root):
		# run from a copy it can read.
		copy=/var/tmp/walstar-tests
		echo "run_tests: $ROOT is not readable by $TEST_USER; testing a copy in $copy"
		rm -rf "$copy"
		mkdir -p "$copy"
		(cd "$ROOT" && tar --exclude=.cache/testrun --exclude=.git -cf - .) | (cd "$copy" && tar -xf -)
		chmod -R a+rX "$copy"
		exec "$copy/regress/run_tests.sh" "$@"
	fi
	rm -rf "$WORK"
	mkdir -p "$WORK"
	chown "$TEST_USER" "$WORK"
	exec runuser -u "$TEST_USER" -- env HOME="$WORK" WALSTAR_TEST_WORK="$WORK" "$0" "$@"
fi
mkdir -p "$WORK"

export PATH="$BINDIR:$PATH"
export PERL5LIB="$PGXS_DIR/src/test/perl:$ROOT/regress/lib${PERL5LIB:+:$PERL5LIB}"
export PG_REGRESS WALSTAR_ROOT="$ROOT" KAFKA_HOME="${KAFKA_HOME:-$ROOT/.cache/kafka}"
export TESTDIR="$WORK/tap"


failed=""
for part in "$@"; do
	tests=$(make -s -C "$ROOT/$part" -f Makefile -f "$ROOT/regress/print.mk" print-REGRESS 2>/dev/null)
	if [ -n "$tests" ]; then
		echo "== pg_regress: $part"
		conf=""
		[ -f "$ROOT/$part/regress.conf" ] && conf="--temp-config=$ROOT/$part/regress.conf"
		mkdir -p "$WORK/$part"
		# shellcheck disable=SC2086
		if ! "$PG_REGRESS" --inputdir="$ROOT/$part" --outputdir="$WORK/$part" \
			--bindir="$BINDIR" --temp-instance="$WORK/$part/tmp_check" $conf $tests; then
			failed="$failed pg_regress:$part"
			[ -f "$WORK/$part/regression.diffs" ] && head -200 "$WORK/$part/regression.diffs"
		fi
	fi
	if [ -x "$ROOT/$part/tests/run_unit.sh" ]; then
		echo "== unit tests: $part"
		"$ROOT/$part/tests/run_unit.sh" "$WORK/$part-unit" || failed="$failed unit:$part"
	fi
done

if [ -z "${WALSTAR_NO_TAP:-}" ] && ls "$ROOT"/regress/t/*.pl >/dev/null 2>&1; then
	echo "== TAP tests"
	mkdir -p "$TESTDIR"
	cd "$TESTDIR" || exit 1
	pattern=${WALSTAR_TAP:-}
	# The longest tests first (as measured in CI, longest first), so that
	# the run ends on short ones instead of waiting for one long test
	# started late: about four minutes less on 2 cores
	slow="075_kafka_broker_loss 077_source_failover 070_archive_exactly_once 081_sink_chunked_copy
		066_sink_copy_on_demand 093_demo_models 083_sink_chunked_epoch 071_archive_replay
		086_ext_moved_toast 064_ext_copy_interrupted 062_ext_lag_busy 063_sink_copy_stop
		067_ext_parallel_apply 082_sink_chunked_resume"
	all=$(for t in $slow; do [ -f "$ROOT/regress/t/$t.pl" ] && echo "$ROOT/regress/t/$t.pl"; done
		ls "$ROOT"/regress/t/*.pl | grep -v -F "$(for t in $slow; do echo "/$t.pl"; done)")
	if [ -n "$pattern" ]; then
		all=$(echo "$all" | grep -- "$pattern")
	fi
	# shellcheck disable=SC2086
	set -- $all
	# Most tests wait on servers (about a fifth of the wallclock is CPU):
	# three at once on 2 cores. Each has its own ports, nodes and brokers.
	prove --timer -j"${WALSTAR_TAP_JOBS:-3}" "$@" || failed="$failed tap"
fi

# Nothing we started may outlive the run.
leftover=$(ps -eo pid,args | grep -F "$WORK/" | grep -v grep | grep -E 'bin/postgres|kafka\.Kafka|prometheus|weed server' || true)
if [ -n "$leftover" ]; then
	echo "servers left running after the tests:" >&2
	echo "$leftover" >&2
	failed="$failed leftover-servers"
fi


if [ -n "$failed" ]; then
	echo "FAILED:$failed"
	exit 1
fi
echo "all suites passed"
