#!/bin/bash
# bench/tls.sh - STARTTLS sessions per second (issue 4): each session is
# connect, EHLO, STARTTLS, handshake, EHLO, one 5 KB message (MAIL, RCPT,
# DATA), QUIT, one command at a time, from 50 concurrent clients (a Python
# asyncio load generator using the ssl module, split over 2 processes; no
# TLS session resumption, certificates not verified).
#
# Servers, each with an ECDSA P-256 and an RSA-2048 certificate (made here,
# self-signed, CN mx.test), in the same run:
#   smtpd-session under tcpserver (-l localhost -H -R -b 1024 -c 1000),
#     spool on the normal disk (build/), every message fsync'd before 250
#   Postfix smtpd (a private instance, bench/lib.sh: config, queue, log
#     under build/bench-tls/postfix,
#     127.0.0.1 only, smtpd_tls_security_level=may, delivery to discard(8);
#     its queue files are fsync'd too) -- skipped if it does not start
#
# Each measurement runs N sessions (default 1000) REPS times (default 3)
# (the two servers alternating run by run, so both see the same machine
# load) and prints the median sessions/s and the median of the per-run
# ratios session/Postfix, with the load average (rates on a busy machine
# are not comparable between runs of the script). Output
# to stdout and bench/results/tls-latest.txt.
#
# Environment: SESSION (binary), N, REPS, CONC (default 50), NO_POSTFIX=1.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
SESSION=${SESSION:-$top/smtpd-session/smtpd-session}
N=${N:-1000}
REPS=${REPS:-3}
CONC=${CONC:-50}
PATH=$PATH:/usr/sbin:/sbin

for t in tcpserver python3 openssl; do
	command -v "$t" >/dev/null || {
		echo "bench: $t not found (make deps)" >&2
		exit 1
	}
done
[ -x "$SESSION" ] || {
	echo "bench: $SESSION not built (make)" >&2
	exit 1
}

work=$top/build/bench-tls
rm -rf "$work"
mkdir -p "$work" "$top/bench/results"
cp "$SESSION" "$work/smtpd-session" # a rebuild cannot break an exec
SESSION=$work/smtpd-session
spool=$work/spool
mkdir -p "$spool"/{tmp,new,cur,failed}
. "$top/bench/lib.sh"
bench_atexit() { rm -rf "$spool"; }
bench_trap
# wait_port PORT WHAT: a 220 banner on PORT
wait_port() { wait_banner "$1" || { echo "bench: ($2)" >&2; return 1; }; }

# certificates
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$work/ec.key" -out "$work/ec.crt" -days 30 \
	-subj /CN=mx.test 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/rsa.key" \
	-out "$work/rsa.crt" -days 30 -subj /CN=mx.test 2>/dev/null

# the load generator: bench/tlsload.py; server CPU: bench/cputree.py

# (1) smtpd-session under tcpserver: one config, one entry per certificate
p_ec=$(free_port)
p_rsa=$(free_port)
conf=$work/smtpd.json
cat >"$conf" <<EOF
// TLS benchmark: spool on the normal disk
{"allowed_hosts": ["example.com"], "spool_dir": "$spool",
 "log_file": "$work/session.log", "log_level": "info",
 "servers": [
  {"host_name": "mx.bench", "timeout": 30, "listen_interface": "127.0.0.1:$p_ec",
   "max_clients": 1000, "spool_min_free": 0,
   "tls": {"start_tls_on": true, "public_key_file": "$work/ec.crt",
           "private_key_file": "$work/ec.key"}},
  {"host_name": "mx.bench", "timeout": 30, "listen_interface": "127.0.0.1:$p_rsa",
   "max_clients": 1000, "spool_min_free": 0,
   "tls": {"start_tls_on": true, "public_key_file": "$work/rsa.crt",
           "private_key_file": "$work/rsa.key"}}]}
EOF
"$SESSION" -c "$conf" --check-config >/dev/null
for port in "$p_ec" "$p_rsa"; do
	setsid tcpserver -l localhost -H -R -b 1024 -c 1000 127.0.0.1 "$port" \
		"$SESSION" -c "$conf" >>"$work/tcpserver.err" 2>&1 &
	BENCH_PIDS+=($!)
	wait_port "$port" "tcpserver"
done

