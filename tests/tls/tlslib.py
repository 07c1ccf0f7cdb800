"""tlslib - helpers for the TLS suite (tests/tls/suite) and bench/tls.sh.

Certificates made at test time (openssl, certtool), configs with several
servers[] entries each behind its own launcher on 127.0.0.1, interactive
drivers for command-line TLS clients (gnutls-cli, openssl s_client) and a
few raw-socket helpers.  Processes are started through e2elib.spawn (own
process group each) and killed by e2elib.kill_all().
"""

import json
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
import sys  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import e2elib as L  # noqa: E402,F401

CRLF = b"\r\n"


def run(argv, timeout=30, **kw):
    return subprocess.run(argv, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout, **kw)


# ------------------------------------------------------------ certificates

def _must_run(argv, **kw):
    r = run(argv, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (
            " ".join(argv[:3]), r.returncode,
            r.stdout.decode("utf-8", "replace")[-800:]))
    return r


def self_signed(d, name, kind="ec", cn="mx.test", days=30):
    """d/name.crt and d/name.key: a self-signed certificate for cn with an
    ECDSA P-256 ("ec") or RSA-2048 ("rsa") key."""
    crt, key = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    newkey = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
              if kind == "ec" else ["-newkey", "rsa:2048"])
    _must_run(["openssl", "req", "-x509"] + newkey + [
        "-nodes", "-keyout", key, "-out", crt, "-days", str(days),
        "-subj", "/CN=" + cn, "-addext", "subjectAltName=DNS:" + cn])
    return crt, key


def certtool_cert(d, name, template, ca=None):
    """A certificate made by certtool from a template text (for dates
    openssl req cannot set): self-signed, or signed by ca=(crt, key)."""
    key = os.path.join(d, name + ".key")
    crt = os.path.join(d, name + ".crt")
    tpl = os.path.join(d, name + ".tpl")
    with open(tpl, "w") as f:
        f.write(template)
    _must_run(["certtool", "--generate-privkey", "--key-type", "ecdsa",
               "--curve", "secp256r1", "--outfile", key])
    if ca:
        _must_run(["certtool", "--generate-certificate",
                   "--load-privkey", key, "--load-ca-certificate", ca[0],
                   "--load-ca-privkey", ca[1], "--template", tpl,
                   "--outfile", crt])
    else:
        _must_run(["certtool", "--generate-self-signed", "--load-privkey",
                   key, "--template", tpl, "--outfile", crt])
    return crt, key


def expired_cert(d, name="expired"):
    return certtool_cert(d, name, 'cn = "mx.test"\n'
                         'dns_name = "mx.test"\n'
                         'serial = 7\n'
                         'activation_date = "2020-01-01 00:00:00 UTC"\n'
                         'expiration_date = "2021-01-01 00:00:00 UTC"\n'
                         'signing_key\nencryption_key\ntls_www_server\n')


def ca_cert(d, name="ca"):
    return certtool_cert(d, name, 'cn = "Test CA"\nserial = 1\n'
                         'expiration_days = 30\nca\ncert_signing_key\n'
                         'crl_signing_key\n')


def client_cert(d, name, ca=None):
    return certtool_cert(d, name, 'cn = "client.test"\nserial = 9\n'
                         'expiration_days = 30\nsigning_key\n'
                         'tls_www_client\n', ca=ca)


