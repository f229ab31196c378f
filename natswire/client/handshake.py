"""Setting up one server connection: INFO, TLS upgrade, CONNECT, PING/PONG.

A :class:`Handshake` opens the transport, owns the connection while the exchange runs
(the frames that arrive go to it, not to the client) and hands back a connection
ready for the client to attach to, with the server's INFO.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Mapping
from typing import Any

from ..protocol.errors import (
    RemoteProtocolError,
    SecureConnectionRequiredError,
    server_error_from_text,
)
from ..protocol.frames import PING, PONG, Err, Frame, Info
from ..protocol.serializer import PING_BYTES, PONG_BYTES, encode_connect
from .connect_info import connect_fields, payload_limits, tls_context
from .connection import ServerConnection
from .credentials import NkeyAuth
from .errors import TimeoutError
from .options import ConnectOptions
from .servers import Server
from .stats import Counters
from .websocket import WebSocketTransport

logger = logging.getLogger("natswire")

__all__ = ["Handshake", "apply_info", "connect_fields", "tls_context"]


class Handshake:
    """One attempt to connect to ``server``: :meth:`run` returns the connection and the
    server's INFO, or raises (the transport is then closed).

    ``credentials`` signs the server's nonce when nkeys authenticate.
    """

    def __init__(
        self,
        server: Server,
        options: ConnectOptions,
        tls_context: ssl.SSLContext | None,
        credentials: NkeyAuth | None,
        counters: Counters,
    ) -> None:
        self.server = server
        self.options = options
        self.tls_context = tls_context
        self.credentials = credentials
        self._counters = counters
        self._info: asyncio.Future[dict[str, Any]] | None = None
        self._pong: asyncio.Future[None] | None = None

    async def run(self) -> tuple[ServerConnection, dict[str, Any]]:
        """Connect within ``connect_timeout``; the connection comes back without owner."""
        loop = asyncio.get_running_loop()
        options = self.options
        self._info = loop.create_future()
        self._pong = loop.create_future()
        conn = ServerConnection(options.max_control_line, self._counters)
        conn.attach(self)
        self.server.last_attempt = loop.time()
        try:
            info = await asyncio.wait_for(self._exchange(conn), options.connect_timeout)
        except asyncio.TimeoutError:
            conn.abort()
            raise TimeoutError(
                f"handshake with {self.server.url} took longer than {options.connect_timeout} s"
            ) from None
        except BaseException:
            conn.abort()
            raise
        conn.detach()
        self.server.attempts = 0
        return conn, info

    async def _exchange(self, conn: ServerConnection) -> dict[str, Any]:
        assert self._info is not None and self._pong is not None
        loop = asyncio.get_running_loop()
        server, options, context = self.server, self.options, self.tls_context
        wants_tls = server.tls or context is not None
        hostname = options.tls_hostname or server.tls_name or server.host
        if server.websocket:
            # TLS, if any, wraps the WebSocket: the NATS exchange itself never upgrades.
            adapter = WebSocketTransport(
                conn, server, options.ws_connection_headers, options.ws_compression
            )
            secure = (context or ssl.create_default_context()) if wants_tls else None
            await loop.create_connection(
                lambda: adapter,
                server.host,
                server.port,
                ssl=secure,
                server_hostname=hostname if secure is not None else None,
            )
            info = await self._info
        elif options.tls_handshake_first:
            await loop.create_connection(
                lambda: conn,
                server.host,
                server.port,
                ssl=context or ssl.create_default_context(),
                server_hostname=hostname,
            )
            info = await self._info
        else:
            transport, _ = await loop.create_connection(lambda: conn, server.host, server.port)
            info = await self._info
            if info.get("tls_required") or (wants_tls and info.get("tls_available")):
                new_transport = await loop.start_tls(
                    transport,
                    conn,
                    context or ssl.create_default_context(),
                    server_hostname=hostname,
                )
                if new_transport is None:
                    raise ConnectionResetError("connection closed during the TLS handshake")
                conn.transport = new_transport
            elif wants_tls:
                raise SecureConnectionRequiredError(
                    f"TLS was requested but {server.url} does not offer TLS"
                )
        apply_info(conn, info)
        assert conn.transport is not None
        fields = connect_fields(options, server, info, context, self.credentials)
        conn.transport.write(encode_connect(fields) + PING_BYTES)
        await self._pong
        return info

    # The connection's owner while the handshake runs.

    def on_control_frame(self, conn: ServerConnection, frame: Frame) -> None:
        assert self._info is not None and self._pong is not None
        if frame is PING:
            if conn.transport is not None:
                conn.transport.write(PONG_BYTES)
        elif frame is PONG:
            if not self._pong.done():
                self._pong.set_result(None)
        elif isinstance(frame, Info):
            if not self._info.done():
                self._info.set_result(frame.fields)
        elif isinstance(frame, Err):
            self._counters.errors_received += 1
            if not self._pong.done():
                self._pong.set_exception(server_error_from_text(frame.message))

    def on_protocol_error(self, conn: ServerConnection, error: RemoteProtocolError) -> None:
        self._fail(error)
        conn.abort()

    def on_connection_lost(self, conn: ServerConnection, exc: Exception | None) -> None:
        self._fail(
            ConnectionResetError(f"connection lost during the handshake: {exc}")
            if exc
            else ConnectionResetError("server closed the connection during the handshake")
        )

    def on_pause_writing(self, conn: ServerConnection) -> None:
        """Nothing to pause: the handshake writes two short lines."""

    def on_resume_writing(self, conn: ServerConnection) -> None:
        """Nothing was paused."""

    def report_error(self, error: Exception) -> None:
        # No subscription is attached during the handshake; log what should not happen.
        logger.error("natswire: during the handshake with %s: %s", self.server.url, error)

    def _fail(self, error: Exception) -> None:
        for future in (self._info, self._pong):
            if future is not None and not future.done():
                future.set_exception(error)
                future.exception()  # the handshake may have stopped waiting already


def apply_info(conn: ServerConnection, info: Mapping[str, Any]) -> int | None:
    """Size ``conn``'s parser for the server's ``max_payload``; return it (``None`` when
    INFO carries none)."""
    limits = payload_limits(info)
    if limits is None:
        return None
    max_payload, inbound_limit = limits
    conn.parser.max_payload = inbound_limit
    return max_payload
