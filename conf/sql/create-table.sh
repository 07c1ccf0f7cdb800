#!/bin/sh
# create-table.sh - the database and mail table for spoolerd's MySQL/SQL
# processor, and optionally a user that may write it.
#
#   conf/sql/create-table.sh [-t TABLE] [-u USER -p PASSWORD [-h HOST]] \
#       DATABASE [mariadb client options...]
#
# TABLE defaults to new_mail (backend_config.mail_table). With -u, USER
# @HOST (default '%') is created if missing and given SELECT and INSERT
# on the table (SELECT for spoolerd's start-up check, UPDATE for ON
# DUPLICATE KEY). Client options reach mariadb (or mysql) as they are,
# e.g. --socket=/run/mysqld/mysqld.sock -uroot. Idempotent.
set -eu
table=new_mail user='' pass='' host=%
while getopts t:u:p:h: o; do
	case $o in
	t) table=$OPTARG ;;
	u) user=$OPTARG ;;
	p) pass=$OPTARG ;;
	h) host=$OPTARG ;;
	*) sed -n '2,13s/^# \{0,1\}//p' "$0" >&2; exit 64 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { sed -n '2,13s/^# \{0,1\}//p' "$0" >&2; exit 64; }
db=$1
shift
case $db$table in *[!A-Za-z0-9_\$]*)
	echo "create-table.sh: database and table: letters, digits, _ and \$ only" >&2
	exit 64 ;;
esac
client=$(command -v mariadb || command -v mysql) || {
	echo "create-table.sh: no mariadb or mysql client" >&2; exit 69; }
dir=$(cd "$(dirname "$0")" && pwd)
sqlq() { printf "%s" "$1" | sed "s/'/''/g"; }
{
	echo "CREATE DATABASE IF NOT EXISTS \`$db\` DEFAULT CHARACTER SET utf8mb4;"
	echo "USE \`$db\`;"
	sed "s/\`new_mail\`/\`$table\`/" "$dir/new_mail.sql"
	if [ -n "$user" ]; then
		u=$(sqlq "$user") p=$(sqlq "$pass") h=$(sqlq "$host")
		echo "CREATE USER IF NOT EXISTS '$u'@'$h' IDENTIFIED BY '$p';"
		echo "GRANT SELECT, INSERT, UPDATE ON \`$db\`.\`$table\` TO '$u'@'$h';"
	fi
} | "$client" "$@"
