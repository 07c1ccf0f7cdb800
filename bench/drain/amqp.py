"""bench/drain plugin: AMQP, one persistent publish per message to a
topic exchange, each confirmed by the broker (publisher confirms) before
the entry counts as delivered, into a private RabbitMQ node
(tests/amqp/rmqlib.py: Debian's rabbitmq-server under its own node
name, HOME, config, data and log dirs and epmd, loopback only, no
plugins), bound to one durable queue; count() is that queue's depth."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "tests", "amqp"))
import rmqlib  # noqa: E402

NAME = "AMQP"
EXCHANGE, QUEUE = "mail", "inbox"
_br = None


def start(workdir):
    global _br
    os.makedirs(workdir, exist_ok=True)
    _br = rmqlib.Broker(os.path.join(workdir, "rabbit"), name="drainb")
    try:
        _br.start()
        _br.tool("exchange", EXCHANGE, "topic")
        _br.tool("queue", QUEUE)
        _br.tool("bind", QUEUE, EXCHANGE, "mail.#")
    except Exception:
        stop()
        raise
    pw = os.path.join(workdir, "amqp-password")
    with open(pw, "w") as f:
        f.write(rmqlib.PASSWORD + "\n")
    return ("AMQP",
            {"amqp_url": "amqp://127.0.0.1:%d" % _br.port,
             "amqp_user": rmqlib.USER, "amqp_password_file": pw,
             "amqp_exchange": EXCHANGE,
             "amqp_routing_key": "mail.{domain}"})


def count():
    return _br.count(QUEUE)


def stop():
    global _br
    if _br:
        _br.close()
        _br = None
