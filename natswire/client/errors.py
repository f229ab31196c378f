"""Errors raised by the asyncio client."""

from __future__ import annotations

import builtins

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
