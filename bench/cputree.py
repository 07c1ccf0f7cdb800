#!/usr/bin/env python3
"""cputree.py PID - CPU seconds used so far by a process tree: PID and its
live descendants (utime+stime) plus what they reaped from children that
exited (cutime+cstime). Used by bench/lib.sh (cpu_tree)."""
import os, sys
tck = os.sysconf("SC_CLK_TCK")
kids, stat = {}, {}
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        with open("/proc/%s/stat" % p) as f:
            f = f.read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    stat[int(p)] = sum(int(x) for x in f[11:15])  # utime stime cutime cstime
    kids.setdefault(int(f[1]), []).append(int(p))
total, todo = 0, [int(sys.argv[1])]
while todo:
    p = todo.pop()
    total += stat.get(p, 0)
    todo += kids.get(p, [])
print("%.3f" % (total / tck))