def der_of(crt):
    with open(crt) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def pem_certs(text):
    """Every PEM certificate in text, as DER."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    return [ssl.PEM_cert_to_DER_cert(m.group(0)) for m in re.finditer(
        r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text,
        re.S)]


# ----------------------------------------------------------------- servers

class Entry:
    """One servers[] entry and the launcher that serves its port.
    launcher: "socket-activate", "tcpserver" or "accept" (smtpd-session
    --listen); tls: the entry's tls
    object; env: extra environment for the session (socket-activate -E)."""

    def __init__(self, tls, launcher="socket-activate", env=None,
                 implicit=False, **extra):
        self.tls, self.launcher, self.env = tls, launcher, env or {}
        self.implicit = implicit
        self.extra = extra
        self.port = None
        self.proc = None

    def argv(self, session, conf):
        if self.launcher == "socket-activate":
            a = ["systemd-socket-activate", "-a", "--inetd",
                 "-l", "127.0.0.1:%d" % self.port]
            for k, v in self.env.items():
                a += ["-E", "%s=%s" % (k, v)]
            return a + ["--", session, "-c", conf]
        if self.launcher == "tcpserver":
            if self.env:
                raise ValueError("env with tcpserver: use socket-activate")
            # -l localhost -H -R: no DNS query leaves the machine
            return ["tcpserver", "-l", "localhost", "-H", "-R", "-b", "1024",
                    "-c", "400", "127.0.0.1", str(self.port), session,
                    "-c", conf]
        if self.launcher == "accept":
            if self.env:
                raise ValueError("env with accept: use socket-activate")
            # the session's own accept mode: TLS prepared in the parent
            return [session, "-c", conf, "--listen",
                    "127.0.0.1:%d" % self.port]
        raise ValueError(self.launcher)


class Server:
    """A config file with several servers[] entries (one port each, picked
    by listen_interface), a spool, a log, and the launchers."""

    def __init__(self, work, name, session, entries, timeout=30,
                 log_level="info", top=None):
        self.base = os.path.join(work, name)
        os.makedirs(self.base, exist_ok=True)
        self.spool = L.make_spool(os.path.join(self.base, "spool"))
        self.log = os.path.join(self.base, "session.log")
        self.launcher_log = os.path.join(self.base, "launcher.log")
        self.conf = os.path.join(self.base, "smtpd.json")
        self.session, self.entries = session, entries
        self.timeout, self.log_level = timeout, log_level
        self.top = top or {}  # more top-level keys
        self.seen = set()

    def write_conf(self):
        servers = []
        for e in self.entries:
            s = {"host_name": "mx.test", "timeout": self.timeout,
                 "max_size": 10485760,
                 "listen_interface": "127.0.0.1:%d" % (e.port or 1),
                 "spool_min_free": 0, "tls": e.tls}
            s.update(e.extra)
            servers.append(s)
        conf = {"allowed_hosts": ["example.com", "*.example.net"],
                "spool_dir": self.spool, "log_file": self.log,
                "log_level": self.log_level, "servers": servers}
        conf.update(self.top)
        with open(self.conf, "w") as f:
            f.write("// tls suite config\n")
            json.dump(conf, f, indent=1)
        return self.conf

    def start(self):
        err = None
        for _ in range(5):  # a probed port may be taken before the bind
            for e in self.entries:
                e.port = L.free_port()
            self.write_conf()
            try:
                for e in self.entries:
                    e.proc = L.spawn(e.argv(self.session, self.conf),
                                     self.launcher_log)
                for e in self.entries:
                    wait_listen(e.port, e.proc, plain=not e.implicit)
                return self
            except RuntimeError as ex:
                err = ex
                self.stop()
        raise RuntimeError("launchers did not start: %s" % err)

    def stop(self):
        for e in self.entries:
            if e.proc is not None:
                L.kill_group(e.proc, grace=1.0)
                e.proc = None

    def fresh(self):
        now = L.listdir(self.spool, "new")
        new = now - self.seen
        self.seen = now
        return new

    def port(self, i=0):
        return self.entries[i].port

    def log_text(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, pattern, timeout=5.0):
        """The match of pattern in the session log, waiting for the
        session to write it (it logs after its last reply)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log_text())
            if m or time.monotonic() > deadline:
                return m
            time.sleep(0.05)

    def diag(self, n=12):
        lines = self.log_text().splitlines()[-n:]
        try:
            with open(self.launcher_log, "rb") as f:
                ll = f.read().decode("utf-8", "replace").splitlines()[-4:]
        except OSError:
            ll = []
        return "\n".join(["log: " + x for x in lines] +
                         ["launcher: " + x for x in ll])


