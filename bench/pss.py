#!/usr/bin/env python3
"""pss.py - memory of idle smtpd-session processes after EHLO.

usage: pss.py LAUNCHER_PID PORT [N]

Opens N (default 1) connections to 127.0.0.1:PORT, where a launcher
(tcpserver) with pid LAUNCHER_PID spawns one smtpd-session per
connection; sends EHLO on each and reads the whole reply, then finds the
launcher's children and reads /proc/PID/smaps_rollup.  Prints one line:

  n=N pss_kib=... pss_mean_kib=... private_kib=... rss_kib=...

pss_kib is the PSS of the first session alone (before the others were
opened); the mean values are over all N sessions open at once.
"""

import socket
import sys
import time


def children(pid):
    out = []
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            out = [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def rollup(pid):
    vals = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for ln in f:
            parts = ln.split()
            if len(parts) >= 3 and parts[-1] == "kB":
                vals[parts[0].rstrip(":")] = int(parts[1])
    return vals


def open_session(port):
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = c.makefile("rb")
    line = f.readline()
    if not line.startswith(b"220"):
        raise SystemExit("banner: %r" % line)
    c.sendall(b"EHLO bench.test\r\n")
    while True:
        line = f.readline()
        if not line.startswith(b"250"):
            raise SystemExit("EHLO reply: %r" % line)
        if line[3:4] == b" ":
            break
    return c, f


def wait_children(lpid, n):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        kids = children(lpid)
        if len(kids) >= n:
            return kids
        time.sleep(0.02)
    raise SystemExit("expected %d sessions under pid %d, found %r"
                     % (n, lpid, children(lpid)))


def main():
    lpid, port = int(sys.argv[1]), int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    conns = [open_session(port)]
    time.sleep(0.1)
    first = wait_children(lpid, 1)
    if len(first) != 1:
        raise SystemExit("other sessions running: %r" % first)
    one = rollup(first[0])
    for _ in range(n - 1):
        conns.append(open_session(port))
    time.sleep(0.1)
    kids = wait_children(lpid, n)
    rs = [rollup(k) for k in kids]
    mean = lambda key: sum(r.get(key, 0) for r in rs) / len(rs)  # noqa
    priv = sum(r.get("Private_Clean", 0) + r.get("Private_Dirty", 0)
               for r in rs) / len(rs)
    print("n=%d pss_kib=%d pss_mean_kib=%.0f private_kib=%.0f rss_kib=%.0f"
          % (n, one["Pss"], mean("Pss"), priv, mean("Rss")))
    for c, f in conns:
        c.sendall(b"QUIT\r\n")
        f.readline()
        c.close()


if __name__ == "__main__":
    main()
