"""bench/drain/nats.py - the NATS target of the drain benchmark
(bench/drain.py imports every bench/drain/*.py): a private single-node
nats-server -js on a free loopback port, its config and store under
workdir, with a stream MAIL on mail.> (file storage, one replica, a 10
minute duplicate window), which spoolerd's NATS processor fills.

Contract: NAME; start(workdir) -> (save_process, backend_config dict);
count() -> messages in the stream; stop(). The server speaks only to
127.0.0.1 and is stopped by stop() (a SIGKILL if SIGTERM is not
enough)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "nats"))
import natslib  # noqa: E402

NAME = "NATS"
STREAM = "MAIL"

_srv = None


def start(workdir):
    """a fresh server and stream; what spoolerd's config needs"""
    global _srv
    stop()
    d = os.path.join(workdir, "nats")
    os.makedirs(d, exist_ok=True)
    _srv = natslib.Server(d, "drain")
    _srv.start()
    c = natslib.connect(_srv.port)
    try:
        c.stream_create(STREAM, ["mail.>"], replicas=1)
    finally:
        c.close()
    return ("NATS", {"nats_url": _srv.url(), "nats_stream": STREAM,
                     "nats_subject": "mail.{domain}",
                     "nats_timeout": "10s"})


def count():
    """how many messages the stream holds (-1 when it cannot be asked)"""
    if not _srv:
        return -1
    try:
        c = natslib.Client(_srv.port, timeout=10)
    except OSError:
        return -1
    try:
        info = c.stream_info(STREAM)
        return int(info.get("state", {}).get("messages", -1))
    except Exception:
        return -1
    finally:
        c.close()


def stop():
    global _srv
    if _srv:
        _srv.stop()
        _srv = None
