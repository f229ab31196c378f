"""WebSocket (RFC 6455) frames for a client, sans-IO: frames in, frames out.

NATS over WebSocket carries the ordinary NATS byte stream in binary messages, so the
client needs no message boundaries: :class:`FrameReader` hands payload bytes on as soon
as they arrive, even from a frame not complete yet, and marks where a message ends
(:data:`MESSAGE_END`). Control frames come out as :class:`Ping`, :class:`Pong` and
:class:`Close`. Outgoing frames are built by :func:`encode_frame`; a client masks every
frame with a key the caller draws (this module takes no randomness, time or I/O).

The HTTP upgrade that comes first is :mod:`natswire.protocol.websocket_upgrade`.

Any input either gives frames or raises :class:`WebSocketError` (a
:class:`RemoteProtocolError`); after an error the reader takes no more input.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from .errors import RemoteProtocolError

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
#: A compressed message may not inflate past this many bytes.
MAX_INFLATED_MESSAGE = 64 * 1024 * 1024

_RSV1 = 0x40
#: What RFC 7692 has the sender strip from the end of each compressed message.
_DEFLATE_TAIL = b"\x00\x00\xff\xff"
_LENGTH_16 = struct.Struct("!H")
_LENGTH_64 = struct.Struct("!Q")


class WebSocketError(RemoteProtocolError):
    """The server sent bytes that are not a WebSocket stream a client accepts."""


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
    compressed: bool = False,
) -> bytes:
    """One frame; masked with the 4-byte ``mask`` (a client's frames), else not.
    ``compressed`` marks the first frame of a message made by :func:`deflate_message`."""
    size = len(payload)
    first = (0x80 if fin else 0) | (_RSV1 if compressed else 0) | opcode
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


def deflate_message(payload: bytes | bytearray | memoryview) -> bytes:
    """``payload`` compressed as one permessage-deflate message (RFC 7692), with no
    context kept from earlier messages."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
    data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return data[:-4] if data.endswith(_DEFLATE_TAIL) else data


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

    ``compressed``: permessage-deflate was negotiated, so messages may come compressed
    (their payload bytes are returned inflated); ``server_context_takeover``: the server
    did not agree to ``server_no_context_takeover``, so its messages share one context.
    """

    def __init__(self, compressed: bool = False, server_context_takeover: bool = False) -> None:
        self._header = bytearray()  # the start of a header not complete yet
        self._remaining = 0  # payload bytes of the current frame still to come
        self._in_frame = False
        self._opcode = 0  # of the current frame
        self._fin = False
        self._control = bytearray()
        self._in_message = False  # a fragmented message waits for its continuations
        self._closed = False
        self._failed = False
        self._compressed = compressed
        self._context_takeover = server_context_takeover
        self._inflating = False  # the current message is compressed
        self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        self._inflated = 0  # bytes the current message inflated to

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
                    if not self._inflating:
                        out.append(chunk)
                    elif inflated := self._inflate(chunk):
                        out.append(inflated)
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
        reserved = first & 0x70
        if reserved and (
            reserved != _RSV1 or not self._compressed or opcode not in (OP_TEXT, OP_BINARY)
        ):
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
        if opcode in (OP_TEXT, OP_BINARY):
            self._inflating = bool(reserved)
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
                if self._inflating:
                    self._end_inflating(out)
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

    def _inflate(self, chunk: bytes) -> bytes:
        inflater = self._inflater
        room = MAX_INFLATED_MESSAGE - self._inflated
        try:
            data = inflater.decompress(chunk, room + 1)
        except zlib.error as exc:
            raise WebSocketError(f"bad compressed WebSocket message: {exc}") from None
        if inflater.unused_data:
            raise WebSocketError("data after the end of a compressed WebSocket message")
        self._inflated += len(data)
        if self._inflated > MAX_INFLATED_MESSAGE or inflater.unconsumed_tail:
            raise WebSocketError(
                f"compressed WebSocket message inflates past {MAX_INFLATED_MESSAGE} bytes"
            )
        return data

    def _end_inflating(self, out: list[Event]) -> None:
        if not self._inflater.eof:
            tail = self._inflate(_DEFLATE_TAIL)
            if tail:
                out.append(tail)
        if not self._context_takeover or self._inflater.eof:
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        self._inflating = False
        self._inflated = 0


def _close(payload: bytes) -> Close:
    if not payload:
        return Close(CLOSE_NO_STATUS, "")
    if len(payload) == 1:
        raise WebSocketError("WebSocket close frame with a 1-byte payload")
    code = _LENGTH_16.unpack_from(payload)[0]
    return Close(code, payload[2:].decode("utf-8", "replace"))
