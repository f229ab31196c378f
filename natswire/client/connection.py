"""The asyncio protocol of one server connection: bytes in, frames dispatched."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..protocol.errors import RemoteProtocolError
from ..protocol.frames import HMsg, Msg
from ..protocol.parser import Parser, Role
from .stats import Counters

if TYPE_CHECKING:
    from .ports import ConnectionOwner
    from .subscription import Subscription

# The bytes one read may take: asyncio's own default, in a buffer kept for the
# connection's life (see ServerConnection.get_buffer).
_READ_BUFFER = 256 * 1024
# Reads larger than this are parsed and dispatched in windows of this size...
_DISPATCH_WINDOW = 16 * 1024
# ...as long as a window completes at least this many frames.
_FRAMES_PER_WINDOW = 32
_NO_SUBSCRIPTIONS: Mapping[bytes, Subscription] = {}


class ServerConnection(asyncio.BufferedProtocol):
    """One transport to one server.

    ``data_received`` feeds the parser and dispatches every frame synchronously:
    messages straight to their subscription, everything else to the owner (the
    handshake while the connection is set up, then the client's supervisor). There
    is no task and no await per message. A connection without an owner (replaced by
    one to another server) dispatches nothing.

    The transport reads into one buffer kept for the connection's life
    (:meth:`get_buffer`), and what a read brought is copied out of it once. A plain
    protocol would have the transport allocate 256 KiB for every read, however little
    arrived: glibc maps a block that size afresh each time, which cost about 12 µs
    a read here, more than parsing a small message does.
    """

    def __init__(self, max_control_line: int, counters: Counters) -> None:
        self.parser = Parser(Role.CLIENT, max_control_line=max_control_line)
        self.transport: asyncio.Transport | None = None
        #: Resolved when the transport is gone.
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._owner: ConnectionOwner | None = None
        self._subscriptions = _NO_SUBSCRIPTIONS
        self._counters = counters
        self._read_view = memoryview(bytearray(_READ_BUFFER))

    def attach(
        self,
        owner: ConnectionOwner,
        subscriptions: Mapping[bytes, Subscription] = _NO_SUBSCRIPTIONS,
    ) -> None:
        """Dispatch control frames and events to ``owner``, messages to ``subscriptions``."""
        self._owner = owner
        self._subscriptions = subscriptions

    def detach(self) -> None:
        """Dispatch nothing more: what still arrives is dropped."""
        self._owner = None
        self._subscriptions = _NO_SUBSCRIPTIONS

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        """Where the transport writes what it reads (the same buffer every time)."""
        return self._read_view

    def buffer_updated(self, nbytes: int) -> None:
        """The transport read ``nbytes`` into the buffer: parse and dispatch them."""
        self.data_received(bytes(self._read_view[:nbytes]))

    def data_received(self, data: bytes) -> None:
        """Parse and dispatch ``data`` (bytes that arrived; the WebSocket layer calls
        this with the payloads of its frames)."""
        if self._owner is None:
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
            if parsed < _FRAMES_PER_WINDOW or self._owner is None:
                break
        if start < length and parsed >= 0 and self._owner is not None:
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
        owner = self._owner
        assert owner is not None
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
                        message = subscription.message_factory()
                        # friend: the client builds the messages it delivers.
                        message._frame = frame  # type: ignore[assignment]
                        message.data = frame.payload  # type: ignore[union-attr]
                        message._sub = subscription  # friend: as above
                        subscription.delivered += 1
                        try:
                            callback(message)
                        except Exception as exc:
                            owner.report_error(exc)
                    else:
                        subscription.deliver(frame)  # type: ignore[arg-type]
                size += len(frame.payload)  # type: ignore[union-attr]
            else:
                controls += 1
                owner.on_control_frame(self, frame)
        if size or controls < len(frames):
            counters = self._counters
            counters.in_msgs += len(frames) - controls
            counters.in_bytes += size
        if error is not None:
            owner.on_protocol_error(self, error)
            return -1
        return len(frames)

    def fail(self, error: RemoteProtocolError) -> None:
        """Report bytes a layer below the parser could not read (WebSocket framing) as
        the parser's own errors are reported; the owner then drops the connection."""
        if self._owner is not None:
            self._owner.on_protocol_error(self, error)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        if self._owner is not None:
            self._owner.on_connection_lost(self, exc)

    def pause_writing(self) -> None:
        if self._owner is not None:
            self._owner.on_pause_writing(self)

    def resume_writing(self) -> None:
        if self._owner is not None:
            self._owner.on_resume_writing(self)

    def abort(self) -> None:
        """Drop the transport at once, unsent bytes included."""
        if self.transport is not None:
            self.transport.abort()
