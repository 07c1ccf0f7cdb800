#!/usr/bin/python3
"""inside.py - the checks of tests/systemd, run inside the container by
smtpd-test.service once smtpd.socket, smtps.socket and spoolerd.service
are up. Writes TAP to /results/tap, details to /results/log, the measured
spawn rates to /results/rates.json. Exit status 0 when every check passed
(the unit's SuccessAction/FailureAction end the container either way).

  inside.py test     the checks (tests/systemd/suite), the accept mode
                     (smtpd.service, Accept=no sockets) last
  inside.py bench    connections/s only (bench/launchers.sh)
  inside.py profiles connections/s for each drop-in in profiles.json
  inside.py units    connections/s (1 client) and time to the banner for
                     each full text of smtpd-session@.service in
                     units.json, in rounds (bench/profile.sh)
  inside.py rate PORT N PARALLEL   connections/s against 127.0.0.1:PORT,
                     printed (bench/launchers.sh uses it on the host, so
                     every launcher is measured by the same client)
"""
import glob, json, os, re, smtplib, socket, ssl, subprocess, sys, threading
import time

RES = os.environ.get("RESULTS", "/results")
MAILDIR = "/var/mail/example.com"
CONF = "/etc/smtpd/smtpd.json"
DROPIN_DIR = "/etc/systemd/system/smtpd-session@.service.d"
STRICT = "/usr/share/smtpd/smtpd-session-strict.conf"
if not os.path.isdir(RES):
    RES = "/tmp"
tap = open(os.path.join(RES, "tap"), "w") if RES != "/tmp" else sys.stdout
logf = open(os.path.join(RES, "log"), "a")
PORT = 25
count = 0
failed = 0
msgs = {}  # Message-ID -> maildir user, every message accepted so far


def log(*a):
    logf.write(" ".join(str(x) for x in a) + "\n")
    logf.flush()


def check(name, cond, detail=""):
    global count, failed
    count += 1
    if not cond:
        failed += 1
    tap.write("%s %d - %s\n" % ("ok" if cond else "not ok", count, name))
    if not cond and detail:
        for line in str(detail).splitlines()[:30]:
            tap.write("# %s\n" % line)
    tap.flush()
    log("check", count, name, "->", bool(cond), detail if not cond else "")


def sh(*args, timeout=60):
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    log("$", " ".join(args), "->", r.returncode, r.stdout[-2000:],
        r.stderr[-2000:])
    return r


def prop(unit, p):
    return sh("systemctl", "show", "-p", p, "--value", unit).stdout.strip()


def wait_for(fn, timeout=30.0, step=0.1):
    end = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > end:
            return v
        time.sleep(step)


def tls_ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


seq = [0]


def send(mode="plain", user="alice", src=None, quiet=False):
    """one message on one connection; returns (ok, detail). mode: plain
    (25), starttls (25), implicit (465)"""
    seq[0] += 1
    mid = "<t%d.%d.%f@client.test>" % (seq[0], os.getpid(), time.time())
    body = ("From: <sender@client.test>\r\nTo: <%s@example.com>\r\n"
            "Subject: test %d\r\nMessage-ID: %s\r\n\r\nhello %s\r\n" %
            (user, seq[0], mid, mode))
    srcaddr = (src, 0) if src else None
    try:
        if mode == "implicit":
            c = smtplib.SMTP_SSL("127.0.0.1", 465, timeout=20,
                                 local_hostname="client.test",
                                 context=tls_ctx(), source_address=srcaddr)
        else:
            c = smtplib.SMTP("127.0.0.1", PORT, timeout=20,
                             local_hostname="client.test",
                             source_address=srcaddr)
        c.ehlo("client.test")
        info = ""
        if mode == "starttls":
            if not c.has_extn("starttls"):
                return False, "no STARTTLS in EHLO"
            c.starttls(context=tls_ctx())
            c.ehlo("client.test")
        if mode != "plain":
            info = c.sock.version()
        code, resp = c.docmd("MAIL FROM:<sender@client.test>")
        if code != 250:
            return False, "MAIL: %d %s" % (code, resp)
        code, resp = c.docmd("RCPT TO:<%s@example.com>" % user)
        if code != 250:
            return False, "RCPT: %d %s" % (code, resp)
        code, resp = c.data(body.encode())
        c.quit()
        if code != 250:
            return False, "DATA: %d %s" % (code, resp)
        msgs[mid] = user
        return True, info
    except Exception as e:  # noqa
        if not quiet:
            log("send", mode, "failed:", repr(e))
        return False, repr(e)


