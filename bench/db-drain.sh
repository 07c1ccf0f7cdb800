#!/bin/sh
# db-drain.sh [N] - spoolerd's drain rate into Redis and MySQL.
#
# Starts a private redis-server and mariadbd (throwaway data directories,
# loopback, non-default ports; tests/db/dbs.py), creates the table with
# conf/sql/create-table.sh, then for 1 and 4 workers: pre-fills a fresh
# spool with N (default 20000) entries of about 5 KB (as
# bench/spoolerd-drain.sh does: tmp/ then rename into new/), starts
# spoolerd with save_process HeadersParser|Hasher|Compressor|Redis|MySQL
# and times from start until new/, cur/ and defer/ are empty, then checks
# N keys and N rows. One line per worker count:
#   db drain: workers=W N messages in S s = R msg/s
# MariaDB runs with its durable defaults (innodb_flush_log_at_trx_commit
# =1); DB_FAST=1 relaxes that. Env: SPOOLERD, WORKERS_LIST (default
# "1 4"), BATCH (sql_batch_size, default 50), BENCH_DIR (kept if given).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
exec python3 - "$top" "${1:-20000}" <<'PY'
import os, shutil, subprocess, sys, tempfile, time
top, n = sys.argv[1], int(sys.argv[2])
sys.path[:0] = [os.path.join(top, "tests", "db"),
                os.path.join(top, "tests", "spoolerd")]
sys.dont_write_bytecode = True
import dbs, lib
spoolerd = os.environ.get("SPOOLERD", os.path.join(top, "spoolerd/spoolerd"))
workers_list = [int(w) for w in os.environ.get("WORKERS_LIST", "1 4").split()]
batch = int(os.environ.get("BATCH", "50"))
keep = "BENCH_DIR" in os.environ
base = os.environ.get("BENCH_DIR") or tempfile.mkdtemp(prefix="db-drain.")
redis = maria = None
try:
    redis = dbs.Redis(os.path.join(base, "redis")).start()
    maria = dbs.Maria(os.path.join(base, "maria"),
                      fast=os.environ.get("DB_FAST") == "1").start()
    maria.sql("CREATE DATABASE gmail; CREATE USER 'gg'@'127.0.0.1' "
              "IDENTIFIED BY 'pw'; GRANT ALL ON gmail.* TO 'gg'@'127.0.0.1'")
    body = b"".join(b"%04d the quick brown fox jumps over the lazy dog "
                    b"0123456789\r\n" % i for i in range(80))
    msg = (b"From: a@example.org\r\nTo: b@example.com\r\nSubject: bench\r\n"
           b"\r\n" + body)[:5000]
    for w in workers_list:
        d = os.path.join(base, "w%d" % w)
        spool = os.path.join(d, "spool")
        lib.make_spool(spool)
        subprocess.run([os.path.join(top, "conf/sql/create-table.sh"), "-t",
                        "mail_w%d" % w, "gmail", "--no-defaults", "-uroot",
                        "--socket=" + maria.sock], check=True)
        redis.cmd("FLUSHALL")
        conf = os.path.join(d, "conf.json")
        lib.write_config(conf, spool, {
            "save_process": "HeadersParser|Hasher|Compressor|Redis|MySQL",
            "redis_interface": "127.0.0.1:%d" % redis.port,
            "sql_dsn": "gg:pw@tcp(127.0.0.1:%d)/gmail" % maria.port,
            "mail_table": "mail_w%d" % w, "save_workers_size": w,
            "sql_batch_size": batch}, {"log_level": "warn"})
        for i in range(n):
            lib.inject(spool, "a@example.org",
                       ["u%d@example.com" % (i % 100)], msg)
        os.sync()
        log = open(os.path.join(d, "spoolerd.log"), "wb")
        t0 = time.time()
        p = subprocess.Popen([spoolerd, "-c", conf], stdout=log, stderr=log)
        while not lib.spool_empty(spool):
            if p.poll() is not None:
                sys.exit("spoolerd died, see %s" % log.name)
            time.sleep(0.05)
        t = time.time() - t0
        p.terminate()
        p.wait()
        rows = int(maria.sql("SELECT COUNT(*) FROM gmail.mail_w%d" % w)[0][0])
        keys = redis.cmd("DBSIZE")
        failed = len(os.listdir(os.path.join(spool, "failed")))
        if rows != n or keys != n or failed:
            sys.exit("db drain: workers=%d: %d rows, %d keys, %d failed "
                     "(want %d)" % (w, rows, keys, failed, n))
        print("db drain: workers=%d %d messages in %.2f s = %.0f msg/s"
              % (w, n, t, n / t))
        sys.stdout.flush()
        shutil.rmtree(spool, ignore_errors=True)
finally:
    for s in (redis, maria):
        if s:
            s.stop()
    if not keep:
        shutil.rmtree(base, ignore_errors=True)
PY
