"""HeadDecoder: the one decoder of MSG, HMSG, PUB and HPUB arguments, and the contract of
its known sizes, which the client role's fast paths take as already decided."""

from __future__ import annotations

import pytest

from natswire.protocol import PayloadTooLargeError, RemoteProtocolError
from natswire.protocol.heads import HeadDecoder


def test_heads_in_every_spelling() -> None:
    decoder = HeadDecoder(None)
    assert decoder.msg(b"MSG a 1 5\r") == (b"a", b"1", None, 5)
    assert decoder.msg(b"msg\ta  1\t r 005 ") == (b"a", b"1", b"r", 5)
    assert decoder.hmsg(b"HMSG a 1 12 14") == (b"a", b"1", None, 12, 14)
    assert decoder.hmsg(b"hmsg a 1 r 12 14\r") == (b"a", b"1", b"r", 12, 14)
    assert decoder.pub(b"PUB a 2") == (b"a", None, 2)
    assert decoder.pub(b"pub a r 2") == (b"a", b"r", 2)
    assert decoder.hpub(b"HPUB a 12 14") == (b"a", None, 12, 14)
    assert decoder.hpub(b"HPUB a r 12 14") == (b"a", b"r", 12, 14)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"MSG a 5", "MSG takes 3 or 4 arguments, got 2: b'MSG a 5'"),
        (b"HMSG a 1 12\r", "HMSG takes 4 or 5 arguments, got 3: b'HMSG a 1 12'"),
        (b"MSG a 1 x", "size is not a non-negative decimal number"),
        # Digits first, then the header size against the total, then the limit.
        (b"HMSG a 1 x 99", "size is not a non-negative decimal number"),
        (b"HMSG a 1 13 12", "header size 13 exceeds total size 12"),
        (b"HMSG a 1 5 12", "frame announces 12 payload bytes, over the limit of 10"),
    ],
)
def test_the_first_broken_rule_is_named(line: bytes, message: str) -> None:
    decoder = HeadDecoder(10)
    with pytest.raises(RemoteProtocolError) as info:
        if line.startswith(b"H"):
            decoder.hmsg(line)
        else:
            decoder.msg(line)
    assert message in str(info.value)


def test_known_sizes_hold_only_accepted_fields() -> None:
    decoder = HeadDecoder(100)
    known = decoder.known_sizes
    decoder.msg(b"MSG a 1 007")
    decoder.hmsg(b"HMSG a 1 12 40")
    for line in (b"MSG a 1 x", b"MSG a 1 101", b"HMSG a 1 50 40", b"HMSG a 1 12 200"):
        with pytest.raises(RemoteProtocolError):
            decoder.hmsg(line) if line.startswith(b"H") else decoder.msg(line)
    assert known == {b"007": 7, b"12": 12, b"40": 40}


def test_known_sizes_are_cleared_not_replaced_when_the_limit_changes() -> None:
    """A reader keeps a reference to the dict: a lowered limit must reach it."""
    decoder = HeadDecoder(None)
    known = decoder.known_sizes
    decoder.msg(b"MSG a 1 50")
    assert known == {b"50": 50}
    decoder.max_payload = 10
    assert decoder.known_sizes is known and not known
    with pytest.raises(PayloadTooLargeError, match="over the limit of 10"):
        decoder.msg(b"MSG a 1 50")
