"""bench/drain plugin: Mbox, one mboxrd file per recipient, appended
under an fcntl lock and fsync'd; count() counts the "From " separators
(mboxrd quotes every other line that would start so)."""
import glob
import os

NAME = "Mbox"
_dir = None


def start(workdir):
    global _dir
    _dir = os.path.join(workdir, "mbox")
    os.makedirs(_dir, exist_ok=True)
    return ("HeadersParser|Header|Hasher|Mbox",
            {"mbox_path": _dir + "/{domain}/{user}"})


def count():
    n = 0
    for path in glob.glob(os.path.join(_dir, "*", "*")):
        with open(path, "rb") as f:
            for ln in f:
                if ln.startswith(b"From "):
                    n += 1
    return n


def stop():
    pass
