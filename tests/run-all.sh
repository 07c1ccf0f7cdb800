#!/bin/bash
# run-all.sh - every test suite, for the normal build and again for the
# ASan+UBSan build. Each suite prints TAP ("ok N - name" / "not ok N -
# name") on stdout; this script counts them and ends with the summary line
# "N passed, M failed". Exit status 0 only if nothing failed.
#
# A suite is tests/<name>/suite (any executable). It gets SMTPD_SESSION,
# SPOOLERD (absolute paths), BUILD and SAN in its environment.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
logdir=$top/build/test-logs
mkdir -p "$logdir"
passed=0
failed=0
failures=()

run_suite() { # label command...
	local label=$1
	shift
	local log=$logdir/$label.log
	local start=$SECONDS
	"$@" >"$log" 2>&1
	local rc=$?
	local ok nok
	ok=$(grep -cE '^ok [0-9]+' "$log")
	nok=$(grep -cE '^not ok [0-9]+' "$log")
	if [ "$ok" -eq 0 ] && [ "$nok" -eq 0 ]; then
		nok=1
		failures+=("$label: no results (exit $rc), see $log")
		tail -n 20 "$log" | sed "s/^/    /"
	fi
	while IFS= read -r l; do
		failures+=("$label: $l")
	done < <(grep -E '^not ok [0-9]+' "$log")
	passed=$((passed + ok))
	failed=$((failed + nok))
	printf '%-28s %4d passed %4d failed  (%ds)\n' "$label" "$ok" "$nok" \
		$((SECONDS - start))
}

run_build() { # build-dir session spoolerd san
	local b=$1
	export BUILD=$b SMTPD_SESSION=$top/$2 SPOOLERD=$top/$3 SAN=$4
	local tag=""
	[ "$4" = 1 ] && tag="asan:"
	for t in "$b"/tests/test_*; do
		[ -x "$t" ] || continue
		run_suite "${tag}unit:${t##*/test_}" env CMOCKA_MESSAGE_OUTPUT=TAP "$t"
	done
	for s in tests/*/suite; do
		[ -x "$s" ] || continue
		local name=${s#tests/}
		name=${name%/suite}
		run_suite "${tag}$name" "$s"
	done
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_build build smtpd-session/smtpd-session spoolerd/spoolerd 0
# the session under valgrind for every conversation: no leaks, no invalid
# accesses
run_suite "valgrind:blackbox" env VALGRIND=1 BUILD=build \
	SMTPD_SESSION="$top/smtpd-session/smtpd-session" tests/blackbox/suite
if [ "${SKIP_ASAN:-0}" != 1 ]; then
	run_build build-asan build-asan/bin/smtpd-session build-asan/bin/spoolerd 1
fi

if [ ${#failures[@]} -gt 0 ]; then
	echo
	echo "failures:"
	printf '  %s\n' "${failures[@]}"
fi
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
