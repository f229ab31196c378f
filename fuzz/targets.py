"""Fuzz targets: the client-role parser, the server-role parser and the headers parser
(and, registered here from :mod:`fuzz.websocket_target`, the WebSocket framer).

Each target takes one input (``bytes``) and raises on a broken invariant; returning
means the input was handled correctly. The same functions serve both engines
(atheris/libFuzzer, and the hypothesis fallback).

Invariants of the two parser targets (``client`` and ``server``), checked under the
default limits and under tight ones (so the limit paths are reachable by small inputs,
and with the parser's 64 KiB "large pending frame" threshold lowered to 24 bytes, so
its path for payloads gathered over several reads runs too):

1. The input gives frames of the role's types, with well-typed fields, or raises
   :class:`RemoteProtocolError`; no other exception escapes ``receive_data``, and
   after an error the parser refuses more input.
2. Parsing the input whole, in chunks cut at points derived from the input (a
   pseudo-random cut list seeded by its CRC, and cuts around every CR and LF), and
   byte by byte (inputs up to 256 bytes) agree: the same frames and the same number
   of bytes left buffered, or an error of the same class in every case. When an
   error ends the input, the frames returned before it by any chunking are a prefix
   of those returned byte by byte.
3. Round trip: the frames that parsed (all of them, or those before the error) are
   re-encoded with the ``encode_*`` functions; the result parses, whole, to the same
   frames with nothing left over, and re-encoding those gives the same bytes again.

   The parser is as lenient as nats-server and the encoders are strict, so a frame
   may be skipped for this property only (never for 1 and 2) when its encoder raises
   :class:`LocalProtocolError`. That happens for exactly these parsed values:

   - a MSG/HMSG/PUB/HPUB subject or reply that is not a valid publish subject:
     wildcard tokens (``*``, ``>``), empty tokens (``a..b``, ``.a``), or control
     characters (the parser splits on ASCII whitespace only);
   - a SUB subject that is not a valid subscribe subject (``>`` before the last token,
     empty tokens, control characters);
   - a sid or queue group holding control characters;
   - an ``-ERR`` text holding a CR (a bare CR inside the line).

   INFO and CONNECT documents nested more than 200 levels deep are also left out of the
   round trip (see ``MAX_ROUND_TRIP_NESTING``): Python's recursion limit, not natswire,
   decides whether those parse.

   Every skip is checked against this list: an encoder error whose message names
   something else fails the target.

Invariants of the ``headers`` target (``parse_headers``):

1. The input gives a :class:`Headers` (str names and values, a status of 0..999 or
   None) or raises :class:`RemoteProtocolError`; nothing else.
2. Carried as the header block of an HMSG and parsed whole, in chunks and byte by
   byte, the block comes back byte for byte; whenever ``parse_headers`` accepts a
   block, the HMSG framing does too.
3. Round trip: ``encode_headers`` of the result parses back to equal headers (pairs,
   order, case, status, description), and encodes to the same bytes again. Skipped
   for this property only, and checked: a status outside 100..999 (``NATS/1.0 042``),
   or a lone CR or LF inside a value or the status description (the parser splits
   lines at CRLF only, the encoder refuses any CR or LF).
"""

from __future__ import annotations

import itertools
import random
import zlib
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from natswire.protocol import (
    OK,
    PING,
    PONG,
    Connect,
    Err,
    Frame,
    Headers,
    HMsg,
    HPub,
    Info,
    LocalProtocolError,
    Msg,
    Parser,
    Pub,
    RemoteProtocolError,
    Role,
    Sub,
    Unsub,
    encode_connect,
    encode_err,
    encode_headers,
    encode_hmsg,
    encode_hpub,
    encode_info,
    encode_msg,
    encode_ok,
    encode_ping,
    encode_pong,
    encode_pub,
    encode_sub,
    encode_unsub,
    parse_headers,
)

from .websocket_target import check_websocket

