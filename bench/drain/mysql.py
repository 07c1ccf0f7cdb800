"""bench/drain plugin: MySQL, one row per recipient with the compressed
message in `mail` (HeadersParser|Header|Hasher|Compressor|MySQL, rows
batched by sql_batch_size), into a private mariadbd with its durable
defaults (innodb_flush_log_at_trx_commit=1, doublewrite on;
tests/db/dbs.py) and the table of conf/sql/create-table.sh."""
import os
import subprocess

import dbs

NAME = "MySQL"
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
_srv = None


def start(workdir):
    global _srv
    # MariaDB's temporary tables go to $TMPDIR (else /tmp, where another
    # instance's names can collide with ours): a private one
    tmp = os.path.join(workdir, "tmp")
    os.makedirs(tmp, exist_ok=True)
    old = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = tmp
    try:
        _srv = dbs.Maria(workdir, fast=False).start()
    finally:
        if old is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = old
    _srv.sql("CREATE DATABASE gmail; CREATE USER 'gg'@'127.0.0.1' "
             "IDENTIFIED BY 'pw'; GRANT ALL ON gmail.* TO 'gg'@'127.0.0.1'")
    subprocess.run([os.path.join(TOP, "conf/sql/create-table.sh"), "-t",
                    "mail", "gmail", "--no-defaults", "-uroot",
                    "--socket=" + _srv.sock], check=True,
                   stdout=subprocess.DEVNULL)
    return ("HeadersParser|Header|Hasher|Compressor|MySQL",
            {"sql_dsn": "gg:pw@tcp(127.0.0.1:%d)/gmail" % _srv.port,
             "mail_table": "mail",
             "sql_batch_size": int(os.environ.get("BATCH", "50"))})


def count():
    return int(_srv.sql("SELECT COUNT(*) FROM gmail.mail")[0][0])


def stop():
    if _srv:
        _srv.stop()
