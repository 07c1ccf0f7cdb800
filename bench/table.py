#!/usr/bin/env python3
"""table.py ENVFILE - the table of bench/targets.sh (make bench).

Reads the KEY=VALUE figures one run of bench/targets.sh wrote and prints
issue 12's targets: per row the accept mode's figure, the tcpserver
path's, the reference measured in the same run, the ratio, the target
and met / not met; then the absolute figures of every server.
"""

import sys


def load(path):
    v = {}
    for ln in open(path):
        if "=" in ln:
            k, x = ln.rstrip("\n").split("=", 1)
            v[k] = x
    return v


V = load(sys.argv[1])


def num(key):
    x = V.get(key, "")
    try:
        return float(x.split("(")[0])
    except ValueError:
        return None


def div(a, b):
    return a / b if a is not None and b else None


def f(x, fmt="%.0f"):
    return "-" if x is None else fmt % x


rows = []


def row(measure, ours, tcp, ref, ratio, target, ok, fmt="%.0f"):
    met = "-" if ok is None else ("met" if ok else "NOT met")
    rows.append((measure, f(ours, fmt), f(tcp, fmt), ref, f(ratio, "%.2f×"),
                 target, met))


def rate_row(measure, case, lo):
    a, t, s = (num("rate_%s_%s" % (k, case))
               for k in ("accept", "tcpserver", "sink"))
    r = div(a, s)
    row(measure + " (msg/s)", a, t,
        "sink %s, tcpserver %s" % (f(s), f(div(t, s), "%.2f×")), r,
        "≥ %.1f× sink" % lo, None if r is None else r >= lo)


rate_row("50 clients, 1 msg/conn", "c50", 0.5)
rate_row("500 clients, 1 msg/conn", "c500", 0.5)
rate_row("50 clients, many msgs/conn", "d50", 0.4)
rate_row("1 client, serial, 1 msg/conn", "s1", 0.4)

a, t, p = (num("cpu_%s_c50" % k) for k in ("accept", "tcpserver", "postfix"))
fl, fk = num("floor_cpu_50"), num("floor_fork_cpu_50")
row("server CPU/msg, 50×1/conn, delivery incl. (ms)", a, t,
    "Postfix %s ms, file-system floor %s ms + fork %s ms" % (
        f(p, "%.2f"), f(fl, "%.2f"), f(fk, "%.2f")),
    div(a, p), "≤ 0.5 ms",
    None if a is None else a <= 0.5, "%.2f")

for cert, name, lo in (("ec", "ECDSA P-256", 0.6), ("rsa", "RSA-2048", 0.8)):
    a, t, p = (num("tlscpu_%s_%s" % (k, cert))
               for k in ("accept", "tcpserver", "postfix"))
    r = div(a, p)
    row("STARTTLS CPU/session, %s (ms)" % name, a, t,
        "Postfix %s ms" % f(p, "%.2f"), r, "≤ %.1f× Postfix" % lo,
        None if r is None else r <= lo, "%.2f")

a, t = num("pss_accept"), num("pss_tcpserver")
row("idle session after EHLO, mean PSS (KiB)", a, t,
    "tcpserver path (private %s / %s)" % (
        f(num("priv_accept")), f(num("priv_tcpserver"))),
    div(a, t), "≤ 100 KiB", None if a is None else a <= 100)

p99 = num("load_p99")
if "load_rc" in V:
    lost = sum(int(num(k) or 0) for k in ("load_lost", "load_dup",
                                           "load_cor"))
    chk_ok, chk_bad = int(num("load_checks_ok") or 0), \
        int(num("load_checks_failed") or 0)
    good = p99 is not None and p99 <= 2 and lost == 0 and chk_bad == 0 \
        and chk_ok > 0
    row("loadtest greeting p99 (s), accept mode", p99, None,
        "checks %d ok %d failed; accepted %s, lost %s dup %s corrupt %s"
        % (chk_ok, chk_bad, V.get("load_accepted", "?"),
           V.get("load_lost", "?"), V.get("load_dup", "?"),
           V.get("load_cor", "?")),
        None, "≤ 2 s, all checks ok", good, "%.2f")
else:
    row("loadtest greeting p99 (s), accept mode", None, None,
        "not run", None, "≤ 2 s, all checks ok", None)

# the same generator, plaintext and well-behaved, against the accept mode
# and smtp-sink: the greeting wait under a saturating closed loop
if "loadplain_rc" in V:
    a, s = num("loadplain_p99"), num("loadsink_p99")
    row("same load, no TLS/misbehaviour, greeting p99 (s)", a, None,
        "smtp-sink %s s (p50 %s vs %s s; greeted/s %s vs %s)" % (
            f(s, "%.2f"), f(num("loadplain_p50"), "%.2f"),
            f(num("loadsink_p50"), "%.2f"), f(num("loadplain_cps")),
            f(num("loadsink_cps"))),
        div(a, s), "≤ 2 s", None if a is None else a <= 2, "%.2f")

