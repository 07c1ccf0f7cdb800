#!/bin/bash
# bench/run.sh - messages/s of smtpd-session under tcpserver against
# Postfix's smtp-sink (the ceiling of an SMTP server on this machine), both
# driven by Postfix's smtp-source in the same run, 5 KB messages:
#
#   a   1 client, one message per connection (sequential)
#   a-d 1 client, all messages over one connection (-d)
#   b   50 clients, one message per connection
#   c   50 clients, many messages per connection (-d)
#
# each measured REPS times, the median printed, with the ratio to
# smtp-sink; then the PSS of an idle session after EHLO (alone, and the
# mean over 20 idle sessions open at once). Every message the session
# accepts is fsync'd before its 250; the spool is on the normal disk
# (under build/). The table goes to stdout and to bench/results/latest.txt.
#
# Called by `make bench` after the build. Environment: SESSION (binary),
# REPS (default 3), BENCH_M (messages per run of b and c, default 2000).
# Postfix's smtpd as a peer is not measured (it needs a private Postfix
# instance with master(8); not set up here).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
SESSION=${SESSION:-$top/smtpd-session/smtpd-session}
REPS=${REPS:-3}
M=${BENCH_M:-2000}
MA=$((M / 4)) # sequential runs: fewer messages, same order of time

for t in tcpserver smtp-source smtp-sink python3; do
	command -v "$t" >/dev/null || PATH=$PATH:/usr/sbin
	command -v "$t" >/dev/null || {
		echo "bench: $t not found (make deps)" >&2
		exit 1
	}
done
[ -x "$SESSION" ] || {
	echo "bench: $SESSION not built (make)" >&2
	exit 1
}

work=$top/build/bench
rm -rf "$work"
mkdir -p "$work" "$top/bench/results"
# a private copy, so a rebuild during the run cannot break an exec
cp "$SESSION" "$work/smtpd-session"
SESSION=$work/smtpd-session
spool=$work/spool
mkdir -p "$spool"/{tmp,new,cur,failed}

. "$top/bench/lib.sh"
bench_atexit() { rm -rf "$spool"; }
bench_trap
wait_port() { wait_banner "$1" "$2" || { cat "$work"/*.err >&2; exit 1; }; }

# a 5 KB message (5120 bytes as sent) in LF lines for smtp-source -F
msg=$work/msg-5k.txt
bench_msg "$msg"

conf=$work/smtpd.json
cat >"$conf" <<EOF
// benchmark config: spool on the normal disk, nothing refused for space
{"allowed_hosts": ["example.com"], "spool_dir": "$spool",
 "log_file": "$work/session.log", "log_level": "info",
 "servers": [{"host_name": "mx.bench", "timeout": 30,
   "max_size": 10485760, "listen_interface": "127.0.0.1:2525",
   "max_clients": 1000, "spool_min_free": 0}]}
EOF

# (1) the session under tcpserver; -l localhost -H -R: no DNS queries
sport=$(free_port)
setsid tcpserver -l localhost -H -R -b 1024 -c 1000 127.0.0.1 "$sport" \
	"$SESSION" -c "$conf" 2>"$work/tcpserver.err" &
tcppid=$!
BENCH_PIDS+=("$tcppid")
# (2) Postfix smtp-sink, the ceiling
kport=$(free_port)
sinkuser=()
[ "$(id -u)" = 0 ] && sinkuser=(-u nobody) # it refuses to run as root
setsid smtp-sink "${sinkuser[@]}" 127.0.0.1:"$kport" 1000 2>"$work/smtp-sink.err" &
sinkpid=$!
BENCH_PIDS+=("$sinkpid")
wait_port "$sport" "$tcppid"
wait_port "$kport" "$sinkpid"

count_new() { find "$spool/new" -type f | wc -l; }

# measure port sessions msgs dflag -> msgs/s (median of REPS)
measure() {
	local port=$1 s=$2 m=$3 d=$4 t0 t1 rates=()
	for _ in $(seq 1 "$REPS"); do
		t0=$(date +%s.%N)
		smtp-source ${d:+"$d"} -s "$s" -m "$m" -F "$msg" \
			-M bench.test \
			-f bench@client.test -t to@example.com \
			127.0.0.1:"$port" >"$work/source.out" 2>&1 || {
			echo "bench: smtp-source failed:" >&2
			cat "$work/source.out" >&2
			exit 1
		}
		t1=$(date +%s.%N)
		rates+=("$(awk -v m="$m" -v a="$t0" -v b="$t1" \
			'BEGIN { printf "%.1f", m / (b - a) }')")
	done
	printf '%s\n' "${rates[@]}" | sort -g | sed -n "$(((REPS + 1) / 2))p"
}

declare -A rate
cases=("a:1:$MA:" "a-d:1:$MA:-d" "b:50:$M:" "c:50:$M:-d")
expected=0
for c in "${cases[@]}"; do
	IFS=: read -r name s m d <<<"$c"
	rate[sink_$name]=$(measure "$kport" "$s" "$m" "$d")
	rate[sess_$name]=$(measure "$sport" "$s" "$m" "$d")
	expected=$((expected + m * REPS))
done
stored=$(count_new)
leftover=$(find "$spool/tmp" -type f | wc -l)

pss=$(python3 "$top/bench/pss.py" "$tcppid" "$sport" 20)

out=$top/bench/results/latest.txt
{
	echo "smtpd-session benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		"($(nproc) cpus, $(uname -r), load $(cut -d" " -f1-3 /proc/loadavg))"
	echo "smtp-source -> tcpserver+smtpd-session (fsync per message)" \
		"vs smtp-sink; 5120-byte messages; median of $REPS runs"
	printf '%-44s %10s %10s %7s %7s\n' case session sink ratio target
	for c in "${cases[@]}"; do
		IFS=: read -r name s m d <<<"$c"
		case $name in
		a) desc="1 client, 1 msg/conn ($m msgs)" tgt="" ;;
		a-d) desc="1 client, all msgs on 1 conn ($m msgs)" tgt="" ;;
		b) desc="50 clients, 1 msg/conn ($m msgs)" tgt=">=0.33" ;;
		c) desc="50 clients, many msgs/conn -d ($m msgs)" tgt=">=0.50" ;;
		esac
		ratio=$(awk -v a="${rate[sess_$name]}" -v b="${rate[sink_$name]}" \
			'BEGIN { printf "%.3f", a / b }')
		printf '%-44s %10.0f %10.0f %7.2f %7s\n' "$name $desc" \
			"${rate[sess_$name]}" "${rate[sink_$name]}" "$ratio" "$tgt"
	done
	echo "(messages/s; ratio = session / smtp-sink)"
	echo "spool: $stored entries in new/ (expected $expected)," \
		"$leftover left in tmp/"
	echo "idle session after EHLO: $pss (KiB; target PSS < 300)"
	echo "Postfix smtpd as a peer: not measured (needs a private" \
		"Postfix instance)"
} | tee "$out"

if [ "$stored" -ne "$expected" ] || [ "$leftover" -ne 0 ]; then
	echo "bench: spool count wrong" >&2
	exit 1
fi

# spoolerd's drain rate per processor: bench/drain.py (make bench-drain)
