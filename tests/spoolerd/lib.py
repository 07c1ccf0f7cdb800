"""lib.py - helpers for the spoolerd end-to-end suite and the benchmark:
configs, spool entries written directly, spoolerd and listener processes,
maildir and mbox readers."""
import json
import os
import random
import signal
import smtplib
import socket
import subprocess
import time

SAN = os.environ.get("SAN", "0") == "1"
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SPOOLERD = os.environ.get("SPOOLERD", os.path.join(TOP, "spoolerd/spoolerd"))
SESSION = os.environ.get("SMTPD_SESSION",
                         os.path.join(TOP, "smtpd-session/smtpd-session"))


def write_config(path, spool, backend, extra=None):
    cfg = {
        "allowed_hosts": ["example.com", "example.org"],
        "spool_dir": spool,
        "log_file": "stderr",
        "log_level": "info",
        "backend_config": backend,
        "servers": [{"is_enabled": True, "host_name": "mx.test",
                     "listen_interface": "127.0.0.1:2525",
                     "max_size": 10485760}],
    }
    if extra:
        cfg.update(extra)
    with open(path + ".tmp", "w") as f:
        json.dump(cfg, f, indent=1)
    os.rename(path + ".tmp", path)


_counter = [0]


def make_id(t=None):
    _counter[0] += 1
    t = int(time.time()) if t is None else t
    return "%d.M%06dP%dQ%d" % (t, random.randrange(1000000), os.getpid(),
                               _counter[0])


def entry_bytes(qid, sender, rcpts, msg, t=None, host="mx.test",
                version=2, received=None):
    """The spool entry format of common/entry.c; version=1 writes an entry
    as sessions did before X-Spool-Data-Offset (spoolerd still reads
    them); received replaces our Received header."""
    t = int(time.time()) if t is None else t
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))
    env = [b"X-Spool-Version: %d" % version,
           b"X-Spool-Queue-Id: " + qid.encode(),
           b"X-Spool-Time: %d" % t, b"X-Spool-Host: " + host.encode(),
           b"X-Spool-Sender: <" + sender.encode() + b">"]
    env += [b"X-Spool-Recipient: <" + r.encode() + b">" for r in rcpts]
    env += [b"X-Spool-Client: 127.0.0.1 port 4242", b"X-Spool-Helo: test",
            b"X-Spool-Protocol: ESMTP", b"X-Spool-TLS: none",
            b"X-Spool-Body: 8BITMIME", b"X-Spool-Size: %020d" % len(msg)]
    rec = (b"Received: from test (unknown [127.0.0.1])\r\n\tby " +
           host.encode() + b" with ESMTP id " + qid.encode())
    if len(rcpts) == 1:  # entry_format's for line
        rec += b"\r\n\tfor <" + rcpts[0].encode() + b">"
    rec += b"; " + date.encode() + b"\r\n"
    if received is not None:
        rec = received
    head = b"\r\n".join(env) + b"\r\n"
    if version >= 2:  # the offset counts its own line (fixed width)
        field = b"X-Spool-Data-Offset: %010d\r\n"
        head += field % (len(head) + len(field % 0) + len(rec))
    return head + rec + msg


def inject(spool, sender, rcpts, msg, qid=None, t=None, where="new",
           version=2, received=None):
    """Write an entry as the session does: tmp/, fsync-free rename."""
    qid = qid or make_id(t)
    tmp = os.path.join(spool, "tmp", qid)
    with open(tmp, "wb") as f:
        f.write(entry_bytes(qid, sender, rcpts, msg, t, version=version,
                            received=received))
    os.rename(tmp, os.path.join(spool, where, qid))
    return qid


