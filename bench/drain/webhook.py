"""bench/drain plugin: Webhook, one HTTPS POST per message (raw form,
Idempotency-Key = queue id, the certificate verified against a private
CA) to a local endpoint (_webhook_endpoint.py, Python's http.server +
ssl in its own process) that keeps each body by its key; count() asks
it how many keys it holds."""
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

NAME = "Webhook"
HERE = os.path.dirname(os.path.abspath(__file__))
_p = None
_port = None
_ca = None


def _openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _certs(d):
    ca_key, ca = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    key, csr = os.path.join(d, "ep.key"), os.path.join(d, "ep.csr")
    crt, ext = os.path.join(d, "ep.crt"), os.path.join(d, "ep.ext")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca_key,
             "-out", ca, "-days", "2", "-subj", "/CN=drain bench CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n"
                "extendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
             "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext)
    return ca, crt, key


def start(workdir):
    global _p, _port, _ca
    os.makedirs(workdir, exist_ok=True)
    _ca, crt, key = _certs(workdir)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    _port = s.getsockname()[1]
    s.close()
    _p = subprocess.Popen([sys.executable,
                           os.path.join(HERE, "_webhook_endpoint.py"), crt,
                           key, str(_port)], stdout=subprocess.PIPE)
    if _p.stdout.readline().strip() != b"ready":
        raise RuntimeError("webhook endpoint did not start")
    deadline = time.time() + 10
    while True:
        try:
            count()
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)
    return ("HeadersParser|Header|Webhook",
            {"webhook_url": "https://127.0.0.1:%d/in" % _port,
             "webhook_ca_file": _ca})


def count():
    ctx = ssl.create_default_context(cafile=_ca)
    with urllib.request.urlopen("https://127.0.0.1:%d/count" % _port,
                                context=ctx, timeout=10) as r:
        return int(r.read())


def stop():
    if _p and _p.poll() is None:
        _p.terminate()
        _p.wait()
