"""Serialize with the encode_* functions, parse with the right role: same frame back."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from protocol_strategies import (
    Case,
    connect_frames,
    err_frames,
    headers,
    hmsg_frames,
    hpub_frames,
    info_frames,
    msg_frames,
    pub_frames,
    sub_frames,
    unsub_frames,
)

from natswire.protocol import (
    OK,
    PING,
    PONG,
    Frame,
    Headers,
    HMsg,
    HPub,
    Msg,
    Parser,
    Pub,
    Role,
    encode_headers,
    encode_hmsg,
    encode_hpub,
    encode_msg,
    encode_ok,
    encode_ping,
    encode_pong,
    encode_pub,
    parse_headers,
)

SETTINGS = settings(max_examples=150, deadline=None)
BIG = b"MSG a 1 3\r\n\r\n" * (64 * 1024 // 14) + b"x" * (64 * 1024 % 14)


def parse_one(role: Role, wire: bytes) -> Frame:
    parser = Parser(role)
    frames = parser.receive_data(wire)
    assert len(frames) == 1, frames
    assert parser.buffered == 0
    return frames[0]


def check(role: Role, case: Case) -> Frame:
    wire, expected = case
    frame = parse_one(role, wire)
    assert frame == expected
    assert type(frame) is type(expected)
    return frame


@SETTINGS
@given(msg_frames())
@example((encode_msg("a", 1, BIG), Msg(b"a", b"1", None, BIG)))
@example((encode_msg("a.b", 7, b"", "_INBOX.x"), Msg(b"a.b", b"7", b"_INBOX.x", b"")))
def test_msg(case: Case) -> None:
    frame = check(Role.CLIENT, case)
    assert isinstance(frame, Msg)
    assert isinstance(frame.payload, bytes)


@SETTINGS
@given(hmsg_frames())
@example(
    (
        encode_hmsg("_INBOX.a", 1, Headers(status=503), b""),
        HMsg(b"_INBOX.a", b"1", None, b"NATS/1.0 503\r\n\r\n", b""),
    )
)
def test_hmsg(case: Case) -> None:
    frame = check(Role.CLIENT, case)
    assert isinstance(frame, HMsg)
    assert isinstance(frame.raw_headers, bytes) and isinstance(frame.payload, bytes)


@SETTINGS
@given(hmsg_frames(), headers())
def test_hmsg_headers_parse_back(case: Case, hdrs: Headers) -> None:
    """The header block of a parsed HMSG parses back to the headers that were sent."""
    subject = case[1].subject  # type: ignore[union-attr]
    frame = parse_one(Role.CLIENT, encode_hmsg(subject, 1, hdrs, b"body"))
    assert isinstance(frame, HMsg)
    parsed = parse_headers(frame.raw_headers)
    assert parsed == hdrs
    assert parsed.multi_items() == hdrs.multi_items()
    assert (parsed.status, parsed.description) == (hdrs.status, hdrs.description)
    assert frame.payload == b"body"


@SETTINGS
@given(pub_frames())
@example((encode_pub("a", BIG), Pub(b"a", None, BIG)))
def test_pub(case: Case) -> None:
    check(Role.SERVER, case)


@SETTINGS
@given(hpub_frames(), headers())
def test_hpub(case: Case, hdrs: Headers) -> None:
    frame = check(Role.SERVER, case)
    assert isinstance(frame, HPub)
    again = parse_one(Role.SERVER, encode_hpub(frame.subject, hdrs, frame.payload, frame.reply))
    assert isinstance(again, HPub)
    assert parse_headers(again.raw_headers) == hdrs


@SETTINGS
@given(sub_frames())
def test_sub(case: Case) -> None:
    check(Role.SERVER, case)


@SETTINGS
@given(unsub_frames())
def test_unsub(case: Case) -> None:
    check(Role.SERVER, case)


@SETTINGS
@given(info_frames)
def test_info(case: Case) -> None:
    check(Role.CLIENT, case)


@SETTINGS
@given(connect_frames)
def test_connect(case: Case) -> None:
    check(Role.SERVER, case)


@SETTINGS
@given(err_frames)
def test_err(case: Case) -> None:
    check(Role.CLIENT, case)


@pytest.mark.parametrize("role", [Role.CLIENT, Role.SERVER])
@pytest.mark.parametrize(
    ("wire", "expected"), [(encode_ping(), PING), (encode_pong(), PONG)], ids=["PING", "PONG"]
)
def test_ping_pong_both_roles(role: Role, wire: bytes, expected: Frame) -> None:
    assert parse_one(role, wire) is expected


def test_ok() -> None:
    assert parse_one(Role.CLIENT, encode_ok()) is OK


@SETTINGS
@given(headers())
@example(Headers(status=408, description="Request Timeout"))
@example(Headers([("Nats-Subject", "a.b")], status=503))
@example(Headers([("A", "1"), ("a", "2"), ("A", "3")]))
def test_headers_block(hdrs: Headers) -> None:
    """encode_headers then parse_headers keeps pairs, order, case, status and description."""
    parsed = parse_headers(encode_headers(hdrs))
    assert parsed == hdrs
    assert parsed.multi_items() == hdrs.multi_items()
    assert parsed.status == hdrs.status
    assert parsed.description == hdrs.description
