#!/usr/bin/env python3
"""drain.py - how fast spoolerd drains a full spool into each processor's
real server, beside how fast a session takes mail in (make bench-drain;
also the last part of make bench).

Intake: smtpd-session in the accept mode (--listen) on 127.0.0.1 with no
spoolerd running, Postfix's smtp-source sending DRAIN_INTAKE_N messages
(default DRAIN_N, at most 2000) of 5 KB from 50 clients, once with one
message per connection and once with many (-d); the rate is messages /
wall time, checked against the entries in new/. It is measured again just
before each processor's drain, so that each pair saw the same load.

Drain: for each processor plugin (every bench/drain/*.py not starting
with "_") and each worker count (save_workers_size, DRAIN_WORKERS, default
"1 4"): a fresh spool pre-filled with DRAIN_N entries of about 5 KB (one
recipient each, 100 different ones; written as a session does, tmp/ then
rename into new/), then spoolerd is started and timed until new/, cur/
and defer/ are empty; the target must then hold DRAIN_N more messages
than before and failed/ must be empty, else the run fails (exit 1).

A plugin is a module with
  NAME                 the row's name ("NATS")
  start(workdir)       starts a private server (loopback, data under
                       workdir) and returns (save_process, backend_config
                       dict with the processor's keys)
  count()              how many messages the target holds
  stop()               stops the server
sys.path holds bench/drain, tests/spoolerd (lib) and tests/db (dbs), so a
plugin can use their helpers. A plugin that cannot be imported or
started, or whose processor is not in this spoolerd (--check-config names
it unknown), is a row "not available" with the reason.

Environment: DRAIN_N (default 3000), DRAIN_WORKERS, DRAIN_ONLY (names,
comma-separated, case-insensitive), DRAIN_PLUGINS (plugin directories,
':'-separated, default bench/drain), DRAIN_INTAKE=0 (no intake run),
DRAIN_TIMEOUT (s per run, default 300), SPOOLERD, SESSION, BENCH_DIR
(work dir, kept), DRAIN_RESULTS (default bench/results: drain.txt and
drain.env). Output: progress on stderr, the table on stdout.
"""
import glob
import importlib.util
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PLUGINS = os.path.join(TOP, "bench", "drain")
# DRAIN_PLUGINS: directories of plugins, ':'-separated (tests add theirs)
DIRS = (os.environ.get("DRAIN_PLUGINS") or PLUGINS).split(":")
sys.path[:0] = [PLUGINS, os.path.join(TOP, "tests", "spoolerd"),
                os.path.join(TOP, "tests", "db")]
import lib  # noqa: E402  (tests/spoolerd/lib.py)

SPOOLERD = os.environ.get("SPOOLERD", os.path.join(TOP, "spoolerd/spoolerd"))
SESSION = os.environ.get("SESSION",
                         os.path.join(TOP, "smtpd-session/smtpd-session"))
N = int(os.environ.get("DRAIN_N") or "3000")
INTAKE_N = int(os.environ.get("DRAIN_INTAKE_N") or min(N, 2000))
WORKERS = [int(w) for w in (os.environ.get("DRAIN_WORKERS") or "1 4").split()]
ONLY = [x.strip().lower() for x in os.environ.get("DRAIN_ONLY", "").split(",")
        if x.strip()]
TIMEOUT = float(os.environ.get("DRAIN_TIMEOUT", "300"))
RESULTS = os.environ.get("DRAIN_RESULTS", os.path.join(TOP, "bench",
                                                       "results"))
# the rows in this order, then any other plugin by name
ORDER = ["maildir", "mbox", "redis", "mysql", "webhook", "pipe", "nats",
         "amqp"]


