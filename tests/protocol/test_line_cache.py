"""The parser remembers the MSG control lines it has seen; what it remembers never changes
a frame, never skips a check, and stops growing when lines do not repeat."""

from __future__ import annotations

import itertools
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protocol_strategies import Case, msg_frames

from natswire.protocol import Msg, Parser, PayloadTooLargeError, client_role


def feed(parser: Parser, chunks: list[bytes]) -> list[object]:
    return [frame for chunk in chunks for frame in parser.receive_data(chunk)]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(msg_frames(), min_size=1, max_size=4),
    st.lists(st.integers(0, 3), min_size=1, max_size=60),
    st.lists(st.integers(0, 1 << 16), max_size=10),
    st.integers(0, 3),
)
def test_repeated_lines_in_any_order_and_any_cuts(
    pool: list[Case], order: list[int], cuts: list[int], capacity: int
) -> None:
    """A few frames repeated in any order, cut anywhere, with room for 0 to 3 lines (so
    the cache also fills up and is dropped mid-stream), parse to the frames sent."""
    cases = [pool[index % len(pool)] for index in order]
    data = b"".join(wire for wire, _ in cases)
    bounds = [0, *sorted(cut % (len(data) + 1) for cut in cuts), len(data)]
    chunks = [data[start:end] for start, end in itertools.pairwise(bounds)]
    with mock.patch.object(client_role, "_HEAD_CACHE_ENTRIES", capacity):
        parser = Parser()
        assert feed(parser, chunks) == [frame for _, frame in cases]
        assert parser.buffered == 0


def test_a_remembered_line_whose_payload_holds_a_crlf() -> None:
    """The remembered line meets a payload that spans two pieces; the line parsed just
    before it was a different one."""
    data = b"MSG y 2 5\r\nhello\r\nMSG x 1 3\r\nabc\r\nMSG y 2 5\r\nh\r\nlo\r\n"
    assert Parser().receive_data(data) == [
        Msg(b"y", b"2", None, b"hello"),
        Msg(b"x", b"1", None, b"abc"),
        Msg(b"y", b"2", None, b"h\r\nlo"),
    ]


def test_a_remembered_line_whose_payload_is_still_arriving() -> None:
    parser = Parser()
    first = parser.receive_data(b"MSG y 2 5\r\nhello\r\nMSG x 1 3\r\nabc\r\nMSG y 2 5\r\nhello")
    assert first == [Msg(b"y", b"2", None, b"hello"), Msg(b"x", b"1", None, b"abc")]
    assert parser.receive_data(b"\r\n") == [Msg(b"y", b"2", None, b"hello")]
    assert parser.buffered == 0


def test_a_lowered_max_payload_applies_to_lines_seen_before() -> None:
    """The client learns max_payload from INFO after the parser exists."""
    frame = b"MSG a 1 5\r\nhello\r\n"
    parser = Parser()
    assert len(parser.receive_data(frame * 3)) == 3
    parser.max_payload = 4
    with pytest.raises(PayloadTooLargeError, match="over the limit of 4"):
        parser.receive_data(frame)


def test_lines_that_do_not_repeat_are_not_kept() -> None:
    """Unique reply subjects (requests, JetStream acks) fill the cache once; then it is
    dropped, and parsing goes on without it."""
    parser = Parser()
    unique = b"".join(b"MSG a 1 _INBOX.x.%d 2\r\nhi\r\n" % n for n in range(2000))
    frames = parser.receive_data(unique)
    assert [frame.reply for frame in frames] == [b"_INBOX.x.%d" % n for n in range(2000)]
    # The client role's reader and its line cache are private: if either is renamed,
    # update this test, do not delete it.
    assert parser._reader._heads is None
    assert parser.receive_data(b"MSG a 1 2\r\nhi\r\n" * 3) == [Msg(b"a", b"1", None, b"hi")] * 3
