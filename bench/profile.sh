#!/bin/bash
# bench/profile.sh - what each directive of smtpd-session@.service costs
# per connection under systemd Accept=yes, and what it is worth in
# `systemd-analyze security --offline=true`, side by side with Postfix's
# smtpd in one run.
#
# Variants of the installed unit (each replaces the unit file in turn, so
# a left-out directive is really absent, not reset by a drop-in):
#
#   default            the unit as shipped
#   -KEY               the default without every KEY= line, for each
#                      directive of [Service] but ExecStart, Standard*,
#                      User and Group (what the session cannot run without)
#   -seccomp, -cgroup, bare
#                      groups of them removed at once
#   +KEY=VALUE         the default with one directive added (the candidates
#                      for a better score)
#   profile ...        the candidate profiles named in the script
#
# Each variant: connections/s, one client, one short message per
# connection (EHLO, MAIL, RCPT, DATA, QUIT; spoolerd delivers to a
# maildir meanwhile), the median time from connect() to the 220 banner,
# and the CPU time of the whole container (systemd, journald, the
# sessions, spoolerd; not the client) per connection, which a shared
# machine disturbs far less than the rate, in a systemd-nspawn container with systemd as PID 1
# (tests/systemd/lib.sh, inside.py units), in ROUNDS rounds that each
# measure every variant once; the median over the rounds is printed.
# Postfix's smtpd (bench/postfix.sh) is measured by the same client on
# this machine right before and right after the container run. Traffic is
# loopback only (the container has its own network namespace).
#
# Environment: N (connections per cell, default 100), ROUNDS (3), BUDGET
# (seconds of measuring inside the container, default 420; the container
# is killed BUDGET+120 s after it starts). Needs root, systemd-nspawn,
# debootstrap, openssl, postfix. Output: stdout and
# bench/results/profile.txt.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
N=${N:-100}
ROUNDS=${ROUNDS:-3}
BUDGET=${BUDGET:-420}
PF_N=${PF_N:-400}
PATH=$PATH:/usr/sbin:/sbin
export NS_TIMEOUT=$((BUDGET + 120))
. "$top/tests/systemd/lib.sh"
. "$top/bench/postfix.sh"

for c in systemd-nspawn systemd-analyze debootstrap openssl; do
	command -v "$c" >/dev/null || { echo "# $c missing: skipped" >&2; exit 0; }
done
[ "$(id -u)" = 0 ] || { echo "# needs root: skipped" >&2; exit 0; }

