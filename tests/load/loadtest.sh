#!/bin/bash
# loadtest.sh - `make loadtest`: the chaos load against the real stack,
# a profile, and a bottleneck report. Everything runs on 127.0.0.1 and
# stops by itself.
#
#   CLIENTS (5000)   concurrent client slots of the generator
#   DURATION (60)    seconds of load in the main phase
#   PROFILE (auto)   perf | callgrind | none (auto: perf if it samples)
#   LIMITS (1)       run phase 2 (max_clients below CLIENTS)
#   LAUNCHER (tcpserver)  accept: the accept mode instead (stack.sh)
#   LIMITS_STRICT (1)  0: a failed limit check (session age, a session
#                    closing without a reply, max_clients, timeouts) is
#                    reported but does not fail the run; lost, duplicated
#                    or corrupted messages and crashes always do
#   OUT (build/loadtest)  where the work tree, data and report go
#   GEN_SCHED (rt)   the generator's scheduling: rt (SCHED_FIFO 10 via
#                    chrt, else nice -10, else as it is), nice, or none
#   GEN_ARGS         more generator options for phase 1, after ours
#                    (bench/targets.sh: "--tls 0 --misbehave 0 ..." for
#                    the run side by side with smtp-sink)
#   LAUNCHER (tcpserver)  accept: smtpd-session's own accept mode
#                    (--listen) instead of tcpserver (stack.sh); the
#                    report's "tcpserver" rows are then the parent's
#
# Phase 1 (main): tcpserver -c CLIENTS+100, max_clients CLIENTS+100,
#   timeout 10 s, max_session_time 45 s; the generator with CLIENTS slots
#   for DURATION s; `perf record -a -g` over the middle of it; then the
#   spool must drain and every maildir is checked.
# Phase 2 (limits): the same running stack, config rewritten (sessions
#   read it per connection) to max_clients CLIENTS/5 and
#   max_session_time 15 s; CLIENTS slots that hold their sessions open
#   with NOOPs: the excess must get 421 4.7.0, no more than max_clients
#   sessions may be open at once, and none may outlive 15 s (+ slack).
#
# Writes OUT/report.md (and OUT/flame.svg with perf). The last line is
# "accepted N, lost L, duplicated D, corrupted C" over both phases; the
# exit status is 0 only if L, D and C are 0, no session crashed, the
# spool drained, and (unless LIMITS_STRICT=0) the limits held.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
CLIENTS=${CLIENTS:-5000}
DURATION=${DURATION:-60}
PROFILE=${PROFILE:-auto}
LIMITS=${LIMITS:-1}
OUT=${OUT:-$top/build/loadtest}
LOADGEN=${LOADGEN:-$top/build/load/loadgen}
case $LOADGEN in /*) ;; *) LOADGEN=$top/$LOADGEN ;; esac
TIMEOUT=10
SESSION_TIME=45

LAUNCHER=${LAUNCHER:-tcpserver}
case $LAUNCHER in
tcpserver | accept) ;;
*)
	echo "loadtest: LAUNCHER=$LAUNCHER: tcpserver or accept" >&2
	exit 2
	;;
esac
export LAUNCHER
for t in tcpserver openssl python3; do
	command -v "$t" >/dev/null || {
		echo "loadtest: $t not found (make deps)" >&2
		exit 2
	}
done
[ -x "$LOADGEN" ] || {
	echo "loadtest: $LOADGEN not built (make loadgen)" >&2
	exit 2
}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((CLIENTS + 200)) ] || {
	echo "loadtest: need $((CLIENTS + 200)) file descriptors," \
		"have $(ulimit -n)" >&2
	exit 2
}

rm -rf "$OUT"
mkdir -p "$OUT"
log() { echo "loadtest: $*" | tee -a "$OUT/loadtest.log" >&2; }

# the generator's scheduling (tests/load/gensched.sh)
. "$top/tests/load/gensched.sh"
gen_sched "${GEN_SCHED:-rt}" || {
	echo "loadtest: GEN_SCHED=$GEN_SCHED: rt, nice or none" >&2
	exit 2
}
read -r -a GEN_EXTRA <<<"${GEN_ARGS:-}"

# the profiler
if [ "$PROFILE" = auto ]; then
	PROFILE=none
	if command -v perf >/dev/null &&
		perf record -q -e cpu-clock -o "$OUT/perf-probe.data" -- true \
			>/dev/null 2>&1; then
		PROFILE=perf
	elif command -v valgrind >/dev/null; then
		PROFILE=callgrind
	fi
	rm -f "$OUT/perf-probe.data"
fi
log "$CLIENTS clients, $DURATION s, profile: $PROFILE"

# binaries under test: the committed HEAD (git archive; other work in
# progress in the tree cannot break the run), built -O2 with frame
# pointers so that perf's call stacks through our code are whole.
# LOADTEST_TREE=work: the working tree's binaries (make all) instead.
src=$top/build/loadprof-src
if [ "${LOADTEST_TREE:-head}" = head ] && rm -rf "$src" && mkdir -p "$src" &&
	git -C "$top" archive HEAD | tar -x -C "$src" &&
	make -s -C "$src" CFLAGS=-fno-omit-frame-pointer \
		smtpd-session/smtpd-session spoolerd/spoolerd \
		>"$OUT/build.log" 2>&1; then
	export SMTPD_SESSION=$src/smtpd-session/smtpd-session
	export SPOOLERD=$src/spoolerd/spoolerd
	echo "commit $(git -C "$top" rev-parse --short HEAD), -O2 -g -fno-omit-frame-pointer (build/loadprof-src)" >"$OUT/binaries.txt"
else
	[ "${LOADTEST_TREE:-head}" = head ] &&
		log "building HEAD failed (see $OUT/build.log): the working tree's binaries"
	make -s -C "$top" all >>"$OUT/build.log" 2>&1 ||
		log "make all failed: testing the binaries already built"
	export SMTPD_SESSION=$top/smtpd-session/smtpd-session
	export SPOOLERD=$top/spoolerd/spoolerd
	echo "working tree, -O2 -g (the normal build)" >"$OUT/binaries.txt"
fi

. "$top/tests/load/stack.sh"
PERF_PID=
cleanup() {
	[ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null
	stack_stop
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stack_init "$OUT/work" || exit 2
{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host: $(nproc) cpus, $(awk '/MemTotal/ {print int($2/1024) " MiB"}' /proc/meminfo), kernel $(uname -r)"
	echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
	echo "fs: $(df -T "$WORK" | awk 'NR==2 {print $2}')"
	echo "launcher: $LAUNCHER"
	echo "tcpserver: $(dpkg-query -W -f '${Package} ${Version}' ucspi-tcp-ipv6 2>/dev/null)"
	echo "gnutls: $(pkg-config --modversion gnutls)"
	echo "binaries: $(cat "$OUT/binaries.txt")"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "generator scheduling: $GEN_DESC${GEN_ARGS:+; phase 1 options added: $GEN_ARGS}"
} >"$OUT/env.txt"

netstat_snap() { # file
	python3 - "$1" <<'EOF'
import json, sys
out = {}
with open("/proc/net/netstat") as f:
    lines = f.read().splitlines()
for i in range(0, len(lines) - 1, 2):
    k, v = lines[i].split(), lines[i + 1].split()
    if k[0] == "TcpExt:":
        for a, b in zip(k[1:], v[1:]):
            out[a] = int(b)
json.dump(out, open(sys.argv[1], "w"))
EOF
}

# durable write cost on this file system: what a session pays per
# accepted message (entry) and spoolerd per delivered copy
fsync_probe() { # output file
python3 - "$WORK" >"$1" <<'EOF'
import json, os, sys, time
d = os.path.join(sys.argv[1], "fsync-probe")
os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
os.makedirs(os.path.join(d, "new"), exist_ok=True)
dfd = os.open(os.path.join(d, "new"), os.O_RDONLY | os.O_DIRECTORY)
data = os.urandom(4096)
ts = []
for i in range(200):
    t0 = time.monotonic()
    p = os.path.join(d, "tmp", str(i))
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, data)
    os.fsync(fd)
    os.close(fd)
    os.rename(p, os.path.join(d, "new", str(i)))
    os.fsync(dfd)
    ts.append(time.monotonic() - t0)
ts.sort()
print(json.dumps({"n": len(ts), "p50_ms": ts[len(ts) // 2] * 1e3,
                  "p90_ms": ts[int(len(ts) * 0.9)] * 1e3,
                  "mean_ms": sum(ts) / len(ts) * 1e3}))
EOF
rm -rf "$WORK/fsync-probe"
}

cpu_ticks() { # pid: utime+stime in clock ticks
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

stack_config $((CLIENTS + 100)) $TIMEOUT $SESSION_TIME
stack_start $((CLIENTS + 100)) || exit 2
fsync_probe "$OUT/fsync-before.json"
echo "$(cpu_ticks "$SPOOLERD_PID") $(cpu_ticks "$TCP_PID")" >"$OUT/cpu-0.txt"

# ---------- phase 1: the main load ----------
ramp=$(awk -v d="$DURATION" 'BEGIN { printf "%d", d / 6 }')
netstat_snap "$OUT/netstat-main-0.json"
log "phase 1: $CLIENTS clients for $DURATION s (port $PORT), generator: $GEN_DESC"
"${GEN[@]}" "$LOADGEN" --label main --port "$PORT" --clients "$CLIENTS" \
	--duration "$DURATION" --ramp "$ramp" --timeout $TIMEOUT \
	--session-time $SESSION_TIME --grace 60 \
	--spool "$WORK/spool" --maildir "$WORK/mail" \
	--launcher-pid "$TCP_PID" --spoolerd-pid "$SPOOLERD_PID" \
	--json "$OUT/main.json" --journal "$OUT/main-journal.tsv" \
	--log "$OUT/main-gen.log" "${GEN_EXTRA[@]}" >"$OUT/main.out" 2>&1 &
gen_pid=$!
echo "$gen_pid" >"$OUT/loadgen-main.pid"
if [ "$PROFILE" = perf ]; then
	# the middle of the load: after the ramp, at most 30 s
	psecs=$(awk -v d="$DURATION" -v r="$ramp" 'BEGIN { s = d - r - 2; if (s > 30) s = 30; if (s < 3) s = 3; print int(s) }')
	sleep "$ramp"
	head -1 /proc/stat >"$OUT/stat-0.txt"
	date +%s.%N >"$OUT/perf-window.txt"
	perf record -a -g -F 499 -e cpu-clock -o "$OUT/perf.data" \
		-- sleep "$psecs" >"$OUT/perf-record.log" 2>&1 &
	PERF_PID=$!
	wait "$PERF_PID"
	PERF_PID=
	date +%s.%N >>"$OUT/perf-window.txt"
	head -1 /proc/stat >"$OUT/stat-1.txt"
fi
wait "$gen_pid"
main_rc=$?
netstat_snap "$OUT/netstat-main-1.json"
echo "$(cpu_ticks "$SPOOLERD_PID") $(cpu_ticks "$TCP_PID")" >"$OUT/cpu-1.txt"
tee -a "$OUT/loadtest.log" <"$OUT/main.out" >&2
stack_alive || log "a server process exited during phase 1"

# ---------- phase 2: limits ----------
if [ "$LIMITS" = 1 ]; then
	# phase 1's mail out of the way (the spool has drained; spoolerd
	# makes maildirs on demand), so each phase checks its own
	mv "$WORK/mail" "$WORK/mail-main" && mkdir "$WORK/mail"
	maxc=$((CLIENTS / 5))
	[ "$maxc" -lt 10 ] && maxc=10
	stack_config "$maxc" $TIMEOUT 15 ||
		log "the launcher did not take the limits config"
	netstat_snap "$OUT/netstat-limits-0.json"
	log "phase 2: $CLIENTS clients holding sessions, max_clients $maxc," \
		"max_session_time 15 s, 30 s"
	"${GEN[@]}" "$LOADGEN" --label limits --port "$PORT" --clients "$CLIENTS" \
		--duration 30 --ramp 5 --grace 40 --timeout $TIMEOUT \
		--session-time 15 --hold 3 --msgs 2 --expect-full \
		--misbehave 0.05 --tls 0.3 --large 0 --medium 0.05 \
		--conn-think-ms 2000 \
		--spool "$WORK/spool" --maildir "$WORK/mail" \
		--launcher-pid "$TCP_PID" --spoolerd-pid "$SPOOLERD_PID" \
		--json "$OUT/limits.json" --journal "$OUT/limits-journal.tsv" \
		--log "$OUT/limits-gen.log" >"$OUT/limits.out" 2>&1
	limits_rc=$?
	netstat_snap "$OUT/netstat-limits-1.json"
	tee -a "$OUT/loadtest.log" <"$OUT/limits.out" >&2
	echo "$maxc" >"$OUT/limits-max-clients.txt"
else
	limits_rc=0
fi
stack_alive || log "a server process exited during the run"


fsync_probe "$OUT/fsync.json"
stack_crashes >"$OUT/crashes.txt"
stack_exits >"$OUT/exits.txt"
stack_sessions >"$OUT/session-pids.txt"
wc -l <"$OUT/session-pids.txt" >"$OUT/sessions.txt"
pids_extra="$TCP_PID $SPOOLERD_PID"
stack_stop

# ---------- profile ----------
if [ "$PROFILE" = perf ] && [ -s "$OUT/perf.data" ]; then
	log "reading the profile"
	perf script -i "$OUT/perf.data" --show-task-events \
		-F comm,pid,tid,period,ip,sym,dso \
		>"$OUT/perf.script" 2>"$OUT/perf-script.err"
elif [ "$PROFILE" = callgrind ]; then
	log "callgrind: a small run (20 clients, 10 s) under valgrind"
	CG=$OUT/callgrind
	mkdir -p "$CG"
	stack_init "$OUT/work-cg" || exit 2
	stack_config 200 $TIMEOUT $SESSION_TIME
	SESSION_WRAP="valgrind --tool=callgrind --callgrind-out-file=$CG/session.%p" \
		SPOOLERD_WRAP="valgrind --tool=callgrind --callgrind-out-file=$CG/spoolerd.%p" \
		stack_start 200 || exit 2
	"$LOADGEN" --label callgrind --port "$PORT" --clients 20 \
		--duration 10 --ramp 2 --timeout $TIMEOUT --misbehave 0 \
		--spool "$WORK/spool" --maildir "$WORK/mail" \
		--drain-timeout 120 --json "$OUT/callgrind.json" \
		>"$OUT/callgrind.out" 2>&1
	stack_stop
	for f in "$CG"/*; do
		callgrind_annotate --inclusive=yes "$f" >"$f.txt" 2>/dev/null
	done
fi

python3 "$top/tests/load/report.py" --out "$OUT" --profile "$PROFILE" \
	--strict-limits "${LIMITS_STRICT:-1}" \
	--pids "$pids_extra $(cat "$OUT/loadgen-main.pid")"
rep_rc=$?
[ -f "$OUT/report.md" ] && log "report: $OUT/report.md"

# the verdict
python3 - "$OUT" "$main_rc" "$limits_rc" "$rep_rc" <<'EOF'
import json, os, sys
out, main_rc, limits_rc, rep_rc = sys.argv[1], *map(int, sys.argv[2:])
a = l = d = c = 0
for ph in ("main", "limits"):
    p = os.path.join(out, ph + ".json")
    if os.path.exists(p):
        k = json.load(open(p))["check"]
        a += k["accepted"]; l += k["lost"]
        d += k["duplicated"]; c += k["corrupted"]
ok = l == 0 and d == 0 and c == 0 and main_rc == 0 and limits_rc == 0 \
    and rep_rc == 0 and a > 0
if not ok:
    print("loadtest: FAILED (generator exit %d/%d, report checks exit %d)"
          % (main_rc, limits_rc, rep_rc))
print("accepted %d, lost %d, duplicated %d, corrupted %d" % (a, l, d, c))
sys.exit(0 if ok else 1)
EOF
