"""e2elib - helpers for the end-to-end suite (tests/e2e/suite).

Launchers (systemd-socket-activate, tcpserver, the session's own accept
mode) in their own process
groups, free ports on 127.0.0.1, a spool entry parser, a recording TCP
relay that captures exactly what a client put on the wire, and a tiny fake
SMTP server used to learn what smtp-source sends for a -F file.

Everything listens on and connects to 127.0.0.1 only.  Every process
started here is tracked and killed by kill_all().
"""

import json
import os
import re
import selectors
import signal
import socket
import subprocess
import threading
import time

CRLF = b"\r\n"

_procs = []  # every Popen we started (each leads its own process group)


# ---------------------------------------------------------------- processes

def spawn(argv, log_path, env=None):
    """Start argv in a new session (own process group), stdout+stderr to
    log_path (appended), stdin from /dev/null.  Tracked for kill_all."""
    log = open(log_path, "ab")
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                             stderr=log, start_new_session=True, env=env)
    finally:
        log.close()
    _procs.append(p)
    return p


def kill_group(p, grace=2.0):
    """SIGTERM the process group led by p, then SIGKILL after grace."""
    if p is None:
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    # children (sessions) may outlive the leader: kill the group anyway
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    if p in _procs:
        _procs.remove(p)


def kill_all():
    for p in list(_procs):
        kill_group(p, grace=1.0)


def free_port():
    """An ephemeral port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def wait_banner(port, timeout=8.0):
    """Connect until the server sends a 220 banner; then QUIT.  Returns the
    banner line, or raises."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port),
                                          timeout=3) as c:
                f = c.makefile("rb")
                line = f.readline()
                if line.startswith(b"220"):
                    c.sendall(b"QUIT\r\n")
                    f.readline()
                    return line
                last = "banner %r" % line
        except OSError as e:
            last = str(e)
        time.sleep(0.05)
    raise RuntimeError("no 220 banner on port %d: %s" % (port, last))


class Launcher:
    """The session behind systemd-socket-activate or tcpserver, or its
    own accept mode ("accept": smtpd-session --listen)."""

    def __init__(self, kind, session, conf, log_path, conc=200):
        self.kind, self.session, self.conf = kind, session, conf
        self.log_path, self.conc = log_path, conc
        self.proc = None
        self.port = None
        self.banner = None

    def argv(self, port):
        if self.kind == "socket-activate":
            return ["systemd-socket-activate", "-a", "--inetd",
                    "-l", "127.0.0.1:%d" % port, "--",
                    self.session, "-c", self.conf]
        if self.kind == "tcpserver":
            # -l localhost -H -R: no DNS queries leave the machine
            return ["tcpserver", "-l", "localhost", "-H", "-R",
                    "-b", "1024", "-c", str(self.conc),
                    "127.0.0.1", str(port), self.session, "-c", self.conf]
        if self.kind == "accept":
            return [self.session, "-c", self.conf,
                    "--listen", "127.0.0.1:%d" % port]
        raise ValueError(self.kind)

    def start(self):
        err = None
        for _ in range(5):  # the port may be taken between probe and bind
            port = free_port()
            self.proc = spawn(self.argv(port), self.log_path)
            try:
                self.banner = wait_banner(port)
                self.port = port
                return self
            except RuntimeError as e:
                err = e
                kill_group(self.proc)
                self.proc = None
        raise RuntimeError("%s did not start: %s" % (self.kind, err))

    def stop(self):
        kill_group(self.proc)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()


# ------------------------------------------------------------------- config

def write_conf(path, spool, log, min_free=0, max_size=10485760, timeout=10):
    conf = {
        "allowed_hosts": ["example.com", "*.example.net"],
        "spool_dir": spool,
        "log_file": log,
        "servers": [{
            "host_name": "mx.test",
            "timeout": timeout,
            "max_size": max_size,
            "listen_interface": "127.0.0.1:2525",
            "spool_min_free": min_free,
        }],
    }
    with open(path, "w") as f:
        f.write("// e2e config (comments are allowed)\n")
        json.dump(conf, f, indent=1)
    return path