#: Parser options to run every input under: the defaults, and limits small inputs reach.
CONFIGS: tuple[dict[str, int], ...] = (
    {},
    {"max_control_line": 100, "max_payload": 256},
)
#: Inputs up to this size are also parsed one byte at a time.
BYTE_BY_BYTE_MAX = 256
#: The round trip re-parses with no line limit: re-encoding may lengthen a line
#: (quotes added to an -ERR text, JSON re-serialized with ASCII escapes).
UNLIMITED = {"max_control_line": 1 << 40}

#: INFO/CONNECT documents nested deeper than this stay out of the round trip: the parse
#: that accepted one may have run just within Python's recursion limit, and the re-parse
#: runs a stack frame deeper (a real INFO nests two or three levels).
MAX_ROUND_TRIP_NESTING = 200

_FRAME_TYPES: dict[Role, tuple[type, ...]] = {
    Role.CLIENT: (Msg, HMsg, Info, Err, type(PING), type(PONG), type(OK)),
    Role.SERVER: (Pub, HPub, Sub, Unsub, Connect, type(PING), type(PONG)),
}
#: What an encoder may legitimately refuse in a parsed frame (see the module docstring).
_SKIPPABLE = ("subject", "sid", "queue group", "error message")

Outcome = tuple[list[Frame], "RemoteProtocolError | None", int]


class InvariantError(AssertionError):
    """A fuzz invariant does not hold."""


def _fail(message: str) -> NoReturn:
    raise InvariantError(message)


def key(frames: Iterable[Frame]) -> list[str]:
    """A comparable form of frames. ``repr`` rather than ``==`` because a JSON
    document may hold NaN, which is never equal to itself."""
    return [repr(frame) for frame in frames]


def feed(
    role: Role, chunks: Iterable[bytes], options: dict[str, int], *, check: bool = True
) -> Outcome:
    """Feed ``chunks`` to a new parser: frames, the error if any, bytes left buffered.

    Any exception other than RemoteProtocolError propagates: that is a crash. With
    ``check``, the frames' types are checked too (chunked parses skip it: they are
    compared with a checked one).
    """
    parser = Parser(role, **options)
    frames: list[Frame] = []
    try:
        for chunk in chunks:
            frames += parser.receive_data(chunk)
    except RemoteProtocolError as exc:
        try:
            parser.receive_data(b"PING\r\n")
        except RemoteProtocolError:
            pass
        else:
            raise InvariantError("the parser accepted input after an error") from exc
        if check:
            _check_frames(role, frames)
        return frames, exc, parser.buffered
    if check:
        _check_frames(role, frames)
    return frames, None, parser.buffered


def _check_frames(role: Role, frames: list[Frame]) -> None:
    for frame in frames:
        if not _well_formed(role, frame):
            _fail(f"{role.name} parser gave a malformed frame: {frame!r}")


def _well_formed(role: Role, frame: Frame) -> bool:
    """Whether a parsed frame has the role's type and well-typed, non-empty fields."""
    if not isinstance(frame, _FRAME_TYPES[role]):
        return False
    if isinstance(frame, (Msg, HMsg)) and not (type(frame.sid) is bytes and frame.sid):
        return False
    if isinstance(frame, (Msg, HMsg, Pub, HPub)):
        return (
            type(frame.subject) is bytes
            and bool(frame.subject)
            and (frame.reply is None or (type(frame.reply) is bytes and bool(frame.reply)))
            and type(frame.payload) is bytes
            and (
                not isinstance(frame, (HMsg, HPub))
                or (
                    type(frame.raw_headers) is bytes
                    and frame.raw_headers.startswith(b"NATS/1.0")
                    and frame.raw_headers.endswith(b"\r\n\r\n")
                )
            )
        )
    if isinstance(frame, Sub):
        return bool(frame.subject and frame.sid) and (frame.queue is None or bool(frame.queue))
    if isinstance(frame, Unsub):
        return bool(frame.sid) and (frame.max_msgs is None or frame.max_msgs >= 0)
    if isinstance(frame, (Info, Connect)):
        return isinstance(frame.fields, dict)
    if isinstance(frame, Err):
        return isinstance(frame.message, str)
    return True