work=$(mktemp -d /tmp/smtpd-profile.XXXXXX)
chmod 0755 "$work"
cleanup() {
	pf_stop
	# a container still running: its timeout(1), in a process group of
	# its own, forwards the TERM to nspawn
	if [ -n "${tpid:-}" ] && kill -0 "$tpid" 2>/dev/null; then
		kill -TERM "$tpid"
		for _ in $(seq 1 100); do
			kill -0 "$tpid" 2>/dev/null || break
			sleep 0.2
		done
	fi
	ns_clean "$work/ns" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# sid_ticks SID: CPU clock ticks of the processes of session SID, with
# the children they reaped
sid_ticks() {
	python3 - "$1" <<'EOF'
import os, sys
t = 0
for d in os.listdir("/proc"):
    try:
        f = open("/proc/%s/stat" % d).read().rpartition(")")[2].split()
    except (OSError, ValueError):
        continue
    if f[3] == sys.argv[1]:
        t += sum(int(x) for x in f[11:15])
print(t)
EOF
}
pf_rate() { # label
	local port out c0 c1
	pf_available || return 0
	port=$(free_port)
	if pf_start "$work" "$port"; then
		c0=$(sid_ticks "$PF_PID")
		out=$(RESULTS=$work python3 tests/systemd/inside.py rate \
			"$port" "$PF_N" 1 2>>"$work/rate.err")
		c1=$(sid_ticks "$PF_PID")
		echo "$1 ${out%% *}" >>"$work/postfix.txt"
		echo "cpu-$1 $(((c1 - c0) * 10000 / $(getconf CLK_TCK) / PF_N))" \
			>>"$work/postfix.txt"
		echo "# postfix smtpd ($1): ${out%% *} conn/s" >&2
	fi
	pf_stop
	rm -rf "$work/postfix"
}

# --- the variants and their scores, from the installed unit --------------
sroot=$work/sroot
make -s -o smtpd-session/smtpd-session -o spoolerd/spoolerd install \
	DESTDIR="$sroot" PREFIX=/usr >"$work/install.log" 2>&1 || {
	cat "$work/install.log" >&2
	exit 1
}
unit=$(find "$sroot" -name 'smtpd-session@.service' -type f | head -n1)
python3 - "$unit" "$work/variants.json" <<'EOF'
import json, re, sys
text = open(sys.argv[1]).read()
lines = text.splitlines(True)
keep = {"ExecStart", "StandardInput", "StandardOutput", "StandardError",
        "User", "Group"}
keys, sect = [], None
for l in lines:
    m = re.match(r"\[(\w+)\]", l)
    if m:
        sect = m.group(1)
    m = re.match(r"(\w+)=", l)
    if m and sect == "Service" and m.group(1) not in keep and \
            m.group(1) not in keys:
        keys.append(m.group(1))


def without(*ks):
    return "".join(l for l in lines
                   if not re.match(r"(%s)=" % "|".join(ks), l))


def plus(*extra):
    return text.rstrip("\n") + "\n" + "".join(e + "\n" for e in extra)


seccomp = ["RestrictAddressFamilies", "RestrictNamespaces",
           "RestrictRealtime", "RestrictSUIDSGID", "LockPersonality",
           "MemoryDenyWriteExecute", "SystemCallArchitectures"]
scf = ["SystemCallFilter=@system-service",
       "SystemCallFilter=~@privileged @resources",
       "SystemCallErrorNumber=EPERM"]
v = [["default", text]]
v += [["-" + k, without(k)] for k in keys]
v += [["-seccomp (the 7 seccomp-based options)", without(*seccomp)],
      ["-MemoryMax -TasksMax", without("MemoryMax", "TasksMax")],
      ["-LoadCredential -MemoryMax -TasksMax",
       without("LoadCredential", "MemoryMax", "TasksMax")],
      ["bare (ExecStart, Standard*, User, Group)", without(*keys)],
      ["+SystemCallFilter=@system-service ~@privileged @resources",
       plus(*scf)],
      ["+SystemCallFilter=~@clock @cpu-emulation @debug @module @mount "
       "@obsolete @privileged @raw-io @reboot @resources @swap",
       plus("SystemCallFilter=~@clock @cpu-emulation @debug @module "
            "@mount @obsolete @privileged @raw-io @reboot @resources @swap",
            "SystemCallErrorNumber=EPERM")],
      ["+IPAddressDeny=any", plus("IPAddressDeny=any")],
      ["+DevicePolicy=closed", plus("DevicePolicy=closed")],
      ["+PrivateUsers=yes", plus("PrivateUsers=yes")],
      ["+ProtectHostname=yes", plus("ProtectHostname=yes")],
      ["+ProtectClock=yes", plus("ProtectClock=yes")],
      ["+PrivateNetwork=yes", plus("PrivateNetwork=yes")],
      ["StandardError=null (no journal stream; not a profile)",
       without("StandardError") + "StandardError=null\n"],
      ["smtpd-tcpserver.service (no unit per connection: the floor)",
       None]]
# the default again after every 4 variants: the load of a shared machine
# drifts, so each variant is compared with the defaults next to it
w = []
for i, x in enumerate(v):
    w.append(x)
    if i % 4 == 0 and i < len(v) - 1:
        w.append(["default", text])
json.dump(w, open(sys.argv[2], "w"))
EOF
python3 - "$work/variants.json" "$unit" "$sroot" >"$work/scores.json" <<'EOF'
import json, re, subprocess, sys
vs = json.load(open(sys.argv[1]))
orig = open(sys.argv[2]).read()
out = {}
for name, text in vs:
    if text is None:
        continue
    open(sys.argv[2], "w").write(text)
    r = subprocess.run(["systemd-analyze", "security", "--offline=true",
                        "--root=" + sys.argv[3], "smtpd-session@i.service"],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)",
                  r.stdout + r.stderr)
    out[name] = float(m.group(1)) if m else None
