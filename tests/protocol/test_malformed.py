"""Malformed input raises RemoteProtocolError naming the problem; lenient grammar parses."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from natswire.protocol import (
    OK,
    PING,
    PONG,
    Connect,
    ControlLineTooLongError,
    Err,
    Frame,
    HMsg,
    HPub,
    Info,
    Msg,
    Parser,
    PayloadTooLargeError,
    ProtocolError,
    Pub,
    RemoteProtocolError,
    Role,
    Sub,
    Unsub,
)

C, S = Role.CLIENT, Role.SERVER

TRAILER = "payload is not followed by CRLF"
SIZE = "size is not a non-negative decimal number"
UNKNOWN = "unknown protocol operation"
HEADER_BLOCK = "header block is not a NATS/1.0 block"
TOO_LONG = "exceeds the limit of"


class Bad(NamedTuple):
    role: Role
    data: bytes
    message: str
    options: dict[str, Any] = {}


MALFORMED: dict[str, Bad] = {
    # Payload trailers.
    "msg-trailer-junk": Bad(C, b"MSG a 1 2\r\nhiXX", TRAILER),
    "msg-trailer-lf-only": Bad(C, b"MSG a 1 2\r\nhi\n\r\n", TRAILER),
    "msg-trailer-cr-only": Bad(C, b"MSG a 1 2\r\nhi\rPING\r\n", TRAILER),
    "msg-size-too-small": Bad(C, b"MSG a 1 1\r\nhi\r\n", TRAILER),
    "msg-size-too-large": Bad(C, b"MSG a 1 3\r\nhi\r\nPING\r\n", TRAILER),
    "hmsg-trailer": Bad(C, b"HMSG a 1 12 14\r\nNATS/1.0\r\n\r\nhi..", TRAILER),
    "hmsg-trailer-cr-only": Bad(C, b"HMSG a 1 12 14\r\nNATS/1.0\r\n\r\nhi\rPING\r\n", TRAILER),
    "hmsg-trailer-lf-only": Bad(C, b"HMSG a 1 12 14\r\nNATS/1.0\r\n\r\nhi\n\r\n", TRAILER),
    "pub-trailer": Bad(S, b"PUB a 2\r\nhi\n\n", TRAILER),
    "hpub-trailer": Bad(S, b"HPUB a 12 12\r\nNATS/1.0\r\n\r\nXX", TRAILER),
    # Sizes: digits only.
    "msg-size-letters": Bad(C, b"MSG a 1 x\r\n", SIZE),
    "msg-size-negative": Bad(C, b"MSG a 1 -1\r\n", SIZE),
    "msg-size-plus": Bad(C, b"MSG a 1 +2\r\n", SIZE),
    "msg-size-hex": Bad(C, b"MSG a 1 0x2\r\n", SIZE),
    "msg-size-unicode-digit": Bad(C, "MSG a 1 \u0663\r\n".encode(), SIZE),
    "msg-size-underscore": Bad(C, b"MSG a 1 1_0\r\n", SIZE),
    "hmsg-header-size-letters": Bad(C, b"HMSG a 1 x 12\r\n", SIZE),
    "hmsg-total-negative": Bad(C, b"HMSG a 1 12 -12\r\n", SIZE),
    "pub-size-negative": Bad(S, b"PUB a -2\r\n", SIZE),
    "pub-size-float": Bad(S, b"PUB a 2.0\r\n", SIZE),
    "hpub-size-letters": Bad(S, b"HPUB a 12 x\r\n", SIZE),
    # Header size over total size.
    "hmsg-header-over-total": Bad(C, b"HMSG a 1 13 12\r\n", "header size 13 exceeds total size 12"),
    "hpub-header-over-total": Bad(S, b"HPUB a r 20 12\r\n", "header size 20 exceeds total size 12"),
    # A line that breaks two rules is refused for the first (digits, header size, limit),
    # whatever path parses it: the common spelling, another one, or after a MSG.
    "hmsg-header-over-total-and-limit": Bad(
        C, b"HMSG a 1 13 12\r\n", "header size 13 exceeds total size 12", {"max_payload": 5}
    ),
    "hmsg-lower-header-over-total-and-limit": Bad(
        C, b"hmsg a 1 13 12\r\n", "header size 13 exceeds total size 12", {"max_payload": 5}
    ),
    "hmsg-after-msg-header-over-total-and-limit": Bad(
        C,
        b"MSG a 1 2\r\nhi\r\nHMSG a 1 13 12\r\n",
        "header size 13 exceeds total size 12",
        {"max_payload": 5},
    ),
    "hmsg-bad-size-and-limit": Bad(C, b"HMSG a 1 x 99\r\n", SIZE, {"max_payload": 5}),
    # Header blocks.
    "hmsg-not-nats-1.0": Bad(C, b"HMSG a 1 12 12\r\nNATS/2.0\r\n\r\n\r\n", HEADER_BLOCK),
    "hmsg-no-blank-line": Bad(C, b"HMSG a 1 10 12\r\nNATS/1.0\r\n\r\n\r\n", HEADER_BLOCK),
    "hmsg-empty-header-block": Bad(C, b"HMSG a 1 0 2\r\nhi\r\n", HEADER_BLOCK),
    "hpub-not-nats": Bad(S, b"HPUB a 12 12\r\nHTTP/1.1 200\r\n\r\n", HEADER_BLOCK),
    # Unknown operations and empty lines.
    "unknown-op": Bad(C, b"FOO bar\r\n", UNKNOWN),
    "unknown-op-server": Bad(S, b"NOPE\r\n", UNKNOWN),
    "empty-line-crlf": Bad(C, b"\r\n", UNKNOWN),
    "empty-line-lf": Bad(S, b"\n", UNKNOWN),
    "blank-line": Bad(C, b" \t \r\n", UNKNOWN),
    "nul-bytes": Bad(C, b"\x00\x00\r\n", UNKNOWN),
    # Argument counts.
    "msg-2-args": Bad(C, b"MSG a 2\r\n", "MSG takes 3 or 4 arguments, got 2"),
    "msg-5-args": Bad(C, b"MSG a 1 r x 2\r\n", "MSG takes 3 or 4 arguments, got 5"),
    "msg-no-args": Bad(C, b"MSG \r\n", "MSG takes 3 or 4 arguments, got 0"),
    "hmsg-3-args": Bad(C, b"HMSG a 1 12\r\n", "HMSG takes 4 or 5 arguments, got 3"),
    "hmsg-6-args": Bad(C, b"HMSG a 1 r x 12 12\r\n", "HMSG takes 4 or 5 arguments, got 6"),
    "pub-1-arg": Bad(S, b"PUB 5\r\n", "PUB takes 2 or 3 arguments, got 1"),
    "pub-4-args": Bad(S, b"PUB a r x 5\r\n", "PUB takes 2 or 3 arguments, got 4"),
    "hpub-2-args": Bad(S, b"HPUB a 12\r\n", "HPUB takes 3 or 4 arguments, got 2"),
    "hpub-5-args": Bad(S, b"HPUB a r x 12 12\r\n", "HPUB takes 3 or 4 arguments, got 5"),
    "sub-1-arg": Bad(S, b"SUB a\r\n", "SUB takes 2 or 3 arguments, got 1"),
    "sub-4-args": Bad(S, b"SUB a q 1 2\r\n", "SUB takes 2 or 3 arguments, got 4"),
    "unsub-0-args": Bad(S, b"UNSUB \r\n", "UNSUB takes 1 or 2 arguments, got 0"),
    "unsub-3-args": Bad(S, b"UNSUB 1 2 3\r\n", "UNSUB takes 1 or 2 arguments, got 3"),
    "unsub-max-not-number": Bad(S, b"UNSUB 1 ten\r\n", "UNSUB max_msgs is not a number"),
    "unsub-max-negative": Bad(S, b"UNSUB 1 -1\r\n", "UNSUB max_msgs is not a number"),
    # JSON documents.
    "info-bad-json": Bad(C, b"INFO {bad\r\n", "invalid JSON"),
    "info-empty": Bad(C, b"INFO\r\n", "invalid JSON"),
    "info-trailing-garbage": Bad(C, b"INFO {} x\r\n", "invalid JSON"),
    "info-not-utf8": Bad(C, b'INFO {"a":"\xff"}\r\n', "invalid JSON"),
    "connect-bad-json": Bad(S, b"CONNECT {'verbose':false}\r\n", "invalid JSON"),
    "info-array": Bad(C, b"INFO [1, 2]\r\n", "expected a JSON object"),
    "info-number": Bad(C, b"INFO 42\r\n", "expected a JSON object"),
    "connect-string": Bad(S, b'CONNECT "x"\r\n', "expected a JSON object"),
    "connect-null": Bad(S, b"CONNECT null\r\n", "expected a JSON object"),
    # Limits.
    "line-too-long-terminated": Bad(
        C, b'INFO {"a":"0123456789abcdef"}\r\n', TOO_LONG, {"max_control_line": 16}
    ),
    "line-too-long-unterminated": Bad(C, b"MSG " + b"a" * 100, TOO_LONG, {"max_control_line": 16}),
    "line-too-long-server-default": Bad(S, b"SUB " + b"a" * 4100 + b" 1\r\n", "limit of 4096"),
    "msg-over-max-payload": Bad(C, b"MSG a 1 5\r\n", "over the limit of 4", {"max_payload": 4}),
    "hmsg-over-max-payload": Bad(
        C, b"HMSG a 1 12 13\r\n", "over the limit of 12", {"max_payload": 12}
    ),
    "pub-over-max-payload": Bad(
        S, b"PUB a 1025\r\n", "over the limit of 1024", {"max_payload": 1024}
    ),
    "hpub-over-max-payload": Bad(
        S, b"HPUB a 12 99\r\n", "over the limit of 50", {"max_payload": 50}
    ),
    # Operations of the other role.
    "msg-to-server": Bad(S, b"MSG a 1 2\r\nhi\r\n", UNKNOWN),
    "hmsg-to-server": Bad(S, b"HMSG a 1 12 12\r\nNATS/1.0\r\n\r\n\r\n", UNKNOWN),
    "info-to-server": Bad(S, b"INFO {}\r\n", UNKNOWN),
    "ok-to-server": Bad(S, b"+OK\r\n", UNKNOWN),
    "err-to-server": Bad(S, b"-ERR 'x'\r\n", UNKNOWN),
    "pub-to-client": Bad(C, b"PUB a 2\r\nhi\r\n", UNKNOWN),
    "hpub-to-client": Bad(C, b"HPUB a 12 12\r\nNATS/1.0\r\n\r\n\r\n", UNKNOWN),
    "sub-to-client": Bad(C, b"SUB a 1\r\n", UNKNOWN),
    "unsub-to-client": Bad(C, b"UNSUB 1\r\n", UNKNOWN),
    "connect-to-client": Bad(C, b"CONNECT {}\r\n", UNKNOWN),
    # Operation names that run into their first argument.
    "msg-no-separator": Bad(C, b"MSGfoo 1 2\r\nhi\r\n", UNKNOWN),
    "msg-lower-no-separator": Bad(C, b"msgfoo 1 2\r\nhi\r\n", UNKNOWN),
    "hmsg-no-separator": Bad(C, b"HMSGa 1 12 12\r\n", UNKNOWN),
    "err-no-separator": Bad(C, b"-ERR'x'\r\n", UNKNOWN),
    "err-no-argument": Bad(C, b"-ERR\r\n", UNKNOWN),
    "pub-no-separator": Bad(S, b"PUBfoo 2\r\nhi\r\n", UNKNOWN),
    "hpub-no-separator": Bad(S, b"HPUBfoo 12 12\r\n", UNKNOWN),
    "sub-no-separator": Bad(S, b"SUBfoo 1\r\n", UNKNOWN),
    "unsub-no-separator": Bad(S, b"UNSUBfoo\r\n", UNKNOWN),
    "unsub-no-argument": Bad(S, b"UNSUB\r\n", UNKNOWN),
    # Nothing may come before the operation name (nats-server: OP_START -> parse error).
    "leading-space-msg": Bad(C, b" MSG a 1 2\r\nhi\r\n", UNKNOWN),
    "leading-tab-msg": Bad(C, b"\tMSG a 1 2\r\nhi\r\n", UNKNOWN),
    "leading-cr-msg": Bad(C, b"\r\t\tMSG a 4 0\r\n\r\n", UNKNOWN),
    "leading-space-hmsg": Bad(C, b" HMSG a 1 12 12\r\nNATS/1.0\r\n\r\n\r\n", UNKNOWN),
    "leading-space-ping": Bad(C, b" PING\r\n", UNKNOWN),
    "leading-space-pub": Bad(S, b" PUB a 2\r\nhi\r\n", UNKNOWN),
    "leading-tab-sub": Bad(S, b"\tSUB a 1\r\n", UNKNOWN),
    # Only a space or tab separates the operation name from its arguments.
    "msg-cr-separator": Bad(C, b"MSG\ra 1 2\r\nhi\r\n", UNKNOWN),
    "msg-vertical-tab-separator": Bad(C, b"MSG\x0ba 1 2\r\nhi\r\n", UNKNOWN),
    "hmsg-form-feed-separator": Bad(C, b"HMSG\x0ca 1 12 12\r\nNATS/1.0\r\n\r\n\r\n", UNKNOWN),
    "pub-cr-separator": Bad(S, b"PUB\ra 2\r\nhi\r\n", UNKNOWN),
    "sub-vertical-tab-separator": Bad(S, b"SUB\x0ba 1\r\n", UNKNOWN),
    # Garbage after a good frame: the good frame does not hide the error.
    "good-then-bad": Bad(C, b"PING\r\nMSG a 1 2\r\nhiXX", TRAILER),
}


def test_table_is_large() -> None:
    assert len(MALFORMED) >= 30


@pytest.mark.parametrize("case", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_whole(case: Bad) -> None:
    parser = Parser(case.role, **case.options)
    with pytest.raises(RemoteProtocolError) as info:
        parser.receive_data(case.data)
    assert case.message in str(info.value)
    # The parser is done: it refuses anything more, even valid input.
    with pytest.raises(RemoteProtocolError, match="earlier error"):
        parser.receive_data(b"PING\r\n")
    with pytest.raises(RemoteProtocolError, match="earlier error"):
        parser.receive_data(b"")


@pytest.mark.parametrize("case", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_byte_by_byte(case: Bad) -> None:
    """The same error, with the same message, when the input trickles in."""
    parser = Parser(case.role, **case.options)
    with pytest.raises(RemoteProtocolError) as info:
        for index in range(len(case.data)):
            parser.receive_data(case.data[index : index + 1])
    assert case.message in str(info.value)


def test_error_subclasses() -> None:
    with pytest.raises(ControlLineTooLongError):
        Parser(C, max_control_line=8).receive_data(b"INFO {}  \r\n")
    with pytest.raises(PayloadTooLargeError):
        Parser(S, max_payload=1).receive_data(b"PUB a 2\r\n")
    assert issubclass(ControlLineTooLongError, RemoteProtocolError)
    assert issubclass(PayloadTooLargeError, RemoteProtocolError)


def test_unterminated_line_raises_once_past_the_limit() -> None:
    """No line end ever arrives: the parser raises when the buffer passes the limit."""
    parser = Parser(C, max_control_line=64)
    assert parser.receive_data(b"INFO {") == []
    assert parser.receive_data(b'"k": "' + b"v" * 52) == []
    assert parser.buffered == 64
    with pytest.raises(ControlLineTooLongError, match="65 bytes exceeds the limit of 64"):
        parser.receive_data(b"v")


def test_unterminated_line_in_one_chunk_raises_at_once() -> None:
    parser = Parser(S)
    with pytest.raises(ControlLineTooLongError, match="limit of 4096"):
        parser.receive_data(b"PUB " + b"a" * 5000)


def test_line_limit_boundaries() -> None:
    """A line of exactly the limit (the CR included) is fine; one byte more is not."""
    line = b"INFO {}" + b" " * 9 + b"\r"  # 17 bytes before the LF
    assert Parser(C, max_control_line=17).receive_data(line + b"\n") == [Info({})]
    with pytest.raises(ControlLineTooLongError):
        Parser(C, max_control_line=16).receive_data(line + b"\n")
    parser = Parser(C, max_control_line=17)
    assert parser.receive_data(line) == []
    assert parser.receive_data(b"\n") == [Info({})]


@pytest.mark.parametrize("role", [C, S])
def test_bare_lf_lines_are_measured_one_by_one(role: Role) -> None:
    """Each LF ends a line: several short LF-ended lines are not one long line, even
    when no CRLF comes between them. (Found by the fuzzer in a CRLF-splitting rewrite.)"""
    data = b"PING\nPONG\nPING\nPONG\nPING\r\n"
    expected = [PING, PONG, PING, PONG, PING]
    assert Parser(role, max_control_line=8).receive_data(data) == expected
    parser = Parser(role, max_control_line=8)
    frames = [frame for i in range(len(data)) for frame in parser.receive_data(data[i : i + 1])]
    assert frames == expected
    if role is C:
        data = b"PING\n+OK\n-ERR x\nMSG a 1 2\r\nhi\r\n"
        expected = [PING, OK, Err("x"), Msg(b"a", b"1", None, b"hi")]
        assert Parser(role, max_control_line=12).receive_data(data) == expected


#: Lines the fuzzer found taken for a frame in some chunkings and refused in others.
REFUSED_LINES = {
    "whitespace-before-msg": b"\r\t\tMSG a 4 0\r\n\r\n",
    "space-before-hmsg": b" HMSG a 1 12 12\r\nNATS/1.0\r\n\r\n\r\n",
    "cr-after-msg": b"MSG\ra 1 0\r\n\r\n",
    "vertical-tab-after-msg": b"MSG\x0ba 1 0\r\n\r\n",
    "cr-after-hmsg": b"HMSG\ra 1 12 12\r\nNATS/1.0\r\n\r\n\r\n",
}


@pytest.mark.parametrize("bad", REFUSED_LINES.values(), ids=REFUSED_LINES.keys())
def test_refused_however_the_input_is_cut(bad: bytes) -> None:
    """Nothing but an operation name may start a line, and only a space or tab may
    follow it (nats-server's OP_START and OP_MSG states). The fuzzer found lines like
    these refused after a bare-LF line in the same chunk, yet taken for a frame when
    they started a chunk."""
    data = b"PING\n" + bad + b"PONG\r\n"
    for cut in range(len(data) + 1):
        parser = Parser(C)
        with pytest.raises(RemoteProtocolError, match=UNKNOWN):
            assert parser.receive_data(data[:cut]) == ([PING] if cut >= 5 else [])
            parser.receive_data(data[cut:])


def test_default_line_limits_per_role() -> None:
    """The client role accepts INFO lines far over 4 KiB; the server role stops at 4096."""
    urls = ",".join(f'"10.0.0.{i % 250}:4222"' for i in range(400))
    big_info = b'INFO {"connect_urls":[' + urls.encode() + b"]}\r\n"
    assert len(big_info) > 6000
    (frame,) = Parser(C).receive_data(big_info)
    assert isinstance(frame, Info) and len(frame.fields["connect_urls"]) == 400
    big_connect = b'CONNECT {"name":"' + b"n" * 4100 + b'"}\r\n'
    with pytest.raises(ControlLineTooLongError):
        Parser(S).receive_data(big_connect)
    assert Parser(S, max_control_line=8192).receive_data(big_connect)


def test_size_with_too_many_digits_is_a_protocol_error() -> None:
    """int() refuses over 4300 digits; that must surface as RemoteProtocolError too."""
    with pytest.raises(RemoteProtocolError):
        Parser(C).receive_data(b"MSG a 1 " + b"9" * 5000 + b"\r\n")


def test_deeply_nested_json_is_a_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError):
        Parser(C).receive_data(b"INFO " + b"[" * 50_000 + b"\r\n")


def test_errors_are_protocol_errors() -> None:
    with pytest.raises(ProtocolError):
        Parser(C).receive_data(b"BAD\r\n")


MSG = Msg(b"a", b"1", None, b"hi")
MSG_R = Msg(b"a", b"1", b"r", b"hi")
HMSG = HMsg(b"a", b"1", None, b"NATS/1.0\r\n\r\n", b"hi")
HMSG_R = HMsg(b"a", b"1", b"r", b"NATS/1.0\r\n\r\n", b"hi")
PUB = Pub(b"a", None, b"hi")

LENIENT: dict[str, tuple[Role, bytes, list[Frame]]] = {
    "msg-lower-case": (C, b"msg a 1 2\r\nhi\r\n", [MSG]),
    "msg-mixed-case": (C, b"mSg a 1 2\r\nhi\r\n", [MSG]),
    "msg-tabs": (C, b"MSG\ta\t1\t2\r\nhi\r\n", [MSG]),
    "msg-runs": (C, b"MSG  a \t 1\t\t 2\r\nhi\r\n", [MSG]),
    "msg-trailing-space": (C, b"MSG a 1 2 \r\nhi\r\n", [MSG]),
    "msg-bare-lf": (C, b"MSG a 1 2\nhi\r\n", [MSG]),
    "msg-leading-zeros": (C, b"MSG a 1 002\r\nhi\r\n", [MSG]),
    "msg-3-args": (C, b"MSG a 1 2\r\nhi\r\n", [MSG]),
    "msg-4-args": (C, b"MSG a 1 r 2\r\nhi\r\n", [MSG_R]),
    "msg-empty-payload": (C, b"MSG a 1 0\r\n\r\n", [Msg(b"a", b"1", None, b"")]),
    "hmsg-4-args": (C, b"HMSG a 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", [HMSG]),
    "hmsg-5-args": (C, b"HMSG a 1 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", [HMSG_R]),
    "hmsg-lower-tabs-lf": (C, b"hmsg\ta 1  r\t12 14\nNATS/1.0\r\n\r\nhi\r\n", [HMSG_R]),
    "ping-extra": (C, b"PING extra\r\n", [PING]),
    "ping-lower": (C, b"ping\r\n", [PING]),
    "ping-glued": (C, b"PINGPONG\r\n", [PING]),
    "pong-bare-lf": (C, b"PONG\n", [PONG]),
    "pong-lower-extra": (C, b"pong x y\r\n", [PONG]),
    "ok-junk": (C, b"+OK junk\r\n", [OK]),
    "ok-lower": (C, b"+ok\n", [OK]),
    "err-single-quotes": (C, b"-ERR 'Stale Connection'\r\n", [Err("Stale Connection")]),
    "err-double-quotes": (C, b'-ERR "Stale Connection"\r\n', [Err("Stale Connection")]),
    "err-no-quotes": (C, b"-ERR Stale Connection\r\n", [Err("Stale Connection")]),
    "err-lower-tab-runs": (C, b"-err\t  'x y'  \r\n", [Err("x y")]),
    "err-empty-quotes": (C, b"-ERR ''\r\n", [Err("")]),
    "err-mismatched-quotes": (C, b"-ERR 'x\"\r\n", [Err("'x\"")]),
    "err-quotes-inside": (
        C,
        b"-ERR 'Permissions Violation for Publish to \"a.b\"'\r\n",
        [Err('Permissions Violation for Publish to "a.b"')],
    ),
    "info-lower": (C, b'info {"a":1}\r\n', [Info({"a": 1})]),
    "info-tab-lf": (C, b'INFO\t{"a":1}\n', [Info({"a": 1})]),
    "info-no-space": (C, b'INFO{"a":1}\r\n', [Info({"a": 1})]),
    "info-spaced-json": (C, b'INFO   { "a" : [ 1 , 2 ] }  \r\n', [Info({"a": [1, 2]})]),
    "pub-lower": (S, b"pub a 2\r\nhi\r\n", [PUB]),
    "pub-tabs-reply-lf": (S, b"PUB\ta\tr\t2\nhi\r\n", [Pub(b"a", b"r", b"hi")]),
    "hpub-lower": (
        S,
        b"hpub a 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
        [HPub(b"a", None, b"NATS/1.0\r\n\r\n", b"hi")],
    ),
    "hpub-reply": (
        S,
        b"HPUB a r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
        [HPub(b"a", b"r", b"NATS/1.0\r\n\r\n", b"hi")],
    ),
    "sub-queue-lower": (S, b"sub a.* q 1\r\n", [Sub(b"a.*", b"q", b"1")]),
    "sub-runs": (S, b"SUB  a.>\t\t7 \r\n", [Sub(b"a.>", None, b"7")]),
    "unsub-max": (S, b"unsub 1 10\r\n", [Unsub(b"1", 10)]),
    "unsub-tab-lf": (S, b"UNSUB\t1\n", [Unsub(b"1", None)]),
    "connect-lower": (S, b'connect {"verbose":false}\r\n', [Connect({"verbose": False})]),
    "server-ping-pong": (S, b"ping x\r\nPONG\n", [PING, PONG]),
    "everything-at-once": (
        C,
        b"INFO {}\r\n+OK\r\nmsg a 1 2\nhi\r\nPING\r\n-ERR x\n",
        [Info({}), OK, MSG, PING, Err("x")],
    ),
}


@pytest.mark.parametrize(("role", "data", "expected"), LENIENT.values(), ids=LENIENT.keys())
def test_lenient_grammar(role: Role, data: bytes, expected: list[Frame]) -> None:
    parser = Parser(role)
    assert parser.receive_data(data) == expected
    assert parser.buffered == 0
    parser = Parser(role)
    frames: list[Frame] = []
    for index in range(len(data)):
        frames += parser.receive_data(data[index : index + 1])
    assert frames == expected