def chunkings(data: bytes) -> list[list[bytes]]:
    """Ways to cut ``data``, derived from the input itself (deterministic per input)."""
    rng = random.Random(zlib.crc32(data))
    cuts = sorted(rng.randrange(len(data) + 1) for _ in range(rng.randrange(1, 6)))
    structural = sorted(
        {index for index, byte in enumerate(data) if byte == 0x0A}
        | {index + 1 for index, byte in enumerate(data) if byte in (0x0A, 0x0D)}
    )
    result = [_cut(data, cuts), _cut(data, structural)]
    if len(data) <= BYTE_BY_BYTE_MAX:
        result.append([data[index : index + 1] for index in range(len(data))])
    return result


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *cuts, len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


def _encode(frame: Frame) -> bytes:
    """Re-encode a parsed frame with the public encoders."""
    if isinstance(frame, Msg):
        return encode_msg(frame.subject, frame.sid, frame.payload, frame.reply)
    if isinstance(frame, HMsg):
        return encode_hmsg(frame.subject, frame.sid, frame.raw_headers, frame.payload, frame.reply)
    if isinstance(frame, Pub):
        return encode_pub(frame.subject, frame.payload, frame.reply)
    if isinstance(frame, HPub):
        return encode_hpub(frame.subject, frame.raw_headers, frame.payload, frame.reply)
    if isinstance(frame, Sub):
        return encode_sub(frame.subject, frame.sid, frame.queue)
    if isinstance(frame, Unsub):
        return encode_unsub(frame.sid, frame.max_msgs)
    if isinstance(frame, Info):
        return encode_info(frame.fields)
    if isinstance(frame, Connect):
        return encode_connect(frame.fields)
    if isinstance(frame, Err):
        return encode_err(frame.message)
    if frame is PING:
        return encode_ping()
    if frame is PONG:
        return encode_pong()
    if frame is OK:
        return encode_ok()
    raise InvariantError(f"no encoder for {frame!r}")