open(sys.argv[2], "w").write(orig)
json.dump(out, sys.stdout)
EOF

# --- measure: the variants under systemd, and Postfix in between ---------
# Postfix runs from this machine's files in the container's network
# namespace (nsenter -n), so the client inside measures it in the same
# rounds as the variants; before that, once on this machine as a check.
pf_rate host
pf_port=$(free_port)
if ns_base && ns_root "$work/ns" units; then
	python3 - "$work/variants.json" "$N" "$ROUNDS" "$BUDGET" "$pf_port" \
		"$(pf_available && echo 1)" >"$work/ns/results/units.json" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
if sys.argv[6]:
    pf = ["Postfix smtpd (master, discard transport)",
          {"port": int(sys.argv[5])}]
    v.insert(0, pf)
    v.insert(len(v) // 2, pf)
print(json.dumps({"variants": v, "n": int(sys.argv[2]),
                  "rounds": int(sys.argv[3]), "budget": int(sys.argv[4])}))
EOF
	start=$SECONDS
	ns_boot "$work/ns" &
	boot=$!
	init=
	for _ in $(seq 1 100); do
		[ -n "${tpid:-}" ] || tpid=$(pgrep -P "$boot" -x timeout)
		nsp=$(pgrep -f "^systemd-nspawn -q -b -D $work/ns/root" | head -n1)
		[ -n "$nsp" ] && init=$(pgrep -P "$nsp" | head -n1)
		[ -n "$init" ] && [ "$(cat "/proc/$init/comm")" = systemd ] &&
			[ "$(readlink "/proc/$init/ns/net")" != \
				"$(readlink /proc/self/ns/net)" ] && break
		init=
		sleep 0.2
	done
	if [ -n "$init" ] && pf_available; then
		PF_WRAP="nsenter -t $init -n --" pf_start "$work" "$pf_port" &&
			c0=$(sid_ticks "$PF_PID")
	fi
	wait "$boot"
	tpid=
	if [ -n "${PF_PID:-}" ]; then
		c1=$(sid_ticks "$PF_PID")
		echo "cpu-total $((c1 - c0))" >>"$work/postfix.txt"
	fi
	pf_stop
	echo "# container ran $((SECONDS - start)) s" >&2
	[ -s "$work/ns/results/units-rates.json" ] || {
		echo "# the container run failed: $work/ns/boot.log" >&2
		tail -n 20 "$work/ns/results/log" "$work/ns/boot.log" >&2
	}
	cp "$work/ns/results/units-rates.json" "$work/rates.json" 2>/dev/null
fi

# --- the table -------------------------------------------------------------
mkdir -p bench/results
python3 - "$work/variants.json" "$work/scores.json" "$work/rates.json" \
	"$work/postfix.txt" "$N" <<'EOF' | tee bench/results/profile.txt
import json, os, statistics, subprocess, sys
vs = list(dict.fromkeys(n for n, _ in json.load(open(sys.argv[1]))))
sc = json.load(open(sys.argv[2]))
seq = json.load(open(sys.argv[3])) if os.path.exists(sys.argv[3]) else []
seq = [x for x in seq if x[4] == 0]
pf = {}
if os.path.exists(sys.argv[4]):
    for l in open(sys.argv[4]):
        k, _, v = l.partition(" ")
        try:
            pf[k] = float(v)
        except ValueError:
            pass
PF = "Postfix smtpd (master, discard transport)"

# each measurement against the defaults right before and after it
near = []
for i, x in enumerate(seq):
    ref = []
    for step in (-1, 1):
        j = i + step
        while 0 <= j < len(seq) and seq[j][0] == x[0]:
            if seq[j][1] == "default" and j != i:
                ref.append(seq[j])
                break
            j += step
    near.append(ref)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def col(name, f):
    return med([f(x, near[i]) for i, x in enumerate(seq) if x[1] == name])


def rel_rate(x, ref):
    return x[2] / statistics.mean(r[2] for r in ref) if ref else None


def rel_cpu(x, ref):
    return x[5]["all"] - statistics.mean(r[5]["all"] for r in ref) \
        if ref else None


if any(x[1] == PF for x in seq):
    vs.insert(0, PF)
pfm = col(PF, lambda x, r: x[2]) or pf.get("host")
npf = sum(1 for x in seq if x[1] == PF)
pfc = pf["cpu-total"] * 1000.0 / os.sysconf("SC_CLK_TCK") / npf / \
    int(sys.argv[5]) if npf and "cpu-total" in pf else None


def f1(x, fmt="%.1f"):
    return fmt % x if x is not None else "-"


rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                     capture_output=True, text=True).stdout.strip()
un = os.uname()
print("smtpd-session@.service, one directive at a time: systemd-analyze "
      "security --offline=true, and 1 client, one message per connection, "
      "under systemd %s as PID 1 (nspawn); medians of %d rounds, N=%s "
      "connections each" % (
          subprocess.run(["systemctl", "--version"], capture_output=True,
                         text=True).stdout.split()[1],
          len({x[0] for x in seq}), sys.argv[5]))
