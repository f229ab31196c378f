"""nats-py's ``nats.aio.client``: this name is :mod:`natswire._client` itself (the root
``Client`` with ``jetstream()``, and ``connect``)."""

import sys

# friend: nats-py's module path is this private module's public face.
from .. import _client as _module
from .._client import Client, RawCredentials, connect

__all__ = ["Client", "RawCredentials", "connect"]

sys.modules[__name__] = _module