# (2) a private Postfix instance (bench/lib.sh), one smtpd per certificate
pf_ec="" pf_rsa=""
pf_tls_start() {
	pf_available || {
		echo "postfix not installed"
		return 1
	}
	pf_ec=$(free_port)
	pf_rsa=$(free_port)
	chmod 755 "$work"
	PF_TLS="$pf_ec:$work/ec.crt:$work/ec.key $pf_rsa:$work/rsa.crt:$work/rsa.key" \
		pf_start "$work" "$(free_port)" &&
		wait_port "$pf_ec" "postfix" && wait_port "$pf_rsa" "postfix"
}
have_pf=0
if [ "${NO_POSTFIX:-0}" != 1 ]; then
	if pf_tls_start >"$work/pf-start.why" 2>&1; then
		have_pf=1
	else
		echo "bench: Postfix not measured: $(cat "$work/pf-start.why")" >&2
	fi
fi

once() { # port label root-pid -> sessions/s of one run in $r1, server CPU
	# ms per session in $c1, TLS seen in $seen
	local out ok fail dt cpu0 cpu1
	cpu0=$(python3 "$top/bench/cputree.py" "$3")
	out=$(python3 "$top/bench/tlsload.py" "$1" "$N" "$CONC" 2 2>"$work/load.err")
	sleep 0.5 # the last sessions exit and are reaped
	cpu1=$(python3 "$top/bench/cputree.py" "$3")
	c1=$(python3 -c "print('%.2f' % (($cpu1 - $cpu0) * 1000 / $N))")
	read -r ok fail dt seen <<<"$out"
	if [ "$fail" != 0 ]; then
		echo "bench: $2: $fail of $N sessions failed:" >&2
		cat "$work/load.err" >&2
	fi
	r1=$(python3 -c "print('%.1f' % ($ok / $dt))")
}

median() {
	printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"
}

out=$top/bench/results/tls-latest.txt
{
	echo "# bench/tls.sh $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores," \
		"load average $(cut -d' ' -f1-3 /proc/loadavg):" \
		"STARTTLS sessions/s, $N sessions x $REPS runs, $CONC concurrent," \
		"5 KB message each; the servers alternate run by run; median (all runs)"
	printf '%-6s %-34s %10s  %-24s %s\n' cert server "sessions/s" runs "TLS seen by the client"
	for cert in ec rsa; do
		[ $cert = ec ] && port=$p_ec || port=$p_rsa
		[ $cert = ec ] && pport=$pf_ec || pport=$pf_rsa
		[ $cert = ec ] && tpid=${BENCH_PIDS[0]} || tpid=${BENCH_PIDS[1]}
		ours=() theirs=() ratios=() stored=0 cours=() ctheirs=()
		for _ in $(seq 1 "$REPS"); do
			once "$port" "smtpd-session $cert" "$tpid"
			ours+=("$r1")
			cours+=("$c1")
			seen_ours=$seen
			n=$(find "$spool/new" -type f | wc -l)
			stored=$((stored + n))
			find "$spool/new" -type f -delete
			if [ $have_pf = 1 ]; then
				once "$pport" "postfix $cert" "$PF_PID"
				theirs+=("$r1")
				ctheirs+=("$c1")
				seen_pf=$seen
				ratios+=("$(python3 -c "print('%.2f' % (${ours[-1]} / $r1))")")
			fi
		done
		printf '%-6s %-34s %10s  %-24s %s\n' "$cert" "smtpd-session (tcpserver)" \
			"$(median "${ours[@]}")" "(${ours[*]})" "$seen_ours"
		echo "#        server CPU ms/session $(median "${cours[@]}") (${cours[*]});" \
			"spool/new gained $stored entries for $((N * REPS)) sessions"
		if [ $have_pf = 1 ]; then
			printf '%-6s %-34s %10s  %-24s %s\n' "$cert" "postfix smtpd (discard)" \
				"$(median "${theirs[@]}")" "(${theirs[*]})" "$seen_pf"
			echo "#        server CPU ms/session $(median "${ctheirs[@]}") (${ctheirs[*]})" \
				"(master and all its children)"
			printf '%-6s %-34s %10s  %-24s\n' "$cert" "ratio smtpd-session / postfix" \
				"$(median "${ratios[@]}")" "(${ratios[*]})"
		fi
	done
	[ $have_pf = 1 ] || echo "# Postfix smtpd not measured (see stderr)"
	echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out"
