"""WebSocket (RFC 6455) for a client, sans-IO: the HTTP upgrade, frames in, frames out.

NATS over WebSocket carries the ordinary NATS byte stream in binary messages, so the
client needs no message boundaries: :class:`FrameReader` hands payload bytes on as soon
as they arrive, even from a frame not complete yet, and marks where a message ends
(:data:`MESSAGE_END`). Control frames come out as :class:`Ping`, :class:`Pong` and
:class:`Close`. Outgoing frames are built by :func:`encode_frame`; a client masks every
frame with a key the caller draws (this module takes no randomness, time or I/O).

The upgrade: :func:`upgrade_request` is the request's bytes, :class:`UpgradeResponse`
reads the server's answer and checks ``Sec-WebSocket-Accept``.

Any input either gives frames or raises :class:`WebSocketError` (a
:class:`RemoteProtocolError`); after an error the reader takes no more input.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .errors import LocalProtocolError, RemoteProtocolError

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

#: Close codes the client sends.
CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
#: What a close frame without a code reports (RFC 6455, 7.1.5).
CLOSE_NO_STATUS = 1005

#: Control frames carry at most this many payload bytes.
MAX_CONTROL_PAYLOAD = 125
#: The upgrade response's status line and headers may not exceed this.
MAX_UPGRADE_RESPONSE = 16 * 1024

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_LENGTH_16 = struct.Struct("!H")
_LENGTH_64 = struct.Struct("!Q")


class WebSocketError(RemoteProtocolError):
    """The server sent bytes that are not a WebSocket stream a client accepts."""


class UpgradeError(WebSocketError):
    """The server did not switch to WebSocket (wrong status, missing or wrong headers)."""


@dataclass(frozen=True, slots=True)
class Ping:
    """A ping; the client answers with a pong carrying the same payload."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class Pong:
    """A pong (the client sends no pings, so one is only noted)."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class Close:
    """The server closes: ``code`` (``1005`` when the frame had none) and its reason."""

    code: int
    reason: str


class _MessageEnd:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MESSAGE_END"


#: Follows the last payload bytes of a message.
MESSAGE_END = _MessageEnd()

Event = bytes | Ping | Pong | Close | _MessageEnd


# ----------------------------------------------------------------------- the upgrade


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
) -> bytes:
    """The HTTP request that asks ``host:port`` to switch ``path`` to WebSocket.

    ``headers`` are added to it (a name may carry several values). Raises
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
    """

    def __init__(self, key: str) -> None:
        self._expected_accept = accept_value(key)
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
        if self.headers.get("sec-websocket-extensions"):
            raise UpgradeError(
                "the server chose a WebSocket extension the client did not offer: "
                f"{self.headers['sec-websocket-extensions']!r}"
            )


def _tokens(value: str) -> list[str]:
    return [token.strip().lower() for token in value.split(",")]


# ------------------------------------------------------------------- frames out


def mask_payload(payload: bytes | bytearray | memoryview, mask: bytes) -> bytes:
    """``payload`` XORed with the 4-byte ``mask`` repeated (masking and unmasking are
    the same operation)."""
    size = len(payload)
    if not size:
        return b""
    key = mask * ((size >> 2) + 1)
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key[:size], "little")).to_bytes(
        size, "little"
    )


def encode_frame(
    opcode: int,
    payload: bytes | bytearray | memoryview = b"",
    mask: bytes | None = None,
    *,
    fin: bool = True,
) -> bytes:
    """One frame; masked with the 4-byte ``mask`` (a client's frames), else not."""
    size = len(payload)
    first = (0x80 if fin else 0) | opcode
    mask_bit = 0x80 if mask is not None else 0
    if size < 126:
        header = bytes((first, mask_bit | size))
    elif size < 0x10000:
        header = bytes((first, mask_bit | 126)) + _LENGTH_16.pack(size)
    else:
        header = bytes((first, mask_bit | 127)) + _LENGTH_64.pack(size)
    if mask is None:
        return header + bytes(payload)
    if len(mask) != 4:
        raise ValueError("a WebSocket mask is 4 bytes")
    return header + mask + mask_payload(payload, mask)


def encode_close(code: int, reason: str, mask: bytes | None) -> bytes:
    """A close frame with ``code`` and ``reason`` (cut to fit a control frame)."""
    payload = _LENGTH_16.pack(code) + reason.encode("utf-8")[: MAX_CONTROL_PAYLOAD - 2]
    return encode_frame(OP_CLOSE, payload, mask)


# -------------------------------------------------------------------- frames in


class FrameReader:
    """Frames a server sends, in whatever pieces they arrive.

    :meth:`receive_data` returns, in order, payload bytes of data frames (as soon as
    they arrive), :data:`MESSAGE_END` after a message's last frame, and the control
    frames. Nothing is returned after a :class:`Close`.
    """

    def __init__(self) -> None:
        self._header = bytearray()  # the start of a header not complete yet
        self._remaining = 0  # payload bytes of the current frame still to come
        self._in_frame = False
        self._opcode = 0  # of the current frame
        self._fin = False
        self._control = bytearray()
        self._in_message = False  # a fragmented message waits for its continuations
        self._closed = False
        self._failed = False

    @property
    def closed(self) -> bool:
        """Whether a close frame arrived."""
        return self._closed

    def receive_data(self, data: bytes | bytearray) -> list[Event]:
        if self._failed:
            raise WebSocketError("the WebSocket stream failed earlier; it takes no more input")
        out: list[Event] = []
        try:
            self._receive(bytes(data) if data.__class__ is not bytes else data, out)
        except WebSocketError as exc:
            self._failed = True
            exc.frames = out
            raise
        return out

    def _receive(self, data: bytes, out: list[Event]) -> None:
        pos = 0
        size = len(data)
        while pos < size and not self._closed:
            if not self._in_frame:
                pos = self._read_header(data, pos)
                if not self._in_frame:
                    return
                if self._remaining:
                    continue
            else:
                take = min(self._remaining, size - pos)
                chunk = data if take == size else data[pos : pos + take]
                pos += take
                self._remaining -= take
                if self._opcode < OP_CLOSE:
                    out.append(chunk)
                else:
                    self._control += chunk
                if self._remaining:
                    return
            self._end_frame(out)

    def _read_header(self, data: bytes, pos: int) -> int:
        """Parse a header at ``pos`` (after any buffered start); return where the
        payload starts, or ``len(data)`` with the start buffered."""
        buffered = len(self._header)
        if buffered:
            buf = bytes(self._header) + data[pos : pos + 14]
            start = 0
        else:
            buf = data
            start = pos
        available = len(buf) - start
        if available < 2:
            self._header += data[pos:]
            return len(data)
        first = buf[start]
        second = buf[start + 1]
        opcode = first & 0x0F
        if first & 0x70:
            raise WebSocketError(f"WebSocket frame with reserved bits set (0x{first:02x})")
        if second & 0x80:
            raise WebSocketError("the server sent a masked WebSocket frame")
        length = second & 0x7F
        header_size = 2 + (2 if length == 126 else 8 if length == 127 else 0)
        if available < header_size:
            self._header += data[pos:]
            return len(data)
        if length == 126:
            length = _LENGTH_16.unpack_from(buf, start + 2)[0]
        elif length == 127:
            length = _LENGTH_64.unpack_from(buf, start + 2)[0]
            if length >> 63:
                raise WebSocketError("WebSocket frame length with the most significant bit set")
        fin = bool(first & 0x80)
        self._check_frame(opcode, fin, length)
        self._header.clear()
        self._opcode = opcode
        self._fin = fin
        self._remaining = length
        self._in_frame = True
        return pos + header_size - buffered

    def _check_frame(self, opcode: int, fin: bool, length: int) -> None:
        if opcode >= OP_CLOSE:
            if opcode > OP_PONG:
                raise WebSocketError(f"unknown WebSocket control opcode 0x{opcode:x}")
            if not fin:
                raise WebSocketError("fragmented WebSocket control frame")
            if length > MAX_CONTROL_PAYLOAD:
                raise WebSocketError(
                    f"WebSocket control frame of {length} bytes (at most {MAX_CONTROL_PAYLOAD})"
                )
        elif opcode == OP_CONTINUATION:
            if not self._in_message:
                raise WebSocketError("WebSocket continuation frame outside a message")
        elif opcode in (OP_TEXT, OP_BINARY):
            if self._in_message:
                raise WebSocketError("new WebSocket message before the last one ended")
        else:
            raise WebSocketError(f"unknown WebSocket data opcode 0x{opcode:x}")

    def _end_frame(self, out: list[Event]) -> None:
        self._in_frame = False
        opcode = self._opcode
        if opcode < OP_CLOSE:
            self._in_message = not self._fin
            if self._fin:
                out.append(MESSAGE_END)
            return
        payload = bytes(self._control)
        self._control.clear()
        if opcode == OP_PING:
            out.append(Ping(payload))
        elif opcode == OP_PONG:
            out.append(Pong(payload))
        else:
            out.append(_close(payload))
            self._closed = True


def _close(payload: bytes) -> Close:
    if not payload:
        return Close(CLOSE_NO_STATUS, "")
    if len(payload) == 1:
        raise WebSocketError("WebSocket close frame with a 1-byte payload")
    code = _LENGTH_16.unpack_from(payload)[0]
    return Close(code, payload[2:].decode("utf-8", "replace"))
