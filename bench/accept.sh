#!/bin/bash
# bench/accept.sh - the accept mode against tcpserver, same run: smtp-source
# (1 message of 5 KB per connection, 50 clients) and STARTTLS sessions
# (ECDSA P-256, 8 parallel clients). Prints msg/s or sessions/s and the
# server's CPU per message/session: utime+stime of the launcher and all
# its (reaped) children, from /proc/PID/stat. Intake only: no spoolerd.
#   bench/accept.sh [SESSION] (MSGS=2000 TLS_SESSIONS=400)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
session=${1:-$top/smtpd-session/smtpd-session}
msgs=${MSGS:-2000}
tlsn=${TLS_SESSIONS:-400}
work=$(mktemp -d /tmp/bench-accept.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$work/k.pem" -out "$work/c.pem" -days 2 -subj /CN=mx.test \
	2>/dev/null
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# cpu PID - clock ticks used by PID and its reaped children
cpu() { awk '{print $14+$15+$16+$17}' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)

# conf NAME PORT - a spool and config for one server
conf() {
	mkdir -p "$work/$1/spool/"{tmp,new,cur,failed}
	cat > "$work/$1/smtpd.json" <<JSON
{"allowed_hosts":["example.com"],"spool_dir":"$work/$1/spool",
 "log_file":"$work/$1/log","servers":[{"host_name":"mx.test",
 "listen_interface":"127.0.0.1:$2","max_clients":1000,"spool_min_free":0,
 "tls":{"start_tls_on":true,"public_key_file":"$work/c.pem",
 "private_key_file":"$work/k.pem"}}]}
JSON
}

start() { # start KIND PORT -> $pid
	if [ "$1" = accept ]; then
		setsid "$session" -c "$work/$1/smtpd.json" \
			--listen "127.0.0.1:$2" 2>>"$work/$1/err" &
	else
		setsid tcpserver -l localhost -H -R -b 1024 -c 200 127.0.0.1 \
			"$2" "$session" -c "$work/$1/smtpd.json" 2>>"$work/$1/err" &
	fi
	pid=$!
	for _ in $(seq 50); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1',$2)).recv(9)" \
			2>/dev/null && return 0
		sleep 0.1
	done
	echo "$1 did not start" >&2
	exit 1
}

tls_client() { # tls_client PORT N
	python3 - "$1" "$2" <<'PY'
import socket, ssl, sys
from multiprocessing import Pool
port, n = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
def one(_):
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"EHLO c\r\n")
    while f.readline()[3:4] == b"-":
        pass
    s.sendall(b"STARTTLS\r\n")
    f.readline()
    t = ctx.wrap_socket(s)
    t.sendall(b"QUIT\r\n")
    t.recv(100)
    t.close()
with Pool(8) as p:
    p.map(one, range(n))
PY
}

for kind in tcpserver accept; do
	p=$(port)
	conf $kind "$p"
	start $kind "$p"
	sleep 0.5
	c0=$(cpu $pid)
	t0=$(date +%s.%N)
	smtp-source -s 50 -m "$msgs" -l 5000 -f a@client.test \
		-t u@example.com "127.0.0.1:$p"
	t1=$(date +%s.%N)
	sleep 1 # the last sessions are reaped
	c1=$(cpu $pid)
	got=$(find "$work/$kind/spool/new" -type f | wc -l)
	awk -v k=$kind -v n="$msgs" -v g="$got" -v a="$t0" -v b="$t1" \
		-v c="$((c1 - c0))" -v hz="$tck" 'BEGIN {
		printf "%-9s smtp-source 1/conn 50 clients: %d msgs (%d in new/) %.0f msg/s, server CPU %.2f ms/msg\n",
			k, n, g, n / (b - a), c * 1000 / hz / n }'
	c0=$(cpu $pid)
	t0=$(date +%s.%N)
	tls_client "$p" "$tlsn"
	t1=$(date +%s.%N)
	sleep 1
	c1=$(cpu $pid)
	awk -v k=$kind -v n="$tlsn" -v a="$t0" -v b="$t1" \
		-v c="$((c1 - c0))" -v hz="$tck" 'BEGIN {
		printf "%-9s STARTTLS ECDSA P-256, 8 clients: %.0f sessions/s, server CPU %.2f ms/session\n",
			k, n / (b - a), c * 1000 / hz / n }'
	kill -TERM -- -$pid
	wait $pid 2>/dev/null || true
done
