#!/bin/sh
# need-deps.sh - exit 0 if everything install-deps.sh brings is here
for p in libcjson cmocka gnutls libsystemd hiredis zlib mysqlclient; do
	pkg-config --exists "$p" || exit 1
done
for c in cc python3 systemd-socket-activate tcpserver swaks smtp-source \
	smtp-sink xinetd gnutls-cli openssl valgrind redis-server mariadbd \
	testssl clang afl-fuzz systemd-nspawn debootstrap perf; do
	command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || exit 1
done
exit 0