def delivered(subdir="Maildir"):
    """Message-ID -> number of copies in every maildir under MAILDIR"""
    seen = {}
    for f in glob.glob(MAILDIR + "/*/%s/new/*" % subdir) + glob.glob(
            MAILDIR + "/*/%s/cur/*" % subdir):
        try:
            with open(f, "rb") as fh:
                head = fh.read(65536).split(b"\r\n\r\n")[0].split(b"\n\n")[0]
        except OSError:
            continue
        m = re.search(rb"(?im)^Message-ID:\s*(<[^>]*>)", head)
        if m:
            k = m.group(1).decode()
            seen[k] = seen.get(k, 0) + 1
    return seen


def all_delivered(ids, timeout=30, subdir="Maildir"):
    def done():
        d = delivered(subdir)
        return all(d.get(i, 0) >= 1 for i in ids)
    wait_for(done, timeout)
    d = delivered(subdir)
    missing = [i for i in ids if d.get(i, 0) < 1]
    dups = [i for i in ids if d.get(i, 0) > 1]
    return missing, dups


def spool_count(sub):
    return len(os.listdir("/var/spool/smtpd/" + sub))


def banner(src=None, port=25, timeout=10):
    """connect and read the first line; (socket, line or b'')"""
    s = socket.socket()
    if src:
        s.bind((src, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    try:
        line = s.recv(512)
    except (ConnectionResetError, socket.timeout):
        line = b""
    return s, line


def status_of(pid):
    d = {}
    try:
        for line in open("/proc/%d/status" % pid):
            k, _, v = line.partition(":")
            d[k] = v.strip()
    except OSError:
        pass
    return d


def session_units():
    r = sh("systemctl", "list-units", "--plain", "--no-legend",
           "--state=running", "smtpd-session@*")
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def set_conf(mutate):
    c = json.load(open(CONF))
    mutate(c)
    tmp = CONF + ".new"
    with open(tmp, "w") as fh:
        json.dump(c, fh, indent=1)
    os.chmod(tmp, 0o644)
    os.rename(tmp, CONF)


def rate(n, mode="plain", parallel=1):
    """connections/s, one short message each"""
    done = [0]
    errs = []

    def worker(k):
        for _ in range(k):
            ok, d = send(mode, user="rate", quiet=True)
            if ok:
                done[0] += 1
            else:
                errs.append(d)

    t0 = time.time()
    ths = [threading.Thread(target=worker, args=(n // parallel,))
           for _ in range(parallel)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    dt = time.time() - t0
    return done[0] / dt if dt > 0 else 0.0, errs


# --- the checks -----------------------------------------------------------

def t_units_up():
    states = {u: prop(u, "ActiveState") for u in
              ("smtpd.socket", "smtps.socket", "spoolerd.service")}
    check("smtpd.socket, smtps.socket and spoolerd.service are active",
          all(v == "active" for v in states.values()), states)
    pid = int(prop("spoolerd.service", "MainPID") or 0)
    st = status_of(pid)
    user = sh("ps", "-o", "user=,group=", "-p", str(pid)).stdout.split()
    check("spoolerd runs as spoolerd:smtpd-spool, Type=notify, with a "
          "watchdog and a status line",
          user == ["spoolerd", "smtpd-spool"] and
          prop("spoolerd.service", "Type") == "notify" and
          prop("spoolerd.service", "WatchdogUSec") not in ("", "0", "infinity")
          and prop("spoolerd.service", "StatusText") != "" and
          st.get("Seccomp") == "2",
          "user %s, type %s, watchdog %s, status %r, seccomp %s" % (
              user, prop("spoolerd.service", "Type"),
              prop("spoolerd.service", "WatchdogUSec"),
              prop("spoolerd.service", "StatusText"), st.get("Seccomp")))
    check("the socket limits are the shipped ones (MaxConnections=1024, "
          "MaxConnectionsPerSource=64, no trigger limit)",
          prop("smtpd.socket", "MaxConnections") == "1024" and
          prop("smtpd.socket", "MaxConnectionsPerSource") == "64" and
          prop("smtpd.socket", "TriggerLimitBurst") == "0",
          [prop("smtpd.socket", p) for p in
           ("MaxConnections", "MaxConnectionsPerSource",
            "TriggerLimitBurst")])


def t_send(profile):
    ids = []
    for mode in ("plain", "starttls", "implicit"):
        ok, d = send(mode)
        what = {"plain": "plain SMTP on port 25",
                "starttls": "STARTTLS on port 25",
                "implicit": "implicit TLS on port 465"}[mode]
        check("%s: %s accepts a message (%s)" % (profile, what, d), ok, d)
        if ok:
            ids.append(list(msgs)[-1])
    missing, dups = all_delivered(ids)
    check("%s: the messages reach the maildir through spoolerd, once each"
          % profile, ids and not missing and not dups,
          "missing %s dups %s" % (missing, dups))
    left = wait_for(lambda: spool_count("new") + spool_count("cur") == 0, 10)
    check("%s: the spool is empty afterwards" % profile,
          spool_count("new") + spool_count("cur") == 0,
          "new %d cur %d" % (spool_count("new"), spool_count("cur")))
    _ = left


def t_instances(profile):
    conns = []
    try:
        for _ in range(3):
            s, line = banner()
            conns.append((s, s.getsockname()[1], line))
        def mine():
            us = session_units()
            return [u for u in us if any(u.endswith(":%d.service" % p)
                                         for _, p, _ in conns)]
        units = wait_for(lambda: len(mine()) >= 3 and mine(), 5) or mine()
        ports_seen = {p: [u for u in units if u.endswith(":%d.service" % p)]
                      for _, p, _ in conns}
        one_each = all(len(v) == 1 for v in ports_seen.values())
        pids, users, stats = set(), set(), []
        for u in units:
            pid = int(prop(u, "MainPID") or 0)
            pids.add(pid)
            users.add(tuple(sh("ps", "-o", "user=,group=", "-p",
                               str(pid)).stdout.split()))
            stats.append(status_of(pid))
        check("%s: each connection is its own smtpd-session@ instance "
              "(3 connections, 3 units, 3 processes)" % profile,
              all(l.startswith(b"220") for _, _, l in conns) and one_each
              and len(pids) == 3 and 0 not in pids,
              "banners %s units %s" % ([l for _, _, l in conns], units))
        check("%s: sessions run as smtpd:smtpd-spool" % profile,
              users == {("smtpd", "smtpd-spool")}, users)
        st = stats[0] if stats else {}
        check("%s: a session has no capabilities, no_new_privs and a "
              "seccomp filter" % profile,
              stats and all(s.get("CapEff") == "0000000000000000" and
                            s.get("CapBnd") == "0000000000000000" and
                            s.get("NoNewPrivs") == "1" and
                            s.get("Seccomp") == "2" for s in stats), st)
        mnt_own = False
        if units:
            pid = int(prop(units[0], "MainPID") or 0)
            try:
                mnt_own = os.readlink("/proc/%d/ns/mnt" % pid) != \
                    os.readlink("/proc/1/ns/mnt")
            except OSError:
                pass
        if profile == "strict":
            check("strict: the session has its own mount namespace "
                  "(the drop-in applies)", mnt_own)
        else:
            check("default: the session shares the host's mount namespace "
                  "(no per-spawn sandbox cost)", not mnt_own)
    finally:
        for s, _, _ in conns:
            try:
                s.sendall(b"QUIT\r\n")
                s.close()
            except OSError:
                pass


def t_journal():
    r = sh("journalctl", "--no-pager", "-o", "cat", "-u", "smtpd-session@*")
    check("journalctl -u 'smtpd-session@*' has the sessions' log lines",
          "disconnect from 127.0.0.1" in r.stdout, r.stdout[-500:])


def t_reload():
    pid = prop("spoolerd.service", "MainPID")
    set_conf(lambda c: c["backend_config"].__setitem__(
        "maildir_path", "/var/mail/{domain}/{user}/Reloaded"))
    r = sh("systemctl", "reload", "spoolerd.service")
    time.sleep(0.5)
    ok, d = send()
    mid = list(msgs)[-1]
    missing, _ = all_delivered([mid], subdir="Reloaded")
    check("systemctl reload spoolerd applies a changed maildir_path, same "
          "process", r.returncode == 0 and ok and not missing and
          prop("spoolerd.service", "MainPID") == pid and
          prop("spoolerd.service", "ActiveState") == "active",
          "reload rc %d, send %s, missing %s" % (r.returncode, d, missing))
    good = open(CONF).read()
    with open(CONF, "w") as fh:
        fh.write('{"servers": [ {"max_size": "not a number"} ]')
    r = sh("systemctl", "reload", "spoolerd.service")
    time.sleep(1)
    j = sh("journalctl", "--no-pager", "-o", "cat", "-u",
           "spoolerd.service").stdout
    check("a bad config on reload is refused and spoolerd keeps running",
          prop("spoolerd.service", "ActiveState") == "active" and
          prop("spoolerd.service", "MainPID") == pid and
          "keeping the running config" in j, j[-600:])
    with open(CONF, "w") as fh:
        fh.write(good)
    set_conf(lambda c: c["backend_config"].__setitem__(
        "maildir_path", "/var/mail/{domain}/{user}/Maildir"))
    sh("systemctl", "reload", "spoolerd.service")
    time.sleep(0.5)


def t_stop_start():
    before = set(msgs)
    n_ok = [0]
    stop_at = threading.Event()

    def sender():
        for i in range(40):
            if send(user="bob")[0]:
                n_ok[0] += 1
            if i == 10:
                stop_at.set()

    th = threading.Thread(target=sender)
    th.start()
    stop_at.wait(60)
    r1 = sh("systemctl", "stop", "spoolerd.service")
    stopped = prop("spoolerd.service", "ActiveState")
    time.sleep(1)
    queued = spool_count("new")
    th.join()
    queued = max(queued, spool_count("new"))
    r2 = sh("systemctl", "start", "spoolerd.service")
    ids = [m for m in msgs if m not in before]
    missing, dups = all_delivered(ids, 60)
    check("sessions keep accepting while spoolerd is stopped (spool holds "
          "%d)" % queued, r1.returncode == 0 and stopped == "inactive" and
          n_ok[0] == 40 and queued > 0,
          "stop rc %d state %s accepted %d queued %d" % (
              r1.returncode, stopped, n_ok[0], queued))
    check("systemctl stop / start spoolerd loses nothing and duplicates "
          "nothing (%d messages)" % len(ids),
          r2.returncode == 0 and not missing and not dups and len(ids) == 40,
          "missing %s dups %s" % (missing[:5], dups[:5]))


def t_burst():
    n = 500
    socks = []
    t0 = time.time()
    errs = []
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.bind(("127.0.1.%d" % (1 + i % 50), 0))
            s.connect_ex(("127.0.0.1", 25))
        except OSError as e:
            errs.append(repr(e))
        socks.append(s)
    t_conn = time.time() - t0
    got = 0
    bad = []
    for s in socks:
        s.setblocking(True)
        s.settimeout(150)
        try:
            line = s.recv(512)
            if line.startswith(b"220"):
                got += 1
                s.sendall(b"QUIT\r\n")
            else:
                bad.append(line)
        except OSError as e:
            bad.append(repr(e))
    t_all = time.time() - t0
    for s in socks:
        s.close()
    state = prop("smtpd.socket", "ActiveState")
    res = prop("smtpd.socket", "Result")
    after = banner()
    after[0].close()
    log("burst: connects in %.2fs, all banners in %.2fs" % (t_conn, t_all))
    check("a burst of %d connections in %.2f s: every client gets 220 "
          "(in %.1f s)" % (n, t_conn, t_all),
          t_conn <= 1.0 and got == n and not errs,
          "220 from %d, others %s, errors %s" % (got, bad[:5], errs[:3]))
    check("after the burst smtpd.socket is still active (result %s) and "
          "accepts" % res, state == "active" and res == "success" and
          after[1].startswith(b"220"),
          "state %s result %s next %r" % (state, res, after[1]))


def t_per_source():
    limit = int(prop("smtpd.socket", "MaxConnectionsPerSource"))
    held = []
    try:
        for _ in range(limit):
            held.append(banner("127.0.2.1"))
        all220 = all(l.startswith(b"220") for _, l in held)
        s, extra = banner("127.0.2.1", timeout=5)
        s.close()
        o, other = banner("127.0.2.2")
        o.close()
        check("MaxConnectionsPerSource=%d holds: %d sessions from one IP, "
              "the next is closed without a banner, another IP is served"
              % (limit, limit), all220 and extra == b"" and
              other.startswith(b"220"),
              "all 220: %s, extra %r, other %r" % (all220, extra, other))
    finally:
        for s, _ in held:
            try:
                s.close()
            except OSError:
                pass
    time.sleep(1)


def strict(on):
    link = os.path.join(DROPIN_DIR, "strict.conf")
    if on:
        os.makedirs(DROPIN_DIR, exist_ok=True)
        os.symlink(STRICT, link)
    elif os.path.lexists(link):
        os.unlink(link)
    sh("systemctl", "daemon-reload")


def t_tcpserver():
    sh("systemctl", "stop", "smtpd.socket")
    r = sh("systemctl", "start", "smtpd-tcpserver.service")
    time.sleep(0.5)
    s, line = None, b""
    try:
        s, line = wait_for(lambda: _try_banner(), 5) or (None, b"")
        pids = [int(p) for p in sh("pgrep", "-x", "smtpd-session").stdout.split()]
        st = status_of(pids[0]) if pids else {}
        tpid = int(prop("smtpd-tcpserver.service", "MainPID") or 0)
        tst = status_of(tpid)
        check("smtpd-tcpserver.service: tcpserver holds only "
              "CAP_NET_BIND_SERVICE, its sessions none",
              r.returncode == 0 and line.startswith(b"220") and
              st.get("CapEff") == "0000000000000000" and
              st.get("CapAmb") == "0000000000000000" and
              st.get("CapPrm") == "0000000000000000" and
              tst.get("CapEff") == "0000000000000400",
              "rc %d banner %r session %s tcpserver %s" % (
                  r.returncode, line, {k: st.get(k) for k in
                                       ("CapEff", "CapPrm", "CapAmb")},
                  tst.get("CapEff")))
    finally:
        if s:
            s.close()
    ok, d = send("starttls")
    mid = list(msgs)[-1]
    missing, _ = all_delivered([mid])
    check("smtpd-tcpserver.service: STARTTLS mail is accepted and delivered",
          ok and not missing, d)
    sh("systemctl", "stop", "smtpd-tcpserver.service")
    sh("systemctl", "start", "smtpd.socket")


def t_accept():
    """smtpd.service, the accept mode, with smtpd-accept.socket and
    smtps-accept.socket (Accept=no) instead of smtpd.socket and
    smtps.socket: mail on 25 (plain, STARTTLS) and 465 accepted and
    delivered, systemctl reload, the STATUS line, the security score"""
    sh("systemctl", "stop", "smtpd.socket", "smtps.socket")
    r = sh("systemctl", "start", "smtpd-accept.socket",
           "smtps-accept.socket")
    # the first connection starts it; start it now to look at it first
    r2 = sh("systemctl", "start", "smtpd.service")
    up = wait_for(lambda: prop("smtpd.service", "ActiveState") == "active",
                  15)
    pid = int(prop("smtpd.service", "MainPID") or 0)
    st = status_of(pid)
    user = sh("ps", "-o", "user=,group=", "-p", str(pid)).stdout.split()
    try:
        check("smtpd.service starts with smtpd-accept.socket and "
              "smtps-accept.socket (Accept=no): Type=notify, one parent as "
              "smtpd:smtpd-spool, no capabilities, seccomp",
              r.returncode == 0 and r2.returncode == 0 and up and
              prop("smtpd-accept.socket", "Accept") == "no" and
              prop("smtps-accept.socket", "Accept") == "no" and
              prop("smtpd.service", "Type") == "notify" and
              user == ["smtpd", "smtpd-spool"] and
              st.get("CapEff") == "0000000000000000" and
              st.get("Seccomp") == "2",
              "rc %d/%d active %s user %s caps %s seccomp %s accept %s/%s" % (
                  r.returncode, r2.returncode, up, user, st.get("CapEff"),
                  st.get("Seccomp"), prop("smtpd-accept.socket", "Accept"),
                  prop("smtps-accept.socket", "Accept")))
        ids = []
        for mode in ("plain", "starttls", "implicit"):
            ok, d = send(mode)
            check("smtpd.service (accept mode): %s accepts a message (%s)" %
                  ({"plain": "port 25", "starttls": "STARTTLS on 25",
                    "implicit": "implicit TLS on 465"}[mode], d), ok, d)
            if ok:
                ids.append(list(msgs)[-1])
        missing, dup = all_delivered(ids)
        check("smtpd.service (accept mode): the messages are delivered "
              "once each by spoolerd", len(ids) == 3 and not missing and
              not dup, "missing %s dup %s" % (missing, dup))
        # a session is a forked child of the parent, in its cgroup, not a
        # unit of its own
        s, line = banner()
        kids = open("/proc/%d/task/%d/children" % (pid, pid)).read().split()
        units = session_units()
        s.close()
        check("smtpd.service: a session is a child of the parent, no "
              "smtpd-session@ unit", line.startswith(b"220") and
              len(kids) >= 1 and not units,
              "banner %r children %s units %s" % (line, kids, units))
        # the parent sends STATUS= at most once a second

        def counted():
            t = prop("smtpd.service", "StatusText")
            m = re.search(r"accepted (\d+)", t)
            return (t, m) if m and int(m.group(1)) >= 4 else None
        status, m = wait_for(counted, 5) or (prop("smtpd.service",
                                                  "StatusText"), None)
        out = sh("systemctl", "status", "--no-pager", "smtpd.service").stdout
        check("systemctl status smtpd: the STATUS line counts sessions open, "
              "accepted, refused", m and int(m.group(1)) >= 4 and
              "sessions open" in status and "refused" in status and
              ("Status: \"%s\"" % status) in out, "%r\n%s" % (
                  status, out[-800:]))
        # systemctl reload: SIGHUP, the new config at once, same process
        set_conf(lambda c: c["servers"][0].__setitem__(
            "host_name", "reloaded.example.com"))
        r = sh("systemctl", "reload", "smtpd.service")
        s, line = banner()
        s.close()
        j = sh("journalctl", "--no-pager", "-o", "cat", "-u",
               "smtpd.service").stdout
        check("systemctl reload smtpd: the changed config applies to the "
              "next connection, same process", r.returncode == 0 and
              b"reloaded.example.com" in line and
              "(SIGHUP)" in j and
              int(prop("smtpd.service", "MainPID") or 0) == pid and
              prop("smtpd.service", "ActiveState") == "active",
              "rc %d banner %r pid %s\n%s" % (
                  r.returncode, line, prop("smtpd.service", "MainPID"),
                  j[-600:]))
        set_conf(lambda c: c["servers"][0].__setitem__(
            "host_name", "mx.example.com"))
        sh("systemctl", "reload", "smtpd.service")
        r = sh("systemd-analyze", "security", "--no-pager",
               "smtpd.service")
        m = re.search(r"Overall exposure level for smtpd\.service: "
                      r"([0-9.]+)", r.stdout)
        check("systemd-analyze security smtpd.service under the running "
              "systemd: %s (<= 1.0)" % (m.group(1) if m else "?"),
              m and float(m.group(1)) <= 1.0, r.stdout[-600:] + r.stderr)
    finally:
        sh("systemctl", "stop", "smtpd.service", "smtpd-accept.socket",
           "smtps-accept.socket")
        sh("systemctl", "start", "smtpd.socket", "smtps.socket")
    check("back to smtpd.socket and smtps.socket after the accept mode",
          wait_for(lambda: _try_connect(25), 10) and
          prop("smtpd.service", "ActiveState") != "active",
          prop("smtpd.service", "ActiveState"))


def _try_connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False


def _try_banner():
    try:
        return banner()
    except OSError:
        return None


def cpu_ticks():
    """CPU clock ticks of everything in the container but this process,
    by where they went: utime+stime of every live process plus
    cutime+cstime (the children it reaped), so each process that ran is
    counted once, by itself while alive, then by its reaper. PID 1 reaps
    every session: "pid1" is the manager itself, "sessions" what its
    children used (a session's sandbox set-up runs in the forked child,
    before the exec); "~COMM" details "other"."""
    me, t = os.getpid(), {}
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            s = open("/proc/%s/stat" % d).read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        f = [int(x) for x in s.rpartition(")")[2].split()[11:15]]
        if d == "1":
            t["pid1"] = t.get("pid1", 0) + f[0] + f[1]
            t["sessions"] = t.get("sessions", 0) + f[2] + f[3]
        else:
            k = comm if comm in ("systemd-journal", "spoolerd") else "other"
            t[k] = t.get(k, 0) + sum(f)
            if k == "other":
                t["~" + comm] = t.get("~" + comm, 0) + sum(f)
    return t


def rate_timed(n):
    """n connections one after the other, one short message each:
    (connections/s, median ms from connect to the 220 banner, CPU ms of
    the container per connection by cpu_ticks() key and "all", errors)"""
    errs, lat = [], []
    c0 = cpu_ticks()
    body = (b"From: <sender@client.test>\r\nTo: <rate@example.com>\r\n"
            b"Subject: profile\r\n\r\nhello\r\n")
    t0 = time.time()
    for _ in range(n):
        t1 = time.time()
        try:
            c = smtplib.SMTP("127.0.0.1", PORT, timeout=20,
                             local_hostname="client.test")
            lat.append(time.time() - t1)
            c.ehlo("client.test")
            c.sendmail("sender@client.test", ["rate@example.com"], body)
            c.quit()
        except Exception as e:  # noqa
            errs.append(repr(e))
    dt = time.time() - t0
    c1 = cpu_ticks()
    cpu = {k: round((c1.get(k, 0) - c0.get(k, 0)) * 1000.0 /
                    os.sysconf("SC_CLK_TCK") / n, 2) for k in c1}
    cpu = {k: v for k, v in cpu.items() if not k.startswith("~") or v}
    cpu["all"] = round(sum(v for k, v in cpu.items()
                           if not k.startswith("~")), 2)
    lat.sort()
    med = lat[len(lat) // 2] * 1000 if lat else 0.0
    return (n - len(errs)) / dt if dt > 0 else 0.0, med, cpu, errs


def units_bench():
    """/results/units.json: {"n": N, "rounds": R, "budget": seconds,
    "variants": [[name, unit text or null], ...]}. Each variant in turn
    replaces
    the installed smtpd-session@.service (so a directive left out is
    really absent, not reset by a drop-in; null: smtpd-tcpserver.service
    instead of the socket; {"port": P}: a server already listening on
    127.0.0.1:P, such as Postfix); every round measures every
    variant once. /results/units-rates.json after each measurement: a
    list, in the order measured, of [round, name, conn/s, banner ms,
    errors, {where: CPU ms per connection}]. Stops starting new
    measurements once the budget is spent; the original unit is put
    back at the end."""
    global PORT
    spec = json.load(open(os.path.join(RES, "units.json")))
    frag = prop("smtpd@probe.service", "FragmentPath")
    orig = open(frag).read()
    out = []
    end = time.time() + spec.get("budget", 200)
    try:
        for rnd in range(spec.get("rounds", 1)):
            for name, text in spec["variants"]:
                if time.time() > end:
                    log("units: budget spent in round", rnd)
                    return 0
                if isinstance(text, dict):
                    # another server in this network namespace (Postfix's
                    # smtpd, started from the host by bench/profile.sh)
                    PORT = text["port"]
                    up = wait_for(lambda: _try_connect(PORT), 30)
                    r, med, cpu, errs = rate_timed(spec.get("n", 100)) \
                        if up else (0.0, 0.0, {"all": 0.0}, ["not up"])
                    PORT = 25
                    out.append([rnd, name, round(r, 1), round(med, 2),
                                len(errs), cpu])
                    log("units", rnd, name, r, med, cpu, errs[:3])
                    continue
                if text is None:
                    # the floor: smtpd-tcpserver.service, one sandbox
                    # for all sessions, no unit per connection
                    with open(frag, "w") as fh:
                        fh.write(orig)
                    sh("systemctl", "daemon-reload")
                    sh("systemctl", "stop", "smtpd.socket")
                    sh("systemctl", "start", "smtpd-tcpserver.service")
                    wait_for(_try_banner, 5)
                else:
                    with open(frag, "w") as fh:
                        fh.write(text)
                    sh("systemctl", "daemon-reload")
                if prop("smtpd@probe.service", "LoadState") != "loaded":
                    out.append([rnd, name, 0.0, 0.0, -1, {}])
                    continue
                r, med, cpu, errs = rate_timed(spec.get("n", 100))
                out.append([rnd, name, round(r, 1), round(med, 2),
                            len(errs), cpu])
                log("units", rnd, name, r, med, cpu, errs[:3])
                if text is None:
                    sh("systemctl", "stop", "smtpd-tcpserver.service")
                    sh("systemctl", "start", "smtpd.socket")
                with open(os.path.join(RES, "units-rates.json.new"),
                          "w") as fh:
                    json.dump(out, fh)
                os.rename(os.path.join(RES, "units-rates.json.new"),
                          os.path.join(RES, "units-rates.json"))
    finally:
        with open(frag, "w") as fh:
            fh.write(orig)
        sh("systemctl", "daemon-reload")
    return 0


def rates(label, out, n):
    r, errs = rate(n)
    out[label] = round(r, 1)
    log("rate", label, r, "errors", errs[:3])
    return r, errs


def main():
    global PORT
    mode = sys.argv[1] if len(sys.argv) > 1 else "test"
    rs = {}
    if mode == "rate":
        PORT = int(sys.argv[2])
        r, errs = rate(int(sys.argv[3]), parallel=int(sys.argv[4]))
        print("%.1f %d" % (r, len(errs)))
        if errs:
            print("errors:", errs[:3], file=sys.stderr)
        return 0
    if mode == "units":
        return units_bench()
    if mode == "profiles":
        # /results/profiles.json: {"name": "drop-in text", ...}; measures
        # each as an extra drop-in of smtpd-session@.service
        n = int(os.environ.get("BENCH_N", "200"))
        profs = json.load(open(os.path.join(RES, "profiles.json")))
        path = os.path.join(DROPIN_DIR, "zz-profile.conf")
        os.makedirs(DROPIN_DIR, exist_ok=True)
        for name, text in profs.items():
            with open(path, "w") as fh:
                fh.write(text)
            sh("systemctl", "daemon-reload")
            r, errs = rate(n)
            rs[name] = round(r, 1)
            log("profile", name, r, errs[:3])
        os.unlink(path)
        json.dump(rs, open(os.path.join(RES, "rates.json"), "w"))
        return 0
    if mode == "bench":
        # inside.py bench N: default and strict profile, the default
        # without LoadCredential (sites without TLS), and
        # smtpd-tcpserver.service; 1 and 4 clients
        n = int(sys.argv[2]) if len(sys.argv) > 2 else 300
        path = os.path.join(DROPIN_DIR, "zz-bench.conf")
        os.makedirs(DROPIN_DIR, exist_ok=True)
        for prof, text, k in (
                ("default", "", n),
                ("nocred", "[Service]\nLoadCredential=\n", n),
                ("strict", open(STRICT).read(), max(n // 4, 40))):
            with open(path, "w") as fh:
                fh.write(text)
            sh("systemctl", "daemon-reload")
            for par in (1, 4):
                r, errs = rate(k, parallel=par)
                rs["systemd-%s-%d" % (prof, par)] = round(r, 1)
                log("bench", prof, par, r, errs[:3])
        os.unlink(path)
        sh("systemctl", "daemon-reload")
        sh("systemctl", "stop", "smtpd.socket")
        sh("systemctl", "start", "smtpd-tcpserver.service")
        wait_for(_try_banner, 5)
        for par in (1, 4):
            r, errs = rate(n, parallel=par)
            rs["tcpserver-service-%d" % par] = round(r, 1)
            log("bench tcpserver-service", par, r, errs[:3])
        json.dump(rs, open(os.path.join(RES, "rates.json"), "w"))
        return 0
    t_units_up()
    t_send("default")
    t_instances("default")
    t_journal()
    t_reload()
    t_stop_start()
    t_burst()
    t_per_source()
    r, errs = rates("default", rs, 200)
    check("default profile: %.0f connections/s, one message each" % r,
          r > 0 and not errs, errs[:3])
    strict(True)
    t_send("strict")
    t_instances("strict")
    r, errs = rates("strict", rs, 100)
    check("strict profile: %.0f connections/s, one message each" % r,
          r > 0 and not errs, errs[:3])
    strict(False)
    t_tcpserver()
    t_accept()
    json.dump(rs, open(os.path.join(RES, "rates.json"), "w"))
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        rc = main()
    except Exception as e:  # noqa
        import traceback
        check("inside.py ran to the end", False, traceback.format_exc())
        rc = 1
    tap.close()
    sys.exit(rc)
