"""The ``websocket`` fuzz target: :class:`~natswire.protocol.websocket.FrameReader` and
:class:`~natswire.protocol.websocket.UpgradeResponse` on what a server could send.

Invariants:

Every input is read three ways: plain, and with permessage-deflate negotiated (the
server's context reset per message, or kept).

1. The input gives events (payload ``bytes``, ``MESSAGE_END``, ``Ping``, ``Pong``,
   ``Close``) or raises :class:`WebSocketError`; nothing else escapes, and after an
   error the reader refuses more input.
2. Fed whole, in chunks cut at points derived from the input, and byte by byte (inputs
   up to 256 bytes), the input gives the same events (payload bytes compared as the
   stream they form between other events), or the same error after the same events
   (with compression: the same error; what zlib inflated in the failing call is lost).
3. Round trip: the events re-encoded as unmasked server frames read back as the same
   events (close frames compared by code: a reason is decoded with replacement
   characters and cut to fit, so it need not survive).
4. The upgrade response: the input as an answer to the upgrade gives, whole and in
   chunks, the same result (the bytes after the headers, or an ``UpgradeError``); and
   after a valid ``101`` response, the input comes back untouched as what follows.
"""

from __future__ import annotations

import random
import zlib
from typing import NoReturn

from natswire.protocol.websocket import (
    CLOSE_NO_STATUS,
    MESSAGE_END,
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    Close,
    Event,
    FrameReader,
    Ping,
    Pong,
    WebSocketError,
    deflate_message,
    encode_close,
    encode_frame,
)
from natswire.protocol.websocket_upgrade import UpgradeError, UpgradeResponse, accept_value

BYTE_BY_BYTE_MAX = 256
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
VALID_UPGRADE = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: " + accept_value(KEY).encode() + b"\r\n\r\n"
)


class InvariantError(AssertionError):
    """A WebSocket invariant does not hold for the input."""


def _fail(message: str) -> NoReturn:
    raise InvariantError(message)


Outcome = tuple[list[object], str | None]


def _normalize(events: list[Event]) -> list[object]:
    """Events with neighbouring payload pieces joined (their cut points are not part of
    the stream)."""
    out: list[object] = []
    for event in events:
        if isinstance(event, bytes):
            if not event:
                continue
            if out and isinstance(out[-1], bytes):
                out[-1] = out[-1] + event
                continue
        elif not (isinstance(event, (Ping, Pong, Close)) or event is MESSAGE_END):
            _fail(f"unexpected event {event!r}")
        out.append(event)
    return out


#: The readers every input goes through: plain, and with permessage-deflate negotiated
#: (the server resetting its context per message, or keeping it).
READERS: tuple[dict[str, bool], ...] = (
    {},
    {"compressed": True},
    {"compressed": True, "server_context_takeover": True},
)


def read(chunks: list[bytes], **options: bool) -> Outcome:
    reader = FrameReader(**options)
    events: list[Event] = []
    for chunk in chunks:
        try:
            events += reader.receive_data(chunk)
        except WebSocketError as exc:
            events += list(exc.frames)
            try:
                reader.receive_data(b"\x82\x00")
            except WebSocketError:
                pass
            else:
                _fail("the reader took more input after an error")
            return _normalize(events), type(exc).__name__
        except Exception as exc:
            _fail(f"{type(exc).__name__} escaped FrameReader.receive_data: {exc}")
    return _normalize(events), None


def _chunkings(data: bytes) -> list[list[bytes]]:
    rng = random.Random(zlib.crc32(data))
    cuts = sorted({rng.randrange(len(data) + 1) for _ in range(min(len(data), 12))})
    chunked = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    ways = [chunked]
    if len(data) <= BYTE_BY_BYTE_MAX:
        ways.append([data[i : i + 1] for i in range(len(data))])
    return ways


