#!/bin/sh
# install-deps.sh [run|test] - install the Debian 12 packages of
# tests/deps.list for the mode (as root): run = build and run the server
# (`make run`), test (the default) = that and everything the tests, lint
# and benchmarks use. Postfix comes only for smtp-source/smtp-sink and as
# the benchmark peer: debconf "No configuration" keeps it from configuring
# or starting a system mail service.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-test}
case $mode in
run) pat='^run[[:space:]]' ;;
test) pat='^(run|test)[[:space:]]' ;;
*)
	echo "usage: $0 [run|test]" >&2
	exit 2
	;;
esac
pkgs=$(grep -E "$pat" "$top/tests/deps.list" | awk '{ print $2 }')
export DEBIAN_FRONTEND=noninteractive
case " $(echo "$pkgs" | tr '\n' ' ') " in
*" postfix "*)
	echo "postfix postfix/main_mailer_type select No configuration" |
		debconf-set-selections
	;;
esac
apt-get update -qq
# shellcheck disable=SC2086 # one word per package
apt-get install -y -qq --no-install-recommends $pkgs