def make_spool(spool):
    for d in ("tmp", "new", "cur", "failed"):
        os.makedirs(os.path.join(spool, d), exist_ok=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Daemon:
    """spoolerd in the background, stderr to a log file."""

    def __init__(self, conf, log, env=None):
        self.conf, self.log, self.p, self.env = conf, log, None, env

    def start(self):
        self.logf = open(self.log, "ab")
        env = dict(os.environ)
        env.update(self.env or {})
        self.p = subprocess.Popen([SPOOLERD, "-c", self.conf],
                                  stdout=self.logf, stderr=self.logf,
                                  env=env)
        return self

    def signal(self, sig):
        self.p.send_signal(sig)

    def kill(self):
        if self.p and self.p.poll() is None:
            self.p.kill()
        if self.p:
            self.p.wait()
        self.logf.close()

    def stop(self, timeout=60):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
            rc = "timeout"
        self.logf.close()
        return rc

    def alive(self):
        return self.p.poll() is None


class Listener:
    """smtpd-session on 127.0.0.1 behind a launcher: kind
    "socket-activate" (systemd-socket-activate --inetd), "tcpserver", or
    "accept" (the session's own accept mode, --listen). The sessions are
    the children of self.p in every kind."""

    def __init__(self, conf, log, wrap=(), kind="socket-activate"):
        """wrap: a command the session runs under (strace ...); with
        kind "accept" it wraps the parent"""
        self.port = free_port()
        self.logf = open(log, "ab")
        session = list(wrap) + [SESSION, "-c", conf]
        if kind == "socket-activate":
            argv = ["systemd-socket-activate", "-a", "--inetd", "-l",
                    "127.0.0.1:%d" % self.port, "--"] + session
        elif kind == "tcpserver":
            # -l localhost -H -R: no DNS queries
            argv = ["tcpserver", "-l", "localhost", "-H", "-R", "-b",
                    "1024", "-c", "200", "127.0.0.1", str(self.port)] + \
                session
        elif kind == "accept":
            argv = session + ["--listen", "127.0.0.1:%d" % self.port]
        else:
            raise ValueError(kind)
        self.p = subprocess.Popen(argv, stdout=self.logf, stderr=self.logf)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("listener did not start")

    def close(self):
        self.p.terminate()
        self.p.wait()
        self.logf.close()


def send(port, sender, rcpts, msgs):
    """Several messages in one SMTP connection; raises on any refusal."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo("client.test")
        for m in msgs:
            s.sendmail(sender, rcpts, m)


def wait_for(cond, timeout, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def spool_empty(spool, dirs=("new", "cur", "defer")):
    for d in dirs:
        p = os.path.join(spool, d)
        if os.path.isdir(p) and os.listdir(p):
            return False
    return True


def maildir_files(md):
    out = []
    for sub in ("new", "cur"):
        p = os.path.join(md, sub)
        if os.path.isdir(p):
            out += [os.path.join(p, n) for n in sorted(os.listdir(p))]
    return out


def wire(data):
    """a Maildir copy (LF line ends, the default) back in the wire's CRLF,
    to compare with what was sent; a copy still holding a CR is wrong"""
    if b"\r" in data:
        raise AssertionError("maildir copy has CR bytes (CRLF not folded "
                             "to LF): %r" % data[:80])
    return data.replace(b"\n", b"\r\n")


def split_head(data):
    """maildir copy -> (Return-Path+Delivered-To, Received, message), in
    CRLF"""
    data = wire(data)
    i = data.index(b"\r\nReceived: ") + 2
    head = data[:i]
    j = i
    while True:
        k = data.index(b"\r\n", j) + 2
        if k >= len(data) or data[k:k + 1] not in (b" ", b"\t"):
            break
        j = k
    return head, data[i:k], data[k:]


def mbox_messages(path):
    """mboxrd reader: list of message bytes (LF), From_ lines removed,
    '>From' unquoted."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    msgs, cur = [], None
    prev_blank = True
    for line in data.split(b"\n")[:-1] if data.endswith(b"\n") else \
            data.split(b"\n"):
        if line.startswith(b"From ") and prev_blank:
            if cur is not None:
                msgs.append(cur)
            cur = []
        elif cur is not None:
            if line.lstrip(b">").startswith(b"From ") and \
                    line.startswith(b">"):
                line = line[1:]
            cur.append(line)
        prev_blank = line == b""
    if cur is not None:
        msgs.append(cur)
    out = []
    for m in msgs:
        if m and m[-1] == b"":
            m = m[:-1]  # the separator line
        out.append(b"\n".join(m) + b"\n")
    return out
