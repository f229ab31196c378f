"""The WebSocket (RFC 6455) opening handshake for a client, sans-IO.

:func:`upgrade_request` is the request's bytes; :class:`UpgradeResponse` reads the
server's answer and checks ``Sec-WebSocket-Accept``. The frames that follow are
:mod:`natswire.protocol.websocket`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence

from .errors import LocalProtocolError
from .websocket import WebSocketError

#: The upgrade response's status line and headers may not exceed this.
MAX_UPGRADE_RESPONSE = 16 * 1024

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#: What the client offers when it asks for compression (RFC 7692): neither side keeps a
#: compression context from one message to the next.
DEFLATE_OFFER = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
_NO_CONTEXT_TAKEOVER = ("server_no_context_takeover", "client_no_context_takeover")


class UpgradeError(WebSocketError):
    """The server did not switch to WebSocket (wrong status, missing or wrong headers)."""


def new_key(nonce: bytes) -> str:
    """The ``Sec-WebSocket-Key`` for 16 random bytes drawn by the caller."""
    if len(nonce) != 16:
        raise ValueError("a WebSocket key is made of 16 random bytes")
    return base64.b64encode(nonce).decode("ascii")


def accept_value(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server must answer ``key`` with."""
    digest = hashlib.sha1(key.encode("ascii") + _GUID).digest()
    return base64.b64encode(digest).decode("ascii")


def upgrade_request(
    host: str,
    port: int,
    path: str,
    key: str,
    headers: Mapping[str, str | Sequence[str]] | None = None,
    *,
    compression: bool = False,
) -> bytes:
    """The HTTP request that asks ``host:port`` to switch ``path`` to WebSocket.

    ``compression`` offers permessage-deflate (:data:`DEFLATE_OFFER`). ``headers`` are
    added to it (a name may carry several values). Raises
    :class:`LocalProtocolError` for a header name or value that would break the request.
    """
    authority = f"[{host}]" if ":" in host else host
    lines = [
        f"GET {path or '/'} HTTP/1.1",
        f"Host: {authority}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if compression:
        lines.append(f"Sec-WebSocket-Extensions: {DEFLATE_OFFER}")
    for name, values in (headers or {}).items():
        if not name or any(c in name for c in ":\r\n \t") or not name.isascii():
            raise LocalProtocolError(f"invalid WebSocket header name {name!r}")
        for value in [values] if isinstance(values, str) else values:
            if "\r" in value or "\n" in value:
                raise LocalProtocolError(f"CR or LF in the value of WebSocket header {name!r}")
            lines.append(f"{name}: {value}")
    for line in lines:
        if any(c in line for c in "\r\n"):
            raise LocalProtocolError(f"CR or LF in the WebSocket upgrade request: {line!r}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


class UpgradeResponse:
    """Reads the server's answer to :func:`upgrade_request` for ``key``.

    :meth:`receive_data` returns ``None`` until the headers are complete, then the
    bytes that followed them (the first frames), or raises :class:`UpgradeError`.
    ``compression_offered``: the request offered permessage-deflate; whether the server
    took it is then :attr:`compression` (and :attr:`server_context_takeover` whether it
    keeps its context across messages).
    """

    def __init__(self, key: str, compression_offered: bool = False) -> None:
        self._expected_accept = accept_value(key)
        self._compression_offered = compression_offered
        self.compression = False
        self.server_context_takeover = False
        self._buffer = bytearray()
        self.status_line = ""
        #: Header names (lower case) and their values, once complete.
        self.headers: dict[str, str] = {}

    def receive_data(self, data: bytes) -> bytes | None:
        searched = max(len(self._buffer) - 3, 0)
        self._buffer += data
        start = bytes(self._buffer[:5])
        if not b"HTTP/".startswith(start) and not start.startswith(b"HTTP/"):
            line = bytes(self._buffer[:80]).split(b"\r\n", 1)[0]
            raise UpgradeError(f"not an HTTP response to the WebSocket upgrade: {line!r}")
        end = self._buffer.find(b"\r\n\r\n", searched)
        if end < 0:
            if len(self._buffer) > MAX_UPGRADE_RESPONSE:
                raise UpgradeError(
                    f"the WebSocket upgrade response is longer than {MAX_UPGRADE_RESPONSE} bytes"
                )
            return None
        if end > MAX_UPGRADE_RESPONSE:
            raise UpgradeError(
                f"the WebSocket upgrade response is longer than {MAX_UPGRADE_RESPONSE} bytes"
            )
        head = bytes(self._buffer[:end]).decode("latin-1")
        rest = bytes(self._buffer[end + 4 :])
        self._buffer.clear()
        self._check(head)
        return rest

    def _check(self, head: str) -> None:
        status_line, *lines = head.split("\r\n")
        self.status_line = status_line
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise UpgradeError(f"not an HTTP response to the WebSocket upgrade: {status_line!r}")
        if parts[1] != "101":
            raise UpgradeError(f"the server refused the WebSocket upgrade: {status_line!r}")
        for line in lines:
            name, colon, value = line.partition(":")
            if not colon:
                raise UpgradeError(f"malformed header line in the upgrade response: {line!r}")
            name = name.strip().lower()
            value = value.strip()
            self.headers[name] = f"{self.headers[name]}, {value}" if name in self.headers else value
        if "websocket" not in _tokens(self.headers.get("upgrade", "")):
            raise UpgradeError("the upgrade response has no 'Upgrade: websocket' header")
        if "upgrade" not in _tokens(self.headers.get("connection", "")):
            raise UpgradeError("the upgrade response has no 'Connection: Upgrade' header")
        accept = self.headers.get("sec-websocket-accept")
        if accept != self._expected_accept:
            raise UpgradeError(
                f"wrong Sec-WebSocket-Accept in the upgrade response: {accept!r} "
                f"(expected {self._expected_accept!r})"
            )
        extensions = self.headers.get("sec-websocket-extensions")
        if extensions:
            self._check_extensions(extensions)

    def _check_extensions(self, value: str) -> None:
        chosen = [part.strip() for part in value.split(",")]
        name, *params = [param.strip() for param in chosen[0].split(";")]
        if not self._compression_offered or len(chosen) > 1 or name != "permessage-deflate":
            raise UpgradeError(
                f"the server chose a WebSocket extension the client did not offer: {value!r}"
            )
        seen: set[str] = set()
        for param in params:
            key, _, setting = (part.strip() for part in param.partition("="))
            key = key.lower()
            bad = key in seen
            seen.add(key)
            if key == "server_max_window_bits":
                bad = bad or not (setting.isdigit() and 8 <= int(setting) <= 15)
            else:
                bad = bad or setting != "" or key not in _NO_CONTEXT_TAKEOVER
            if bad:
                raise UpgradeError(f"unacceptable permessage-deflate parameter {param!r}")
        self.compression = True
        self.server_context_takeover = "server_no_context_takeover" not in seen


def _tokens(value: str) -> list[str]:
    return [token.strip().lower() for token in value.split(",")]
