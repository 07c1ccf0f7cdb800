#!/bin/bash
# afl.sh SECONDS - AFL++ on the real smtpd-session (build-afl/, built by
# `make fuzz-afl` with afl-clang-fast): each input is what a client sends,
# fed on stdin; replies go to stdout, which AFL discards. No harness.
#
# The session gets a config of its own: a spool on tmpfs (/dev/shm when
# there is one, so fsync costs nothing), emptied every few seconds, short
# timeouts, every domain allowed so inputs reach DATA. Seeds are the
# session corpus without its first (flag) byte; the dictionary is
# smtp.dict. Findings: build-afl/out/default/{crashes,hangs}/; exit 1 when
# there is a crash.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
secs=${1:-600}
b=$top/build-afl
bin=$b/smtpd-session
command -v afl-fuzz >/dev/null || {
	echo "afl-fuzz not found (apt-get install afl++)" >&2
	exit 1
}
[ -x "$bin" ] || {
	echo "$bin missing: run make fuzz-afl" >&2
	exit 1
}
base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
work=$(mktemp -d "$base/smtpd-afl.XXXXXX") || exit 1
spool=$work/spool
mkdir -p "$spool/tmp" "$spool/new" "$spool/cur" "$spool/failed" "$b/in"
cat >"$b/afl.json" <<JSON
{
    "allowed_hosts": ["*"],
    "log_level": "error",
    "log_file": "/dev/null",
    "spool_dir": "$spool",
    "servers": [{"host_name": "afl.test", "timeout": 1,
                 "max_session_time": 3, "max_size": 100000,
                 "max_clients": 0, "spool_min_free": 0}]
}
JSON
"$bin" -c "$b/afl.json" --check-config >/dev/null || exit 1
rm -f "$b/in/"*
for f in tests/fuzz/corpus/session/*; do
	tail -c +2 "$f" >"$b/in/${f##*/}"
done

# the accepted messages pile up: clear them while AFL runs
(
	while sleep 5; do
		find "$spool/new" "$spool/tmp" -type f -delete 2>/dev/null
	done
) &
cleaner=$!
trap 'kill $cleaner 2>/dev/null; rm -rf "$work"' EXIT

AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 \
AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_AUTORESUME=1 \
	afl-fuzz -i "$b/in" -o "$b/out" -x tests/fuzz/smtp.dict \
	-t 5000 -V "$secs" -- "$bin" -c "$b/afl.json" \
	>"$b/afl.log" 2>&1
rc=$?
grep -E 'execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs' \
	"$b/out/default/fuzzer_stats" 2>/dev/null
ncrash=$(find "$b/out/default/crashes" -type f -name 'id:*' 2>/dev/null |
	wc -l)
echo "afl-fuzz exit $rc, $ncrash crashes (build-afl/out/default/crashes)"
[ $rc -eq 0 ] && [ "$ncrash" -eq 0 ]
