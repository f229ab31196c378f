"""A stream parses to the same frames whole, split anywhere, in random chunks, byte by byte."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protocol_strategies import lenient_streams, roles, streams

from natswire.protocol import (
    PING,
    ControlLineTooLongError,
    Frame,
    HMsg,
    HPub,
    Msg,
    Parser,
    Pub,
    Role,
    client_role,
    encode_hmsg,
    encode_hpub,
    encode_info,
    encode_msg,
    encode_ping,
    encode_pub,
)

SETTINGS = settings(max_examples=60, deadline=None)


def feed(parser: Parser, chunks: Iterable[bytes | bytearray | memoryview]) -> list[Frame]:
    frames: list[Frame] = []
    for chunk in chunks:
        frames.extend(parser.receive_data(chunk))
    return frames


def byte_by_byte(data: bytes) -> Iterable[memoryview]:
    view = memoryview(data)
    return (view[index : index + 1] for index in range(len(data)))


@st.composite
def stream_and_cuts(draw: st.DrawFn) -> tuple[Role, bytes, list[Frame], list[int]]:
    role = draw(roles)
    data, frames = draw(streams(role))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=30)))
    return role, data, frames, cuts


@SETTINGS
@given(stream_and_cuts())
def test_whole_and_random_chunks(case: tuple[Role, bytes, list[Frame], list[int]]) -> None:
    role, data, expected, cuts = case
    parser = Parser(role)
    assert parser.receive_data(data) == expected
    assert parser.buffered == 0

    bounds = [0, *cuts, len(data)]
    chunks = [data[start:end] for start, end in itertools.pairwise(bounds)]
    parser = Parser(role)
    assert feed(parser, chunks) == expected
    assert parser.buffered == 0


@SETTINGS
@given(
    roles.flatmap(lambda role: st.tuples(st.just(role), lenient_streams(role))),
    st.lists(st.integers(0, 4096), max_size=12),
)
def test_lenient_spelling_and_the_tightest_line_limit(
    case: tuple[Role, tuple[bytes, list[Frame], int]], cuts: list[int]
) -> None:
    """Bare-LF line ends and lower-case operations, under a line limit equal to the
    longest control line: everything parses, whole, in chunks and byte by byte; one
    byte less and the longest line is refused."""
    role, (data, expected, longest) = case
    bounds = [0, *sorted(cut % (len(data) + 1) for cut in cuts), len(data)]
    chunks = [data[start:end] for start, end in itertools.pairwise(bounds)]
    assert Parser(role, max_control_line=longest).receive_data(data) == expected
    parser = Parser(role, max_control_line=longest)
    assert feed(parser, chunks) == expected
    assert parser.buffered == 0
    assert feed(Parser(role, max_control_line=longest), byte_by_byte(data)) == expected
    with pytest.raises(ControlLineTooLongError):
        feed(Parser(role, max_control_line=longest - 1), chunks)


@settings(max_examples=25, deadline=None)
@given(
    roles.flatmap(lambda role: st.tuples(st.just(role), streams(role, small=True, max_frames=5)))
)
def test_every_split_point(case: tuple[Role, tuple[bytes, list[Frame]]]) -> None:
    role, (data, expected) = case
    for cut in range(len(data) + 1):
        parser = Parser(role)
        first = parser.receive_data(data[:cut])
        # Every frame that ends before the cut is already out, in order.
        assert first == expected[: len(first)]
        assert first + parser.receive_data(data[cut:]) == expected, cut
        assert parser.buffered == 0


@SETTINGS
@given(roles.flatmap(lambda role: st.tuples(st.just(role), streams(role, max_frames=6))))
def test_byte_by_byte(case: tuple[Role, tuple[bytes, list[Frame]]]) -> None:
    role, (data, expected) = case
    parser = Parser(role)
    assert feed(parser, byte_by_byte(data)) == expected
    assert parser.buffered == 0


@SETTINGS
@given(
    roles.flatmap(lambda role: st.tuples(st.just(role), streams(role, small=True))),
    st.sampled_from([bytes, bytearray, memoryview]),
)
def test_input_types(case: tuple[Role, tuple[bytes, list[Frame]]], kind: type) -> None:
    """bytes, bytearray and memoryview input parse alike, and the parser keeps no view."""
    role, (data, expected) = case
    buffer = bytearray(data)
    parser = Parser(role)
    middle = len(data) // 2
    frames = parser.receive_data(kind(buffer[:middle]))
    frames += parser.receive_data(kind(buffer[middle:]))
    buffer[:] = b"\x00" * len(buffer)  # the caller reuses its buffer
    assert frames == expected


@pytest.mark.parametrize(
    "frame",
    [
        encode_msg("js.x", 7, b"0123456789abcdef", "$JS.ACK.S.C.1.2.3.4.5"),
        encode_hmsg("js.x", 7, {"A": "1"}, b"0123456789abcdef", "$JS.ACK.S.C.1.2.3.4.5"),
        encode_msg("big", 7, bytes(100_000)),
    ],
)
@pytest.mark.parametrize("cut_into_payload", [1, 10])
def test_a_cut_frame_is_completed_without_parsing_its_head_again(
    frame: bytes, cut_into_payload: int
) -> None:
    """A frame cut by the end of a read keeps its parsed head: the next read completes it
    from the bytes it lacks, and the reader parses only what follows it."""
    head_end = frame.index(b"\n") + 1
    cut = head_end + cut_into_payload
    following = encode_msg("next", 7, b"x") + encode_ping()
    expected = Parser(Role.CLIENT).receive_data(frame + following)
    parser = Parser(Role.CLIENT)
    parsed: list[bytes] = []
    original = client_role.ClientFrameReader.parse

    def spy(
        reader: client_role.ClientFrameReader, chunk: bytes, frames: list[Frame], pos: int = 0
    ) -> int:
        parsed.append(bytes(chunk[pos:]))
        return original(reader, chunk, frames, pos)

    with mock.patch.object(client_role.ClientFrameReader, "parse", spy):
        assert parser.receive_data(frame[:cut]) == []
        assert parsed == [frame[:cut]]
        assert parser.receive_data(frame[cut:] + following) == expected
    assert parser.buffered == 0
    # The second read was parsed from the frame after the cut one, not from its head.
    assert parsed[1:] == [following]


@settings(max_examples=40, deadline=None)
@given(
    roles.flatmap(lambda role: st.tuples(st.just(role), lenient_streams(role))),
    st.integers(1, 300),
    st.booleans(),
)
def test_a_big_chunk_split_a_window_at_a_time(
    case: tuple[Role, tuple[bytes, list[Frame], int]], window: int, tight: bool
) -> None:
    """A chunk past the split window (32 KiB) is split a window at a time; frames cut by
    a window's end, bare-LF lines and the tightest line limit make no difference."""
    role, (data, expected, longest) = case
    limit = {"max_control_line": longest} if tight else {}
    with mock.patch.object(client_role, "_SPLIT_WINDOW", window):
        stream = data * 3
        parser = Parser(role, **limit)
        assert parser.receive_data(stream) == expected * 3
        assert parser.buffered == 0
        cut = len(data) + len(data) // 2
        parser = Parser(role, **limit)
        assert feed(parser, [stream[:cut], stream[cut:]]) == expected * 3
        assert parser.buffered == 0


