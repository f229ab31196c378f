"""natswire: a fast, pure-Python NATS client.

``natswire.connect`` takes nats-py's arguments, so moving from nats-py means changing
an import::

    import natswire

    nc = await natswire.connect("nats://127.0.0.1:4222")
    sub = await nc.subscribe("greet.*")
    await nc.publish("greet.joe", b"hello")
    msg = await sub.next_msg()
"""

__version__ = "0.1.0"

from . import errors
from .client import Client, ConnectOptions, Message, Stats, Subscription, connect
from .protocol.headers import Headers

#: nats-py's names.
NATS = Client
Msg = Message

__all__ = [
    "NATS",
    "Client",
    "ConnectOptions",
    "Headers",
    "Message",
    "Msg",
    "Stats",
    "Subscription",
    "__version__",
    "connect",
    "errors",
]
