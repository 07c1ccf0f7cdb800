#!/bin/bash
# bench/targets.sh - `make bench`: every target of issue 12 in one run, each
# against its reference measured in the same run, and one table at the end
# (stdout and bench/results/targets.txt; the raw figures in
# bench/results/targets.env).
#
# Servers, all on 127.0.0.1, all started here and stopped on exit:
#   smtp-sink          Postfix's sink: stores nothing (the ceiling)
#   postfix            a private Postfix (bench/lib.sh): smtpd, cleanup
#                      fsyncs the queue file before 250, virtual(8)
#                      delivers into a Maildir; plain, ECDSA and RSA ports
#   accept             smtpd-session -c CONF --listen (3 ports)
#   tcpserver          tcpserver -l localhost -H -R + smtpd-session (3)
#   spoolerd           delivering our spool to a Maildir meanwhile
# The clients: Postfix's smtp-source (5 KB messages), bench/tlsload.py
# (EHLO, STARTTLS, EHLO, one 5 KB message, QUIT), bench/pss.py (idle
# sessions after EHLO), then `make loadtest` against the accept mode
# (tests/load, LAUNCHER=accept) and bench/launchers.sh (systemd
# Accept=yes in a container, the accept mode, Postfix); last, after the
# table, bench/drain.py: each processor's drain rate beside the intake.
#
# A rate is smtp-source's messages / wall time (intake); "CPU per
# message" is the server's process tree (launcher and reaped children;
# for us plus spoolerd, for Postfix master and all its daemons) from the
# first message until every message is in the Maildir.
#
# QUICK=1: fewer messages, a 500-client 15 s load test, no container.
# Environment: SESSION, SPOOLERD, REPS (runs per rate, the median; default
# 1: the machine is shared, compare within one run), NO_LOADTEST=1,
# NO_LAUNCHERS=1, NO_DRAIN=1, DRAIN_N. Needs root (Postfix, nspawn).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
. "$top/bench/lib.sh"
SESSION=${SESSION:-$top/smtpd-session/smtpd-session}
SPOOLERD=${SPOOLERD:-$top/spoolerd/spoolerd}
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
	REPS=${REPS:-1} M1=200 M50=600 M500=1000 MD=1500 TLSN=150 PSSN=200
	LCLIENTS=500 LDURATION=15 LN=100
else
	REPS=${REPS:-1} M1=300 M50=1500 M500=2500 MD=3000 TLSN=400 PSSN=1000
	LCLIENTS=5000 LDURATION=60 LN=400
fi
bench_need smtp-source smtp-sink tcpserver python3 openssl
for b in "$SESSION" "$SPOOLERD"; do
	[ -x "$b" ] || {
		echo "bench: $b not built (make)" >&2
		exit 1
	}
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
t_start=$(date +%s)

# a fresh directory per run under a chattr +T top (ext4 puts it in a
# block group away from the last run's freed inodes)
base=$top/build/bench-targets
rm -rf "$base"/run.*
mkdir -p "$base" "$top/bench/results"
chattr +T "$base" 2>/dev/null || true
work=$base/run.$$
mkdir -p "$work/bin" "$work/spool"
chmod 0755 "$base" "$work"
bench_atexit() { rm -rf "$work"; }
bench_trap
cp "$SESSION" "$work/bin/smtpd-session"
cp "$SPOOLERD" "$work/bin/spoolerd"
res=$top/bench/results/targets.env
: >"$res"
put() { echo "$1=$2" >>"$res"; }
log() { echo "# $*" >&2; }

msg=$work/msg-5k.txt
bench_msg "$msg"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$work/ec.key" -out "$work/ec.crt" -days 7 \
	-subj /CN=mx.bench 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/rsa.key" \
	-out "$work/rsa.crt" -days 7 -subj /CN=mx.bench 2>/dev/null
