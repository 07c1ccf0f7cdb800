#!/bin/sh
# lint.sh - `make lint`: the banned C functions, raw strtol/strtoul
# (numbers go through util_parse_ulong), cppcheck over the C, shellcheck
# over every shell script. Prints each finding; exit 1 if there is one.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
status=0
fail() {
	echo "lint: $1" >&2
	status=1
}

src="common/*.c smtpd-session/*.c spoolerd/*.c dashboard/*.c"
banned="gets|strcpy|strcat|sprintf|vsprintf|strncpy|strtok|atoi|atol"
banned="$banned|sscanf|system|popen"
# shellcheck disable=SC2086 # $src is a list of globs
if grep -nE "\\b($banned) *\\(" $src; then
	fail "banned function above"
fi
# shellcheck disable=SC2086
if grep -nE '\bstrto(l|ul|ll|ull) *\(' $src; then
	fail "raw strtol/strtoul above: use util_parse_ulong"
fi

for t in cppcheck shellcheck; do
	if ! command -v $t >/dev/null 2>&1; then
		fail "$t is not installed (make deps)"
		exit 1
	fi
done

# -D_GNU_SOURCE as the build has it: cppcheck checks that configuration
# only. Warnings, portability and performance, not style.
cppcheck -q -j2 --std=c11 --enable=warning,portability,performance \
	--inline-suppr --error-exitcode=1 --template=gcc -D_GNU_SOURCE \
	-Icommon -Ismtpd-session -Ispoolerd -Itests/spoolerd -Itests/fuzz \
	-Itests/load -Idashboard common smtpd-session spoolerd dashboard \
	tests ||
	fail "cppcheck found the above"

# shell scripts: by name (*.sh) or by a sh/bash shebang, outside the
# build trees and the fuzz inputs
scripts=$(find . \( -name .git -o -name 'build*' -o -name var \
	-o -path ./tests/fuzz/corpus -o -path ./tests/fuzz/regressions \
	-o -path ./tests/fuzz/pending \) -prune -o -type f -print |
	sort | while IFS= read -r f; do
		case $f in
		*.sh) echo "$f" ;;
		*) head -n 1 "$f" 2>/dev/null |
			grep -qE '^#!.*(/|env +)(ba|da)?sh( |$)' && echo "$f" ;;
		esac
	done)
# shellcheck disable=SC2086 # no spaces in our script names
shellcheck $scripts || fail "shellcheck found the above"

[ "$status" -eq 0 ] && echo "lint: ok"
exit "$status"