def test_large_frames_in_chunks() -> None:
    """Frames of hundreds of KiB, mixed with small ones, cut at many sizes."""
    big = bytes(range(256)) * 1024  # 256 KiB
    client = [
        (encode_msg("big", 1, big), Msg(b"big", b"1", None, big)),
        (encode_ping(), PING),
        (
            encode_hmsg("big", 2, {"A": "1"}, big, "r"),
            HMsg(b"big", b"2", b"r", b"NATS/1.0\r\nA: 1\r\n\r\n", big),
        ),
        (encode_msg("small", 3, b"x\r\n"), Msg(b"small", b"3", None, b"x\r\n")),
        (encode_msg("big", 4, big[:70_000]), Msg(b"big", b"4", None, big[:70_000])),
    ]
    data = b"".join(wire for wire, _ in client)
    whole = Parser(Role.CLIENT).receive_data(data)
    assert whole == [frame for _, frame in client]
    for size in (1, 7, 4096, 65_535, 65_536, 65_537, 100_000, len(data) - 1):
        parser = Parser(Role.CLIENT)
        assert feed(parser, (data[i : i + size] for i in range(0, len(data), size))) == whole
        assert parser.buffered == 0

    server = encode_pub("a", big, "r") + encode_hpub("b", {"K": ["1", "2"]}, big) + b"PING\r\n"
    whole = Parser(Role.SERVER).receive_data(server)
    assert [type(frame).__name__ for frame in whole] == ["Pub", "HPub", "Ping"]
    assert isinstance(whole[0], Pub) and whole[0].payload == big
    assert isinstance(whole[1], HPub) and whole[1].payload == big
    for size in (1, 4096, 65_536, 70_001):
        parser = Parser(Role.SERVER)
        assert feed(parser, (server[i : i + size] for i in range(0, len(server), size))) == whole