chmod 0644 "$work"/*.key

# ports: plain, ECDSA, RSA for each of accept (a*), tcpserver (t*), Postfix
pa=$(free_port) pae=$(free_port) par=$(free_port)
pt=$(free_port) pte=$(free_port) ptr=$(free_port)
pp=$(free_port) ppe=$(free_port) ppr=$(free_port) pk=$(free_port)
entry() { # port [cert]
	local tls=""
	[ -n "${2:-}" ] && tls=', "tls": {"start_tls_on": true,
   "public_key_file": "'$work/$2.crt'", "private_key_file": "'$work/$2.key'"}'
	printf '  {"host_name": "mx.bench", "timeout": 30, "max_size": 10485760,
   "listen_interface": "127.0.0.1:%s", "max_clients": 2000,
   "spool_min_free": 0%s}' "$1" "$tls"
}
conf=$work/smtpd.json
{
	cat <<EOF
// make bench (bench/targets.sh)
{"allowed_hosts": ["example.com"], "spool_dir": "$work/spool",
 "log_file": "$work/smtpd.log", "log_level": "warn",
 "backend_config": {"save_process": "HeadersParser|Header|Hasher|Maildir",
   "maildir_path": "$work/mail/{domain}/{user}/Maildir",
   "save_workers_size": 16},
 "servers": [
EOF
	entry "$pa"; echo ,; entry "$pae" ec; echo ,; entry "$par" rsa; echo ,
	entry "$pt"; echo ,; entry "$pte" ec; echo ,; entry "$ptr" rsa
	echo "]}"
} >"$conf"

# spoolerd first: it makes the spool
bench_spawn "$work/bin/spoolerd" -c "$conf" 2>"$work/spoolerd.err"
sd_pid=$BENCH_PID
for _ in $(seq 100); do [ -d "$work/spool/new" ] && break; sleep 0.05; done
# the session checks the spool spoolerd made
"$work/bin/smtpd-session" -c "$conf" --check-config >"$work/check.out" 2>&1 || {
	cat "$work/check.out" >&2
	exit 1
}
bench_spawn "$work/bin/smtpd-session" -c "$conf" --listen "127.0.0.1:$pa" \
	--listen "127.0.0.1:$pae" --listen "127.0.0.1:$par" 2>"$work/accept.err"
acc_pid=$BENCH_PID
tcp_pids=()
for p in "$pt" "$pte" "$ptr"; do
	bench_spawn tcpserver -l localhost -H -R -b 1024 -c 2000 127.0.0.1 "$p" \
		"$work/bin/smtpd-session" -c "$conf" 2>>"$work/tcpserver.err"
	tcp_pids+=("$BENCH_PID")
done
sinkuser=()
[ "$(id -u)" = 0 ] && sinkuser=(-u nobody)
bench_spawn smtp-sink "${sinkuser[@]}" 127.0.0.1:"$pk" 2000 \
	2>"$work/sink.err"
sink_pid=$BENCH_PID
have_pf=0
if pf_available; then
	PF_MAILDIR=$work/pfmail \
		PF_TLS="$ppe:$work/ec.crt:$work/ec.key $ppr:$work/rsa.crt:$work/rsa.key" \
		pf_start "$work" "$pp" && have_pf=1
fi
[ $have_pf = 1 ] || log "Postfix not measured (not installed or did not start)"
for p in "$pa" "$pae" "$par" "$pt" "$pte" "$ptr" "$pk"; do
	wait_banner "$p" || exit 1
done
if [ $have_pf = 1 ]; then
	for p in "$pp" "$ppe" "$ppr"; do wait_banner "$p" || exit 1; done
fi

# delivered KIND - messages in the Maildir of KIND (ours, postfix)
delivered() {
	local d=$work/mail/example.com/to/Maildir/new
	[ "$1" = postfix ] && d=$work/pfmail/example.com/to/Maildir/new
	if [ -d "$d" ]; then
		# shellcheck disable=SC2012 # ls -f: no stat per file
		echo $(($(ls -f "$d" | wc -l) - 2))
	else
		echo 0
	fi
}
# tree_cpu KIND - CPU seconds so far of KIND's server (and its delivery)
tree_cpu() {
	case $1 in
	accept) python3 -c "print($(cpu_tree "$acc_pid") + $(cpu_tree "$sd_pid"))" ;;
	tcpserver) python3 -c "print($(cpu_tree "${tcp_pids[0]}") + $(cpu_tree "${tcp_pids[1]}") + $(cpu_tree "${tcp_pids[2]}") + $(cpu_tree "$sd_pid"))" ;;
	postfix) cpu_tree "$PF_PID" ;;
	sink) cpu_tree "$sink_pid" ;;
	esac
}
# wait_drained KIND WANT - until WANT messages are in KIND's Maildir
# (180 s at most)
wait_drained() {
	[ "$1" = sink ] && return 0
	for _ in $(seq 1 720); do
		[ "$(delivered "$1")" -ge "$2" ] && return 0
		sleep 0.25
	done
	log "$1: only $(delivered "$1") of $2 messages delivered"
}
median() { printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"; }
declare -A want_ours=([accept]=0 [tcpserver]=0)
want_pf=0

# rate KIND PORT SESSIONS MSGS DFLAG CASE - median msg/s of REPS runs of
# smtp-source, and the median CPU per message (ms, delivery included)
rate() {
	local kind=$1 port=$2 s=$3 m=$4 d=$5 c=$6 rates=() cpus=() t0 t1 c0 c1
	for _ in $(seq 1 "$REPS"); do
		c0=$(tree_cpu "$kind")
		t0=$(date +%s.%N)
		smtp-source ${d:+"$d"} -s "$s" -m "$m" -F "$msg" -M bench.test \
			-f bench@client.test -t to@example.com \
			127.0.0.1:"$port" >"$work/source.out" 2>&1 ||
			log "$kind $c: smtp-source failed: $(tail -n 2 "$work/source.out")"
		t1=$(date +%s.%N)
		case $kind in
		accept | tcpserver)
			want_ours[$kind]=$((want_ours[$kind] + m))
			wait_drained accept $((want_ours[accept] + want_ours[tcpserver]))
			;;
		postfix)
			want_pf=$((want_pf + m))
			wait_drained postfix "$want_pf"
			;;
		esac
		sleep 0.2 # the last children are reaped
		c1=$(tree_cpu "$kind")
		rates+=("$(python3 -c "print('%.1f' % ($m / ($t1 - $t0)))")")
		cpus+=("$(python3 -c "print('%.3f' % (($c1 - $c0) * 1000 / $m))")")
	done
	put "rate_${kind}_$c" "$(median "${rates[@]}")"
	put "cpu_${kind}_$c" "$(median "${cpus[@]}")"
	log "$kind $c: ${rates[*]} msg/s, ${cpus[*]} ms CPU/msg"
}

kinds=(sink accept tcpserver)
[ $have_pf = 1 ] && kinds+=(postfix)
port_of() { # kind -> plain port
	case $1 in sink) echo "$pk" ;; accept) echo "$pa" ;;
	tcpserver) echo "$pt" ;; postfix) echo "$pp" ;; esac
}
log "rates: REPS=$REPS, load $(cut -d' ' -f1-3 /proc/loadavg)"
for c in "s1:1:$M1:" "c50:50:$M50:" "c500:500:$M500:" "d50:50:$MD:-d"; do
	IFS=: read -r name s m d <<<"$c"
	for k in "${kinds[@]}"; do
		rate "$k" "$(port_of "$k")" "$s" "$m" "$d" "$name"
	done
done
spool_left=$(find "$work/spool/new" "$work/spool/cur" "$work/spool/tmp" \
	-type f 2>/dev/null | wc -l)
put ours_delivered "$(delivered accept)"
put ours_sent "$((want_ours[accept] + want_ours[tcpserver]))"
put ours_spool_left "$spool_left"
[ $have_pf = 1 ] && put pf_delivered "$(delivered postfix)" &&
	put pf_sent "$want_pf"

# STARTTLS: TLSN sessions, 20 at a time, 2 client processes; CPU per
# session until its message is delivered
tls() { # kind cert port
	local out ok fail dt c0 c1
	c0=$(tree_cpu "$1")
	out=$(python3 "$top/bench/tlsload.py" "$3" "$TLSN" 20 2 \
		2>"$work/tlsload.err")
	read -r ok fail dt _ <<<"$out"
	[ "$fail" = 0 ] || log "$1 $2: $fail TLS sessions failed: $(head -n 2 "$work/tlsload.err")"
	if [ "$1" = postfix ]; then
		want_pf=$((want_pf + ok))
		wait_drained postfix "$want_pf"
	else
		want_ours[$1]=$((want_ours[$1] + ok))
		wait_drained accept $((want_ours[accept] + want_ours[tcpserver]))
	fi
	sleep 0.3
	c1=$(tree_cpu "$1")
	put "tlsrate_$1_$2" "$(python3 -c "print('%.1f' % ($ok / $dt))")"
	put "tlscpu_$1_$2" "$(python3 -c "print('%.3f' % (($c1 - $c0) * 1000 / max($ok, 1)))")"
	log "$1 $2: $out"
}
for cert in ec rsa; do
	if [ $cert = ec ]; then set -- "$pae" "$pte" "$ppe"; else set -- "$par" "$ptr" "$ppr"; fi
	tls accept $cert "$1"
	tls tcpserver $cert "$2"
	[ $have_pf = 1 ] && tls postfix $cert "$3"
done

# idle sessions after EHLO
for k in accept tcpserver; do
	if [ $k = accept ]; then lp=$acc_pid port=$pa; else lp=${tcp_pids[0]} port=$pt; fi
	out=$(python3 "$top/bench/pss.py" "$lp" "$port" "$PSSN" 2>&1)
	log "$k pss: $out"
	put "pss_$k" "$(sed -n 's/.*pss_mean_kib=\([0-9]*\).*/\1/p' <<<"$out")"
	put "priv_$k" "$(sed -n 's/.*private_kib=\([0-9]*\).*/\1/p' <<<"$out")"
	sleep 1
