"""tests/amqp/rmqlib.py - a private RabbitMQ node for tests/amqp/suite
and bench/drain/amqp.py: Debian's rabbitmq-server started under its own
node name, with its own HOME (and .erlang.cookie), config file, data and
log dirs, an epmd of its own on a private port, every listener (AMQP,
AMQPS, the Erlang distribution, epmd) on 127.0.0.1 only, no plugins (so
no management listener). Also builds tests/amqp/amqp-tool.c, the
client the tests inspect the broker with."""
import os
import shutil
import signal
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RMQ_BIN = "/usr/lib/rabbitmq/bin"
USER, PASSWORD = "spool", "rabbit-s3cret"


def free_port():
    import socket
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def build_tool(d):
    """amqp-tool compiled into d (once per run: it is small)"""
    out = os.path.join(d, "amqp-tool")
    if not os.path.exists(out):
        r = subprocess.run(["cc", "-std=c11", "-O2", "-Wall", "-Wextra",
                            "-Werror", "-o", out,
                            os.path.join(HERE, "amqp-tool.c"),
                            "-lrabbitmq"], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("amqp-tool: " + r.stderr)
    return out


class Broker:
    """one RabbitMQ node under d; tls = (ca, crt, key) adds an AMQPS
    listener. start() waits until a client can log in."""

    def __init__(self, d, tls=None, name="spoolt"):
        self.d = d
        for sub in ("home", "mnesia", "log"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.node = "%s%d@localhost" % (name, os.getpid())
        self.proc = self.epmd = None
        self.tool_path = build_tool(d)
        cookie = os.path.join(d, "home", ".erlang.cookie")
        with open(cookie, "w") as f:
            f.write("cookie%d%d" % (os.getpid(), time.time_ns()))
        os.chmod(cookie, 0o400)
        conf = ["listeners.tcp.1 = 127.0.0.1:%d" % self.port,
                "default_user = %s" % USER,
                "default_pass = %s" % PASSWORD,
                "loopback_users = none",
                "log.console = false",
                "log.file.level = info",
                # a test machine's disk is shared and may be fuller
                "disk_free_limit.absolute = 50MB"]
        if tls:
            ca, crt, key = tls
            conf += ["listeners.ssl.1 = 127.0.0.1:%d" % self.tls_port,
                     "ssl_options.cacertfile = %s" % ca,
                     "ssl_options.certfile = %s" % crt,
                     "ssl_options.keyfile = %s" % key,
                     "ssl_options.verify = verify_none",
                     "ssl_options.fail_if_no_peer_cert = false"]
        self.conf = os.path.join(d, "rabbitmq.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")
        with open(os.path.join(d, "enabled_plugins"), "w") as f:
            f.write("[].\n")

    def env(self):
        e = dict(os.environ)
        loop = "-kernel inet_dist_use_interface {127,0,0,1}"
        e.update({
            "HOME": os.path.join(self.d, "home"),
            "RABBITMQ_CONF_ENV_FILE": "/dev/null",
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_CONFIG_FILE": self.conf,
            "RABBITMQ_MNESIA_BASE": os.path.join(self.d, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(self.d, "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE":
                os.path.join(self.d, "enabled_plugins"),
            "RABBITMQ_PID_FILE": os.path.join(self.d, "pid"),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": loop,
            "RABBITMQ_CTL_ERL_ARGS": loop,
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        })
        return e

    def tool(self, *args, user=USER, password=PASSWORD, check=True):
        r = subprocess.run([self.tool_path, str(self.port), user, password]
                           + [str(a) for a in args], capture_output=True,
                           text=True, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError("amqp-tool %s: %s" % (args, r.stderr))
        return r

    def up(self):
        return self.tool("ping", check=False).returncode == 0

    def start(self, timeout=180):
        log = open(os.path.join(self.d, "server.out"), "ab")
        if self.epmd is None:
            # our own epmd, on our port, loopback only, so that the
            # stop takes it down too
            self.epmd = subprocess.Popen(
                ["epmd", "-port", str(self.epmd_port), "-address",
                 "127.0.0.1"], stdin=subprocess.DEVNULL, stdout=log,
                stderr=log, start_new_session=True, env=self.env())
            time.sleep(0.2)
        self.proc = subprocess.Popen([os.path.join(RMQ_BIN,
                                                   "rabbitmq-server")],
                                     stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=log, start_new_session=True,
                                     env=self.env(), cwd=self.d)
        log.close()
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("rabbitmq-server exited %d:\n%s" %
                                   (self.proc.returncode, self.tail()))
            if self.up():
                return
            time.sleep(0.5)
        raise RuntimeError("rabbitmq-server did not come up:\n" +
                           self.tail())

    def tail(self):
        out = ""
        for p in (os.path.join(self.d, "server.out"),
                  os.path.join(self.d, "log", self.node + ".log")):
            try:
                with open(p, errors="replace") as f:
                    out += f.read()[-2000:]
            except OSError:
                pass
        return out

    def beam_pid(self):
        try:
            with open(os.path.join(self.d, "pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """SIGTERM to the VM: a clean shutdown (queues and messages are
        on disk); SIGKILL for a crash"""
        if self.proc is None:
            return
        pid = self.beam_pid()
        try:
            if pid:
                os.kill(pid, sig)
            else:
                os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        if pid:
            end = time.time() + 30
            while time.time() < end:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            os.unlink(os.path.join(self.d, "pid"))
        except FileNotFoundError:
            pass
        self.proc = None

    def close(self):
        self.stop()
        if self.epmd is not None:
            try:
                os.killpg(self.epmd.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.epmd.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.epmd.pid, signal.SIGKILL)
                self.epmd.wait(5)
            self.epmd = None

    # the topology and what is in it

    def count(self, queue):
        return int(self.tool("count", queue).stdout.strip())

    def drain(self, queue, d):
        """every message of queue (taken out), as dicts: the properties
        ("header.X" lists) and "body" bytes"""
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        self.tool("drain", queue, d)
        out = []
        for n in sorted(os.listdir(d)):
            with open(os.path.join(d, n), "rb") as f:
                raw = f.read()
            head, body = raw.split(b"\n\n", 1)
            m = {"body": body}
            for ln in head.decode().split("\n"):
                k, v = ln.split(": ", 1) if ": " in ln else (ln[:-1], "")
                if k.startswith("header."):
                    m.setdefault(k, []).append(v)
                else:
                    m[k] = v
            out.append(m)
        return out
