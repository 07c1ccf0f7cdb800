#!/bin/sh
# install-deps.sh - the Debian 12 packages to build, run and test (as root).
# Postfix comes only for smtp-source/smtp-sink and as the benchmark peer:
# debconf "No configuration" keeps it from configuring or starting a
# system mail service.
set -e
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" |
	debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	build-essential pkg-config python3 \
	libcjson-dev libcmocka-dev libgnutls28-dev libsystemd-dev \
	libhiredis-dev default-libmysqlclient-dev zlib1g-dev \
	systemd ucspi-tcp-ipv6 xinetd swaks postfix \
	gnutls-bin openssl valgrind procps iproute2 util-linux \
	redis-server mariadb-server mariadb-client \
	testssl.sh clang libclang-rt-14-dev afl++ \
	systemd-container debootstrap linux-perf strace
