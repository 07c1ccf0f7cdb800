# shellcheck shell=bash
# stack.sh - sourced by tests/load/loadtest.sh and tests/load/suite: the
# real stack on 127.0.0.1 in a private work directory.
#
#   stack_init WORKDIR       fresh WORK, a private copy of the binaries,
#                            an ECDSA certificate, a free port (PORT)
#   stack_config MAXCLIENTS TIMEOUT SESSION_TIME   (re)write WORK/smtpd.json
#                            (sessions read it per connection, so a
#                            rewrite applies to the next connection; the
#                            accept mode's parent within a second: this
#                            waits for its "reloaded" line)
#   stack_start TCPSERVER_C  spoolerd, then tcpserver -v -l localhost -H
#                            -R -b 1024 -c N (no DNS); SPOOLERD_PID, TCP_PID
#                            (the launcher's pid, whichever it is)
#   stack_stop               TERM, then KILL, every process started here
#   stack_crashes            "tcpserver: end PID status S" lines whose
#                            status says a signal killed the session
#                            (accept mode: the parent's "died of signal")
#   stack_exits              non-zero session exit codes, "CODE COUNT"
#   stack_sessions           the pids of every session started so far
#
# LAUNCHER=accept: smtpd-session's own accept mode (--listen
# 127.0.0.1:PORT, its stderr in WORK/accept.log, its log lines in
# spoolerd.log, the config's top-level log_file) instead of tcpserver;
# TCPSERVER_C is then unused (max_clients is the parent's limit). The
# sessions are the launcher's children in both.
#
# Needs SMTPD_SESSION and SPOOLERD (binaries) in the environment.
#
# Maildir copies keep CRLF here (maildir_crlf): check.c compares each
# copy byte for byte with what loadgen sent on the wire.

STACK_PIDS=()

stack_init() {
	WORK=$1
	rm -rf "$WORK"
	mkdir -p "$WORK/bin" "$WORK/spool"/{tmp,new,cur,failed} "$WORK/mail"
	# private copies: a rebuild during the run cannot break an exec
	cp "$SMTPD_SESSION" "$WORK/bin/smtpd-session"
	cp "$SPOOLERD" "$WORK/bin/spoolerd"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-nodes -days 7 -subj /CN=mx.load.test \
		-keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
		>"$WORK/openssl.log" 2>&1 || {
		echo "stack: openssl failed" >&2
		cat "$WORK/openssl.log" >&2
		return 1
	}
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
}

stack_config() { # max_clients timeout max_session_time
	local before=0
	if [ "${LAUNCHER:-tcpserver}" = accept ]; then
		before=$(grep -c "smtpd-session.*: info: reloaded" \
			"$WORK/spoolerd.log" 2>/dev/null)
	fi
	cat >"$WORK/smtpd.json.tmp" <<EOF
// written by tests/load/stack.sh
{
  "allowed_hosts": ["example.com", "*.example.com"],
  "spool_dir": "$WORK/spool",
  "log_file": "$WORK/spoolerd.log",
  "log_level": "info",
  "backend_config": {
    "save_process": "HeadersParser|Header|Hasher|Maildir",
    "save_workers_size": ${SAVE_WORKERS:-4},
    "primary_mail_host": "mx.load.test",
    "maildir_path": "$WORK/mail/{domain}/{user}/Maildir",
    "maildir_crlf": true,
    "retry_first": "1s",
    "retry_max": "5s",
    "rescan_interval": "5s"
  },
  "servers": [{
    "host_name": "mx.load.test",
    "listen_interface": "127.0.0.1:$PORT",
    "log_file": "$WORK/session.log",
    "max_clients": $1,
    "timeout": $2,
    "max_session_time": $3,
    "max_size": 10485760,
    "max_line_length": 1024,
    "max_unrecognized_commands": 5,
    "spool_min_free": 0,
    "tls": {
      "start_tls_on": true,
      "public_key_file": "$WORK/cert.pem",
      "private_key_file": "$WORK/key.pem"
    }
  }]
}
EOF
	mv "$WORK/smtpd.json.tmp" "$WORK/smtpd.json"
	# the accept mode's parent looks at the file at most once a second:
	# wait until it has taken the new one (a running parent only)
	if [ "${LAUNCHER:-tcpserver}" = accept ] && [ -n "${TCP_PID:-}" ] &&
		kill -0 "$TCP_PID" 2>/dev/null; then
		for _ in $(seq 1 100); do
			[ "$(grep -c "smtpd-session.*: info: reloaded" \
				"$WORK/spoolerd.log" 2>/dev/null)" -gt "${before:-0}" ] &&
				return 0
			sleep 0.05
		done
		echo "stack: the accept mode did not reload the config" >&2
		return 1
	fi
}