def make_spool(d):
    for sub in ("tmp", "new", "cur", "failed"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    return d


def listdir(d, sub):
    return set(os.listdir(os.path.join(d, sub)))


# -------------------------------------------------------------- spool entry

_FIELD = re.compile(rb"^X-Spool-([A-Za-z0-9-]+): (.*)$")


class EntryError(Exception):
    pass


def parse_entry(raw):
    """Split a spool entry into (envelope dict name -> [values], the
    Received header bytes (folded lines), message bytes) at the offset in
    X-Spool-Data-Offset.  Checks the envelope grammar, the folding and
    that X-Spool-Size equals the message length."""
    env = {}
    pos = 0
    while True:
        eol = raw.find(CRLF, pos)
        if eol < 0:
            raise EntryError("envelope line without CRLF at %d" % pos)
        line = raw[pos:eol]
        if line.startswith(b"Received:"):
            break
        m = _FIELD.match(line)
        if not m:
            raise EntryError("bad envelope line %r" % line[:80])
        env.setdefault(m.group(1).decode(), []).append(m.group(2).decode(
            "utf-8", "replace"))
        pos = eol + 2
    rstart = pos
    off = env.get("Data-Offset", ["?"])[0]
    if not re.fullmatch(r"[0-9]{10}", off) or int(off) <= rstart:
        raise EntryError("X-Spool-Data-Offset %r" % off)
    pos = int(off)
    received = raw[rstart:pos]
    lines = received.split(CRLF)
    if lines[-1] != b"" or not all(l[:1] == b"\t" for l in lines[1:-1]):
        raise EntryError("Received header %r does not end at "
                         "X-Spool-Data-Offset" % received)
    if not 2 <= len(lines) - 1 <= 3:
        raise EntryError("Received header has %d lines" % (len(lines) - 1))
    msg = raw[pos:]
    size = env.get("Size", ["?"])[0]
    if not size.isdigit() or int(size) != len(msg):
        raise EntryError("X-Spool-Size %s but message is %d bytes"
                         % (size, len(msg)))
    return env, received, msg


def read_entry(spool, qid):
    with open(os.path.join(spool, "new", qid), "rb") as f:
        return parse_entry(f.read())


def first_diff(a, b):
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            break
    else:
        i = n
    return ("lengths %d vs %d, first difference at %d: got %r want %r"
            % (len(a), len(b), i, a[max(0, i - 20):i + 20],
               b[max(0, i - 20):i + 20]))


def check_entry(spool, qid, want_msg, sender, rcpts, helo=None, body=None,
                client_port=None, proto=None):
    """Raise EntryError unless new/qid holds want_msg byte-exact under a
    correct envelope."""
    env, received, msg = read_entry(spool, qid)

    def one(name):
        v = env.get(name)
        if not v or len(v) != 1:
            raise EntryError("X-Spool-%s: %r (want exactly one)" % (name, v))
        return v[0]

    if one("Version") != "2":
        raise EntryError("version %r" % one("Version"))
    if one("Queue-Id") != qid:
        raise EntryError("Queue-Id %r in file %s" % (one("Queue-Id"), qid))
    if one("Sender") != "<%s>" % sender:
        raise EntryError("sender %r want <%s>" % (one("Sender"), sender))
    got_r = env.get("Recipient", [])
    if got_r != ["<%s>" % r for r in rcpts]:
        raise EntryError("recipients %r want %r" % (got_r, rcpts))
    client = one("Client")
    m = re.fullmatch(r"127\.0\.0\.1 port (\d+)", client)
    if not m:
        raise EntryError("X-Spool-Client %r" % client)
    if client_port is not None and int(m.group(1)) != client_port:
        raise EntryError("client port %s want %d" % (m.group(1), client_port))
    if helo is not None and one("Helo") != helo:
        raise EntryError("helo %r want %r" % (one("Helo"), helo))
    if body is not None and one("Body") != body:
        raise EntryError("body %r want %r" % (one("Body"), body))
    if proto is not None and one("Protocol") != proto:
        raise EntryError("protocol %r want %r" % (one("Protocol"), proto))
    for name in ("Time", "Host", "TLS", "Size", "Data-Offset"):
        one(name)
    if not received.startswith(b"Received: from ") or \
            b"[127.0.0.1]" not in received or \
            (" id %s" % qid).encode() not in received:
        raise EntryError("Received header %r" % received)
    if msg != want_msg:
        raise EntryError("message not byte-exact: " + first_diff(msg,
                                                                  want_msg))
    return env


QUEUED = re.compile(rb"^2\.0\.0 OK: queued as (\S+)$")


def queued_id(code, text):
    """The queue id from a '250 2.0.0 OK: queued as ID' reply."""
    if isinstance(text, str):
        text = text.encode()
    m = QUEUED.match(text.strip())
    if code != 250 or not m:
        raise EntryError("DATA reply %r %r" % (code, text))
    return m.group(1).decode()


# ------------------------------------------------------------ wire capture

def data_payloads(stream):
    """The messages a client sent in a captured client->server stream:
    each DATA payload up to CRLF.CRLF, dot-unstuffed, with its final CRLF
    (what a correct server must store)."""
    out = []
    pos = 0
    while True:
        eol = stream.find(CRLF, pos)
        if eol < 0:
            return out
        cmd = stream[pos:eol]
        pos = eol + 2
        if cmd.upper() != b"DATA":
            continue
        if stream.startswith(b".\r\n", pos):
            out.append(b"")
            pos += 3
            continue
        end = stream.find(b"\r\n.\r\n", pos)
        if end < 0:
            return out
        payload = stream[pos:end + 2]
        pos = end + 5
        lines = payload.split(CRLF)[:-1]
        out.append(b"".join((ln[1:] if ln.startswith(b".") else ln) + CRLF
                            for ln in lines))


class Relay(threading.Thread):
    """Forward 127.0.0.1:self.port to 127.0.0.1:upstream, one connection
    at a time, recording what each client sent."""

    def __init__(self, upstream):
        super().__init__(daemon=True)
        self.upstream = upstream
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        self.ls.settimeout(0.2)
        self.port = self.ls.getsockname()[1]
        self.captures = []
        self.stopping = False

    def run(self):
        while not self.stopping:
            try:
                c, _ = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.captures.append(self._pump(c))

    def _pump(self, c):
        rec = bytearray()
        u = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
        sel = selectors.DefaultSelector()
        sel.register(c, selectors.EVENT_READ, u)
        sel.register(u, selectors.EVENT_READ, c)
        open_ = 2
        deadline = time.monotonic() + 60
        try:
            while open_ and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=1):
                    src, dst = key.fileobj, key.data
                    try:
                        b = src.recv(65536)
                    except OSError:
                        b = b""
                    if not b:
                        sel.unregister(src)
                        open_ -= 1
                        try:
                            dst.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        continue
                    if src is c:
                        rec += b
                    dst.sendall(b)
        finally:
            sel.close()
            c.close()
            u.close()
        return bytes(rec)

    def stop(self):
        self.stopping = True
        self.join(timeout=5)
        self.ls.close()


class FakeSMTP(threading.Thread):
    """A minimal SMTP server for one connection that records the client's
    bytes (to learn what a client such as smtp-source sends)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(1)
        self.ls.settimeout(10)
        self.port = self.ls.getsockname()[1]
        self.capture = b""

    def run(self):
        try:
            c, _ = self.ls.accept()
        except OSError:
            return
        c.settimeout(10)
        f = c.makefile("rb")
        rec = bytearray()
        c.sendall(b"220 fake ESMTP\r\n")
        indata = False
        try:
            while True:
                ln = f.readline()
                if not ln:
                    break
                rec += ln
                if indata:
                    if ln == b".\r\n":
                        indata = False
                        c.sendall(b"250 2.0.0 ok\r\n")
                    continue
                verb = ln.strip().upper()
                if verb == b"DATA":
                    indata = True
                    c.sendall(b"354 go\r\n")
                elif verb == b"QUIT":
                    c.sendall(b"221 bye\r\n")
                    break
                else:
                    c.sendall(b"250 ok\r\n")
        except OSError:
            pass
        finally:
            self.capture = bytes(rec)
            c.close()
            self.ls.close()
