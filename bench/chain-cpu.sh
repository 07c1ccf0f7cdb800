#!/bin/sh
# chain-cpu.sh [N] [R] - spoolerd's CPU time to deliver N messages (default
# 2000) of about 5 KB with R recipients each (default 10) through
# HeadersParser|Header|Hasher|Compressor|Redis into a private redis-server
# (tests/db/dbs.py, loopback). Prints user and system CPU seconds of
# spoolerd (its rusage after it exits) and the wall time, and checks N*R
# keys, each one zlib stream of the delivery headers and the message.
# Env: SPOOLERD, WORKERS (default 1), BENCH_DIR (kept if given).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
exec python3 - "$top" "${1:-2000}" "${2:-10}" <<'PY'
import os, shutil, subprocess, sys, tempfile, time, zlib
top, n, nr = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sys.path[:0] = [os.path.join(top, "tests", "db"),
                os.path.join(top, "tests", "spoolerd")]
sys.dont_write_bytecode = True
import dbs, lib
spoolerd = os.environ.get("SPOOLERD", os.path.join(top, "spoolerd/spoolerd"))
workers = int(os.environ.get("WORKERS", "1"))
keep = "BENCH_DIR" in os.environ
base = os.environ.get("BENCH_DIR") or tempfile.mkdtemp(prefix="chain-cpu.")
redis = None
try:
    redis = dbs.Redis(os.path.join(base, "redis")).start()
    body = b"".join(b"%04d the quick brown fox jumps over the lazy dog "
                    b"0123456789\r\n" % i for i in range(80))
    msg = (b"From: a@example.org\r\nTo: b@example.com\r\nSubject: bench\r\n"
           b"\r\n" + body)[:5000]
    spool = os.path.join(base, "spool")
    lib.make_spool(spool)
    conf = os.path.join(base, "conf.json")
    lib.write_config(conf, spool, {
        "save_process": "HeadersParser|Header|Hasher|Compressor|Redis",
        "redis_interface": "127.0.0.1:%d" % redis.port,
        "save_workers_size": workers}, {"log_level": "warn"})
    for i in range(n):
        lib.inject(spool, "a@example.org",
                   ["u%d.%d@example.com" % (i, j) for j in range(nr)], msg)
    os.sync()
    log = open(os.path.join(base, "spoolerd.log"), "wb")
    t0 = time.time()
    p = subprocess.Popen([spoolerd, "-c", conf], stdout=log, stderr=log)
    while not lib.spool_empty(spool):
        if p.poll() is not None:
            sys.exit("spoolerd died, see %s" % log.name)
        time.sleep(0.02)
    t = time.time() - t0
    p.terminate()
    _, _, ru = os.wait4(p.pid, 0)
    keys = redis.cmd("DBSIZE")
    if keys != n * nr:
        sys.exit("chain cpu: %d keys, want %d" % (keys, n * nr))
    k = redis.cmd("KEYS", "*")[0]
    v = zlib.decompress(redis.cmd("GET", k))
    if not v.startswith(b"Return-Path: <a@example.org>\r\nDelivered-To: ") \
       or not v.endswith(msg):
        sys.exit("chain cpu: key %r does not hold the message" % k)
    print("chain cpu: %d messages x %d recipients: user %.2f s sys %.2f s "
          "cpu %.2f s, wall %.2f s" % (n, nr, ru.ru_utime, ru.ru_stime,
                                       ru.ru_utime + ru.ru_stime, t))
finally:
    if redis:
        redis.stop()
    if not keep:
        shutil.rmtree(base, ignore_errors=True)
PY
