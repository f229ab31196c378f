"""One server connection of the blocking client: a socket (TLS when asked for) that has
been through INFO, CONNECT and PING/PONG, read with a timeout and written whole.

The CONNECT fields, TLS context and payload limits come from
:mod:`natswire.client.connect_info`, shared with the asyncio client.
"""

from __future__ import annotations

import builtins
import contextlib
import select
import socket
import ssl
from collections.abc import Mapping
from time import monotonic
from typing import Any

from ..client.connect_info import connect_fields, payload_limits
from ..client.credentials import NkeyAuth
from ..client.errors import TimeoutError
from ..client.options import ConnectOptions
from ..client.servers import Server
from ..protocol.errors import SecureConnectionRequiredError, server_error_from_text
from ..protocol.frames import PING, PONG, Err, Frame, Info
from ..protocol.parser import Parser
from ..protocol.serializer import PING_BYTES, PONG_BYTES, encode_connect

#: Bytes asked of the socket per read.
READ_SIZE = 64 * 1024


class Link:
    """A connected socket and the parser for what it receives."""

    def __init__(self, sock: socket.socket, parser: Parser, server: Server) -> None:
        self.sock = sock
        self.parser = parser
        self.server = server
        #: Frames that arrived with the handshake's PONG, for the reader to dispatch.
        self.early_frames: list[Frame] = []
        self._tls = isinstance(sock, ssl.SSLSocket)
        # poll, not select: select fails on descriptors past FD_SETSIZE (1024).
        self._poller = select.poll() if hasattr(select, "poll") else None
        if self._poller is not None:
            self._poller.register(sock, select.POLLIN)

    def recv(self, timeout: float) -> bytes | None:
        """What arrives within ``timeout`` seconds: ``None`` when nothing did, ``b""`` when
        the server closed the connection. Raises ``OSError`` when the link broke."""
        sock = self.sock
        if not (self._tls and sock.pending()):  # type: ignore[attr-defined]
            poller = self._poller
            if poller is not None:
                if not poller.poll(max(timeout, 0.0) * 1000.0):
                    return None
            elif not select.select([sock], [], [], max(timeout, 0.0))[0]:
                return None
        try:
            return sock.recv(READ_SIZE)
        except ssl.SSLWantReadError:
            return None

    def sendall(self, data: bytes | bytearray) -> None:
        """Write all of ``data`` (blocking); raises ``OSError`` when the link broke."""
        self.sock.sendall(data)

    def shutdown(self) -> None:
        """Stop both directions now: a blocked read or write returns at once."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.shutdown()
        with contextlib.suppress(OSError):
            self.sock.close()


def open_link(
    server: Server,
    options: ConnectOptions,
    tls_context: ssl.SSLContext | None,
    credentials: NkeyAuth | None,
) -> tuple[Link, dict[str, Any]]:
    """Connect to ``server`` and hand-shake within ``connect_timeout``; return the link
    and the server's INFO. Raises ``OSError``, :class:`TimeoutError` or the server's
    :class:`~natswire.protocol.errors.ServerError`."""
    deadline = monotonic() + options.connect_timeout
    server.last_attempt = monotonic()
    hostname = options.tls_hostname or server.tls_name or server.host
    wants_tls = server.tls or tls_context is not None
    sock = socket.create_connection((server.host, server.port), timeout=options.connect_timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if options.tls_handshake_first:
            sock = (tls_context or ssl.create_default_context()).wrap_socket(
                sock, server_hostname=hostname
            )
        parser = Parser(max_control_line=options.max_control_line)
        info, frames = _read_until(sock, parser, deadline, Info)
        assert isinstance(info, Info)
        fields = info.fields
        if not options.tls_handshake_first:
            if fields.get("tls_required") or (wants_tls and fields.get("tls_available")):
                sock.settimeout(max(deadline - monotonic(), 0.001))
                sock = (tls_context or ssl.create_default_context()).wrap_socket(
                    sock, server_hostname=hostname
                )
            elif wants_tls:
                raise SecureConnectionRequiredError(
                    f"TLS was requested but {server.url} does not offer TLS"
                )
        limits = payload_limits(fields)
        if limits is not None:
            parser.max_payload = limits[1]
        connect = connect_fields(options, server, fields, tls_context, credentials)
        sock.settimeout(max(deadline - monotonic(), 0.001))
        sock.sendall(encode_connect(connect) + PING_BYTES)
        _, early = _read_until(sock, parser, deadline, PONG)
    except BaseException:
        sock.close()
        raise
    sock.settimeout(None)
    link = Link(sock, parser, server)
    link.early_frames = frames + early
    server.attempts = 0
    return link, dict(fields)


def _read_until(
    sock: socket.socket, parser: Parser, deadline: float, wanted: type[Info] | object
) -> tuple[Frame, list[Frame]]:
    """Read until a frame of type ``wanted`` (or the ``PONG`` singleton) arrives; answer
    PINGs, raise on ``-ERR``. Returns it and the frames that came after it."""
    while True:
        remaining = deadline - monotonic()
        if remaining <= 0:
            raise TimeoutError("the server did not complete the handshake in time")
        sock.settimeout(remaining)
        try:
            data = sock.recv(READ_SIZE)
        except (builtins.TimeoutError, ssl.SSLWantReadError):
            continue
        if not data:
            raise ConnectionResetError("server closed the connection during the handshake")
        frames = parser.receive_data(data)
        for index, frame in enumerate(frames):
            if frame is wanted or (isinstance(wanted, type) and isinstance(frame, wanted)):
                return frame, frames[index + 1 :]
            if frame is PING:
                sock.sendall(PONG_BYTES)
            elif isinstance(frame, Err):
                raise server_error_from_text(frame.message)


def server_max_payload(info: Mapping[str, Any]) -> int | None:
    """The server's ``max_payload`` from its INFO, or ``None``."""
    limits = payload_limits(info)
    return None if limits is None else limits[0]
