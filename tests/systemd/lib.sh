# shellcheck shell=bash
# tests/systemd/lib.sh - a real systemd as PID 1 for tests and benchmarks,
# with systemd-nspawn (sourced by tests/systemd/suite and
# bench/launchers.sh; README.md "Which launcher" has the figures).
#
#   ns_base        a minimal Debian bookworm root made by debootstrap,
#                  cached in $NS_CACHE (default /var/cache/smtpd-test-root);
#                  built when missing (about 1-2 min, from the mirror of
#                  /etc/apt/sources.list)
#   ns_root DIR    DIR/root: a writable copy of the base (an overlay when
#                  the kernel allows, else cp -a), the project installed
#                  with `make install DESTDIR=... PREFIX=/usr`, the test
#                  config and a self-signed certificate, smtpd.socket,
#                  smtps.socket and spoolerd.service enabled, and
#                  smtpd-test.service that runs inside.py ARGS then ends
#                  the container
#   ns_boot DIR    boots it (timeout NS_TIMEOUT, default 300 s), results
#                  in DIR/results
#   ns_clean DIR   unmounts, removes DIR and the cgroups nspawn left
#
# Needs root, systemd-nspawn (systemd-container), debootstrap, openssl.

NS_CACHE=${NS_CACHE:-/var/cache/smtpd-test-root}
NS_SUITE=bookworm
NS_TIMEOUT=${NS_TIMEOUT:-300}
# the runtime libraries of the binaries (libgnutls30 is dlopen'ed by the
# session, linked by spoolerd, with hiredis, MariaDB Connector/C, zlib,
# libcurl, libnats and librabbitmq),
# python3 for the clients inside, procps for
# ExecReload's kill, ucspi-tcp-ipv6 for smtpd-tcpserver.service
NS_INCLUDE=systemd,systemd-sysv,dbus,procps,libcjson1,libgnutls30,libsystemd0,libhiredis0.14,libmariadb3,zlib1g,libcurl3-gnutls,libnats3.4,librabbitmq4,python3,ucspi-tcp-ipv6
ns_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

