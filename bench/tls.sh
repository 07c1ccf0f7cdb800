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
#   Postfix smtpd (a private instance: config, queue and log under /tmp,
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
pf=""  # the private Postfix config dir, once started

pids=()
cleanup() {
	local p
	if [ -n "$pf" ]; then
		postfix -c "$pf/etc" stop >/dev/null 2>&1 || true
		pf_wait_stopped || true
	fi
	for p in "${pids[@]}"; do
		kill -TERM -- "-$p" 2>/dev/null || true
	done
	sleep 0.2
	for p in "${pids[@]}"; do
		kill -KILL -- "-$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$spool"
	[ -n "$pf" ] && rm -rf "$pf"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # port what
	for _ in $(seq 1 100); do
		if python3 - "$1" <<'EOF' 2>/dev/null; then return 0; fi
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
f = c.makefile("rb")
assert f.readline().startswith(b"220")
c.sendall(b"QUIT\r\n"); f.readline()
EOF
		sleep 0.05
	done
	echo "bench: nothing answers on port $1 ($2)" >&2
	return 1
}

# certificates
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$work/ec.key" -out "$work/ec.crt" -days 30 \
	-subj /CN=mx.test 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/rsa.key" \
	-out "$work/rsa.crt" -days 30 -subj /CN=mx.test 2>/dev/null

# CPU seconds used so far by a process tree: the root and its live
# descendants (user+system), plus what the root and they reaped from
# children that exited (cutime+cstime) -- tcpserver reaps every session,
# Postfix's master every smtpd, cleanup, ...
cat >"$work/cpu.py" <<'EOF'
import os, sys
tck = os.sysconf("SC_CLK_TCK")
kids, stat = {}, {}
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        with open("/proc/%s/stat" % p) as f:
            f = f.read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    stat[int(p)] = sum(int(x) for x in f[11:15])  # utime stime cutime cstime
    kids.setdefault(int(f[1]), []).append(int(p))
total, todo = 0, [int(sys.argv[1])]
while todo:
    p = todo.pop()
    total += stat.get(p, 0)
    todo += kids.get(p, [])
print("%.3f" % (total / tck))
EOF

# the load generator
cat >"$work/load.py" <<'EOF'
"""STARTTLS sessions against 127.0.0.1:PORT: N sessions, CONC at a time,
over PROCS processes. Prints: sessions ok, failures, seconds, the TLS the
client saw."""
import asyncio, os, ssl, sys, time, random
from multiprocessing import Pool

PORT, N, CONC, PROCS = (int(x) for x in sys.argv[1:5])
r = random.Random(5)
head = (b"From: bench@client.test\r\nTo: to@example.com\r\n"
        b"Subject: 5 KB TLS benchmark message\r\n"
        b"Message-ID: <bench@client.test>\r\n\r\n")
body = b""
while len(head) + len(body) < 5120 - 80:
    body += bytes(r.choice(b"abcdefghijklmnopqrstuvwxyz ")
                  for _ in range(72)) + b"\r\n"
MSG = head + body + b"x" * (5120 - len(head) - len(body) - 2) + b"\r\n"
assert len(MSG) == 5120


async def reply(rd):
    while True:
        ln = await rd.readline()
        if not ln:
            raise EOFError("closed")
        if ln[3:4] != b"-":
            return int(ln[:3]), ln


async def cmd(rd, wr, line, want):
    wr.write(line + b"\r\n")
    code, ln = await reply(rd)
    if code != want:
        raise RuntimeError("%r -> %r" % (line, ln))
    return ln


async def one(ctx, seen):
    rd, wr = await asyncio.open_connection("127.0.0.1", PORT)
    try:
        code, ln = await reply(rd)
        if code != 220:
            raise RuntimeError("banner %r" % ln)
        await cmd(rd, wr, b"EHLO load.test", 250)
        await cmd(rd, wr, b"STARTTLS", 220)
        await wr.start_tls(ctx, server_hostname="mx.test")
        obj = wr.get_extra_info("ssl_object")
        seen.add("%s %s" % (obj.version(), obj.cipher()[0]))
        await cmd(rd, wr, b"EHLO load.test", 250)
        await cmd(rd, wr, b"MAIL FROM:<bench@client.test>", 250)
        await cmd(rd, wr, b"RCPT TO:<to@example.com>", 250)
        await cmd(rd, wr, b"DATA", 354)
        ln = await cmd(rd, wr, MSG + b".", 250)
        await cmd(rd, wr, b"QUIT", 221)
    finally:
        wr.close()
        try:
            await wr.wait_closed()
        except Exception:
            pass


