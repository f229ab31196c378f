"""The blocking NATS client, for code without an event loop (WSGI apps, Celery tasks,
scripts, notebooks)::

    import natswire.sync

    with natswire.sync.connect("nats://127.0.0.1:4222") as nc:
        sub = nc.subscribe("greet.*")
        nc.publish("greet.joe", b"hello")
        msg = sub.next_msg(timeout=1)
        reply = nc.request("service", b"ping", timeout=1)
        js = nc.jetstream()
        ack = js.publish("orders.new", b"...")

The options, the server pool, auth, TLS and the errors are those of
:func:`natswire.connect`; callbacks are plain functions, run on one delivery thread.
"""

from .client import Client, connect
from .message import Message
from .subscription import Subscription

__all__ = ["Client", "Message", "Subscription", "connect"]
