"""tests/nats/natslib.py - private nats-server instances (JetStream, one
node or a cluster on loopback ports, each with its own config and store
directory) and a small NATS client over the text protocol (CONNECT, PUB,
SUB, HMSG, PING; TLS on request) that speaks the JetStream API by
request/reply: create a stream, its info, get a message by sequence.
Used by tests/nats/suite and bench/drain/nats.py; nothing here connects
beyond 127.0.0.1."""
import base64
import json
import os
import random
import signal
import socket
import ssl
import subprocess
import time

NATS_SERVER = os.environ.get("NATS_SERVER", "nats-server")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    """one nats-server -js on 127.0.0.1; cluster routes when given"""

    def __init__(self, d, name="n1", port=None, cluster_port=None,
                 routes=(), extra=""):
        self.d = d
        self.name = name
        self.port = port or free_port()
        self.cluster_port = cluster_port
        self.routes = list(routes)
        self.extra = extra
        self.proc = None
        os.makedirs(d, exist_ok=True)
        self.conf = os.path.join(d, name + ".conf")
        self.log = os.path.join(d, name + ".log")
        self.store = os.path.join(d, name + "-store")

    def write_conf(self):
        c = ["server_name: %s" % self.name,
             "listen: 127.0.0.1:%d" % self.port,
             "jetstream {",
             '  store_dir: "%s"' % self.store,
             "  max_memory_store: 64MB",
             "  max_file_store: 2GB",
             "}"]
        if self.cluster_port:
            c += ["cluster {", "  name: testc",
                  "  listen: 127.0.0.1:%d" % self.cluster_port,
                  "  routes: [%s]" % ", ".join(
                      "nats-route://127.0.0.1:%d" % p for p in self.routes),
                  "}"]
        c.append(self.extra)
        with open(self.conf, "w") as f:
            f.write("\n".join(c) + "\n")

    def start(self, wait=True):
        self.write_conf()
        lf = open(self.log, "ab")
        self.proc = subprocess.Popen([NATS_SERVER, "-c", self.conf],
                                     stdout=lf, stderr=lf,
                                     stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        lf.close()
        if wait:
            self.wait_port()

    def wait_port(self, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("nats-server %s exited:\n%s" %
                                   (self.name, self.read_log()[-2000:]))
            try:
                socket.create_connection(("127.0.0.1", self.port),
                                         0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("nats-server %s: no listener" % self.name)

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def url(self, scheme="nats"):
        return "%s://127.0.0.1:%d" % (scheme, self.port)


def cluster(d, n=3):
    """n nodes routed to each other (not started)"""
    ports = [free_port() for _ in range(n)]
    cports = [free_port() for _ in range(n)]
    return [Server(d, "n%d" % (i + 1), ports[i], cports[i],
                   [cports[j] for j in range(n) if j != i])
            for i in range(n)]


class Client:
    """one connection; requests answered on a private inbox"""

    def __init__(self, port, user=None, password=None, ca=None,
                 timeout=10, jwt=None, nkey=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.info = json.loads(self._line().split(b" ", 1)[1])
        if self.info.get("tls_required"):
            ctx = ssl.create_default_context(cafile=ca)
            ctx.check_hostname = False
            self.sock = ctx.wrap_socket(self.sock)
        conn = {"verbose": False, "pedantic": False, "headers": True,
                "no_responders": True, "name": "natslib", "lang": "py",
                "version": "0", "protocol": 1}
        if user is not None:
            conn["user"], conn["pass"] = user, password
        if jwt is not None:  # the user's JWT, its key signs the nonce
            conn["jwt"] = jwt
            conn["sig"] = b64u(nkey.sign(self.info["nonce"].encode()))
        self.sock.sendall(b"CONNECT " + json.dumps(conn).encode() +
                          b"\r\nPING\r\n")
        while True:
            kind, _ = self._read()
            if kind == "PONG":
                break
        self.inbox = "_INBOX.%016x" % random.getrandbits(64)
        self.sock.sendall(b"SUB %s.* 1\r\n" % self.inbox.encode())
        self.n = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self):
        b = self.sock.recv(65536)
        if not b:
            raise ConnectionError("nats: connection closed")
        self.buf += b

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def _bytes(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        b, self.buf = self.buf[:n], self.buf[n + 2:]
        return b

    def _read(self):
        """the next protocol item: (kind, (subject, headers, data))"""
        while True:
            ln = self._line()
            op = ln.split(b" ", 1)[0].upper()
            if op == b"PING":
                self.sock.sendall(b"PONG\r\n")
                continue
            if op in (b"+OK", b"INFO"):
                continue
            if op == b"-ERR":
                raise RuntimeError("nats: " + ln.decode(errors="replace"))
            if op == b"PONG":
                return "PONG", None
            if op == b"MSG":
                a = ln.split(b" ")
                data = self._bytes(int(a[-1]))
                return "MSG", (a[1].decode(), b"", data)
            if op == b"HMSG":
                a = ln.split(b" ")
                hl, tl = int(a[-2]), int(a[-1])
                raw = self._bytes(tl)
                return "MSG", (a[1].decode(), raw[:hl], raw[hl:])
            raise RuntimeError("nats: unexpected %r" % ln)

    def requests(self, items, timeout=10):
        """send every (subject, payload) at once; their answers in order,
        None for "no responders" (a 503 status)"""
        base = self.n
        out = {}
        chunk = []
        for i, (subj, payload) in enumerate(items):
            if isinstance(payload, str):
                payload = payload.encode()
            chunk.append(b"PUB %s %s.%d %d\r\n%s\r\n" % (
                subj.encode(), self.inbox.encode(), base + i,
                len(payload), payload))
        self.n += len(items)
        self.sock.sendall(b"".join(chunk))
        end = time.time() + timeout
        while len(out) < len(items):
            if time.time() > end:
                raise TimeoutError("nats: %d of %d answers" %
                                   (len(out), len(items)))
            kind, m = self._read()
            if kind != "MSG":
                continue
            subj, hdr, data = m
            k = int(subj.rsplit(".", 1)[1]) - base
            if k < 0 or k >= len(items):
                continue
            if hdr.startswith(b"NATS/1.0 503"):
                out[k] = None
            else:
                out[k] = data
        return [out[i] for i in range(len(items))]

    def request(self, subj, payload=b"", timeout=10):
        return self.requests([(subj, payload)], timeout)[0]

    def publish(self, subj, payload, hdrs=None):
        if hdrs:
            h = b"NATS/1.0\r\n" + b"".join(
                b"%s: %s\r\n" % (k.encode(), v.encode())
                for k, v in hdrs) + b"\r\n"
            self.sock.sendall(b"HPUB %s %d %d\r\n%s%s\r\n" % (
                subj.encode(), len(h), len(h) + len(payload), h, payload))
        else:
            self.sock.sendall(b"PUB %s %d\r\n%s\r\n" % (
                subj.encode(), len(payload), payload))

    # ---------------------------------------------------------- JetStream

    def js(self, api, body=None, timeout=10):
        r = self.request("$JS.API." + api,
                         json.dumps(body) if body is not None else b"",
                         timeout)
        if r is None:
            raise RuntimeError("JetStream %s: no responders" % api)
        return json.loads(r)

    def stream_create(self, name, subjects, replicas=1, max_msg_size=-1,
                      dup_window_s=600, timeout=60):
        """create (retrying while the cluster elects its leader)"""
        body = {"name": name, "subjects": subjects, "storage": "file",
                "num_replicas": replicas, "max_msg_size": max_msg_size,
                "duplicate_window": int(dup_window_s * 1e9),
                "retention": "limits", "discard": "old"}
        end = time.time() + timeout
        last = None
        while time.time() < end:
            try:
                r = self.js("STREAM.CREATE." + name, body, 10)
            except (RuntimeError, TimeoutError) as e:
                last = str(e)
                time.sleep(0.5)
                continue
            if "error" not in r:
                return r
            last = r["error"]
            time.sleep(0.5)
        raise RuntimeError("stream create %s: %s" % (name, last))

    def stream_info(self, name):
        return self.js("STREAM.INFO." + name, {})

    def stream_delete(self, name):
        return self.js("STREAM.DELETE." + name)

    def messages(self, name, timeout=60):
        """every message of the stream: dicts with subject, seq, headers
        (a list of (name, value)), data (bytes)"""
        info = self.stream_info(name)
        if "error" in info:
            raise RuntimeError("stream info %s: %s" % (name, info["error"]))
        first, last = info["state"]["first_seq"], info["state"]["last_seq"]
        out = []
        seqs = list(range(first, last + 1)) if info["state"]["messages"] \
            else []
        for i in range(0, len(seqs), 200):
            part = seqs[i:i + 200]
            rs = self.requests([("$JS.API.STREAM.MSG.GET." + name,
                                 json.dumps({"seq": s})) for s in part],
                               timeout)
            for r in rs:
                j = json.loads(r)
                if "error" in j:
                    continue  # a deleted sequence
                m = j["message"]
                hdrs = []
                if m.get("hdrs"):
                    h = base64.b64decode(m["hdrs"]).decode(
                        "utf-8", "replace")
                    for ln in h.split("\r\n")[1:]:
                        if ln:
                            k, v = ln.split(":", 1)
                            hdrs.append((k, v.strip()))
                out.append({"subject": m["subject"], "seq": m["seq"],
                            "headers": hdrs,
                            "data": base64.b64decode(m.get("data", ""))})
        return out


def header(m, name):
    """the first value of header name in a message from messages()"""
    for k, v in m["headers"]:
        if k.lower() == name.lower():
            return v
    return None


def headers(m, name):
    return [v for k, v in m["headers"] if k.lower() == name.lower()]


def connect(port, timeout=30, **kw):
    """a Client, retrying while the server starts"""
    end = time.time() + timeout
    while True:
        try:
            return Client(port, **kw)
        except (OSError, ConnectionError):
            if time.time() > end:
                raise
            time.sleep(0.2)


# ------------------------------------- decentralised auth (nkeys, JWTs)

PFX_SEED, PFX_OPERATOR, PFX_ACCOUNT, PFX_USER = 18 << 3, 14 << 3, 0, 20 << 3


def crc16(b):
    """CRC-16/XMODEM, as nkeys checksums its keys"""
    c = 0
    for x in b:
        c ^= x << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else c << 1
            c &= 0xffff
    return c


def b32(raw):
    return base64.b32encode(raw).decode().rstrip("=")


def b64u(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class NKey:
    """an Ed25519 key pair of one nkey type (PFX_OPERATOR, ...)"""

    def __init__(self, kind):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import \
            Ed25519PrivateKey
        from cryptography.hazmat.primitives import serialization as ser
        self.kind = kind
        self.key = Ed25519PrivateKey.generate()
        self.raw = self.key.private_bytes(ser.Encoding.Raw,
                                          ser.PrivateFormat.Raw,
                                          ser.NoEncryption())
        self.pubraw = self.key.public_key().public_bytes(
            ser.Encoding.Raw, ser.PublicFormat.Raw)

    def public(self):
        b = bytes([self.kind]) + self.pubraw
        return b32(b + crc16(b).to_bytes(2, "little"))

    def seed(self):
        b = bytes([PFX_SEED | (self.kind >> 5), (self.kind & 31) << 3]) + \
            self.raw
        return b32(b + crc16(b).to_bytes(2, "little"))

    def sign(self, data):
        return self.key.sign(data)


def jwt(issuer, subject, name, nats):
    """a JWT for subject's public key, signed by issuer (NKeys)"""
    import hashlib
    claims = {"iat": int(time.time()), "iss": issuer.public(),
              "sub": subject.public(), "name": name, "nats": nats}
    claims["jti"] = b32(hashlib.sha256(
        json.dumps(claims, sort_keys=True).encode()).digest())
    head = b64u(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    body = b64u(json.dumps(claims).encode())
    sig = issuer.sign(("%s.%s" % (head, body)).encode())
    return "%s.%s.%s" % (head, body, b64u(sig))


def operator_jwt(op):
    return jwt(op, op, "test-operator", {"type": "operator", "version": 2})


def account_jwt(op, acc, jetstream=True):
    lim = {"subs": -1, "data": -1, "payload": -1, "imports": -1,
           "exports": -1, "wildcards": True, "conn": -1, "leaf": -1}
    if jetstream:
        lim.update({"mem_storage": -1, "disk_storage": -1, "streams": -1,
                    "consumer": -1})
    return jwt(op, acc, "test-account", {"type": "account", "version": 2,
                                         "limits": lim})


def user_jwt(acc, user):
    return jwt(acc, user, "test-user", {"type": "user", "version": 2,
                                        "pub": {}, "sub": {}, "subs": -1,
                                        "data": -1, "payload": -1})


def creds(user_jwt_text, user):
    """the text of a .creds file"""
    return ("-----BEGIN NATS USER JWT-----\n%s\n"
            "------END NATS USER JWT------\n\n"
            "************************* IMPORTANT "
            "*************************\n"
            "NKEY Seed printed below can be used to sign and prove "
            "identity.\nNKEYs are sensitive and should be treated as "
            "secrets.\n\n"
            "-----BEGIN USER NKEY SEED-----\n%s\n"
            "------END USER NKEY SEED------\n\n"
            "*************************************************************"
            "\n" % (user_jwt_text, user.seed()))


def operator_conf(op, accounts, system=None):
    """server config lines: operator mode, a memory resolver preloaded
    with the accounts ({public key: JWT})"""
    c = ["operator: %s" % operator_jwt(op), "resolver: MEMORY",
         "resolver_preload: {"]
    c += ["  %s: %s" % (k, v) for k, v in accounts.items()]
    c.append("}")
    if system:
        c.append("system_account: %s" % system)
    return "\n".join(c)