def wait_listen(port, proc, plain=True, timeout=20.0):
    """Until the launcher accepts on port: with plain, until a session
    sends a 220 banner (the exec works); else only a TCP connect."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("launcher for port %d exited (%s)"
                               % (port, proc.returncode))
        try:
            with socket.create_connection(("127.0.0.1", port),
                                          timeout=5) as c:
                if not plain:
                    return
                f = c.makefile("rb")
                line = f.readline()
                if line.startswith(b"220"):
                    c.sendall(b"QUIT\r\n")
                    f.readline()
                    return
                last = "banner %r" % line
        except OSError as ex:
            last = str(ex)
        time.sleep(0.05)
    raise RuntimeError("port %d: %s" % (port, last))


# -------------------------------------------------------------- raw clients

def client_ctx(version=None, ciphers=None, cert=None):
    """A client context that does not verify (self-signed test certs)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version is not None:
        ctx.minimum_version = version
        ctx.maximum_version = version
    if ciphers:
        ctx.set_ciphers(ciphers)
    if cert:
        ctx.load_cert_chain(cert[0], cert[1])
    return ctx


class Conn:
    """A line-oriented SMTP client over a socket that can switch to TLS."""

    def __init__(self, port, timeout=15):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.buf = b""
        self.timeout = timeout

    def send(self, data):
        self.sock.sendall(data)

    def _more(self, timeout=None):
        self.sock.settimeout(timeout if timeout is not None
                             else self.timeout)
        try:
            b = self.sock.recv(65536)
        finally:
            self.sock.settimeout(self.timeout)
        if not b:
            raise EOFError("connection closed")
        self.buf += b

    def line(self):
        while CRLF not in self.buf:
            self._more()
        ln, self.buf = self.buf.split(CRLF, 1)
        return ln

    def reply(self):
        """(code, [lines]) of one (multi-line) reply."""
        lines = []
        while True:
            ln = self.line()
            lines.append(ln)
            if len(ln) < 4 or ln[3:4] != b"-":
                return int(ln[:3]), lines

    def cmd(self, line):
        self.send(line + CRLF)
        return self.reply()

    def quiet_for(self, secs):
        """Bytes that arrive within secs (b"" if none); EOF counts as
        nothing more arriving."""
        if self.buf:
            return self.buf
        try:
            self._more(timeout=secs)
        except (socket.timeout, TimeoutError, ssl.SSLError):
            return b""
        except (EOFError, ConnectionResetError):
            return b""
        return self.buf

    def starttls(self, ctx=None, sni="mx.test", session=None):
        """The handshake: sni is the server name sent (None: none),
        session a previous ssl.SSLSession to resume."""
        ctx = ctx or client_ctx()
        if self.buf:
            raise AssertionError("bytes after the 220: %r" % self.buf)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=sni,
                                    session=session)
        return self.sock

    def wait_eof(self, limit):
        """Seconds until the server closes (reading and dropping what it
        sends), or None if still open after limit."""
        t0 = time.monotonic()
        end = t0 + limit
        while time.monotonic() < end:
            r, _, _ = select.select([self.sock], [], [],
                                    max(0.0, end - time.monotonic()))
            if not r:
                break
            try:
                b = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError, OSError):
                return time.monotonic() - t0
            if not b:
                return time.monotonic() - t0
        return None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def client_hello(ctx=None):
    """The bytes of a real ClientHello (from the ssl module)."""
    ctx = ctx or client_ctx()
    i, o = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(i, o, server_hostname="mx.test")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return o.read()


def session_pid(client_sock, server_port):
    """The pid of the process holding the server end of client_sock
    (through /proc/net/tcp: the socket with local port server_port and
    remote port our local port)."""
    cport = client_sock.getsockname()[1]
    want = None
    with open("/proc/net/tcp") as f:
        next(f)
        for ln in f:
            p = ln.split()
            lp = int(p[1].split(":")[1], 16)
            rp = int(p[2].split(":")[1], 16)
            if lp == server_port and rp == cport:
                want = "socket:[%s]" % p[9]
                break
    if want is None:
        return None
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.readlink("/proc/%s/fd/0" % pid) == want:
                return int(pid)
        except OSError:
            continue
    return None


def maps_has(pid, needle):
    with open("/proc/%d/maps" % pid) as f:
        return needle in f.read()


# --------------------------------------------------- interactive CLI clients

