# shellcheck shell=bash
# bench/lib.sh - the set-up every benchmark shares (sourced by bench/*.sh):
# free ports, waiting for a banner, the 5 KB test message, the CPU of a
# process tree, the processes started here (stopped on exit), and a
# private Postfix instance.
#
#   bench_need TOOL...       exit 1 naming the first one missing
#   free_port                a free TCP port on 127.0.0.1
#   wait_banner PORT [PID]   0 once PORT answers 220 (and QUIT); 1 after
#                            5 s or when PID exited
#   bench_msg FILE [CRLF]    a 5120-byte message in LF lines (CRLF=1:
#                            CRLF lines) for smtp-source -F
#   cpu_tree PID             CPU seconds of PID and its live descendants
#                            (utime+stime) plus what they reaped
#                            (cutime+cstime)
#   cpu_ms PID               utime+stime+cutime+cstime of PID alone, ms
#   bench_spawn CMD...       setsid CMD & in its own session; its pid in
#                            BENCH_PID, stopped (TERM, then KILL, the whole
#                            session) by bench_stop_all, which the EXIT
#                            trap set by bench_trap runs (and then the
#                            script's bench_atexit, when it defines one)
#   pf_available             Postfix's master(8) and user are there
#   pf_start WORK PORT       a private Postfix smtpd on 127.0.0.1:PORT:
#                            config, queue and log under WORK/postfix, no
#                            system mail service touched, queue files
#                            fsync'd before 250 (Postfix's default). Sets
#                            PF_PID (master, in the foreground of its own
#                            session). Options (environment):
#                              PF_MAILDIR=DIR  deliver every message for
#                                example.com with virtual(8) into the
#                                Maildir DIR/example.com/to/Maildir/
#                                (default: discard(8))
#                              PF_TLS="PORT:CERT:KEY ..."  more smtpd
#                                listeners offering STARTTLS with that pair
#                              PF_WRAP  a command prefix for master and the
#                                port check (e.g. nsenter -t PID -n --)
#   pf_stop                  stops it
#
# Postfix needs root and WORK reachable by the postfix user (mode 0755).

BENCH_PIDS=()

bench_need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || PATH=$PATH:/usr/sbin:/sbin
		command -v "$t" >/dev/null || {
			echo "bench: $t not found (make deps)" >&2
			exit 1
		}
	done
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_banner() { # port [pid]
	for _ in $(seq 1 100); do
		if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
			echo "bench: the server for port $1 exited" >&2
			return 1
		fi
		if python3 - "$1" <<'EOF' 2>/dev/null; then return 0; fi
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
f = c.makefile("rb")
assert f.readline().startswith(b"220")
c.sendall(b"QUIT\r\n"); f.readline()
EOF
		sleep 0.05
	done
	echo "bench: nothing answers on port $1" >&2
	return 1
}

bench_msg() { # file [crlf]
	python3 - "$1" "${2:-0}" <<'EOF'
import random, sys
nl = b"\r\n" if sys.argv[2] == "1" else b"\n"
r = random.Random(5)
head = (b"From: bench@client.test" + nl + b"To: to@example.com" + nl +
        b"Subject: 5 KB benchmark message" + nl +
        b"Message-ID: <bench@client.test>" + nl + nl)
body = b""
while len(head) + len(body) < 5120 - 80:
    body += bytes(r.choice(b"abcdefghijklmnopqrstuvwxyz ") for _ in
                  range(72)) + nl
data = head + body
data += b"x" * (5120 - len(data) - len(nl)) + nl
assert len(data) == 5120
open(sys.argv[1], "wb").write(data)
EOF
}

cpu_tree() { # pid
	python3 "$BENCH_TOP/bench/cputree.py" "$1"
}

cpu_ms() { # pid
	awk -v hz="$(getconf CLK_TCK)" '{
		sub(/^.*\) /, ""); printf "%d", ($12 + $13 + $14 + $15) * 1000 / hz
	}' "/proc/$1/stat"
}

bench_spawn() { # command...
	setsid "$@" &
	BENCH_PID=$!
	BENCH_PIDS+=("$BENCH_PID")
}

