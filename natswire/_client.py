"""The root :class:`natswire.Client`: the core client plus its JetStream entry points.

The client layer knows nothing of JetStream (imports point downward only), so the
JetStream entry points live on this subclass, which :func:`natswire.connect` returns.
The root package reaches this module lazily, so ``import natswire.client`` never loads
JetStream.
"""

from __future__ import annotations

from typing import Any

from .client import Client as CoreClient
from .client import ConnectOptions, RawCredentials
from .jetstream import JetStreamContext, JetStreamManager

#: What nats-py's ``nats.aio.client`` offers, as ``natswire.aio.client``.
__all__ = ["Client", "RawCredentials", "connect"]


class Client(CoreClient):
    """A connection to NATS, with JetStream: :meth:`jetstream` and :meth:`jsm`.

    The client layer knows nothing of JetStream (imports point downward only), so the
    JetStream entry points live on this subclass, which :func:`connect` returns.
    """

    def jetstream(
        self,
        prefix: str = "$JS.API",
        domain: str | None = None,
        timeout: float = 5.0,
        **options: Any,
    ) -> JetStreamContext:
        """A JetStream context on this connection (nats-py's call).

        ``options`` are :class:`~natswire.jetstream.JetStreamContext` keywords
        (``publish_async_max_pending``, ``publish_retry_attempts``,
        ``publish_retry_wait``).
        """
        return JetStreamContext(self, prefix=prefix, domain=domain, timeout=timeout, **options)

    def jsm(
        self, prefix: str = "$JS.API", domain: str | None = None, timeout: float = 5.0
    ) -> JetStreamManager:
        """A JetStream manager on this connection (streams and consumers)."""
        return JetStreamManager(self, prefix=prefix, domain=domain, timeout=timeout)


async def connect(
    servers: str | list[str] | None = None,
    *,
    options: ConnectOptions | None = None,
    **kwargs: Any,
) -> Client:
    """Connect to NATS and return the :class:`Client` (nats-py's keyword names).

    ``natswire.connect(servers=["nats://127.0.0.1:4222"], name="svc")``;
    ``options=ConnectOptions(...)`` takes the same as one object.
    """
    client = Client()
    await client.connect(servers, options=options, **kwargs)
    return client