done
put load_after_rates "$(cut -d' ' -f1 /proc/loadavg)"
bench_stop_all

# the file system's floor: only the syscalls of our intake and of the
# Maildir delivery, no SMTP, TCP or fork, and apart the least a process
# per connection costs (fork, _exit, wait) (bench/iofloor.c), with the
# servers stopped; 50 processes and 1
if cc -O2 -Icommon -o "$work/bin/iofloor" "$top/bench/iofloor.c" \
	"$top/common/util.c" 2>"$work/cc.err"; then
	for np in 50 1; do
		n=$((np == 1 ? M1 * 2 : M50 * 2))
		out=$("$work/bin/iofloor" "$work/floor$np" "$np" "$n" 2>&1)
		log "iofloor $np: $(tr '\n' ' ' <<<"$out")"
		awk -v np="$np" '
			$1 == "intake" { print "floor_in_rate_" np "=" $4
				print "floor_in_cpu_" np "=" $6 }
			$1 == "delivery" { print "floor_dl_rate_" np "=" $4
				print "floor_dl_cpu_" np "=" $6 }
			$1 == "both" { print "floor_cpu_" np "=" $4 }
			$1 == "fork" { print "floor_fork_rate_" np "=" $4
				print "floor_fork_cpu_" np "=" $6 }' \
			<<<"$out" >>"$res"
		rm -rf "$work/floor$np"
	done
