#!/bin/bash
# bench/launchers.sh - connections per second, one short message each, for
# every way of starting smtpd-session, side by side in one run, against
# Postfix's smtpd:
#
#   systemd Accept=yes, default profile   (inside a systemd-nspawn
#   systemd Accept=yes, without LoadCredential=    container with systemd
#   systemd Accept=yes, strict profile     as PID 1, measured from inside:
#   smtpd-tcpserver.service                tests/systemd/lib.sh)
#   tcpserver (conf/tcpserver/run flags)  \
#   xinetd (conf/xinetd.d/smtpd)           } on this machine, 127.0.0.1
#   systemd-socket-activate --inetd (make run's launcher)
#   the accept mode (smtpd-session --listen, smtpd.service's command)
#   Postfix smtpd (private instance, loopback, discard transport)
#
# Every row is measured by the same client (tests/systemd/inside.py rate:
# Python smtplib, EHLO, MAIL, RCPT, DATA, QUIT, one connection per
# message), with 1 client and with 4 in parallel. Each message accepted by
# smtpd-session is fsync'd into the spool before its 250, and spoolerd
# delivers it to a maildir meanwhile; Postfix writes its queue file and
# discards. The table goes to stdout and to bench/results/launchers.txt,
# the figures also as KEY=VALUE lines (LABEL-1, LABEL-4) to
# bench/results/launchers.env (read by bench/targets.sh).
#
# Needs root (nspawn, xinetd, postfix). Environment: N (connections per
# measurement, default 400; the strict profile gets N/4), NO_NSPAWN=1
# skips the container rows.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
N=${N:-400}
PATH=$PATH:/usr/sbin:/sbin
SESSION=${SESSION:-$top/smtpd-session/smtpd-session}
SPOOLERD=${SPOOLERD:-$top/spoolerd/spoolerd}
RATE="python3 $top/tests/systemd/inside.py rate"
. "$top/tests/systemd/lib.sh"
. "$top/bench/postfix.sh"

work=$(mktemp -d /tmp/smtpd-bench.XXXXXX)
# the postfix user must reach its data directory below
chmod 0755 "$work"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM -- "-$p" 2>/dev/null
	done
	sleep 0.3
	for p in "${pids[@]}"; do
		kill -KILL -- "-$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	ns_clean "$work/ns" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() { # port
	for _ in $(seq 1 100); do
		python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),1).close()" \
			2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

declare -A R
measure() { # label port
	local par out
	for par in 1 4; do
		out=$(RESULTS=$work $RATE "$2" "$N" "$par" 2>>"$work/rate.err")
		R[$1-$par]=${out%% *}
		[ "${out#* }" = 0 ] || R[$1-$par]="${R[$1-$par]}(${out#* } errors)"
	done
	echo "# $1: ${R[$1-1]} / ${R[$1-4]}" >&2
}

# --- on this machine: tcpserver, xinetd, systemd-socket-activate --------
cp "$SESSION" "$work/smtpd-session"
mkdir -p "$work/spool"/{tmp,new,cur,failed} "$work/mail"
cat >"$work/smtpd.json" <<EOF
{"allowed_hosts": ["example.com"], "spool_dir": "$work/spool",
 "log_file": "$work/smtpd.log",
 "backend_config": {"save_process": "HeadersParser|Header|Maildir",
   "maildir_path": "$work/mail/{domain}/{user}/Maildir"},
 "servers": [{"max_clients": 1000, "spool_min_free": 0, "timeout": 60}]}
EOF
setsid "$SPOOLERD" -c "$work/smtpd.json" >"$work/spoolerd.log" 2>&1 &
pids+=($!)

port=$(free_port)
SMTPD_IP=127.0.0.1 SMTPD_PORT=$port SMTPD_CONF=$work/smtpd.json \
	SMTPD_RULES='' SMTPD_USER='' SMTPD_NAME=localhost \
	SMTPD_SESSION=$work/smtpd-session SMTPD_MAXCONN=1100 \
	setsid sh conf/tcpserver/run >"$work/tcpserver.log" 2>&1 &
pids+=($!)
wait_port "$port" && measure tcpserver "$port"
kill -TERM -- "-${pids[-1]}" 2>/dev/null

