"""tests/admin/adminlib.py - shared by tests/admin and tests/spoolq: a
stack of spoolerd and sessions behind systemd-socket-activate (the inetd
mode) on 127.0.0.1 with its config, spool, maildirs and logs, and small
helpers to run programs."""
import json
import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import e2elib as L  # noqa: E402

SESSION = os.environ.get("SMTPD_SESSION") or os.path.join(
    TOP, "smtpd-session", "smtpd-session")
SPOOLERD = os.environ.get("SPOOLERD") or os.path.join(
    TOP, "spoolerd", "spoolerd")
WORK = tempfile.mkdtemp(prefix="admin-")
os.chmod(WORK, 0o755)


def must(cond, what):
    if not cond:
        raise AssertionError(what)


def wait_for(fn, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if fn():
            return True
        time.sleep(0.1)
    return bool(fn())


def sh(argv, env=None, timeout=60, **kw):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(argv, capture_output=True, text=True,
                          timeout=timeout, env=e, **kw)


def mkspool(d):
    for sub in ("tmp", "new", "cur", "failed"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    return d


def base_conf(d, port=2525, **server):
    srv = {"host_name": "mx.test", "listen_interface": "127.0.0.1:%d" % port,
           "timeout": 10, "spool_min_free": 0}
    srv.update(server)
    return {
        "allowed_hosts": ["example.com"],
        "spool_dir": os.path.join(d, "spool"),
        "log_file": os.path.join(d, "spoolerd.log"),
        "backend_config": {
            "save_process": "HeadersParser|Header|Maildir",
            "save_workers_size": 2,
            "maildir_path": os.path.join(d, "mail", "{domain}", "{user}",
                                         "Maildir"),
            "retry_first": "1s",
            "rescan_interval": "1s",
        },
        "servers": [srv],
    }


def write(path, conf, text=None):
    with open(path, "w") as f:
        f.write(text if text is not None else json.dumps(conf, indent=1))
    os.chmod(path, 0o644)
    return path


def check_config(prog, path, as_nobody=False):
    argv = [prog, "-c", path, "--check-config"]
    if as_nobody and os.geteuid() == 0:
        argv = ["setpriv", "--reuid=65534", "--regid=65534",
                "--clear-groups"] + argv
    return sh(argv)


def certs(d):
    key, crt = os.path.join(d, "key.pem"), os.path.join(d, "crt.pem")
    r = sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
            "-days", "30", "-subj", "/CN=mx.test"])
    must(r.returncode == 0, "openssl: %s" % r.stderr)
    for p in (key, crt):
        os.chmod(p, 0o644)
    return key, crt


class Stack:
    """spoolerd and sessions behind systemd-socket-activate (inetd mode),
    one config, separate logs for sessions and spoolerd."""

    def __init__(self, name, **server):
        self.d = os.path.join(WORK, name)
        os.makedirs(self.d)
        mkspool(os.path.join(self.d, "spool"))
        self.port = L.free_port()
        self.conf = base_conf(self.d, self.port,
                              log_file=os.path.join(self.d, "session.log"),
                              **server)
        self.path = write(os.path.join(self.d, "smtpd.json"), self.conf)
        self.sd = self.act = None

    def save(self, text=None):
        write(self.path, self.conf, text)

    def start_spoolerd(self):
        self.sd = L.spawn([SPOOLERD, "-c", self.path],
                          os.path.join(self.d, "spoolerd.err"))
        must(wait_for(lambda: "started" in self.sdlog(), 20),
             "spoolerd did not start:\n" + self.sdlog() +
             self.read("spoolerd.err"))

    def stop_spoolerd(self):
        if self.sd:
            self.sd.send_signal(signal.SIGTERM)
            try:
                self.sd.wait(20)
            except subprocess.TimeoutExpired:
                L.kill_group(self.sd)
            self.sd = None

    def start_sessions(self):
        self.act = L.spawn(["systemd-socket-activate", "-a", "--inetd",
                            "-l", "127.0.0.1:%d" % self.port, "--",
                            SESSION, "-c", self.path],
                           os.path.join(self.d, "launcher.log"))
        L.wait_banner(self.port)

    def read(self, name):
        try:
            with open(os.path.join(self.d, name), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def sdlog(self):
        return self.read("spoolerd.log")

    def sesslog(self):
        return self.read("session.log")

    def send(self, rcpts, msg, sender="a@client.test"):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as s:
            s.ehlo("client.test")
            s.sendmail(sender, rcpts, msg)

    def maildir(self, user):
        return os.path.join(self.d, "mail", "example.com", user, "Maildir")

    def copies(self, user):
        out = []
        for sub in ("new", "cur"):
            p = os.path.join(self.maildir(user), sub)
            if os.path.isdir(p):
                for n in sorted(os.listdir(p)):
                    with open(os.path.join(p, n), "rb") as f:
                        out.append(f.read())
        return out

    def spool(self, sub):
        return sorted(os.listdir(os.path.join(self.d, "spool", sub)))

    def close(self):
        self.stop_spoolerd()
        if self.act:
            L.kill_group(self.act)
            self.act = None