else
	log "iofloor not built: $(head -n 3 "$work/cc.err")"
fi

# the 5000-client load test against the accept mode (tests/load)
if [ "${NO_LOADTEST:-0}" != 1 ]; then
	log "loadtest: $LCLIENTS clients, $LDURATION s, accept mode"
	lout=$work/loadtest
	make -s loadgen >/dev/null 2>&1
	LAUNCHER=accept LOADTEST_TREE=work PROFILE=none CLIENTS=$LCLIENTS \
		DURATION=$LDURATION OUT=$lout tests/load/loadtest.sh \
		>"$work/loadtest.out" 2>&1
	put load_rc $?
	python3 - "$lout" >>"$res" <<'EOF'
import json, os, sys
out = sys.argv[1]
try:
    m = json.load(open(os.path.join(out, "main.json")))
    print("load_p99=%.3f" % m["latency"]["greeting"]["p99"])
except Exception:
    print("load_p99=")
a = lost = dup = cor = 0
for ph in ("main", "limits"):
    try:
        k = json.load(open(os.path.join(out, ph + ".json")))["check"]
    except Exception:
        continue
    a += k["accepted"]; lost += k["lost"]
    dup += k["duplicated"]; cor += k["corrupted"]
print("load_accepted=%d\nload_lost=%d\nload_dup=%d\nload_cor=%d"
      % (a, lost, dup, cor))
ok = bad = 0
failed = []
try:
    for ln in open(os.path.join(out, "report.md")):
        f = [x.strip() for x in ln.split("|")]
        if len(f) >= 4 and f[2] in ("ok",) :
            ok += 1
        elif len(f) >= 4 and f[2].startswith("**FAILED"):
            bad += 1
            failed.append(f[1])
except OSError:
    pass
