"""A run of HMSG frames takes its own loop, which remembers control lines and header
blocks; what it remembers never changes a frame, never skips a check, and stops growing
when lines or blocks do not repeat."""

from __future__ import annotations

import itertools
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protocol_strategies import Case, hmsg_frames, msg_frames

from natswire.protocol import (
    PING,
    HMsg,
    Msg,
    Parser,
    PayloadTooLargeError,
    RemoteProtocolError,
    client_role,
)

HEADERS = b"NATS/1.0\r\nFoo: bar\r\n\r\n"


def feed(parser: Parser, chunks: list[bytes]) -> list[object]:
    return [frame for chunk in chunks for frame in parser.receive_data(chunk)]


def hmsg(subject: bytes, reply: bytes | None, headers: bytes, payload: bytes) -> bytes:
    line = b"HMSG %b 1 " % subject + (b"%b " % reply if reply else b"")
    sizes = b"%d %d\r\n" % (len(headers), len(headers) + len(payload))
    return line + sizes + headers + payload + b"\r\n"


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.one_of(hmsg_frames(), hmsg_frames(), msg_frames()), min_size=1, max_size=4),
    st.lists(st.integers(0, 3), min_size=1, max_size=60),
    st.lists(st.integers(0, 1 << 16), max_size=10),
    st.integers(0, 3),
)
def test_repeated_lines_and_blocks_in_any_order_and_any_cuts(
    pool: list[Case], order: list[int], cuts: list[int], capacity: int
) -> None:
    """A few HMSG (and MSG) frames repeated in any order, cut anywhere, with room for 0
    to 3 lines and blocks (so the caches also fill up and are dropped mid-stream), parse
    to the frames sent."""
    cases = [pool[index % len(pool)] for index in order]
    data = b"".join(wire for wire, _ in cases)
    bounds = [0, *sorted(cut % (len(data) + 1) for cut in cuts), len(data)]
    chunks = [data[start:end] for start, end in itertools.pairwise(bounds)]
    with mock.patch.object(client_role, "_HEAD_CACHE_ENTRIES", capacity):
        parser = Parser()
        assert feed(parser, chunks) == [frame for _, frame in cases]
        assert parser.buffered == 0


def test_frames_with_the_same_header_block_share_it() -> None:
    frames = Parser().receive_data(b"".join(hmsg(b"a", None, HEADERS, b"%d" % n) for n in range(3)))
    assert [frame.payload for frame in frames if isinstance(frame, HMsg)] == [b"0", b"1", b"2"]
    blocks = {id(frame.raw_headers) for frame in frames if isinstance(frame, HMsg)}
    assert len(blocks) == 1


@pytest.mark.parametrize(
    "bad",
    [
        hmsg(b"a", None, b"NATS/2.0\r\nFoo: bar\r\n\r\n", b"hi"),
        hmsg(b"a", None, b"NATS/1.0\r\nFoo: bar\r\n\r\r", b"hi"),
        hmsg(b"a", None, HEADERS, b"hi")[:-2] + b"\n\r",
    ],
    ids=["other-version", "no-blank-line", "bad-trailer"],
)
def test_a_bad_frame_after_good_ones_is_refused(bad: bytes) -> None:
    """Its line or its block's size was seen before: it is still checked."""
    good = hmsg(b"a", None, HEADERS, b"hi")
    parser = Parser()
    assert len(parser.receive_data(good * 3)) == 3
    with pytest.raises(RemoteProtocolError) as info:
        parser.receive_data(good + bad)
    assert [type(frame) for frame in info.value.frames] == [HMsg]


def test_other_frames_inside_a_run() -> None:
    """A PING, a MSG and an HMSG in another spelling leave the run's loop and come back."""
    good = hmsg(b"a", b"r", HEADERS, b"hi")
    lower = b"hmsg a 1 22 24\r\n" + HEADERS + b"hi\r\n"
    data = good * 2 + b"PING\r\nMSG b 2 2\r\nhi\r\n" + good + lower + good
    expected = HMsg(b"a", b"1", b"r", HEADERS, b"hi")
    assert Parser().receive_data(data) == [
        expected,
        expected,
        PING,
        Msg(b"b", b"2", None, b"hi"),
        expected,
        HMsg(b"a", b"1", None, HEADERS, b"hi"),
        expected,
    ]


def test_a_lowered_max_payload_applies_to_lines_seen_before() -> None:
    frame = hmsg(b"a", None, HEADERS, b"hello")
    parser = Parser()
    assert len(parser.receive_data(frame * 3)) == 3
    parser.max_payload = 26
    with pytest.raises(PayloadTooLargeError, match="over the limit of 26"):
        parser.receive_data(frame)


def test_lines_and_blocks_that_do_not_repeat_are_not_kept() -> None:
    """JetStream ack replies and unique headers fill the caches once; then they are
    dropped, and parsing goes on without them."""
    parser = Parser()
    unique = b"".join(
        hmsg(b"a", b"$JS.ACK.S.C.1.%d.%d.0.0" % (n, n), b"NATS/1.0\r\nId: %d\r\n\r\n" % n, b"hi")
        for n in range(1000)
    )
    frames = parser.receive_data(unique)
    assert [frame.reply for frame in frames if isinstance(frame, HMsg)] == [
        b"$JS.ACK.S.C.1.%d.%d.0.0" % (n, n) for n in range(1000)
    ]
    assert [frame.raw_headers for frame in frames if isinstance(frame, HMsg)] == [
        b"NATS/1.0\r\nId: %d\r\n\r\n" % n for n in range(1000)
    ]
    # The client role's reader and its caches are private: if any is renamed, update
    # this test, do not delete it.
    assert parser._reader._hmsg_heads is None
    assert parser._reader._header_blocks is None
    again = hmsg(b"a", None, HEADERS, b"hi")
    assert parser.receive_data(again * 3) == [HMsg(b"a", b"1", None, HEADERS, b"hi")] * 3


def test_large_header_blocks_are_not_kept() -> None:
    """A block over the size kept is checked for every frame and never remembered."""
    large = b"NATS/1.0\r\nBig: " + b"x" * 600 + b"\r\n\r\n"
    frames = Parser().receive_data(hmsg(b"a", None, large, b"hi") * 3)
    assert frames == [HMsg(b"a", b"1", None, large, b"hi")] * 3
    parser = Parser()
    parser.receive_data(hmsg(b"a", None, large, b"hi") + hmsg(b"a", None, HEADERS, b"hi"))
    assert parser._reader._header_blocks == {HEADERS: HEADERS}
    with pytest.raises(RemoteProtocolError):
        Parser().receive_data(hmsg(b"a", None, large, b"hi") + hmsg(b"a", None, large[1:], b"hi"))