print("commit %s, %s %s, %d CPUs, load %s, %s" % (
    rev, un.sysname, un.release, os.cpu_count(),
    open("/proc/loadavg").read().split()[0],
    subprocess.run(["date", "-u", "+%Y-%m-%dT%H:%MZ"], capture_output=True,
                   text=True).stdout.strip()))
dr = col("default", lambda x, r: x[2])
print("Postfix smtpd, same client, 1 client: %s conn/s in the container's "
      "network namespace, %s ms CPU per connection (master and its "
      "children); %s conn/s, %s ms on this machine before the run" % (
          f1(pfm, "%.0f"), f1(pfc), f1(pf.get("host"), "%.0f"),
          f1(pf["cpu-host"] / 10 if "cpu-host" in pf else None)))
print("default profile: %s conn/s = %s x Postfix" % (
    f1(dr, "%.0f"), f1(dr / pfm if dr and pfm else None, "%.2f")))
print()
print("n: measurements; rate, CPU: medians over them; \"vs default\": "
      "against the default measured next to it. CPU: ms per connection, the whole container but the "
      "client; PID 1 = the manager, sessions = its children (sandbox "
      "set-up in the forked child, then smtpd-session)")
print()
print("| variant | score | n | conn/s | x Postfix | vs default | banner ms "
      "| CPU ms | vs default | PID 1 | sessions | journald | spoolerd "
      "| other |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for n in vs:
    part = lambda k: col(n, lambda x, r: x[5].get(k, 0))
    rate = col(n, lambda x, r: x[2])
    rr = col(n, rel_rate) if n not in ("default", PF) else None
    cr = col(n, rel_cpu) if n not in ("default", PF) else None
    cpu = (lambda k: f1(part(k))) if n != PF else (lambda k: "-")
    print("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s "
          "| %s | %s |" % (
              n, sc.get(n) if sc.get(n) is not None else "-",
              sum(1 for x in seq if x[1] == n),
              f1(rate, "%.0f"), f1(rate / pfm if rate and pfm else None,
                                   "%.2f"),
              "%+.0f%%" % (100 * (rr - 1)) if rr else "-",
              f1(col(n, lambda x, r: x[3])),
              cpu("all") if n != PF else f1(pfc), f1(cr, "%+.1f"),
              cpu("pid1"), cpu("sessions"), cpu("systemd-journal"),
              cpu("spoolerd"), cpu("other")))
others = {}
for x in seq:
    for k, v in x[5].items():
        if k.startswith("~"):
            others.setdefault(k[1:], []).append(v)
if others:
    print()
    print("other, median ms per connection: " + ", ".join(
        "%s %.1f" % (k, statistics.median(v)) for k, v in sorted(
            others.items(), key=lambda kv: -statistics.median(kv[1]))[:6]))
EOF