print("load_checks_ok=%d\nload_checks_failed=%d" % (ok, bad))
print("load_failed=%s" % "; ".join(failed).replace(" ", "_"))
EOF
	mkdir -p "$top/bench/results/loadtest"
	cp "$lout"/report.md "$lout"/main.json "$lout"/limits.json \
		"$top/bench/results/loadtest/" 2>/dev/null
	tail -n 1 "$work/loadtest.out" >&2
fi

# The same generator, plaintext and well-behaved, side by side against
# smtp-sink (-m: as many sessions as our max_clients) and the accept
# mode: a closed loop of LCLIENTS clients keeps any server saturated, so
# its greeting latency is the queue the load builds (Little's law:
# clients / connections per second), and the sink's figure is the
# ceiling's. GEN_ARGS go after loadtest.sh's own phase-1 options.
if [ "${NO_LOADTEST:-0}" != 1 ]; then
	ga="--tls 0 --misbehave 0 --bad-rcpt 0"
	log "loadtest side by side: $LCLIENTS clients, $LDURATION s, $ga"
	LAUNCHER=accept LOADTEST_TREE=work PROFILE=none LIMITS=0 \
		CLIENTS=$LCLIENTS DURATION=$LDURATION GEN_ARGS="$ga" \
		OUT=$work/loadplain tests/load/loadtest.sh \
		>"$work/loadplain.out" 2>&1
	put loadplain_rc $?
	ps=$(free_port)
	bench_spawn smtp-sink "${sinkuser[@]}" -m $((LCLIENTS + 100)) \
		127.0.0.1:"$ps" 4096 2>"$work/sink-load.err"
	wait_banner "$ps" "$BENCH_PID" || log "smtp-sink did not answer on $ps"
	# the generator started as loadtest.sh starts it
	. "$top/tests/load/gensched.sh"
	gen_sched rt
	ramp=$((LDURATION / 6))
	# shellcheck disable=SC2086 # $ga: the options' words
	"${GEN[@]}" build/load/loadgen --label sink --port "$ps" \
		--clients "$LCLIENTS" --duration "$LDURATION" --ramp "$ramp" \
		--timeout 10 --session-time 45 --grace 60 $ga \
		--json "$work/loadsink.json" >"$work/loadsink.out" 2>&1
	bench_stop_all
	python3 - "$work/loadplain/main.json" "$work/loadsink.json" \
		"$LDURATION" >>"$res" <<'EOF2'
import json, sys
for key, path in (("loadplain", sys.argv[1]), ("loadsink", sys.argv[2])):
    try:
        m = json.load(open(path))
        g = m["latency"]["greeting"]
        print("%s_p50=%.3f\n%s_p99=%.3f" % (key, g["p50"], key, g["p99"]))
        print("%s_cps=%.1f" % (key, g["n"] / float(sys.argv[3])))
    except Exception:
        print("%s_p99=" % key)
EOF2
fi

# launchers (connections/s): Accept=yes in a container, accept mode, Postfix
if [ "${NO_LAUNCHERS:-0}" != 1 ]; then
	log "launchers: N=$LN"
	rm -f "$top/bench/results/launchers.env"
	NO_NSPAWN=$QUICK N=$LN SESSION=$work/bin/smtpd-session \
		SPOOLERD=$work/bin/spoolerd bench/launchers.sh \
		>"$work/launchers.out" 2>&1
	sed 's/^/L_/' "$top/bench/results/launchers.env" >>"$res" 2>/dev/null
	cat "$top/bench/results/launchers.txt" >&2 2>/dev/null
fi
put minutes "$(( ($(date +%s) - t_start + 30) / 60 ))"
put quick "$QUICK"
python3 "$top/bench/table.py" "$res" | tee "$top/bench/results/targets.txt"

# then the drain rate of every processor beside the intake (issue 15:
# bench/drain.py; its table also in bench/results/drain.txt)
if [ "${NO_DRAIN:-0}" != 1 ]; then
	echo
	[ "$QUICK" = 1 ] && : "${DRAIN_N:=1000}"
	DRAIN_N=${DRAIN_N:-3000} SPOOLERD=$SPOOLERD SESSION=$SESSION \
		python3 "$top/bench/drain.py" 2>"$work/drain.err" ||
		{ tail -n 20 "$work/drain.err" >&2; exit 1; }
fi
