"""The calls a server connection and a subscription make into whoever owns them.

The lower objects (:class:`~natswire.client.connection.ServerConnection`,
:class:`~natswire.client.subscription.Subscription`) know their owner only through
these protocols; the client's :class:`~natswire.client.supervisor.Supervisor`
implements them, and while a connection is being set up the handshake owns it instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..protocol.errors import RemoteProtocolError
from ..protocol.frames import Frame
from ..protocol.headers import HeadersLike

if TYPE_CHECKING:
    from .connection import ServerConnection
    from .subscription import Subscription


class ErrorSink(Protocol):
    def report_error(self, error: Exception) -> None:
        """Hand an asynchronous error (a callback that raised, ...) to the application."""


class ConnectionOwner(ErrorSink, Protocol):
    """What a :class:`ServerConnection` tells its owner. Messages go straight to their
    subscription; everything else comes here."""

    def on_control_frame(self, conn: ServerConnection, frame: Frame) -> None:
        """A frame that is not a message: PING, PONG, INFO or -ERR."""

    def on_protocol_error(self, conn: ServerConnection, error: RemoteProtocolError) -> None:
        """The server sent bytes that are not NATS; the connection takes no more input."""

    def on_connection_lost(self, conn: ServerConnection, exc: Exception | None) -> None:
        """The transport is gone."""

    def on_pause_writing(self, conn: ServerConnection) -> None:
        """The transport's write buffer passed its high-water mark."""

    def on_resume_writing(self, conn: ServerConnection) -> None:
        """The transport's write buffer drained below its low-water mark."""


class MessageClient(Protocol):
    """The client as a subscription and the messages it delivers use it."""

    async def flush(self, timeout: float | None = None) -> None:
        """Return once the server has processed everything sent so far."""

    async def publish(
        self,
        subject: str | bytes,
        payload: bytes | bytearray | memoryview = b"",
        reply: str | bytes = "",
        headers: HeadersLike | None = None,
    ) -> None:
        """Publish (used by :meth:`Message.respond`)."""


class SubscriptionOwner(ErrorSink, Protocol):
    """What a :class:`Subscription` asks of whoever owns it for its client."""

    @property
    def client(self) -> MessageClient:
        """The client the subscription belongs to."""

    def send_unsubscribe(self, sub: Subscription, limit: int) -> None:
        """Send ``UNSUB`` for ``sub`` (after ``limit`` messages in all, 0: now)."""

    def forget_subscription(self, sub: Subscription) -> None:
        """Deliver nothing more to ``sub``."""

    def count_slow_consumer_drop(self) -> None:
        """A message was dropped: ``sub``'s pending limits were reached."""