@pytest.mark.parametrize(
    "case",
    [
        (encode_msg("a", 1, b"m" * 1000), Msg(b"a", b"1", None, b"m" * 1000)),
        (
            encode_hmsg("a", 1, {"K": "v"}, b"h" * 16, "r"),
            HMsg(b"a", b"1", b"r", b"NATS/1.0\r\nK: v\r\n\r\n", b"h" * 16),
        ),
    ],
    ids=["msg-1kib", "hmsg"],
)
def test_a_frame_cut_after_whole_ones_waits_for_its_own_bytes(case: tuple[bytes, Frame]) -> None:
    """Large MSG and HMSG streams are parsed by offsets: a frame cut at the end of a read,
    after whole frames, completes with exactly its own missing bytes."""
    wire, frame = case
    data = wire * 3
    for cut in range(2 * len(wire) + 1, 3 * len(wire)):
        parser = Parser(Role.CLIENT)
        assert parser.receive_data(data[:cut]) == [frame, frame]
        assert parser.receive_data(data[cut:]) == [frame]
        assert parser.buffered == 0


class CountingBuffer(bytearray):
    """A receive buffer that counts the bytes searched for a line end and copied out."""

    searched = 0
    copied = 0

    def find(self, sub: object, start: int | None = None, *rest: object) -> int:  # type: ignore[override]
        begin = 0 if start is None else start
        found = super().find(sub, begin, *rest)  # type: ignore[arg-type]
        CountingBuffer.searched += (found + 1 if found >= 0 else len(self)) - begin
        return found

    def __bytes__(self) -> bytes:
        CountingBuffer.copied += len(self)
        return bytes(memoryview(self))


def counting_parser(role: Role, **options: int) -> Parser:
    parser = Parser(role, **options)
    # Relies on the parser's private receive buffer: if it is renamed, this test must
    # be updated, not deleted (AttributeError tells you so).
    assert isinstance(parser._buffer, bytearray)
    parser._buffer = CountingBuffer()
    CountingBuffer.searched = CountingBuffer.copied = 0
    return parser


@pytest.mark.timeout(60)
def test_4mib_payload_byte_by_byte_is_linear() -> None:
    """A 4 MiB MSG payload fed one byte at a time (4 Mi calls, about 2 s here).

    A parser that rescans or recopies its buffer per call would be quadratic: about
    8 TiB of copying, which the timeout turns into a failure. The work counters
    make the same point without timing anything: searched and copied bytes stay
    within a small multiple of the input.
    """
    payload = b"0123456789\r\n" * (4 * 1024 * 1024 // 12) + b"MSG\r\n"
    data = encode_msg("big.subject", 9, payload, "reply") + b"PING\r\n"
    parser = counting_parser(Role.CLIENT)
    frames = feed(parser, byte_by_byte(data))
    assert len(frames) == 2
    assert isinstance(frames[0], Msg) and frames[0].payload == payload
    assert parser.buffered == 0
    assert CountingBuffer.searched <= 2 * len(data)
    assert CountingBuffer.copied <= 2 * len(data)


@pytest.mark.timeout(60)
def test_1mib_hpub_byte_by_byte_is_linear() -> None:
    payload = b"\r\n" * (512 * 1024)
    data = encode_hpub("big", {"Nats-Msg-Id": "1"}, payload) + b"PING\r\n"
    parser = counting_parser(Role.SERVER)
    frames = feed(parser, byte_by_byte(data))
    assert len(frames) == 2 and isinstance(frames[0], HPub)
    assert frames[0].payload == payload
    assert CountingBuffer.searched <= 2 * len(data)
    assert CountingBuffer.copied <= 2 * len(data)


def test_long_control_line_byte_by_byte_is_linear() -> None:
    """A 60 KiB INFO line, byte by byte: the line end is searched for once per byte."""
    info = encode_info({"connect_urls": [f"10.0.{i // 256}.{i % 256}:4222" for i in range(3500)]})
    assert 50_000 < len(info) < 64 * 1024
    parser = counting_parser(Role.CLIENT)
    frames = feed(parser, byte_by_byte(info))
    assert len(frames) == 1
    # A parser that rescanned the whole buffer per byte would search ~1.8 GB here.
    assert CountingBuffer.searched <= 2 * len(info)
    assert CountingBuffer.copied <= 2 * len(info)


@pytest.mark.parametrize("role", [Role.CLIENT, Role.SERVER])
def test_unterminated_line_fails_as_soon_as_it_passes_the_limit(role: Role) -> None:
    parser = counting_parser(role, max_control_line=1000)
    line = b"INFO " if role is Role.CLIENT else b"CONNECT "
    parser.receive_data(line)
    for _ in range(1000 - len(line)):
        assert parser.receive_data(b"x") == []
    assert parser.buffered == 1000
    with pytest.raises(ControlLineTooLongError, match="exceeds the limit of 1000"):
        parser.receive_data(b"x")
    assert CountingBuffer.searched <= 2 * 1001
