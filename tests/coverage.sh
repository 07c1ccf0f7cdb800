#!/bin/bash
# coverage.sh - line and branch coverage of the test suite (`make
# coverage`, which first builds the gcov variant with `make COV=1 all
# unit`).
#
# Zeroes the counters, runs every unit test binary in $COV_BUILD/tests and
# every suite tests/<name>/suite against the instrumented binaries with the
# environment tests/run-all.sh gives suites (BUILD, SMTPD_SESSION, SPOOLERD,
# SAN=0), then prints one line per source file of smtpd-session/, common/
# and spoolerd/ (lines and branches covered), the totals per directory
# against the project's aims, and writes the HTML report to
# $COV_BUILD/coverage/index.html (gcovr).
#
# Not run: tests/fuzz (its own clang build in build-fuzz/) and
# tests/systemd (it installs the normal build into a container). Counts
# are lost for a process killed by a signal (the suites kill -9 sessions
# and spoolerd on purpose) or leaving through _exit(); processes running
# at once merge their counts into the same .gcda files (gcov locks them).
#
# Environment: COV_BUILD (default build-cov), COV_UNIT=1 for the unit
# tests only, COV_SUITES="blackbox tls" to pick suites. Exit status 0 when
# every test passed (the report is written either way).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
b=${COV_BUILD:-build-cov}
out=$b/coverage
logdir=$out/logs
if [ ! -x "$b/bin/smtpd-session" ] || [ ! -x "$b/bin/spoolerd" ]; then
	echo "coverage.sh: no $b/bin/*: run make COV=1 all unit first" >&2
	exit 2
fi
command -v gcovr >/dev/null || {
	echo "coverage.sh: gcovr is missing (make deps)" >&2
	exit 2
}
find "$b" -name '*.gcda' -delete
rm -rf "$out"
mkdir -p "$logdir"

export BUILD=$b SMTPD_SESSION=$top/$b/bin/smtpd-session
export SPOOLERD=$top/$b/bin/spoolerd SAN=0
passed=0
failed=0
skipped=0
failures=()
# "ok N - name # SKIP why", as tests/run-all.sh reads it
skip_re='^ok [0-9]+.*# *[Ss][Kk][Ii][Pp]([^a-zA-Z]|$)'

# run_one - run one test program, count its TAP lines
run_one() { # label command...
	local label=$1
	shift
	local log=$logdir/$label.log start=$SECONDS ok=0 nok=0 skip=0 l
	"$@" >"$log" 2>&1
	while IFS= read -r l; do
		if [[ $l =~ ^not\ ok\ [0-9]+ ]]; then
			nok=$((nok + 1))
			failures+=("$label: $l")
		elif [[ $l =~ $skip_re ]]; then
			skip=$((skip + 1))
		elif [[ $l =~ ^ok\ [0-9]+ ]]; then
			ok=$((ok + 1))
		fi
	done <"$log"
	if [ $((ok + nok + skip)) -eq 0 ]; then
		nok=1
		failures+=("$label: no results, see $log")
	fi
	passed=$((passed + ok))
	failed=$((failed + nok))
	skipped=$((skipped + skip))
	printf '%-28s %4d passed %4d failed %4d skipped  (%ds)\n' "$label" \
		"$ok" "$nok" "$skip" $((SECONDS - start))
}

for t in "$b"/tests/test_*; do
	if [ ! -f "$t" ] || [ ! -x "$t" ]; then
		continue
	fi
	run_one "unit:${t##*/test_}" env CMOCKA_MESSAGE_OUTPUT=TAP "$t"
done
if [ "${COV_UNIT:-0}" != 1 ]; then
	if [ -n "${COV_SUITES:-}" ]; then
		suites=$COV_SUITES
	else
		suites=$(for s in tests/*/suite; do
			s=${s#tests/}
			echo "${s%/suite}"
		done)
	fi
	for name in $suites; do
		case $name in fuzz | systemd) continue ;; esac
		[ -x "tests/$name/suite" ] || continue
		run_one "$name" "tests/$name/suite"
	done
fi
echo "$passed passed, $failed failed, $skipped skipped"
if [ ${#failures[@]} -gt 0 ]; then
	printf '  %s\n' "${failures[@]}"
fi

# one gcov pass: JSON for the table below, HTML for people; only $b's
# .gcda files (other build dirs under $top may hold their own)
gcovr -r "$top" --object-directory "$b" -j 2 \
	--filter 'common/' --filter 'smtpd-session/' --filter 'spoolerd/' \
	--exclude-unreachable-branches --gcov-ignore-parse-errors \
	--json-summary "$out/summary.json" \
	--html-details "$out/index.html" --html-title "smtpd coverage" \
	"$b" >"$out/gcovr.log" 2>&1 || {
	echo "coverage.sh: gcovr failed, see $out/gcovr.log" >&2
	exit 2
}

python3 - "$out/summary.json" <<'EOF'
import json
import sys

AIMS = {"smtpd-session": (90, 75), "common": (90, 75), "spoolerd": (85, None)}
d = json.load(open(sys.argv[1]))


def pct(c, t):
    return 100.0 * c / t if t else 100.0


def row(name, lc, lt, bc, bt):
    print("%-36s %5d/%-5d %5.1f%%   %5d/%-5d %5.1f%%" %
          (name, lc, lt, pct(lc, lt), bc, bt, pct(bc, bt)))


print()
print("%-36s %-11s %6s   %-11s %6s" % ("file", "lines", "", "branches", ""))
tot = {}
for f in sorted(d["files"], key=lambda f: f["filename"]):
    row(f["filename"], f["line_covered"], f["line_total"],
        f["branch_covered"], f["branch_total"])
    t = tot.setdefault(f["filename"].split("/")[0], [0, 0, 0, 0])
    for i, k in enumerate(("line_covered", "line_total", "branch_covered",
                           "branch_total")):
        t[i] += f[k]
print()
for name in ("smtpd-session", "common", "spoolerd"):
    if name not in tot:
        continue
    lc, lt, bc, bt = tot[name]
    row(name + "/ (total)", lc, lt, bc, bt)
    la, ba = AIMS[name]
    aim = "aim: lines >= %d%% %s" % (la, "met" if pct(lc, lt) >= la
                                     else "NOT met")
    if ba:
        aim += ", branches >= %d%% %s" % (ba, "met" if pct(bc, bt) >= ba
                                          else "NOT met")
    print("%-36s %s" % ("", aim))
EOF
echo
echo "HTML: $out/index.html"
[ "$failed" -eq 0 ]
