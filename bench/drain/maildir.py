"""bench/drain plugin: Maildir, one copy per recipient into
{domain}/{user}/Maildir (tmp -> new, two fsyncs per copy)."""
import glob
import os

NAME = "Maildir"
_dir = None


def start(workdir):
    global _dir
    _dir = os.path.join(workdir, "mail")
    os.makedirs(_dir, exist_ok=True)
    return ("HeadersParser|Header|Hasher|Maildir",
            {"maildir_path": _dir + "/{domain}/{user}/Maildir"})


def count():
    return sum(len(os.listdir(d)) for sub in ("new", "cur")
               for d in glob.glob(os.path.join(_dir, "*", "*", "Maildir",
                                               sub)))


def stop():
    pass