port=$(free_port)
sed -e "s|^\(\s*port\s*=\).*|\1 $port|" -e 's|^\(\s*user\s*=\).*|\1 root|' \
	-e 's|^\(\s*group\s*=\).*|\1 root|' \
	-e "s|^\(\s*server\s*=\).*|\1 $work/smtpd-session|" \
	-e "s|^\(\s*server_args\s*=\).*|\1 -c $work/smtpd.json|" \
	-e "s|^\(\s*log_type\s*=\).*|\1 FILE $work/xinetd.log|" \
	-e 's|^\s*flags\s*=.*|\tbind = 127.0.0.1|' conf/xinetd.d/smtpd \
	>"$work/xinetd.svc"
printf 'defaults\n{\n}\n' | cat - "$work/xinetd.svc" >"$work/xinetd.conf"
setsid xinetd -f "$work/xinetd.conf" -dontfork -pidfile "$work/xinetd.pid" \
	>"$work/xinetd.out" 2>&1 &
pids+=($!)
wait_port "$port" && measure xinetd "$port"
kill -TERM -- "-${pids[-1]}" 2>/dev/null

port=$(free_port)
setsid systemd-socket-activate -l "127.0.0.1:$port" -a --inetd \
	"$work/smtpd-session" -c "$work/smtpd.json" >"$work/ssa.log" 2>&1 &
pids+=($!)
wait_port "$port" && measure socket-activate "$port"
kill -TERM -- "-${pids[-1]}" 2>/dev/null

port=$(free_port)
setsid "$work/smtpd-session" -c "$work/smtpd.json" --listen "127.0.0.1:$port" \
	>"$work/accept.log" 2>&1 &
pids+=($!)
wait_port "$port" && measure accept "$port"
kill -TERM -- "-${pids[-1]}" 2>/dev/null

# --- Postfix smtpd: a private instance, no system mail service ----------
if pf_available; then
	port=$(free_port)
	if pf_start "$work" "$port"; then
		pids+=("$PF_PID")
		measure postfix-smtpd "$port"
	fi
	pf_stop
fi

# --- systemd as PID 1, in a container -------------------------------------
if [ "${NO_NSPAWN:-0}" != 1 ] && command -v systemd-nspawn >/dev/null; then
	if ns_base && ns_root "$work/ns" bench "$N"; then
		ns_boot "$work/ns"
		if [ -s "$work/ns/results/rates.json" ]; then
			eval "$(python3 - "$work/ns/results/rates.json" <<'EOF'
import json, sys
for k, v in json.load(open(sys.argv[1])).items():
    print("R[%s]=%s" % (k, v))
EOF
)"
		else
			echo "# the container run failed: $work/ns/boot.log" >&2
			tail -n 20 "$work/ns/results/log" 2>/dev/null >&2
		fi
	fi
fi

# --- the table -------------------------------------------------------------
{
	echo "connections/s, one short message each (N=$N per cell; strict N/4)"
	echo "$(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	printf '| %-52s | %9s | %9s |\n' launcher "1 client" "4 clients"
	printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..54})" \
		"$(printf -- '-%.0s' {1..11})" "$(printf -- '-%.0s' {1..11})"
	row() { # label key
		printf '| %-52s | %9s | %9s |\n' "$1" "${R[$2-1]:--}" "${R[$2-4]:--}"
	}
	row "systemd Accept=yes, default profile" systemd-default
	row "systemd Accept=yes, default without LoadCredential=" systemd-nocred
	row "systemd Accept=yes, strict profile" systemd-strict
	row "smtpd-tcpserver.service (tcpserver under systemd)" tcpserver-service
	row "tcpserver (conf/tcpserver/run)" tcpserver
	row "xinetd (conf/xinetd.d/smtpd)" xinetd
	row "systemd-socket-activate --inetd (make run)" socket-activate
	row "accept mode (smtpd-session --listen)" accept
	row "Postfix smtpd (master, discard transport)" postfix-smtpd
} | tee "$top/bench/results/launchers.txt"
for k in "${!R[@]}"; do
	echo "$k=${R[$k]}"
done | sort >"$top/bench/results/launchers.env"