ns_mirror() {
	local m
	m=$(grep -hoE '^(deb|URIs:)[[:space:]]+\[?[^]]*\]?[[:space:]]*https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -oE 'https?://[^[:space:]]+/debian/?' | grep -v security | head -n1)
	echo "${m:-http://deb.debian.org/debian}"
}

ns_base() {
	local stamp="$NS_SUITE minbase $NS_INCLUDE"
	if [ -f "$NS_CACHE/base/.smtpd-test-stamp" ] &&
		[ "$(cat "$NS_CACHE/base/.smtpd-test-stamp")" = "$stamp" ]; then
		return 0
	fi
	mkdir -p "$NS_CACHE"
	rm -rf "$NS_CACHE/base.new"
	echo "# debootstrap $NS_SUITE into $NS_CACHE (cached for later runs)" >&2
	timeout 900 debootstrap --variant=minbase --include="$NS_INCLUDE" \
		"$NS_SUITE" "$NS_CACHE/base.new" "$(ns_mirror)" \
		>"$NS_CACHE/debootstrap.log" 2>&1 || {
		echo "# debootstrap failed, see $NS_CACHE/debootstrap.log" >&2
		tail -n 5 "$NS_CACHE/debootstrap.log" | sed 's/^/# /' >&2
		return 1
	}
	echo "$stamp" >"$NS_CACHE/base.new/.smtpd-test-stamp"
	rm -rf "$NS_CACHE/base"
	mv "$NS_CACHE/base.new" "$NS_CACHE/base"
}

# ns_config ROOT - the config of the tests: port 25 with STARTTLS, 465
# with implicit TLS, maildirs under /var/mail
ns_config() {
	local r=$1
	cat >"$r/etc/smtpd/smtpd.json" <<'EOF'
{
    "allowed_hosts": ["example.com"],
    "spool_dir": "/var/spool/smtpd",
    "pid_file": "/run/spoolerd/spoolerd.pid",
    "log_file": "stderr",
    "log_level": "info",
    "backend_config": {
        "save_process": "HeadersParser|Header|Maildir",
        "primary_mail_host": "mx.example.com",
        "maildir_path": "/var/mail/{domain}/{user}/Maildir",
        "retry_first": "2s",
        "rescan_interval": "5s"
    },
    "servers": [
        {
            "name": "mx",
            "host_name": "mx.example.com",
            "listen_interface": ":25",
            "max_clients": 1000,
            "max_clients_per_ip": 0,
            "spool_min_free": 0,
            "timeout": 60,
            "tls": {
                "start_tls_on": true,
                "private_key_file": "tls_key.pem",
                "public_key_file": "tls_cert.pem"
            }
        },
        {
            "name": "smtps",
            "host_name": "mx.example.com",
            "listen_interface": ":465",
            "max_clients": 1000,
            "spool_min_free": 0,
            "timeout": 60,
            "tls": {
                "tls_always_on": true,
                "private_key_file": "tls_key.pem",
                "public_key_file": "tls_cert.pem"
            }
        }
    ]
}
EOF
	chmod 0644 "$r/etc/smtpd/smtpd.json"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mx.example.com \
		-keyout "$r/etc/smtpd/tls/key.pem" -out "$r/etc/smtpd/tls/cert.pem" \
		>/dev/null 2>&1 || return 1
	chmod 0600 "$r/etc/smtpd/tls/key.pem" "$r/etc/smtpd/tls/cert.pem"
}

# ns_root DIR [inside.py args...]
ns_root() {
	local w=$1
	shift
	local r=$w/root
	mkdir -p "$w/root" "$w/up" "$w/wk" "$w/results" || return 1
	if ! mount -t overlay overlay \
		-o "lowerdir=$NS_CACHE/base,upperdir=$w/up,workdir=$w/wk" \
		"$r" 2>/dev/null; then
		cp -a --reflink=auto "$NS_CACHE/base/." "$r/" || return 1
	fi
	# the binaries the runner built: never rebuilt here (-o)
	make -s -C "$ns_top" -o smtpd-session/smtpd-session \
		-o spoolerd/spoolerd install DESTDIR="$r" PREFIX=/usr \
		>"$w/install.log" 2>&1 || {
		sed 's/^/# /' "$w/install.log" >&2
		return 1
	}
	ns_config "$r" || return 1
	systemctl --root="$r" enable smtpd.socket smtps.socket \
		spoolerd.service >>"$w/install.log" 2>&1 || return 1
	cat >"$r/etc/systemd/system/smtpd-test.service" <<EOF
[Unit]
Description=smtpd tests (inside.py $*)
Wants=smtpd.socket smtps.socket spoolerd.service
After=smtpd.socket smtps.socket spoolerd.service multi-user.target
SuccessAction=exit
FailureAction=exit

[Service]
Type=oneshot
ExecStart=/usr/bin/python3 /opt/t/inside.py $*
LimitNOFILE=65536
StandardOutput=append:/results/inside.out
StandardError=append:/results/inside.out
TimeoutStartSec=$((NS_TIMEOUT - 30))

[Install]
WantedBy=multi-user.target
EOF
	systemctl --root="$r" enable smtpd-test.service >>"$w/install.log" 2>&1
}

# ns_boot DIR - boot it; nspawn's status is inside.py's
ns_boot() {
	local w=$1
	timeout "$NS_TIMEOUT" systemd-nspawn -q -b -D "$w/root" --register=no \
		--keep-unit --private-network \
		--bind-ro="$ns_top/tests/systemd:/opt/t" \
		--bind="$w/results:/results" >"$w/boot.log" 2>&1
}

# ns_clean DIR
ns_clean() {
	local w=$1 d
	if mountpoint -q "$w/root" 2>/dev/null; then
		umount "$w/root" 2>/dev/null || umount -l "$w/root"
	fi
	rm -rf "$w"
	# nspawn --keep-unit leaves empty cgroups behind (payload/init.scope,
	# supervisor): remove them, deepest first; a busy one stays
	for d in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
		[ -d "$d/payload" ] || [ -d "$d/supervisor" ] || continue
		find "$d/payload" "$d/supervisor" -depth -type d \
			-exec rmdir {} \; 2>/dev/null
	done
	return 0
}
