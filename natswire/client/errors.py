"""Errors raised by the asyncio client."""

from __future__ import annotations

import builtins
import ssl

from ..protocol.errors import NatsWireError


class ClientError(NatsWireError):
    """Root of the errors the client raises on its own account."""


class ConnectionClosedError(ClientError):
    """The connection is closed: nothing more can be sent or received on it."""


class NoServersError(ClientError):
    """No server could be reached."""


class ConnectionDrainingError(ClientError):
    """The connection is draining and takes no new subscriptions or requests."""


class TimeoutError(ClientError, builtins.TimeoutError):
    """An operation did not finish in time; also a builtin ``TimeoutError``."""


class FlushTimeoutError(TimeoutError):
    """The server did not answer a flush's PING in time."""


class NoRespondersError(ClientError):
    """A request found no subscriber (the server answered with status 503)."""


class SlowConsumerError(ClientError):
    """A subscription's pending limits were reached and messages are being dropped."""

    def __init__(self, subject: str, sid: int, pending_msgs: int, pending_bytes: int) -> None:
        super().__init__(
            f"slow consumer on subject {subject!r} (sid {sid}): "
            f"{pending_msgs} messages / {pending_bytes} bytes pending, dropping new messages"
        )
        self.subject = subject
        self.sid = sid
        self.pending_msgs = pending_msgs
        self.pending_bytes = pending_bytes


class OutboundBufferFullError(ClientError):
    """The buffer for messages published while disconnected is full."""


class BadTimeoutError(ClientError, ValueError):
    """A timeout argument is not a positive number."""


class DrainTimeoutError(TimeoutError):
    """``drain()`` did not finish within ``drain_timeout`` (reported to ``error_cb``)."""


class ConnectTimeoutError(NoServersError, TimeoutError):
    """No server answered within ``connect_timeout``: also a builtin (and asyncio)
    ``TimeoutError``, as nats-py's connect raises one."""


class SecureConnectionFailedError(NoServersError, ssl.SSLError):
    """The TLS handshake failed with every server: also an ``ssl.SSLError``, as
    nats-py's connect raises one."""

    def __str__(self) -> str:
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class InvalidUserCredentialsError(ClientError, ValueError):
    """A credentials file, nkey seed or credentials callback is malformed or unusable."""


class InvalidCallbackTypeError(ClientError, TypeError):
    """A callback is not callable."""


# ---------------------------------------------------------------- nats-py's names
# nats-py calls some of the errors above by other names; these aliases let code written
# for nats-py catch what it caught (nats.errors and the old nats.aio.errors).

#: nats-py raises it when publishing past the reconnect buffer.
OutboundBufferLimitError = OutboundBufferFullError
#: nats-py refuses ``drain()`` while reconnecting; natswire then closes at once, and
#: a call refused because of the reconnect buffer raises this.
ConnectionReconnectingError = OutboundBufferFullError
#: nats-py raises it for ``next_msg``/``unsubscribe`` on a closed subscription.
BadSubscriptionError = ConnectionClosedError
SecureConnFailedError = SecureConnectionFailedError
#: nats-py reports a discovered server it could not add; natswire never does.
ServerNotInPoolError = NoServersError
ErrConnectionClosed = ConnectionClosedError
ErrDrainTimeout = DrainTimeoutError
ErrInvalidUserCredentials = InvalidUserCredentialsError
ErrInvalidCallbackType = InvalidCallbackTypeError
ErrConnectionReconnecting = ConnectionReconnectingError
ErrConnectionDraining = ConnectionDrainingError
ErrSecureConnFailed = SecureConnectionFailedError
ErrBadSubscription = BadSubscriptionError
ErrSlowConsumer = SlowConsumerError
ErrTimeout = TimeoutError
ErrBadTimeout = BadTimeoutError
ErrNoServers = NoServersError
