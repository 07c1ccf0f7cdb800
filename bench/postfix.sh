# shellcheck shell=bash
# bench/postfix.sh - a private Postfix smtpd on 127.0.0.1 for the
# benchmarks (sourced by bench/launchers.sh and bench/profile.sh): its own
# config and queue under a work directory, no system mail service touched,
# every message written to the queue (fsync'd) and then discarded.
#
#   pf_start WORK PORT   starts master in the foreground of its own
#                        session; sets PF_PID. 0 once the port answers.
#                        With PF_WRAP set (e.g. "nsenter -t PID -n --")
#                        master and the port check run under it, e.g. in
#                        a container's network namespace.
#   pf_stop              stops it
#
# PF_MAIN_EXTRA: more main.cf lines, after ours (a later line wins), e.g.
# to relay instead of discarding (tests/chunking/suite).
#
# WORK must be reachable by the postfix user (mode 0755). Needs root and
# the Debian package postfix.

pf_available() {
	[ -x /usr/lib/postfix/sbin/master ] && id postfix >/dev/null 2>&1
}

pf_start() { # work port
	local pf=$1/postfix port=$2 d
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
myhostname = bench.example.com
mydestination = example.com
mynetworks = 127.0.0.0/8
local_transport = discard
default_transport = discard
relay_transport = discard
smtpd_recipient_restrictions = permit_mynetworks, reject
alias_maps =
alias_database =
local_recipient_maps =
biff = no
maillog_file = $pf/maillog
maillog_file_prefixes = $pf
default_process_limit = 100
${PF_MAIN_EXTRA:-}
EOF
	sed -e "s/^smtp      inet.*/127.0.0.1:$port inet n - n - - smtpd/" \
		-e '/^postlog/d' /etc/postfix/master.cf >"$pf/conf/master.cf"
	echo "postlog   unix-dgram n  -       n       -       1       postlogd" \
		>>"$pf/conf/master.cf"
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
	kill -TERM -- "-$PF_PID" 2>/dev/null
	for _ in $(seq 1 50); do
		kill -0 "$PF_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$PF_PID" 2>/dev/null
	wait "$PF_PID" 2>/dev/null
	PF_PID=
}
