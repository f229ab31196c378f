"""The sans-IO WebSocket framer (``natswire.protocol.websocket``): masking, frames in
any pieces, fragmented messages, control frames, the upgrade, and its errors."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from natswire.protocol import LocalProtocolError, RemoteProtocolError, websocket
from natswire.protocol.websocket import (
    MESSAGE_END,
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Close,
    Event,
    FrameReader,
    Ping,
    Pong,
    WebSocketError,
    deflate_message,
    encode_close,
    encode_frame,
    mask_payload,
)
from natswire.protocol.websocket_upgrade import (
    DEFLATE_OFFER,
    UpgradeError,
    UpgradeResponse,
    accept_value,
    new_key,
    upgrade_request,
)

masks = st.binary(min_size=4, max_size=4)


def feed(chunks: list[bytes]) -> list[Event]:
    reader = FrameReader()
    events: list[Event] = []
    for chunk in chunks:
        events += reader.receive_data(chunk)
    return events


def messages_of(events: list[Event]) -> tuple[list[bytes], list[Event]]:
    """The data messages the events carry, and the control events in order."""
    messages: list[bytes] = []
    controls: list[Event] = []
    current = bytearray()
    for event in events:
        if isinstance(event, bytes):
            current += event
        elif event is MESSAGE_END:
            messages.append(bytes(current))
            current.clear()
        else:
            controls.append(event)
    assert not current, "payload bytes after the last message end"
    return messages, controls


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


# ----------------------------------------------------------------------- masking


@given(st.binary(max_size=3000), masks)
def test_masking_twice_gives_the_payload_back(payload: bytes, mask: bytes) -> None:
    masked = mask_payload(payload, mask)
    assert len(masked) == len(payload)
    assert masked == bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert mask_payload(masked, mask) == payload


@given(st.binary(max_size=70000), masks)
def test_a_client_frame_carries_its_mask_and_the_masked_payload(
    payload: bytes, mask: bytes
) -> None:
    frame = encode_frame(OP_BINARY, payload, mask)
    assert frame[0] == 0x80 | OP_BINARY
    assert frame[1] & 0x80
    length = frame[1] & 0x7F
    offset = 2
    if length == 126:
        (length,) = struct.unpack_from("!H", frame, 2)
        offset = 4
    elif length == 127:
        (length,) = struct.unpack_from("!Q", frame, 2)
        offset = 10
    assert length == len(payload)
    assert frame[offset : offset + 4] == mask
    assert mask_payload(frame[offset + 4 :], mask) == payload


def test_length_encodings_switch_at_126_and_65536() -> None:
    assert len(encode_frame(OP_BINARY, b"x" * 125)) == 2 + 125
    assert len(encode_frame(OP_BINARY, b"x" * 126)) == 4 + 126
    assert len(encode_frame(OP_BINARY, b"x" * 65535)) == 4 + 65535
    assert len(encode_frame(OP_BINARY, b"x" * 65536)) == 10 + 65536
    with pytest.raises(ValueError):
        encode_frame(OP_BINARY, b"x", b"abc")


# ---------------------------------------------------------------- frames in


@st.composite
def server_streams(draw: st.DrawFn) -> tuple[bytes, list[bytes], list[Event]]:
    """A server's byte stream: messages fragmented at random with pings and pongs
    between the fragments. Returns the stream, its messages and its control events."""
    messages = draw(st.lists(st.binary(max_size=400), max_size=6))
    stream = bytearray()
    controls: list[Event] = []
    for message in messages:
        cuts = draw(st.lists(st.integers(0, len(message)), max_size=4))
        pieces = split(message, cuts)
        for index, piece in enumerate(pieces):
            opcode = draw(st.sampled_from([OP_BINARY, OP_TEXT])) if index == 0 else 0
            stream += encode_frame(opcode, piece, fin=index == len(pieces) - 1)
            if draw(st.booleans()):
                payload = draw(st.binary(max_size=125))
                kind = draw(st.sampled_from([(OP_PING, Ping), (OP_PONG, Pong)]))
                stream += encode_frame(kind[0], payload)
                controls.append(kind[1](payload))
    return bytes(stream), messages, controls


@given(server_streams(), st.lists(st.integers(min_value=0), max_size=20))
def test_any_fragmentation_and_any_split_give_the_same_messages(
    stream: tuple[bytes, list[bytes], list[Event]], cuts: list[int]
) -> None:
    data, messages, controls = stream
    assert messages_of(feed([data])) == (messages, controls)
    assert messages_of(feed(split(data, cuts))) == (messages, controls)


def test_byte_by_byte() -> None:
    data = (
        encode_frame(OP_BINARY, b"a" * 70000, fin=False)
        + encode_frame(OP_PING, b"p")
        + encode_frame(OP_CONTINUATION, b"b" * 300)
        + encode_frame(OP_BINARY, b"")
    )
    events = feed([data[i : i + 1] for i in range(len(data))])
    assert messages_of(events) == ([b"a" * 70000 + b"b" * 300, b""], [Ping(b"p")])


def test_payload_is_handed_on_before_its_frame_is_complete() -> None:
    reader = FrameReader()
    frame = encode_frame(OP_BINARY, b"INFO {}\r\nPING\r\n")
    assert reader.receive_data(frame[:9]) == [b"INFO {}"]
    assert reader.receive_data(frame[9:]) == [b"\r\nPING\r\n", MESSAGE_END]


def test_close_ends_the_stream() -> None:
    reader = FrameReader()
    events = reader.receive_data(
        encode_frame(OP_BINARY, b"x") + encode_close(1001, "going away", None) + b"junk"
    )
    assert events == [b"x", MESSAGE_END, Close(1001, "going away")]
    assert reader.closed
    assert reader.receive_data(b"\xff\xff") == []
    assert feed([encode_frame(OP_CLOSE)]) == [Close(1005, "")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x82\x81abcd\x00", "masked"),
        (b"\xc2\x00", "reserved bits"),
        (b"\x83\x00", "unknown WebSocket data opcode"),
        (b"\x8b\x00", "unknown WebSocket control opcode"),
        (b"\x09\x00", "fragmented WebSocket control frame"),
        (b"\x89\x7e\x00\x7e" + b"x" * 126, "control frame of 126 bytes"),
        (b"\x80\x00", "continuation frame outside a message"),
        (b"\x02\x01a\x82\x00", "new WebSocket message before the last one ended"),
        (b"\x88\x01\x03", "1-byte payload"),
        (b"\x82\x7f\x80" + b"\x00" * 7, "most significant bit"),
    ],
)
def test_invalid_frames_raise_one_clear_error(data: bytes, message: str) -> None:
    reader = FrameReader()
    with pytest.raises(WebSocketError, match=message):
        reader.receive_data(data)
    with pytest.raises(WebSocketError, match="takes no more input"):
        reader.receive_data(encode_frame(OP_BINARY, b"x"))


def test_events_before_an_error_ride_on_it() -> None:
    with pytest.raises(WebSocketError) as caught:
        FrameReader().receive_data(encode_frame(OP_BINARY, b"ok") + b"\xc2\x00")
    assert list(caught.value.frames) == [b"ok", MESSAGE_END]
    assert isinstance(caught.value, RemoteProtocolError)


@given(st.lists(st.binary(max_size=64), max_size=8))
def test_garbage_gives_events_or_a_websocket_error(chunks: list[bytes]) -> None:
    reader = FrameReader()
    for chunk in chunks:
        try:
            events = reader.receive_data(chunk)
        except WebSocketError:
            return
        for event in events:
            assert isinstance(event, (bytes, Ping, Pong, Close)) or event is MESSAGE_END


# -------------------------------------------------------------------- upgrade

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
GOOD = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)


def test_the_accept_value_of_rfc_6455() -> None:
    assert accept_value(KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert new_key(bytes(range(16))) == "AAECAwQFBgcICQoLDA0ODw=="
    with pytest.raises(ValueError):
        new_key(b"short")


def test_upgrade_request_with_headers() -> None:
    request = upgrade_request("::1", 8080, "/ws", KEY, {"X-One": "1", "X-Two": ["a", "b"]})
    assert request.startswith(b"GET /ws HTTP/1.1\r\nHost: [::1]:8080\r\n")
    assert b"\r\nSec-WebSocket-Key: " + KEY.encode() + b"\r\n" in request
    assert b"\r\nX-One: 1\r\nX-Two: a\r\nX-Two: b\r\n\r\n" in request
    with pytest.raises(LocalProtocolError, match="CR or LF"):
        upgrade_request("h", 80, "/", KEY, {"X": "a\r\nInjected: 1"})
    with pytest.raises(LocalProtocolError, match="header name"):
        upgrade_request("h", 80, "/", KEY, {"Bad Name": "x"})


@given(st.lists(st.integers(min_value=0), max_size=10))
def test_upgrade_response_in_any_pieces_returns_what_follows(cuts: list[int]) -> None:
    frame = encode_frame(OP_BINARY, b"INFO {}\r\n")
    response = UpgradeResponse(KEY)
    chunks = split(GOOD + frame, cuts)
    rest = None
    used = 0
    while rest is None and used < len(chunks):
        rest = response.receive_data(chunks[used])
        used += 1
    assert rest is not None, "the response never completed"
    assert rest + b"".join(chunks[used:]) == frame
    assert response.headers["upgrade"] == "websocket"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"INFO {}\r\n", "not an HTTP response"),
        (b"HTTP/1.1 404 Not Found\r\n\r\n", "refused the WebSocket upgrade: 'HTTP/1.1 404"),
        (GOOD.replace(b"s3pP", b"AAAA"), "wrong Sec-WebSocket-Accept"),
        (GOOD.replace(b"Upgrade: websocket\r\n", b""), "Upgrade: websocket"),
        (GOOD.replace(b"Connection: Upgrade", b"Connection: close"), "Connection: Upgrade"),
        (GOOD.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: x\r\n\r\n"), "extension"),
        (GOOD.replace(b"\r\nUpgrade", b"\r\nno colon here\r\nUpgrade"), "malformed header"),
        (b"HTTP/1.1 101 OK\r\n" + b"X: y\r\n" * 3000, "longer than"),
    ],
)
def test_bad_upgrade_responses(answer: bytes, message: str) -> None:
    with pytest.raises(UpgradeError, match=message):
        UpgradeResponse(KEY).receive_data(answer)


def test_the_fuzz_target_passes_its_seeds_and_catches_a_broken_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fuzz import websocket_target
    from fuzz.targets import TARGETS, run_seeds

    assert TARGETS["websocket"] is websocket_target.check_websocket
    seeds = websocket_target.seeds()
    assert run_seeds("websocket", seeds.values()) == len(seeds) > 0

    def broken(self: FrameReader, data: bytes) -> list[Event]:
        raise IndexError("a bug")

    monkeypatch.setattr(FrameReader, "receive_data", broken)
    with pytest.raises(websocket_target.InvariantError, match="IndexError escaped"):
        websocket_target.check_websocket(b"\x82\x00")


# --------------------------------------------------------------- permessage-deflate


def deflated_stream(messages: list[bytes], cuts: list[int], keep_context: bool) -> bytes:
    """``messages`` compressed (one context for all when ``keep_context``), each split
    into frames at ``cuts``."""
    shared = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    stream = bytearray()
    for message in messages:
        if keep_context:
            body = shared.compress(message) + shared.flush(zlib.Z_SYNC_FLUSH)
            body = body[:-4]
        else:
            body = deflate_message(message)
        pieces = split(body, cuts)
        for index, piece in enumerate(pieces):
            stream += encode_frame(
                OP_BINARY if index == 0 else OP_CONTINUATION,
                piece,
                fin=index == len(pieces) - 1,
                compressed=index == 0,
            )
    return bytes(stream)


@given(
    st.lists(st.binary(max_size=2000) | st.just(b"MSG a 1 5\r\nhello\r\n" * 50), max_size=5),
    st.lists(st.integers(min_value=0), max_size=4),
    st.lists(st.integers(min_value=0), max_size=20),
    st.booleans(),
)
def test_compressed_messages_in_any_pieces_inflate_to_the_same_messages(
    messages: list[bytes], frame_cuts: list[int], read_cuts: list[int], keep_context: bool
) -> None:
    data = deflated_stream(messages, frame_cuts, keep_context)
    reader = FrameReader(compressed=True, server_context_takeover=keep_context)
    events: list[Event] = []
    for chunk in split(data, read_cuts):
        events += reader.receive_data(chunk)
    assert messages_of(events) == (messages, [])
    assert all(event for event in events if isinstance(event, bytes))


def test_compressed_and_plain_messages_mix() -> None:
    data = (
        encode_frame(OP_BINARY, b"plain")
        + encode_frame(OP_BINARY, deflate_message(b"packed" * 100), compressed=True)
        + encode_frame(OP_TEXT, b"text")
    )
    events = FrameReader(compressed=True).receive_data(data)
    assert messages_of(events) == ([b"plain", b"packed" * 100, b"text"], [])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (encode_frame(OP_BINARY, b"\xff\xff\xff", compressed=True), "bad compressed"),
        (
            encode_frame(OP_BINARY, deflate_message(b"x"), fin=False, compressed=True)
            + bytes([0x80 | 0x40, 0]),
            "reserved bits",
        ),
        (bytes([0x89 | 0x40, 0]), "reserved bits"),
        (bytes([0xA2, 0]), "reserved bits"),
        (
            encode_frame(OP_BINARY, zlib.compress(b"x")[2:-4] + b"more", compressed=True),
            "after the end",
        ),
    ],
)
def test_bad_compressed_frames(data: bytes, message: str) -> None:
    with pytest.raises(WebSocketError, match=message):
        FrameReader(compressed=True).receive_data(data)


def test_a_message_may_not_inflate_without_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(websocket, "MAX_INFLATED_MESSAGE", 1000)
    reader = FrameReader(compressed=True)
    assert messages_of(
        reader.receive_data(encode_frame(OP_BINARY, deflate_message(b"a" * 1000), compressed=True))
    ) == ([b"a" * 1000], [])
    with pytest.raises(WebSocketError, match="inflates past 1000 bytes"):
        reader.receive_data(encode_frame(OP_BINARY, deflate_message(b"a" * 1001), compressed=True))


def test_compression_is_offered_only_when_asked() -> None:
    assert b"Sec-WebSocket-Extensions" not in upgrade_request("h", 80, "/", KEY)
    offer = upgrade_request("h", 80, "/", KEY, compression=True)
    assert b"\r\nSec-WebSocket-Extensions: " + DEFLATE_OFFER.encode() + b"\r\n" in offer


def with_extension(value: str) -> bytes:
    return GOOD.replace(b"\r\n\r\n", f"\r\nSec-WebSocket-Extensions: {value}\r\n\r\n".encode())


@pytest.mark.parametrize(
    ("value", "takeover"),
    [
        ("permessage-deflate; server_no_context_takeover; client_no_context_takeover", False),
        ("permessage-deflate;server_no_context_takeover", False),
        ("permessage-deflate; client_no_context_takeover; server_max_window_bits=10", True),
        ("permessage-deflate", True),
    ],
)
def test_the_server_takes_the_offer(value: str, takeover: bool) -> None:
    response = UpgradeResponse(KEY, compression_offered=True)
    assert response.receive_data(with_extension(value)) == b""
    assert response.compression
    assert response.server_context_takeover is takeover
    plain = UpgradeResponse(KEY, compression_offered=True)
    assert plain.receive_data(GOOD) == b"" and not plain.compression


@pytest.mark.parametrize(
    "value",
    [
        "permessage-deflate; client_max_window_bits=10",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; what=1",
        "permessage-deflate, permessage-deflate",
        "x-webkit-deflate-frame",
    ],
)
def test_unacceptable_answers_to_the_offer(value: str) -> None:
    with pytest.raises(UpgradeError, match=r"permessage-deflate parameter|did not offer"):
        UpgradeResponse(KEY, compression_offered=True).receive_data(with_extension(value))
    with pytest.raises(UpgradeError, match="did not offer"):
        UpgradeResponse(KEY).receive_data(with_extension("permessage-deflate"))
