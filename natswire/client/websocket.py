"""NATS over WebSocket: an asyncio adapter between the socket and the NATS connection.

:class:`WebSocketTransport` is the protocol of the TCP (or TLS) socket and, to the
:class:`~natswire.client.connection.ServerConnection` above it, the transport: it sends
the HTTP upgrade, then unwraps the server's frames into the connection's
``data_received`` and wraps what the connection writes into masked binary frames. It
answers pings and close frames itself. Everything above it (handshake, supervisor,
failover, stale detection) is the same as over TCP; the framing is
:mod:`natswire.protocol.websocket` and :mod:`natswire.protocol.websocket_upgrade`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..protocol.websocket import (
    CLOSE_NORMAL,
    CLOSE_PROTOCOL_ERROR,
    OP_BINARY,
    OP_PONG,
    Close,
    FrameReader,
    Ping,
    WebSocketError,
    deflate_message,
    encode_close,
    encode_frame,
)
from ..protocol.websocket_upgrade import UpgradeResponse, new_key, upgrade_request
from .connection import ServerConnection
from .servers import Server

WebSocketHeaders = Mapping[str, "str | Sequence[str]"]

#: Writes larger than this are sent as several binary messages.
MAX_FRAME_PAYLOAD = 1024 * 1024


class WebSocketTransport(asyncio.Protocol, asyncio.Transport):
    """The WebSocket framing between one socket and ``conn``; see the module docs.

    ``headers`` (``ws_connection_headers``) are sent with the upgrade request; a header
    that cannot be sent raises :class:`~natswire.protocol.LocalProtocolError` here,
    before anything connects. ``compression`` (``ws_compression``) offers
    permessage-deflate; when the server takes it, both directions are compressed.
    """

    def __init__(
        self,
        conn: ServerConnection,
        server: Server,
        headers: WebSocketHeaders | None = None,
        compression: bool = False,
    ) -> None:
        super().__init__()
        self._conn = conn
        key = new_key(os.urandom(16))
        self._request = upgrade_request(
            server.host, server.port, server.path, key, headers, compression=compression
        )
        self._response: UpgradeResponse | None = UpgradeResponse(key, compression)
        self._reader = FrameReader()
        #: Whether permessage-deflate was negotiated.
        self.compressed = False
        self._socket: asyncio.Transport | None = None
        self._stopped = False  # closed or aborted: nothing more goes up
        self._close_sent = False
        self._reason: Exception | None = None

    # ------------------------------------------------ the socket's protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._socket = transport  # type: ignore[assignment]
        self._socket.write(self._request)  # type: ignore[union-attr]
        self._conn.connection_made(self)

    def data_received(self, data: bytes) -> None:
        if self._stopped:
            return
        if self._response is not None:
            try:
                rest = self._response.receive_data(data)
            except WebSocketError as exc:
                self._reason = ConnectionRefusedError(str(exc))
                self.abort()
                return
            if rest is None:
                return
            if self._response.compression:
                self.compressed = True
                self._reader = FrameReader(True, self._response.server_context_takeover)
            self._response = None
            if not rest:
                return
            data = rest
        try:
            events = self._reader.receive_data(data)
        except WebSocketError as exc:
            self._deliver(exc.frames)
            if not self._stopped:
                self._send_close(CLOSE_PROTOCOL_ERROR, "protocol error")
                self._conn.fail(exc)
            return
        self._deliver(events)

    def _deliver(self, events: Sequence[Any]) -> None:
        conn_data_received = self._conn.data_received
        for event in events:
            if event.__class__ is bytes:
                conn_data_received(event)
                if self._stopped:
                    return
            elif event.__class__ is Ping:
                self._write_frame(OP_PONG, event.payload)
            elif event.__class__ is Close:
                self._reason = ConnectionResetError(
                    f"the server closed the WebSocket ({event.code} {event.reason})".rstrip()
                )
                self._send_close(CLOSE_NORMAL, "")
                self.close()
                return

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._stopped = True
        if exc is None and self._response is not None and self._reason is None:
            exc = ConnectionResetError("the server closed the connection before the upgrade")
        self._conn.connection_lost(exc or self._reason)

    def pause_writing(self) -> None:
        self._conn.pause_writing()

    def resume_writing(self) -> None:
        self._conn.resume_writing()

    # --------------------------------------------- the connection's transport

    def write(self, data: bytes | bytearray | memoryview) -> None:
        socket = self._socket
        if not data or socket is None:
            return
        size = len(data)
        if size <= MAX_FRAME_PAYLOAD and not self.compressed:
            socket.write(encode_frame(OP_BINARY, data, os.urandom(4)))
            return
        # A large write (a reconnect buffer) goes out in several messages: masking one
        # frame is a few copies of it.
        view = memoryview(data)
        for start in range(0, size, MAX_FRAME_PAYLOAD):
            chunk = view[start : start + MAX_FRAME_PAYLOAD]
            if self.compressed:
                frame = encode_frame(
                    OP_BINARY, deflate_message(chunk), os.urandom(4), compressed=True
                )
            else:
                frame = encode_frame(OP_BINARY, chunk, os.urandom(4))
            socket.write(frame)

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def close(self) -> None:
        """Send a close frame (once), then close the socket."""
        if self._socket is None or self._stopped:
            return
        self._stopped = True
        self._send_close(CLOSE_NORMAL, "")
        self._socket.close()

    def abort(self) -> None:
        self._stopped = True
        if self._socket is not None:
            self._socket.abort()

    def is_closing(self) -> bool:
        return self._stopped or self._socket is None or self._socket.is_closing()

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:
        raise NotImplementedError("a WebSocket has no half-close")

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if self._socket is None:
            return default
        return self._socket.get_extra_info(name, default)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if self._socket is not None:
            self._socket.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return 0 if self._socket is None else self._socket.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (0, 0) if self._socket is None else self._socket.get_write_buffer_limits()

    def pause_reading(self) -> None:
        if self._socket is not None:
            self._socket.pause_reading()

    def resume_reading(self) -> None:
        if self._socket is not None:
            self._socket.resume_reading()

    def is_reading(self) -> bool:
        return self._socket is not None and self._socket.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        raise NotImplementedError("the WebSocket adapter carries one ServerConnection")

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._conn

    # ---------------------------------------------------------------- frames

    def _write_frame(self, opcode: int, payload: bytes) -> None:
        if self._socket is not None and not self._socket.is_closing():
            self._socket.write(encode_frame(opcode, payload, os.urandom(4)))

    def _send_close(self, code: int, reason: str) -> None:
        if self._close_sent or self._response is not None or self._socket is None:
            return
        self._close_sent = True
        if not self._socket.is_closing():
            self._socket.write(encode_close(code, reason, os.urandom(4)))