class Interactive:
    """A command-line client (gnutls-cli, openssl s_client) driven through
    its stdin, its stdout+stderr collected by a thread."""

    def __init__(self, argv, env=None):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT,
                                  start_new_session=True, env=env)
        L._procs.append(self.p)
        self.out = b""
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        while True:
            b = self.p.stdout.read1(65536)
            if not b:
                return
            with self.lock:
                self.out += b

    def text(self):
        with self.lock:
            return self.out.decode("utf-8", "replace")

    def expect(self, pattern, timeout=20, start=0):
        """Wait until pattern matches the output (from start); the match."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.text(), start)
            if m:
                return m
            if time.monotonic() > deadline or (
                    self.p.poll() is not None and not self.t.is_alive()):
                m = rx.search(self.text(), start)
                if m:
                    return m
                raise AssertionError("no %r in the output of %s:\n%s" % (
                    pattern, self.p.args[0], self.text()[-1500:]))
            time.sleep(0.02)

    def send(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def finish(self, timeout=10):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        L.kill_group(self.p, grace=1.0)
        self.t.join(timeout=2)
        return self.p.returncode


def drive_smtp(cli, eol, sender, rcpt, msg_lines, helo="cli.test"):
    """Send one message through an interactive client whose STARTTLS is
    done; eol is what ends a line on its stdin (b"\\r\\n" raw, b"\\n" when
    the client adds the CR).  Returns the queue id."""
    pos = len(cli.text())
    cli.send(b"EHLO " + helo.encode() + eol)
    cli.expect(r"^250 ", start=pos)
    for line, code in ((b"MAIL FROM:<%s>" % sender.encode(), "250"),
                       (b"RCPT TO:<%s>" % rcpt.encode(), "250"),
                       (b"DATA", "354")):
        pos = len(cli.text())
        cli.send(line + eol)
        cli.expect("^%s " % code, start=pos)
    pos = len(cli.text())
    cli.send(b"".join((b"." + ln if ln.startswith(b".") else ln) + eol
                      for ln in msg_lines) + b"." + eol)
    m = cli.expect(r"^250 2\.0\.0 OK: queued as (\S+)", start=pos)
    pos = len(cli.text())
    cli.send(b"QUIT" + eol)
    cli.expect(r"^221 ", start=pos)
    return m.group(1)


def stuffed(msg):
    """msg (CRLF lines, ending in CRLF) dot-stuffed for DATA, without the
    final ".\r\n"."""
    lines = msg.split(CRLF)
    assert lines[-1] == b""
    return b"".join((b"." + ln if ln.startswith(b".") else ln) + CRLF
                    for ln in lines[:-1])


# ------------------------------------------------------------- spool entries

TLS_RX = re.compile(r"^TLS1\.[23] TLS_[A-Z0-9_]+$")


def check_tls_entry(spool, qid, want_msg, sender, rcpts, helo=None,
                    want_tls=None, proto="ESMTPS"):
    """new/qid holds want_msg byte-exact with the TLS trace: X-Spool-TLS a
    version and suite (or want_tls exactly), X-Spool-Protocol proto, and
    the Received header 'with PROTO (TLS) id QID'.  Returns the TLS text."""
    env = L.check_entry(spool, qid, want_msg, sender, rcpts, helo=helo,
                        proto=proto)
    tls = env["TLS"][0]
    if proto.endswith("S"):
        if not TLS_RX.match(tls):
            raise L.EntryError("X-Spool-TLS %r" % tls)
        if want_tls is not None and tls != want_tls:
            raise L.EntryError("X-Spool-TLS %r want %r" % (tls, want_tls))
        _, received, _ = L.read_entry(spool, qid)
        flat = received.replace(b"\r\n\t", b" ").decode("utf-8", "replace")
        want = "with %s (%s) id %s" % (proto, tls, qid)
        if want not in flat:
            raise L.EntryError("Received %r lacks %r" % (flat, want))
    elif tls != "none":
        raise L.EntryError("X-Spool-TLS %r in a plaintext session" % tls)
    return tls


def py_tls_desc(sslsock):
    """The server's TLS text as the client saw it, for TLS 1.3 (where the
    suite names agree): "TLS1.3 TLS_AES_256_GCM_SHA384"; else None."""
    v = sslsock.version()
    c = sslsock.cipher()[0]
    if v == "TLSv1.3":
        return "TLS1.3 " + c
    return None


def kill_pid(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
