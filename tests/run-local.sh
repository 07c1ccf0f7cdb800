#!/bin/bash
# run-local.sh - `make run`: the whole thing on this machine, no root
# setup, no systemd as PID 1: systemd-socket-activate accepts on
# 127.0.0.1:$PORT (default 2525) and starts one smtpd-session per
# connection; spoolerd (when built) delivers into ./var/mail. ACCEPT=1
# (`make run ACCEPT=1`): smtpd-session's own accept mode instead
# (--listen: one parent, one forked session per connection).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
port=${PORT:-2525}
var=$top/var

# a port already taken would make the listener below fail with a bare
# "Address already in use" after the banner: say it plainly, first
if ! python3 - "$port" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError as e:
    sys.exit(1)
PY
then
	echo "make run: 127.0.0.1:$port is already in use (another make run," \
		"or a server on that port); choose another: make run PORT=2526" >&2
	exit 1
fi

mkdir -p "$var"/spool/tmp "$var"/spool/new "$var"/spool/cur \
	"$var"/spool/failed "$var"/mail

# the sample config, with every path moved under ./var (spoolerd's
# --check-config: a session's leaves out backend_config)
spoolerd/spoolerd -c conf/smtpd.json --check-config 2>/dev/null |
	python3 -c '
import json, sys
c = json.load(sys.stdin)
var, port = sys.argv[1], sys.argv[2]
c["spool_dir"] = var + "/spool"
c["pid_file"] = var + "/spoolerd.pid"
c["log_file"] = "stderr"
c["allowed_hosts"] = ["example.com", "*.example.com", "localhost"]
b = c.setdefault("backend_config", {})
b["maildir_path"] = var + "/mail/{domain}/{user}/Maildir"
b["mbox_path"] = var + "/mail/{domain}/{user}.mbox"
b["retry_first"] = "10s"
s = c["servers"][0]
s["listen_interface"] = "127.0.0.1:" + port
s["host_name"] = "localhost"
s["spool_min_free"] = 0
json.dump(c, open(var + "/smtpd.json", "w"), indent=2)
' "$var" "$port"

if [ "${ACCEPT:-0}" = 1 ]; then
	how="the accept mode: smtpd-session --listen, one forked
session per connection"
else
	how="systemd-socket-activate, one
smtpd-session per connection"
fi
cat <<MSG
smtpd: listening on 127.0.0.1:$port ($how); config $var/smtpd.json
  spool:    $var/spool/new/
  mail:     $var/mail/<domain>/<user>/Maildir/new/
  send one: swaks --server 127.0.0.1:$port --to user@example.com \\
                  --from me@example.net --body 'hello'
Ctrl-C stops it.
MSG

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
if [ -x spoolerd/spoolerd ]; then
	spoolerd/spoolerd -c "$var/smtpd.json" &
	pids+=($!)
fi
if [ "${ACCEPT:-0}" = 1 ]; then
	"$top/smtpd-session/smtpd-session" -c "$var/smtpd.json" \
		--listen "127.0.0.1:$port" &
else
	systemd-socket-activate --inetd -a -l "127.0.0.1:$port" \
		"$top/smtpd-session/smtpd-session" -c "$var/smtpd.json" &
fi
pids+=($!)
wait "${pids[@]}"
