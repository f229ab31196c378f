"""The asyncio protocol of one server connection: bytes in, frames dispatched."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..protocol.errors import RemoteProtocolError
from ..protocol.frames import HMsg, Msg
from ..protocol.parser import Parser, Role
from .message import Message, new_message

if TYPE_CHECKING:
    from .client import Client
    from .subscription import Subscription

# Reads larger than this are parsed and dispatched in windows of this size...
_DISPATCH_WINDOW = 16 * 1024
# ...as long as a window completes at least this many frames.
_FRAMES_PER_WINDOW = 32


class ServerConnection(asyncio.Protocol):
    """One transport to one server.

    ``data_received`` feeds the parser and dispatches every frame synchronously:
    messages straight to their subscription, everything else to the client. There
    is no task and no await per message.
    """

    def __init__(self, client: Client, subscriptions: dict[bytes, Subscription]) -> None:
        self._client = client
        self._subscriptions = subscriptions
        self.parser = Parser(Role.CLIENT, max_control_line=client.options.max_control_line)
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        #: The first INFO's fields.
        self.info: asyncio.Future[dict[str, Any]] = loop.create_future()
        #: Resolved by the PONG that answers the handshake's PING.
        self.handshake: asyncio.Future[None] = loop.create_future()
        #: Resolved when the transport is gone.
        self.lost: asyncio.Future[None] = loop.create_future()
        self.handshaking = True
        #: Replaced by a connection to another server: ignore what still arrives.
        self.retired = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.retired:
            return
        length = len(data)
        if length <= _DISPATCH_WINDOW:
            self._dispatch(data)
            return
        # A big read of small messages is parsed and dispatched a window at a time: a
        # few hundred frames alive at once are freed before the garbage collector's
        # next pass, thousands would be scanned by it. A window that completes few
        # frames means large ones: the rest of the read goes to the parser whole.
        start = 0
        while start < length:
            end = start + _DISPATCH_WINDOW
            parsed = self._dispatch(data[start:end] if end < length else data[start:])
            start = end
            if parsed < _FRAMES_PER_WINDOW or self.retired:
                break
        if start < length and parsed >= 0 and not self.retired:
            self._dispatch(data[start:])

    def _dispatch(self, data: bytes) -> int:
        """Parse ``data`` and dispatch its frames; return how many, or -1 after a
        protocol error (reported, and the parser takes no more input)."""
        error: RemoteProtocolError | None = None
        try:
            frames = self.parser.receive_data(data)
        except RemoteProtocolError as exc:
            # The frames before the bad bytes arrived intact: handle them, then fail.
            error = exc
            frames = list(exc.frames)
        get_subscription = self._subscriptions.get
        client = self._client
        controls = 0
        size = 0
        for frame in frames:
            kind = frame.__class__
            if kind is Msg or kind is HMsg:
                subscription = get_subscription(frame.sid)  # type: ignore[union-attr]
                if subscription is not None:
                    callback = subscription.direct_callback
                    if callback is not None:
                        # A plain-function callback: called right here, no queue, no task.
                        message = new_message(Message)
                        message._frame = frame  # type: ignore[assignment]
                        message.data = frame.payload  # type: ignore[union-attr]
                        message._sub = subscription
                        subscription.delivered += 1
                        try:
                            callback(message)
                        except Exception as exc:
                            client._report_error(exc)
                    else:
                        subscription._deliver(frame)  # type: ignore[arg-type]
                size += len(frame.payload)  # type: ignore[union-attr]
            else:
                controls += 1
                client._on_control_frame(self, frame)
        if size or controls < len(frames):
            client._in_msgs += len(frames) - controls
            client._in_bytes += size
        if error is not None:
            client._on_protocol_error(self, error)
            return -1
        return len(frames)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        for future in (self.info, self.handshake):
            if not future.done():
                future.set_exception(
                    ConnectionResetError(f"connection lost during the handshake: {exc}")
                    if exc
                    else ConnectionResetError("server closed the connection during the handshake")
                )
                future.exception()  # the handshake may have stopped waiting already
        self._client._on_connection_lost(self, exc)

    def pause_writing(self) -> None:
        self._client._on_pause_writing(self)

    def resume_writing(self) -> None:
        self._client._on_resume_writing(self)