stack_start() { # tcpserver -c
	"$WORK/bin/smtpd-session" -c "$WORK/smtpd.json" --check-config \
		>"$WORK/check-config.out" 2>&1 || {
		echo "stack: config refused:" >&2
		cat "$WORK/check-config.out" >&2
		return 1
	}
	# shellcheck disable=SC2086 # the wrapper is a command and its words
	setsid ${SPOOLERD_WRAP:-} "$WORK/bin/spoolerd" -c "$WORK/smtpd.json" \
		>>"$WORK/spoolerd.err" 2>&1 &
	SPOOLERD_PID=$!
	STACK_PIDS+=("$SPOOLERD_PID")
	local ready=$WORK/tcpserver.log up="status: 0/"
	if [ "${LAUNCHER:-tcpserver}" = accept ]; then
		# one parent that accepts and forks; a session wrapper
		# wraps the parent (its children are forks, not execs)
		# shellcheck disable=SC2086 # the wrapper's words
		setsid ${SESSION_WRAP:-} "$WORK/bin/smtpd-session" \
			-c "$WORK/smtpd.json" --listen "127.0.0.1:$PORT" \
			2>"$WORK/accept.log" &
		ready=$WORK/spoolerd.log
		up="accepting on 127.0.0.1 port $PORT"
	else
		# -l localhost -H -R: no DNS; -b 1024: a deep backlog; -v:
		# one "end PID status S" line per session (crash detection)
		# shellcheck disable=SC2086 # the wrapper is a command and its words
		setsid tcpserver -v -l localhost -H -R -b 1024 -c "$1" \
			127.0.0.1 "$PORT" ${SESSION_WRAP:-} \
			"$WORK/bin/smtpd-session" -c "$WORK/smtpd.json" \
			2>"$WORK/tcpserver.log" &
	fi
	TCP_PID=$!
	STACK_PIDS+=("$TCP_PID")
	for _ in $(seq 1 200); do
		if ! kill -0 "$TCP_PID" 2>/dev/null ||
			! kill -0 "$SPOOLERD_PID" 2>/dev/null; then
			echo "stack: a server exited at start" >&2
			tail -n 5 "$WORK/tcpserver.log" "$WORK/accept.log" \
				"$WORK/spoolerd.err" "$WORK/spoolerd.log" >&2 \
				2>/dev/null
			return 1
		fi
		grep -qF "$up" "$ready" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "stack: ${LAUNCHER:-tcpserver} did not start" >&2
	return 1
}

stack_alive() {
	kill -0 "$TCP_PID" 2>/dev/null && kill -0 "$SPOOLERD_PID" 2>/dev/null
}

stack_stop() {
	local p
	for p in "${STACK_PIDS[@]}"; do
		kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null
	done
	for p in "${STACK_PIDS[@]}"; do
		for _ in $(seq 1 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	STACK_PIDS=()
}

# sessions killed by a signal: tcpserver prints the raw wait status
# (low 7 bits: the signal, bits 8-15: the exit code)
# (the accept mode's parent logs "session PID from IP died of signal S",
# SIGTERM left out, and "session PID from IP exited N" for N != 0)
stack_crashes() {
	if [ "${LAUNCHER:-tcpserver}" = accept ]; then
		grep -h "smtpd-session.*: session [0-9]* from .* died of signal" \
			"$WORK/spoolerd.log" "$WORK/accept.log" 2>/dev/null
		return 0
	fi
	awk '/^tcpserver: end [0-9]+ status [0-9]+$/ {
		sig = ($5 + 0) % 128; if (sig != 0 && sig != 127) print }' \
		"$WORK/tcpserver.log" 2>/dev/null
}

# exit codes other than 0 of the sessions, "CODE COUNT" per line
stack_exits() {
	if [ "${LAUNCHER:-tcpserver}" = accept ]; then
		cat "$WORK/spoolerd.log" "$WORK/accept.log" 2>/dev/null |
			awk '/smtpd-session.*: session [0-9]+ from .* exited [0-9]+$/ {
			n[$NF]++ } END { for (c in n) print c, n[c] }'
		return 0
	fi
	awk '/^tcpserver: end [0-9]+ status [0-9]+$/ {
		s = $5 + 0; if (s % 128 == 0 && s != 0) n[int(s / 256)]++ }
		END { for (c in n) print c, n[c] }' "$WORK/tcpserver.log" 2>/dev/null
}

# the pids of the sessions started so far, one a line (tcpserver's "pid"
# lines; in the accept mode each session's own log lines)
stack_sessions() {
	if [ "${LAUNCHER:-tcpserver}" = accept ]; then
		grep -oE "smtpd-session\[[0-9]+\]: info: disconnect from" \
			"$WORK/session.log" 2>/dev/null | grep -oE "[0-9]+" |
			sort -un
		return 0
	fi
	grep -oE "^tcpserver: pid [0-9]+" "$WORK/tcpserver.log" 2>/dev/null |
		awk '{print $3}'
}
