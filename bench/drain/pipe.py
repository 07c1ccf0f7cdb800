"""bench/drain plugin: Pipe, procmail run once per message (no shell;
the message on stdin, the envelope in the environment) delivering into a
maildir; under root spoolerd runs it as nobody (pipe_user)."""
import os
import shutil

NAME = "Pipe"
PROCMAIL = shutil.which("procmail") or "/usr/bin/procmail"
_box = None


def start(workdir):
    global _box
    if not os.access(PROCMAIL, os.X_OK):
        raise RuntimeError("procmail missing")
    root = os.geteuid() == 0
    d = os.path.join(workdir, "procmail")
    os.makedirs(d, exist_ok=True)
    if root:
        os.chmod(workdir, 0o755)
        os.chown(d, 65534, 65534)
    _box = os.path.join(d, "inbox")
    rc = os.path.join(workdir, "procmailrc")
    with open(rc, "w") as f:
        f.write("MAILDIR=%s\nDEFAULT=%s/\n" % (d, _box))
    os.chmod(rc, 0o644)
    cfg = {"pipe_command": [PROCMAIL, "-m", rc], "pipe_timeout": "60s"}
    if root:
        cfg["pipe_user"] = "nobody"
    return "HeadersParser|Header|Pipe", cfg


def count():
    return sum(len(os.listdir(os.path.join(_box, s)))
               for s in ("new", "cur") if os.path.isdir(os.path.join(_box, s)))


def stop():
    pass
