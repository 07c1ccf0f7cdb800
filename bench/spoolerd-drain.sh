#!/bin/sh
# spoolerd-drain.sh [N] - drain rate of spoolerd from a pre-filled spool.
#
# Writes N (default 20000) spool entries of about 5 KB into a fresh spool
# (as a session would: tmp/ then rename into new/), starts spoolerd with
# the Maildir chain delivering to one maildir per recipient (100
# recipients, one per message), and times from start until new/ and cur/
# are empty. Prints one line:
#   spoolerd drain: N messages in S s = R msg/s
# Env: SPOOLERD (binary), WORKERS (save_workers_size, default 16: the
# cost is two fsyncs per copy, and parallel fsyncs share journal commits),
# BENCH_DIR (work dir, default a temp dir, removed afterwards).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-20000}
spoolerd=${SPOOLERD:-$top/spoolerd/spoolerd}
workers=${WORKERS:-16}
dir=${BENCH_DIR:-$(mktemp -d /tmp/spoolerd-bench.XXXXXX)}
cleanup() {
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -z "${BENCH_DIR:-}" ] && rm -rf "$dir"
	return 0
}
trap cleanup EXIT INT TERM
mkdir -p "$dir/spool"
cat >"$dir/conf.json" <<JSON
{"spool_dir": "$dir/spool", "log_file": "$dir/spoolerd.log",
 "log_level": "warn",
 "backend_config": {"save_process": "HeadersParser|Header|Hasher|Maildir",
   "maildir_path": "$dir/mail/{domain}/{user}/Maildir",
   "save_workers_size": $workers}}
JSON
python3 - "$dir/spool" "$n" "$top/tests/spoolerd" <<'PY'
import os, sys
sys.path.insert(0, sys.argv[3])
import lib
spool, n = sys.argv[1], int(sys.argv[2])
lib.make_spool(spool)
body = b"".join(b"%04d the quick brown fox jumps over the lazy dog 0123456789\r\n"
                % i for i in range(80))
msg = (b"From: a@example.org\r\nTo: b@example.com\r\nSubject: bench\r\n"
       b"\r\n" + body)[:5000]
for i in range(n):
    lib.inject(spool, "a@example.org", ["u%d@example.com" % (i % 100)], msg)
PY
sync
start=$(date +%s.%N)
"$spoolerd" -c "$dir/conf.json" &
pid=$!
while [ -n "$(ls -A "$dir/spool/new")" ] || [ -n "$(ls -A "$dir/spool/cur")" ]; do
	kill -0 "$pid" 2>/dev/null || { echo "spoolerd died" >&2; exit 1; }
	sleep 0.05
done
end=$(date +%s.%N)
got=$(find "$dir/mail" -path '*/new/*' -type f | wc -l)
kill "$pid"
wait "$pid" || true
pid=
if [ "$got" -ne "$n" ]; then
	echo "spoolerd drain: delivered $got of $n" >&2
	exit 1
fi
awk -v n="$n" -v s="$start" -v e="$end" 'BEGIN {
	t = e - s; printf "spoolerd drain: %d messages in %.2f s = %.0f msg/s\n",
	n, t, n / t }'
