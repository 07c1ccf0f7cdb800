#!/bin/bash
# bench/spool.sh - where a spooled message's time goes: smtpd-session under
# tcpserver, spoolerd delivering to a Maildir at the same time, driven by
# smtp-source with 5 KB messages:
#
#   b   50 clients, 1 message per connection
#   c   50 clients, many messages per connection (-d)
#
# Prints per case: msg/s in (smtp-source's wall time), msg/s delivered
# (from the first message until the spool is empty), server CPU per
# message (tcpserver and its reaped sessions), spoolerd CPU per message
# and the time until the spool was drained. With PROF=perf the server
# and spoolerd run under `perf record -g`
# (bench/results/spool-perf-TAG-CASE.data, ...-TAG-spoolerd.data), with
# PROF=strace under `strace -c -f` (bench/results/spool-strace-CASE.txt);
# the rates are then the profiler's, not the server's.
# Env: SESSION, SPOOLERD (binaries), M (messages per case, default 2000),
# CASES (default "b c"), TAG (a word for the output file names).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
SESSION=${SESSION:-$top/smtpd-session/smtpd-session}
SPOOLERD=${SPOOLERD:-$top/spoolerd/spoolerd}
M=${M:-2000}
CASES=${CASES:-b c}
PROF=${PROF:-}
TAG=${TAG:-run}
PATH=$PATH:/usr/sbin
# each run in a directory of its own under a top directory (chattr +T):
# ext4 puts it in a block group away from the last run's freed inodes,
# which it would otherwise scan past for 5-35 s (recently_deleted)
base=$top/build/spoolbench
rm -rf "$base"/run.*
mkdir -p "$base"
chattr +T "$base" 2>/dev/null || true
work=$base/run.$$
res=$top/bench/results
mkdir -p "$work" "$res"
cp "$SESSION" "$work/smtpd-session"
cp "$SPOOLERD" "$work/spoolerd"
spool=$work/spool
. "$top/bench/lib.sh"
bench_trap
msg=$work/msg-5k.txt
bench_msg "$msg"

conf=$work/smtpd.json
cat >"$conf" <<EOF
{"allowed_hosts": ["example.com"], "spool_dir": "$spool",
 "log_file": "$work/log", "log_level": "warn",
 "backend_config": {"save_process": "HeadersParser|Header|Hasher|Maildir",
   "maildir_path": "$work/mail/{domain}/{user}/Maildir",
   "save_workers_size": 16},
 "servers": [{"host_name": "mx.bench", "timeout": 30,
   "max_size": 10485760, "listen_interface": "127.0.0.1:2525",
   "max_clients": 1000, "spool_min_free": 0}]}
EOF

cpu() { cpu_ms "$1"; } # bench/lib.sh

# spoolerd first: it makes the spool (scan_open) and drains it
sdwrap=()
[ "$PROF" = perf ] &&
	sdwrap=(perf record -g -q -o "$res/spool-perf-$TAG-spoolerd.data" --)
setsid "${sdwrap[@]}" "$work/spoolerd" -c "$conf" 2>"$work/spoolerd.err" &
sdpid=$!
BENCH_PIDS+=("$sdpid")
if [ -n "${sdwrap[*]}" ]; then
	w=$sdpid
	for _ in $(seq 100); do
		sdpid=$(ps -o pid= --ppid "$w" | head -1 | tr -d ' ')
		[ -n "$sdpid" ] && break
		sleep 0.05
	done
fi
for _ in $(seq 100); do [ -d "$spool/new" ] && break; sleep 0.05; done

drained() {
	[ -z "$(ls -A "$spool/new")" ] && [ -z "$(ls -A "$spool/cur")" ]
}

for c in $CASES; do
	case $c in
	b) d= ;;
	c) d=-d ;;
	*) echo "bench: unknown case $c" >&2; exit 1 ;;
	esac
	port=$(free_port)
	case $PROF in
	perf) wrap=(perf record -g -q -o "$res/spool-perf-$TAG-$c.data" --) ;;
	strace) wrap=(strace -c -f -o "$res/spool-strace-$TAG-$c.txt") ;;
	*) wrap=() ;;
	esac
	setsid "${wrap[@]}" tcpserver -l localhost -H -R -b 1024 -c 200 \
		127.0.0.1 "$port" "$work/smtpd-session" -c "$conf" \
		2>"$work/tcpserver.err" &
	wpid=$!
	BENCH_PIDS+=("$wpid")
	tpid=$wpid
	if [ -n "$PROF" ]; then
		for _ in $(seq 100); do
			tpid=$(ps -o pid= --ppid "$wpid" | head -1 | tr -d ' ')
			[ -n "$tpid" ] && break
			sleep 0.05
		done
	fi
	for _ in $(seq 200); do
		python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),1).close()' "$port" 2>/dev/null && break
		sleep 0.05
	done
	sleep 0.3
	c0=$(cpu "$tpid")
	s0=$(cpu "$sdpid")
	t0=$(date +%s.%N)
	smtp-source $d -s 50 -m "$M" -F "$msg" -M bench.test \
		-f bench@client.test -t to@example.com 127.0.0.1:"$port" \
		>"$work/source.out" 2>&1 || {
		echo "bench: smtp-source failed" >&2
		cat "$work/source.out" >&2
		exit 1
	}
	t1=$(date +%s.%N)
	sleep 0.3
	c1=$(cpu "$tpid")
	while ! drained; do sleep 0.05; done
	t2=$(date +%s.%N)
	s1=$(cpu "$sdpid")
	kill -TERM "$tpid" 2>/dev/null || true
	wait "$wpid" 2>/dev/null || true
	awk -v c="$c" -v m="$M" -v t0="$t0" -v t1="$t1" -v t2="$t2" \
		-v c0="$c0" -v c1="$c1" -v s0="$s0" -v s1="$s1" -v tag="$TAG" \
		'BEGIN { printf "%s %s: %d msgs %.0f msg/s in, %.0f msg/s delivered, server %.3f ms/msg, spoolerd %.3f ms/msg, drained %.2f s after\n",
		tag, c, m, m / (t1 - t0), m / (t2 - t0), (c1 - c0) / m, (s1 - s0) / m, t2 - t1 }'
done
n=$(find "$work/mail" -path '*/new/*' -type f | wc -l)
want=0
for c in $CASES; do want=$((want + M)); done
echo "$TAG: delivered $n of $want; load $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$n" -eq "$want" ]
