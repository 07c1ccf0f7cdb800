"""dbs.py - private Redis and MariaDB servers for the db suite and the
benchmark: throwaway data directories, loopback ports that are not the
default ones, unix sockets; a small RESP client and a SQL helper that
runs the mariadb client. No mocks: the real servers Debian ships."""
import os
import shutil
import signal
import socket
import subprocess
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(cond, timeout, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


class Redis:
    """redis-server on 127.0.0.1:port and a unix socket, no persistence"""

    def __init__(self, dir, password=None):
        self.dir = dir
        os.makedirs(dir, exist_ok=True)
        self.port = free_port()
        self.sock = os.path.join(dir, "redis.sock")
        self.password = password
        self.p = None

    def start(self):
        args = ["redis-server", "--port", str(self.port),
                "--bind", "127.0.0.1", "--unixsocket", self.sock,
                "--unixsocketperm", "700", "--save", "", "--appendonly",
                "no", "--daemonize", "no", "--dir", self.dir,
                "--logfile", os.path.join(self.dir, "redis.log")]
        if self.password:
            args += ["--requirepass", self.password]
        self.p = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        if not wait_for(self.ping, 10):
            raise RuntimeError("redis-server did not start")
        return self

    def ping(self):
        try:
            return self.cmd("PING") in (b"PONG", "PONG")
        except (OSError, RuntimeError):
            return False

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.p = None

    def cmd(self, *args):
        """one command over the unix socket; bytes, int, list or
        RuntimeError for an error reply"""
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(self.sock)
        try:
            f = s.makefile("rb")
            if self.password:
                s.sendall(_resp(["AUTH", self.password]))
                _read(f)
            s.sendall(_resp(list(args)))
            return _read(f)
        finally:
            s.close()


def _resp(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def _read(f):
    line = f.readline()
    if not line:
        raise OSError("redis closed")
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest.decode()
    if t == b"-":
        raise RuntimeError(rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if t == b"*":
        n = int(rest)
        return [_read(f) for _ in range(n)] if n >= 0 else None
    raise OSError("bad reply %r" % line)


class Maria:
    """mariadbd with its own data directory, 127.0.0.1:port and a socket;
    root over the socket, users made by the suite"""

    def __init__(self, dir, fast=True):
        self.dir = dir
        self.data = os.path.join(dir, "data")
        self.sock = os.path.join(dir, "mysqld.sock")
        self.port = free_port()
        self.fast = fast
        self.p = None
        if not os.path.isdir(os.path.join(self.data, "mysql")):
            os.makedirs(self.data, exist_ok=True)
            r = subprocess.run(
                ["mariadb-install-db", "--datadir=" + self.data,
                 "--auth-root-authentication-method=normal", "--user=root",
                 "--skip-test-db", "--skip-name-resolve"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if r.returncode:
                raise RuntimeError("mariadb-install-db: %s" %
                                   r.stdout.decode()[-2000:])

    def start(self):
        args = ["mariadbd", "--no-defaults", "--datadir=" + self.data,
                "--socket=" + self.sock, "--port=%d" % self.port,
                "--bind-address=127.0.0.1", "--user=root",
                "--pid-file=" + os.path.join(self.dir, "mysqld.pid"),
                "--log-error=" + os.path.join(self.dir, "mysqld.err"),
                "--skip-name-resolve", "--innodb-buffer-pool-size=64M",
                "--max-connections=200", "--skip-log-bin"]
        if self.fast:
            # throwaway data: commits need not reach the disk
            args += ["--innodb-flush-log-at-trx-commit=2",
                     "--innodb-doublewrite=0"]
        self.p = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        if not wait_for(self.alive, 60, 0.1):
            raise RuntimeError("mariadbd did not start: %s" %
                               self.errlog()[-2000:])
        return self

    def errlog(self):
        try:
            with open(os.path.join(self.dir, "mysqld.err"),
                      errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def alive(self):
        if self.p and self.p.poll() is not None:
            raise RuntimeError("mariadbd exited: %s" %
                               self.errlog()[-2000:])
        r = subprocess.run(["mariadb", "--no-defaults", "-uroot",
                            "--socket=" + self.sock, "-e", "SELECT 1"],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        return r.returncode == 0

    def stop(self, kill=False):
        if self.p and self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.p.wait(60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.p = None

    def sql(self, q, db=None):
        """rows as lists of strings (tab-separated batch output)"""
        args = ["mariadb", "--no-defaults", "-uroot",
                "--socket=" + self.sock, "-N", "-B", "-e", q]
        if db:
            args.insert(4, db)
        r = subprocess.run(args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if r.returncode:
            raise RuntimeError("sql %r: %s" % (q, r.stderr.decode()))
        out = r.stdout.decode("utf-8", "replace")
        return [line.split("\t") for line in out.split("\n") if line]


def rmtree(d):
    shutil.rmtree(d, ignore_errors=True)