def _nesting(value: object) -> int:
    """How deeply a JSON value nests lists and objects (without recursing)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Iterable[object] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def _encode_all(frames: list[Frame]) -> tuple[list[Frame], bytes]:
    kept: list[Frame] = []
    encoded: list[bytes] = []
    for frame in frames:
        if isinstance(frame, (Info, Connect)) and _nesting(frame.fields) > MAX_ROUND_TRIP_NESTING:
            continue
        try:
            wire = _encode(frame)
        except LocalProtocolError as exc:
            text = str(exc)
            if not any(word in text for word in _SKIPPABLE):
                _fail(f"re-encoding {frame!r} failed for an undocumented reason: {text}")
            continue
        kept.append(frame)
        encoded.append(wire)
    return kept, b"".join(encoded)


def _round_trip(role: Role, frames: list[Frame]) -> None:
    kept, wire = _encode_all(frames)
    again, error, buffered = feed(role, [wire], UNLIMITED)
    if error is not None:
        _fail(f"re-encoded frames do not parse: {error!r}\n{wire!r}")
    if buffered != 0:
        _fail(f"re-encoded frames leave {buffered} bytes: {wire!r}")
    if key(again) != key(kept):
        _fail(f"round trip changed frames:\n{kept!r}\n{again!r}")
    _, wire_again = _encode_all(again)
    if wire_again != wire:
        _fail(f"encoding is not stable:\n{wire!r}\n{wire_again!r}")


def check_parser(role: Role, data: bytes) -> None:
    """All parser invariants for one input (see the module docstring)."""
    ways = chunkings(data)
    for options in CONFIGS:
        whole = feed(role, [data], options)
        outcomes = [feed(role, chunks, options, check=False) for chunks in ways]
        whole_key = key(whole[0])
        for frames, error, buffered in outcomes:
            if whole[1] is None:
                if error is not None:
                    _fail(f"chunked input raised {error!r}, whole did not")
                if key(frames) != whole_key:
                    _fail("chunked frames differ from whole")
                if buffered != whole[2]:
                    _fail(f"buffered {buffered} != {whole[2]} whole")
            else:
                if error is None:
                    _fail(f"whole input raised {whole[1]!r}, chunked did not")
                if type(error) is not type(whole[1]):
                    _fail(f"chunked raised {error!r}, whole raised {whole[1]!r}")
        if whole[1] is None:
            parsed = whole[0]
        else:
            # The frames before the error, as far as each chunking got; byte by byte
            # (the last chunking, when present) gets furthest.
            longest = max((frames for frames, _, _ in outcomes), key=len)
            _check_frames(role, longest)
            longest_key = key(longest)
            for frames, _, _ in outcomes:
                if key(frames) != longest_key[: len(frames)]:
                    _fail("frames before the error differ between chunkings")
            parsed = longest
        _round_trip(role, parsed)


def check_client(data: bytes) -> None:
    """Fuzz target: the client-role parser (what a server sends)."""
    check_parser(Role.CLIENT, data)


def check_server(data: bytes) -> None:
    """Fuzz target: the server-role parser (what a client sends)."""
    check_parser(Role.SERVER, data)


def check_headers(data: bytes) -> None:
    """Fuzz target: ``parse_headers`` (see the module docstring)."""
    try:
        headers: Headers | None = parse_headers(data)
    except RemoteProtocolError:
        headers = None
    framed_ok = _check_framed_header_block(data)
    if headers is None:
        return
    if not framed_ok:
        _fail(f"parse_headers accepted a block HMSG framing refuses: {data!r}")
    pairs = headers.multi_items()
    if not all(type(name) is str and name and type(value) is str for name, value in pairs):
        _fail(f"bad header pairs {pairs!r}")
    status = headers.status
    if not (status is None or (type(status) is int and 0 <= status <= 999)):
        _fail(f"status {status!r}")
    if type(headers.description) is not str:
        _fail("description is not a str")
    try:
        encoded = encode_headers(headers)
    except LocalProtocolError as exc:
        texts = [value for _, value in pairs] + [headers.description]
        if not (
            (status is not None and not 100 <= status <= 999)
            or any("\r" in text or "\n" in text for text in texts)
        ):
            _fail(f"encode_headers refused parsed headers for an undocumented reason: {exc}")
        return
    again = parse_headers(encoded)
    if again != headers:
        _fail(f"header round trip changed {headers!r} into {again!r}")
    if (again.status, again.description) != (headers.status, headers.description):
        _fail("status changed in the round trip")
    if encode_headers(again) != encoded:
        _fail("header encoding is not stable")


def _check_framed_header_block(block: bytes) -> bool:
    """Carry ``block`` as an HMSG header block; return whether the framing accepted it."""
    payload = b"\r\npayload"
    data = b"HMSG s 1 %d %d\r\n%b%b\r\n" % (len(block), len(block) + len(payload), block, payload)
    results = [feed(Role.CLIENT, chunks, {}) for chunks in [[data], *chunkings(data)]]
    errors = {type(error) for _, error, _ in results}
    if len(errors) != 1:
        _fail(f"chunking changed the outcome: {errors}")
    frames, error, buffered = results[0]
    if error is not None:
        return False
    for other, _, _ in results:
        if key(other) != key(frames):
            _fail("chunked HMSG differs from whole")
    if not (len(frames) == 1 and buffered == 0):
        _fail(f"expected one HMSG, got {frames!r}")
    frame = frames[0]
    if not isinstance(frame, HMsg):
        _fail(f"expected an HMSG, got {frame!r}")
    if frame.raw_headers != block:
        _fail("the header block changed in transit")
    if frame.payload != payload:
        _fail("the payload changed in transit")
    return True


TARGETS: dict[str, Callable[[bytes], None]] = {
    "client": check_client,
    "server": check_server,
    "headers": check_headers,
    "websocket": check_websocket,
}


def describe(data: bytes, limit: int = 2000) -> str:
    """A printable form of a crashing input."""
    shown = repr(data[:limit])
    return shown + (f" ... ({len(data)} bytes)" if len(data) > limit else f" ({len(data)} bytes)")


def run_seeds(target: str, seeds: Iterable[bytes]) -> int:
    """Run a target over seed inputs; return how many ran."""
    check = TARGETS[target]
    count = 0
    for seed in seeds:
        check(seed)
        count += 1
    return count


__all__: list[Any] = ["CONFIGS", "TARGETS", "InvariantError", "check_parser", "describe"]
