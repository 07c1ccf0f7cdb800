"""bench/drain plugin: Redis, go-guerrilla's chain without SQL
(HeadersParser|Header|Hasher|Compressor|Redis): each copy zlib-compressed
under its hash with SETEX, into a private redis-server (tests/db/dbs.py:
loopback, no persistence, as the db suite runs it)."""
import dbs

NAME = "Redis"
_srv = None


def start(workdir):
    global _srv
    _srv = dbs.Redis(workdir).start()
    return ("HeadersParser|Header|Hasher|Compressor|Redis",
            {"redis_interface": "127.0.0.1:%d" % _srv.port})


def count():
    return _srv.cmd("DBSIZE")


def stop():
    if _srv:
        _srv.stop()