bench_stop_all() { # (safe under set -e: nothing here may stop it)
	local p
	pf_stop
	for p in "${BENCH_PIDS[@]}"; do
		kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null ||
			true
	done
	[ ${#BENCH_PIDS[@]} -eq 0 ] || sleep 0.3
	for p in "${BENCH_PIDS[@]}"; do
		kill -KILL -- "-$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	BENCH_PIDS=()
	return 0
}

bench_exit() {
	bench_stop_all
	if declare -F bench_atexit >/dev/null; then bench_atexit; fi
	return 0
}

bench_trap() {
	trap bench_exit EXIT
	trap 'exit 130' INT TERM
}

pf_available() {
	[ -x /usr/lib/postfix/sbin/master ] && id postfix >/dev/null 2>&1
}

pf_start() { # work port
	local pf=$1/postfix port=$2 d t tport cert key
	PF_PID=
	mkdir -p "$pf/conf" "$pf/queue/pid" "$pf/data" || return 1
	chown postfix "$pf/data"
	for d in active bounce corrupt defer deferred flush hold incoming \
		private saved trace; do
		install -d -o postfix -m 0700 "$pf/queue/$d"
	done
	install -d -o postfix -g postdrop -m 0730 "$pf/queue/maildrop"
	install -d -o postfix -g postdrop -m 0710 "$pf/queue/public"
	cat >"$pf/conf/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.bench
mynetworks = 127.0.0.0/8
local_transport = discard
default_transport = discard
relay_transport = discard
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_peername_lookup = no
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtputf8_enable = no
maillog_file = $pf/maillog
maillog_file_prefixes = $pf
default_process_limit = 600
EOF
	if [ -n "${PF_MAILDIR:-}" ]; then
		install -d -o postfix -g postfix "$PF_MAILDIR"
		cat >>"$pf/conf/main.cf" <<EOF
mydestination =
virtual_mailbox_domains = example.com
virtual_mailbox_base = $PF_MAILDIR
virtual_mailbox_maps = static:example.com/to/Maildir/
virtual_uid_maps = static:$(id -u postfix)
virtual_gid_maps = static:$(id -g postfix)
virtual_minimum_uid = 1
virtual_destination_concurrency_limit = 50
EOF
	else
		echo "mydestination = example.com" >>"$pf/conf/main.cf"
	fi
	# PF_MAIN_EXTRA: more main.cf settings, one "name = value" a line,
	# e.g. to relay instead of discarding (tests/chunking/suite). Set with
	# postconf -e, which replaces a name in place: a name given twice
	# would make every Postfix process log "overriding earlier entry",
	# and with net.unix.max_dgram_qlen at 10 those warnings can fill
	# postlogd's socket before it reads it; smtpd then blocks in its
	# first log write and never greets.
	if [ -n "${PF_MAIN_EXTRA:-}" ]; then
		while IFS= read -r line; do
			[ -n "$line" ] || continue
			postconf -c "$pf/conf" -e "$line" || return 1
		done <<<"$PF_MAIN_EXTRA"
	fi
	sed -e "s/^smtp      inet.*/127.0.0.1:$port inet n - n - - smtpd/" \
		-e '/^postlog/d' /etc/postfix/master.cf >"$pf/conf/master.cf"
	echo "postlog   unix-dgram n  -       n       -       1       postlogd" \
		>>"$pf/conf/master.cf"
	for t in ${PF_TLS:-}; do
		IFS=: read -r tport cert key <<<"$t"
		cat >>"$pf/conf/master.cf" <<EOF
127.0.0.1:$tport inet n - n - - smtpd
  -o smtpd_tls_security_level=may
  -o smtpd_tls_cert_file=$cert -o smtpd_tls_key_file=$key
EOF
	done
	# shellcheck disable=SC2086 # PF_WRAP is a command line
	${PF_WRAP:-} setsid /usr/lib/postfix/sbin/master -c "$pf/conf" -d \
		>"$pf/master.out" 2>&1 &
	PF_PID=$!
	for _ in $(seq 1 100); do
		# shellcheck disable=SC2086
		${PF_WRAP:-} python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1).close()" \
			2>/dev/null && return 0
		sleep 0.1
	done
	echo "# postfix did not start:" >&2
	tail -n 5 "$pf/master.out" "$pf/maillog" >&2 2>/dev/null
	return 1
}

pf_stop() {
	[ -n "${PF_PID:-}" ] || return 0
	kill -TERM -- "-$PF_PID" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$PF_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$PF_PID" 2>/dev/null || true
	wait "$PF_PID" 2>/dev/null || true
	PF_PID=
}

BENCH_TOP=${BENCH_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
