#!/bin/bash
# run-all.sh - every test suite, for the normal build, the session under
# valgrind, and again for the ASan+UBSan build. Each suite prints TAP
# ("ok N - name", "not ok N - name", "ok N - name # SKIP why") on stdout;
# this script counts them per suite and per pass and ends with the line
# "N passed, M failed, K skipped" (the totals). Exit status 0 only if
# nothing failed.
#
# A skip is not a pass. A suite marks a skip for a missing prerequisite
# (a tool, root) with the reason "missing: WHAT"; with CI=1, where
# everything must be there, such a skip counts as a failure. Other skips
# (not applicable, e.g. the fuzz harnesses in the ASan pass) stay skips.
#
# A suite is tests/<name>/suite (any executable). It gets SMTPD_SESSION,
# SPOOLERD (absolute paths), BUILD and SAN in its environment.
# SUITES="blackbox tls" runs only those suites (and no unit tests unless
# "unit" is among them); SKIP_ASAN=1 leaves out the ASan pass.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
logdir=$top/build/test-logs
mkdir -p "$logdir"
ci=${CI:-0}
[ "$ci" = true ] && ci=1
pass_label=() pass_ok=() pass_nok=() pass_skip=() # per pass
failures=()
p_pass=0 p_fail=0 p_skip=0 # the current pass
# "ok N - name # SKIP why" (TAP: any case, "skip" as a word); [2] = why
skip_re='^ok [0-9]+.*# *[Ss][Kk][Ii][Pp]([^a-zA-Z]|$)(.*)'

# selected NAME - whether SUITES (if set) names this suite
selected() {
	[ -z "${SUITES:-}" ] && return 0
	case " $SUITES " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

# run_suite LABEL COMMAND... - run one suite, count its TAP lines into
# the current pass
run_suite() {
	local label=$1
	shift
	local log=$logdir/$label.log
	local start=$SECONDS
	"$@" >"$log" 2>&1
	local rc=$?
	local ok=0 nok=0 skip=0 l
	while IFS= read -r l; do
		if [[ $l =~ ^not\ ok\ [0-9]+ ]]; then
			nok=$((nok + 1))
			failures+=("$label: $l")
		elif [[ $l =~ $skip_re ]]; then
			local why=${BASH_REMATCH[2]}
			why=${why#"${why%%[! :]*}"}
			if [ "$ci" = 1 ] && [[ $why == missing:* ]]; then
				nok=$((nok + 1))
				failures+=("$label: $l (CI=1: must not be missing)")
			else
				skip=$((skip + 1))
			fi
		elif [[ $l =~ ^ok\ [0-9]+ ]]; then
			ok=$((ok + 1))
		fi
	done <"$log"
	# a TAP plan ("1..N") promises N results: fewer means the suite
	# died on the way, which must not pass as the tests it never ran
	local plan
	plan=$(grep -m1 -E '^1\.\.[0-9]+$' "$log" | cut -d. -f3)
	if [ $((ok + nok + skip)) -eq 0 ]; then
		nok=1
		failures+=("$label: no results (exit $rc), see $log")
		tail -n 20 "$log" | sed "s/^/    /"
	elif [ -n "$plan" ] && [ $((ok + nok + skip)) -lt "$plan" ]; then
		nok=$((nok + 1))
		failures+=("$label: ended after $((ok + nok + skip - 1)) of $plan results (exit $rc), see $log")
		tail -n 20 "$log" | sed "s/^/    /"
	fi
	p_pass=$((p_pass + ok))
	p_fail=$((p_fail + nok))
	p_skip=$((p_skip + skip))
	printf '%-28s %4d passed %4d failed %4d skipped  (%ds)\n' "$label" \
		"$ok" "$nok" "$skip" $((SECONDS - start))
}

# end_pass LABEL - record the current pass and start the next
end_pass() {
	pass_label+=("$1") pass_ok+=("$p_pass") pass_nok+=("$p_fail")
	pass_skip+=("$p_skip")
	p_pass=0 p_fail=0 p_skip=0
}

# run_build BUILD-DIR SESSION SPOOLERD SAN - the unit tests and every
# suite against one build
run_build() {
	local b=$1
	export BUILD=$b SMTPD_SESSION=$top/$2 SPOOLERD=$top/$3 SAN=$4
	local tag=""
	[ "$4" = 1 ] && tag="asan:"
	local t s name
	if selected unit; then
		for t in "$b"/tests/test_*; do
			[ -x "$t" ] || continue
			run_suite "${tag}unit:${t##*/test_}" \
				env CMOCKA_MESSAGE_OUTPUT=TAP "$t"
		done
	fi
	for s in tests/*/suite; do
		[ -x "$s" ] || continue
		name=${s#tests/}
		name=${name%/suite}
		selected "$name" || continue
		run_suite "${tag}$name" "$s"
	done
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_build build smtpd-session/smtpd-session spoolerd/spoolerd 0
end_pass "plain build:"
# the session under valgrind for every conversation: no leaks, no invalid
# accesses
if selected blackbox; then
	run_suite "valgrind:blackbox" env VALGRIND=1 BUILD=build \
		SMTPD_SESSION="$top/smtpd-session/smtpd-session" \
		tests/blackbox/suite
	end_pass "valgrind:"
fi
if [ "${SKIP_ASAN:-0}" != 1 ]; then
	run_build build-asan build-asan/bin/smtpd-session \
		build-asan/bin/spoolerd 1
	end_pass "asan+ubsan build:"
fi

if [ ${#failures[@]} -gt 0 ]; then
	echo
	echo "failures:"
	printf '  %s\n' "${failures[@]}"
fi
echo
passed=0 failed=0 skipped=0
for i in "${!pass_label[@]}"; do
	printf '%-18s %d passed, %d failed, %d skipped\n' "${pass_label[i]}" \
		"${pass_ok[i]}" "${pass_nok[i]}" "${pass_skip[i]}"
	passed=$((passed + pass_ok[i]))
	failed=$((failed + pass_nok[i]))
	skipped=$((skipped + pass_skip[i]))
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