pf1, pf4 = num("L_postfix-smtpd-1"), num("L_postfix-smtpd-4")
sd = num("L_systemd-default-1")
r = div(sd, pf1)
row("systemd Accept=yes default, 1 client (conn/s)", sd, None,
    "Postfix smtpd %s" % f(pf1, "%.1f"), r, "≥ 0.35× Postfix",
    None if r is None else r >= 0.35, "%.1f")
for n, pf in ((1, pf1), (4, pf4)):
    a, t = num("L_accept-%d" % n), num("L_tcpserver-%d" % n)
    r = div(a, pf)
    row("accept mode, %d client%s (conn/s, launchers.sh)"
        % (n, "s" if n > 1 else ""), a, t,
        "Postfix smtpd %s" % f(pf, "%.1f"), r, "≥ 1.2× Postfix",
        None if r is None else r >= 1.2, "%.1f")

head = ("measure", "accept mode", "tcpserver", "reference (same run)",
        "ratio", "target", "")
w = [max(len(x[i]) for x in rows + [head]) for i in range(len(head))]
print("make bench (bench/targets.sh)%s: %s min, load average after the"
      " rates %s; 5 KB messages, spoolerd delivering to a Maildir; ratio ="
      " accept mode / reference"
      % (" QUICK=1" if V.get("quick") == "1" else "", V.get("minutes", "?"),
         V.get("load_after_rates", "?")))
print("| " + " | ".join(h.ljust(w[i]) for i, h in enumerate(head)) + " |")
print("|" + "|".join("-" * (x + 2) for x in w) + "|")
for r in rows:
    print("| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |")

print()
print("absolute figures: msg/s (server CPU ms per message, delivery"
      " included; smtp-sink stores nothing)")
kinds = ("sink", "postfix", "accept", "tcpserver")
print("| case | " + " | ".join(kinds) + " |")
print("|---|" + "---|" * len(kinds))
for case, name in (("s1", "1 client, 1 msg/conn"),
                   ("c50", "50 clients, 1 msg/conn"),
                   ("c500", "500 clients, 1 msg/conn"),
                   ("d50", "50 clients, many msgs/conn")):
    cells = []
    for k in kinds:
        r, c = num("rate_%s_%s" % (k, case)), num("cpu_%s_%s" % (k, case))
        cells.append("-" if r is None else "%.0f (%.2f)" % (r, c or 0)
                     if k != "sink" else "%.0f" % r)
    print("| %s | %s |" % (name, " | ".join(cells)))
for cert in ("ec", "rsa"):
    cells = ["-"]
    for k in kinds[1:]:
        r, c = num("tlsrate_%s_%s" % (k, cert)), num("tlscpu_%s_%s"
                                                     % (k, cert))
        cells.append("-" if r is None else "%.0f/s (%.2f)" % (r, c or 0))
    print("| STARTTLS %s, 20 clients | %s |" % (cert, " | ".join(cells)))
print("delivered: ours %s of %s (spool left %s), Postfix %s of %s"
      % (V.get("ours_delivered", "?"), V.get("ours_sent", "?"),
         V.get("ours_spool_left", "?"), V.get("pf_delivered", "-"),
         V.get("pf_sent", "-")))
if "floor_cpu_50" in V:
    print()
    print("file-system floor (bench/iofloor.c, same run): only the syscalls"
          " of our intake and of a Maildir delivery, no SMTP, TCP or fork;"
          " apart, fork + _exit + wait of a child that does nothing")
    print("| processes | intake msg/s (CPU ms) | delivery msg/s (CPU ms) |"
          " both, CPU ms per message | fork/s (CPU ms per fork) |")
    print("|---|---|---|---|---|")
    for np in ("50", "1"):
        print("| %s | %s (%s) | %s (%s) | %s | %s (%s) |" % (
            np, f(num("floor_in_rate_" + np)),
            f(num("floor_in_cpu_" + np), "%.3f"),
            f(num("floor_dl_rate_" + np)),
            f(num("floor_dl_cpu_" + np), "%.3f"),
            f(num("floor_cpu_" + np), "%.3f"),
            f(num("floor_fork_rate_" + np)),
            f(num("floor_fork_cpu_" + np), "%.3f")))
if V.get("load_failed"):
    print("loadtest checks failed: " + V["load_failed"].replace("_", " "))