def log(*a):
    print("#", *a, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def message():
    """about 5 KB, CRLF: 80 numbered lines under three headers"""
    body = b"".join(b"%04d the quick brown fox jumps over the lazy dog "
                    b"0123456789\r\n" % i for i in range(80))
    return (b"From: a@example.org\r\nTo: b@example.com\r\nSubject: bench\r\n"
            b"\r\n" + body)[:5000]


def plugins():
    """[(stem, module or None, error)] in ORDER"""
    out = []
    for path in sorted(p for d in DIRS for p in
                       glob.glob(os.path.join(d, "*.py"))):
        stem = os.path.basename(path)[:-3]
        if stem.startswith("_"):
            continue
        try:
            spec = importlib.util.spec_from_file_location(
                "drain_plugin_" + stem, path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            out.append((stem, mod, None))
        except Exception as e:
            out.append((stem, None, "import: %s" % e))
    out.sort(key=lambda p: (ORDER.index(p[0]) if p[0] in ORDER
                            else len(ORDER), p[0]))
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# ------------------------------------------------------------------ intake

CASES = (("1/conn", []), ("many/conn", ["-d"]))


class Intake:
    """smtpd-session in the accept mode on 127.0.0.1, no spoolerd;
    measure() is {case: msg/s} of INTAKE_N messages from 50 smtp-source
    clients, one and many messages per connection, each checked against
    the entries in new/"""

    def __init__(self, base):
        d = self.d = os.path.join(base, "intake")
        os.makedirs(d)
        self.msg = os.path.join(d, "msg")
        with open(self.msg, "wb") as f:  # smtp-source ends lines in CRLF
            f.write(message().replace(b"\r\n", b"\n"))
        self.port = free_port()
        self.spool = os.path.join(d, "spool")
        lib.make_spool(self.spool)
        conf = os.path.join(d, "smtpd.json")
        with open(conf, "w") as f:
            json.dump({
                "allowed_hosts": ["example.com"], "spool_dir": self.spool,
                "log_file": os.path.join(d, "smtpd.log"),
                "log_level": "warn",
                "servers": [{"host_name": "mx.bench", "timeout": 30,
                             "max_size": 10485760, "max_clients": 2000,
                             "spool_min_free": 0, "listen_interface":
                             "127.0.0.1:%d" % self.port}]}, f)
        self.errf = open(os.path.join(d, "accept.err"), "wb")
        self.p = subprocess.Popen([SESSION, "-c", conf, "--listen",
                                   "127.0.0.1:%d" % self.port],
                                  stdout=self.errf, stderr=self.errf)
        if not lib.wait_for(lambda: _connects(self.port), 10):
            self.stop()
            raise RuntimeError("accept mode did not start: %s" %
                               _tail(self.errf.name))

    def measure(self):
        out = {}
        newdir = os.path.join(self.spool, "new")
        for case, flag in CASES:
            for name in os.listdir(newdir):
                os.unlink(os.path.join(newdir, name))
            t0 = time.time()
            r = subprocess.run(["smtp-source"] + flag +
                               ["-s", "50", "-m", str(INTAKE_N), "-F",
                                self.msg, "-M", "bench.test",
                                "-f", "bench@client.test",
                                "-t", "to@example.com",
                                "127.0.0.1:%d" % self.port],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            t = time.time() - t0
            got = len(os.listdir(newdir))
            if r.returncode or got != INTAKE_N:
                raise RuntimeError("intake %s: smtp-source exit %d, %d of %d"
                                   " entries: %s" % (case, r.returncode, got,
                                                     INTAKE_N,
                                                     r.stdout[-300:]))
            out[case] = INTAKE_N / t
            log("intake %s: %d messages in %.2f s = %.0f msg/s (load %s)"
                % (case, INTAKE_N, t, INTAKE_N / t, loadavg()))
        for name in os.listdir(newdir):
            os.unlink(os.path.join(newdir, name))
        return out

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            self.p.wait()
        self.errf.close()


def _connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False


def _tail(path, n=600):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


# ------------------------------------------------------------------- drain

class NotAvailable(Exception):
    pass


def drain_once(mod, d, chain, backend, workers, msg):
    """seconds for spoolerd to drain N entries into mod's target"""
    spool = os.path.join(d, "spool")
    lib.make_spool(spool)
    conf = os.path.join(d, "spoolerd.json")
    be = dict(backend)
    be["save_process"] = chain
    be["save_workers_size"] = workers
    lib.write_config(conf, spool, be, {"log_level": "warn",
                                       "log_file": os.path.join(
                                           d, "spoolerd.log")})
    r = subprocess.run([SPOOLERD, "-c", conf, "--check-config"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode:
        text = r.stdout.decode(errors="replace").strip()
        m = re.search(r'unknown processor "[^"]*"', text)
        if m:
            raise NotAvailable(m.group(0) + " (not in this spoolerd)")
        raise RuntimeError("--check-config: " + text[-400:])
    for i in range(N):
        lib.inject(spool, "a@example.org", ["u%d@example.com" % (i % 100)],
                   msg)
    os.sync()
    before = mod.count()
    errf = open(os.path.join(d, "spoolerd.err"), "wb")
    t0 = time.time()
    p = subprocess.Popen([SPOOLERD, "-c", conf], stdout=errf, stderr=errf)
    failed = os.path.join(spool, "failed")
    defer = os.path.join(spool, "defer")
    why = None
    try:
        while not lib.spool_empty(spool):
            if p.poll() is not None:
                why = "spoolerd exited %d: %s" % (
                    p.returncode, _tail(errf.name) or
                    _tail(os.path.join(d, "spoolerd.log")))
                break
            if (os.path.isdir(defer) and os.listdir(defer)) or \
                    [x for x in os.listdir(failed)
                     if not x.endswith(".reason")]:
                why = "deferred or failed entries: %s" % _tail(
                    os.path.join(d, "spoolerd.log"))
                break
            if time.time() - t0 > TIMEOUT:
                why = "not drained in %.0f s" % TIMEOUT
                break
            time.sleep(0.02)
        t = time.time() - t0
    finally:
        if p.poll() is None:
            p.terminate()
            p.wait()
        errf.close()
    if why:
        raise RuntimeError(why)
    got = mod.count() - before
    if got != N:
        raise RuntimeError("the target holds %d new messages, not %d" %
                           (got, N))
    shutil.rmtree(spool, ignore_errors=True)
    return t


def drain_plugin(stem, mod, base, msg):
    """(name, {workers: msg/s}, note); note is None or why not"""
    name = getattr(mod, "NAME", stem)
    d = os.path.join(base, stem)
    os.makedirs(d)
    try:
        chain, backend = mod.start(os.path.join(d, "target"))
    except Exception as e:
        log("%s: start failed:\n%s" % (name, traceback.format_exc()))
        why = (str(e).splitlines() or [type(e).__name__])[0]
        return name, {}, "not available: start: %s" % why[:120]
    rates = {}
    try:
        for w in WORKERS:
            wd = os.path.join(d, "w%d" % w)
            os.makedirs(wd)
            t = drain_once(mod, wd, chain, backend, w, msg)
            rates[w] = N / t
            log("%s workers=%d: %d messages in %.2f s = %.0f msg/s "
                "(load %s)" % (name, w, N, t, N / t, loadavg()))
        return name, rates, None
    except NotAvailable as e:
        return name, {}, "not available: %s" % e
    except Exception as e:
        log("%s: FAILED: %s" % (name, e))
        return name, rates, "FAILED: %s" % str(e).replace("\n", " ")[:200]
    finally:
        try:
            mod.stop()
        except Exception:
            log("%s: stop: %s" % (name, traceback.format_exc()))


def machine(base):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        fs = subprocess.run(["findmnt", "-no", "FSTYPE", "-T", base],
                            stdout=subprocess.PIPE).stdout.decode().strip()
    except OSError:
        fs = ""
    return "%d CPU (%s), %s, %s" % (os.cpu_count(), cpu, fs or "?",
                                    platform.release())


def main():
    for b in (SPOOLERD, SESSION):
        if not os.access(b, os.X_OK):
            sys.exit("drain: %s not built (make)" % b)
    keep = "BENCH_DIR" in os.environ
    if keep:
        os.makedirs(os.environ["BENCH_DIR"], exist_ok=True)
    base = tempfile.mkdtemp(prefix="drain.", dir=os.environ.get("BENCH_DIR"))
    os.chmod(base, 0o755)  # Pipe's command runs as nobody under root
    msg = message()
    load0 = loadavg()
    t_start = time.time()
    rows, bad = [], 0
    try:
        ink = None
        if os.environ.get("DRAIN_INTAKE", "1") != "0":
            if shutil.which("smtp-source"):
                ink = Intake(base)
            else:
                log("intake not measured: smtp-source (postfix) missing")
        for stem, mod, err in plugins():
            if ONLY and stem.lower() not in ONLY and (
                    mod is None or getattr(mod, "NAME", "").lower()
                    not in ONLY):
                continue
            if mod is None:
                rows.append((stem, {}, "not available: " + err, {}))
                continue
            name = getattr(mod, "NAME", stem)
            # the intake beside each drain: the load of a shared machine
            # changes within minutes
            ins = ink.measure() if ink else {}
            log("%s: start" % name)
            row = drain_plugin(stem, mod, base, msg) + (ins,)
            rows.append(row)
            if row[2] and row[2].startswith("FAILED"):
                bad += 1
        if ink:
            ink.stop()
    finally:
        if not keep:
            shutil.rmtree(base, ignore_errors=True)
    if ONLY and not rows:
        sys.exit("drain: no plugin named %s" % ",".join(ONLY))
    text = table(rows, load0, loadavg(), time.time() - t_start,
                 machine(os.path.dirname(base)))
    print(text, end="")
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "drain.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(RESULTS, "drain.env"), "w") as f:
        f.write("n=%d\nintake_n=%d\n" % (N, INTAKE_N))
        for name, rates, note, ins in rows:
            key = name.lower()
            for w, r in rates.items():
                f.write("drain_%s_w%d=%.1f\n" % (key, w, r))
            for case, r in ins.items():
                f.write("intake_%s_%s=%.1f\n" % (key, case.replace(
                    "/", "_"), r))
            if note:
                f.write("drain_%s_note=%s\n" % (key, note))
    return 1 if bad else 0


def table(rows, load0, load1, secs, mach):
    """the Markdown table: per processor the rate per worker count, the
    intake measured just before, and the faster worker count over each
    intake case (≥ 1×: drains at least as fast as sessions take mail
    in)"""
    cases = [c for c, _ in CASES]
    head = ["processor"] + ["%d worker%s" % (w, "s" * (w > 1))
                            for w in WORKERS]
    head += ["intake %s" % c for c in cases]
    head += ["drain / intake %s" % c for c in cases]
    out = []
    for name, rates, note, ins in rows:
        cells = [name] + ["%.0f" % rates[w] if w in rates else "-"
                          for w in WORKERS]
        cells += ["%.0f" % ins[c] if c in ins else "-" for c in cases]
        if note:
            cells += [note] + [""] * (len(cases) - 1)
        elif not ins:
            cells += ["intake not measured"] + [""] * (len(cases) - 1)
        else:
            best = max(rates.values())
            cells += ["%.2f× %s" % (best / ins[c], "yes" if best >= ins[c]
                                    else "NO") for c in cases]
        out.append([c.replace("|", "/") for c in cells])
    w = [max(len(r[i]) for r in out + [head]) for i in range(len(head))]
    lines = ["spoolerd drain (bench/drain.py): %d entries of 5 KB per run, "
             "%s; load average %s at the start, %s at the end; %.0f s"
             % (N, mach, load0, load1, secs),
             "msg/s; intake: the accept mode, no spoolerd, %d messages from "
             "50 smtp-source clients, measured just before each processor; "
             "drain / intake: the faster worker count over it" % INTAKE_N]
    lines.append("| " + " | ".join(h.ljust(w[i]) for i, h in
                                   enumerate(head)) + " |")
    lines.append("|" + "|".join("-" * (x + 2) for x in w) + "|")
    for r in out:
        lines.append("| " + " | ".join(c.ljust(w[i]) for i, c in
                                       enumerate(r)) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