async def worker_main(n, conc):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    seen, errs = set(), []
    left = [n]

    async def runner():
        while left[0] > 0:
            left[0] -= 1
            try:
                await asyncio.wait_for(one(ctx, seen), 60)
            except Exception as e:
                errs.append(repr(e)[:120])
    await asyncio.gather(*(runner() for _ in range(conc)))
    return n - len(errs), errs[:3], sorted(seen)


def worker(args):
    return asyncio.run(worker_main(*args))


if __name__ == "__main__":
    shares = [(N // PROCS + (i < N % PROCS), CONC // PROCS + (i < CONC % PROCS))
              for i in range(PROCS)]
    with Pool(PROCS) as pool:
        pool.map(int, [0] * PROCS)  # warm the workers up before the clock
        t0 = time.monotonic()
        res = pool.map(worker, shares)
        dt = time.monotonic() - t0
    ok = sum(r[0] for r in res)
    errs = [e for r in res for e in r[1]]
    seen = sorted(set(s for r in res for s in r[2]))
    print("%d %d %.3f %s" % (ok, N - ok, dt, ",".join(seen).replace(" ", "/")))
    for e in errs[:3]:
        print("error: " + e, file=sys.stderr)
EOF

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
	pids+=($!)
	wait_port "$port" "tcpserver"
done

# (2) a private Postfix instance, one smtpd per certificate
pf_wait_stopped() {
	for _ in $(seq 1 50); do
		postfix -c "$pf/etc" status >/dev/null 2>&1 || return 0
		sleep 0.1
	done
	return 1
}
pf_ec="" pf_rsa=""
pf_start() {
	command -v postfix >/dev/null || {
		echo "postfix not installed"
		return 1
	}
	pf=$(mktemp -d /tmp/smtpd-bench-postfix.XXXXXX)
	chmod 755 "$pf"
	mkdir -p "$pf/etc" "$pf/queue" "$pf/data"
	chown postfix:postfix "$pf/data"
	pf_ec=$(free_port)
	pf_rsa=$(free_port)
	# the stock services without chroot and without the listeners, plus
	# two smtpd listeners with their own certificates
	awk '/^#/ || /^[ \t]/ {next}
	     NF >= 8 { if ($2 == "inet" || $8 == "pipe") next; $5 = "n"; print }' \
		/etc/postfix/master.cf >"$pf/etc/master.cf"
	cat >>"$pf/etc/master.cf" <<EOF
127.0.0.1:$pf_ec inet n - n - - smtpd
  -o smtpd_tls_cert_file=$work/ec.crt -o smtpd_tls_key_file=$work/ec.key
127.0.0.1:$pf_rsa inet n - n - - smtpd
  -o smtpd_tls_cert_file=$work/rsa.crt -o smtpd_tls_key_file=$work/rsa.key
EOF
	cat >"$pf/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.bench
mydestination = example.com
mynetworks = 127.0.0.0/8
local_recipient_maps =
alias_maps =
alias_database =
default_transport = discard
local_transport = discard
relay_transport = discard
smtpd_tls_security_level = may
smtpd_tls_cert_file = $work/ec.crt
smtpd_tls_key_file = $work/ec.key
smtpd_peername_lookup = no
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
default_process_limit = 200
maillog_file_prefixes = /tmp
maillog_file = $pf/maillog
biff = no
smtputf8_enable = no
EOF
	postfix -c "$pf/etc" start >"$work/postfix-start.log" 2>&1 || {
		echo "postfix start failed: $(tail -n 3 "$pf/maillog" 2>/dev/null)"
		return 1
	}
	wait_port "$pf_ec" "postfix" && wait_port "$pf_rsa" "postfix"
}
have_pf=0
if [ "${NO_POSTFIX:-0}" != 1 ]; then
	if pf_start >"$work/pf-start.why" 2>&1; then
		have_pf=1
	else
		echo "bench: Postfix not measured: $(cat "$work/pf-start.why")" >&2
	fi
fi

once() { # port label root-pid -> sessions/s of one run in $r1, server CPU
	# ms per session in $c1, TLS seen in $seen
	local out ok fail dt cpu0 cpu1
	cpu0=$(python3 "$work/cpu.py" "$3")
	out=$(python3 "$work/load.py" "$1" "$N" "$CONC" 2 2>"$work/load.err")
	sleep 0.5 # the last sessions exit and are reaped
	cpu1=$(python3 "$work/cpu.py" "$3")
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
		[ $cert = ec ] && tpid=${pids[0]} || tpid=${pids[1]}
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
				once "$pport" "postfix $cert" "$(tr -d ' ' <"$pf/queue/pid/master.pid")"
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