def _encode(events: list[object]) -> bytes:
    out = bytearray()
    in_message = False
    for event in events:
        if isinstance(event, bytes):
            out += encode_frame(OP_CONTINUATION if in_message else OP_BINARY, event, fin=False)
            in_message = True
        elif event is MESSAGE_END:
            out += encode_frame(OP_CONTINUATION if in_message else OP_BINARY, b"")
            in_message = False
        elif isinstance(event, Ping):
            out += encode_frame(OP_PING, event.payload)
        elif isinstance(event, Pong):
            out += encode_frame(OP_PONG, event.payload)
        elif isinstance(event, Close):
            if event.code == CLOSE_NO_STATUS:
                out += encode_frame(OP_CLOSE)
            else:
                out += encode_close(event.code, event.reason, None)
    return bytes(out)


def check_frames(data: bytes) -> None:
    for options in READERS:
        _check_frames(data, options)


def _check_frames(data: bytes, options: dict[str, bool]) -> None:
    whole = read([data], **options)
    for chunks in _chunkings(data):
        chunked = read(chunks, **options)
        if options and whole[1] is not None:
            # zlib drops what a call inflated when it finds bad data, so with
            # compression only the error itself must agree.
            if chunked[1] != whole[1]:
                _fail(f"chunked reading ({len(chunks)} pieces) fails differently ({options})")
        elif chunked != whole:
            _fail(f"chunked reading ({len(chunks)} pieces) differs from reading whole")
    events = _without_reasons(whole[0])
    again, error = read([_encode(events)], **options)
    if error is not None:
        _fail(f"re-encoded events do not read back: {error}")
    if _without_reasons(again) != events:
        _fail("re-encoded events read back differently")


def _without_reasons(events: list[object]) -> list[object]:
    # A close reason is decoded with replacement characters and cut to fit a control
    # frame, so only its code takes part in the round trip.
    return [Close(e.code, "") if isinstance(e, Close) else e for e in events]


def _answer(chunks: list[bytes]) -> bytes | str:
    response = UpgradeResponse(KEY)
    try:
        for index, chunk in enumerate(chunks):
            rest = response.receive_data(chunk)
            if rest is not None:
                return rest + b"".join(chunks[index + 1 :])
    except UpgradeError:
        return "UpgradeError"
    except Exception as exc:
        _fail(f"{type(exc).__name__} escaped UpgradeResponse.receive_data: {exc}")
    return "incomplete"


def check_upgrade(data: bytes) -> None:
    whole = _answer([data])
    for chunks in _chunkings(data):
        if _answer(chunks) != whole:
            _fail("the upgrade response read in chunks differs from reading it whole")
    for chunks in _chunkings(VALID_UPGRADE + data):
        if _answer(chunks) != data:
            _fail("the bytes after a valid upgrade response did not come back untouched")


def check_websocket(data: bytes) -> None:
    check_frames(data)
    check_upgrade(data)


def seeds() -> dict[str, bytes]:
    """Seed inputs for the committed corpus (``fuzz/corpus/websocket``)."""
    return {
        "binary-message": encode_frame(OP_BINARY, b"INFO {}\r\nPING\r\n"),
        "fragmented": encode_frame(OP_BINARY, b"MSG a 1 2\r\n", fin=False)
        + encode_frame(OP_PING, b"hi")
        + encode_frame(OP_CONTINUATION, b"ok\r\n"),
        "length-16": encode_frame(OP_BINARY, b"x" * 300),
        # A short payload behind a 64-bit length (accepted, as nats-server's reader does).
        "length-64": b"\x82\x7f" + (6).to_bytes(8, "big") + b"PING\r\n",
        "close": encode_close(1001, "Server Shutdown", None),
        "upgrade-then-frame": VALID_UPGRADE + encode_frame(OP_BINARY, b"PONG\r\n"),
        "not-found": b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        "deflated": encode_frame(
            OP_BINARY, deflate_message(b"MSG a 1 5\r\nhello\r\n" * 3), compressed=True
        )
        + encode_frame(OP_BINARY, b"PING\r\n"),
    }
