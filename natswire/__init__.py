"""natswire: a fast, pure-Python NATS client.

``natswire.connect`` takes nats-py's arguments, so moving from nats-py means changing
an import::

    import natswire

    nc = await natswire.connect("nats://127.0.0.1:4222")
    sub = await nc.subscribe("greet.*")
    await nc.publish("greet.joe", b"hello")
    msg = await sub.next_msg()

The blocking client, for code without an event loop, is ``natswire.sync.connect``.

Every name here except ``__version__`` loads on first use (PEP 562), so importing one
layer (``natswire.protocol``, ``natswire.client``, ...) loads nothing above it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from . import admin as admin
    from . import aio as aio
    from . import amqp as amqp
    from . import client as client
    from . import errors as errors
    from . import jetstream as jetstream
    from . import js as js
    from . import micro as micro
    from . import protocol as protocol
    from . import sync as sync
    from ._client import Client, connect
    from .client import ConnectOptions, Message, RawCredentials, Stats, Subscription
    from .jetstream import JetStreamContext as JetStreamContext
    from .jetstream import JetStreamManager as JetStreamManager
    from .protocol.headers import Headers

    #: nats-py's names.
    NATS = Client
    Msg = Message

#: Where each lazily loaded name lives: ``name -> (module, attribute)``; an attribute of
#: ``None`` means the module itself.
_LAZY: dict[str, tuple[str, str | None]] = {
    "Client": ("._client", "Client"),
    "NATS": ("._client", "Client"),
    "connect": ("._client", "connect"),
    "ConnectOptions": (".client", "ConnectOptions"),
    "Message": (".client", "Message"),
    "RawCredentials": (".client", "RawCredentials"),
    "Msg": (".client", "Message"),
    "Stats": (".client", "Stats"),
    "Subscription": (".client", "Subscription"),
    "JetStreamContext": (".jetstream", "JetStreamContext"),
    "JetStreamManager": (".jetstream", "JetStreamManager"),
    "Headers": (".protocol.headers", "Headers"),
    "admin": (".admin", None),
    "aio": (".aio", None),
    "amqp": (".amqp", None),
    "client": (".client", None),
    "errors": (".errors", None),
    "jetstream": (".jetstream", None),
    "js": (".js", None),
    "micro": (".micro", None),
    "protocol": (".protocol", None),
    "sync": (".sync", None),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    module = importlib.import_module(module_name, __name__)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "NATS",
    "Client",
    "ConnectOptions",
    "Headers",
    "Message",
    "Msg",
    "RawCredentials",
    "Stats",
    "Subscription",
    "__version__",
    "connect",
    "errors",
]
