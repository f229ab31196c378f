"""The encode_* functions: canonical bytes, and validation errors that name the problem."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from natswire.protocol import (
    Headers,
    LocalProtocolError,
    MaxPayloadError,
    ProtocolError,
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
    encode_pub_parts,
    encode_sub,
    encode_unsub,
    publish_subject,
    subscribe_subject,
)

CANONICAL: dict[str, tuple[Callable[[], bytes], bytes]] = {
    "pub": (lambda: encode_pub("a", b"hi"), b"PUB a 2\r\nhi\r\n"),
    "pub-empty": (lambda: encode_pub("NOTIFY", b""), b"PUB NOTIFY 0\r\n\r\n"),
    "pub-reply": (lambda: encode_pub("a.b", b"hi", "_INBOX.1"), b"PUB a.b _INBOX.1 2\r\nhi\r\n"),
    "pub-bytes-subject": (lambda: encode_pub(b"a", b"x"), b"PUB a 1\r\nx\r\n"),
    "pub-empty-reply-is-none": (lambda: encode_pub("a", b"x", ""), b"PUB a 1\r\nx\r\n"),
    "pub-bytearray": (lambda: encode_pub("a", bytearray(b"xy")), b"PUB a 2\r\nxy\r\n"),
    "pub-memoryview": (lambda: encode_pub("a", memoryview(b"xyz")), b"PUB a 3\r\nxyz\r\n"),
    "pub-unicode": (lambda: encode_pub("caf\u00e9", b"x"), "PUB caf\u00e9 1\r\nx\r\n".encode()),
    "hpub": (
        lambda: encode_hpub("a", {"K": "v"}, b"hi"),
        b"HPUB a 18 20\r\nNATS/1.0\r\nK: v\r\n\r\nhi\r\n",
    ),
    "hpub-reply-multi": (
        lambda: encode_hpub("a", [("K", "1"), ("k", "2")], b"", "r"),
        b"HPUB a r 24 24\r\nNATS/1.0\r\nK: 1\r\nk: 2\r\n\r\n\r\n",
    ),
    "hpub-empty-headers": (
        lambda: encode_hpub("a", {}, b"x"),
        b"HPUB a 12 13\r\nNATS/1.0\r\n\r\nx\r\n",
    ),
    "hpub-raw-block": (
        lambda: encode_hpub("a", b"NATS/1.0 503\r\n\r\n", b""),
        b"HPUB a 16 16\r\nNATS/1.0 503\r\n\r\n\r\n",
    ),
    "sub": (lambda: encode_sub("a.*", 1), b"SUB a.* 1\r\n"),
    "sub-queue": (lambda: encode_sub("a.>", 7, "workers"), b"SUB a.> workers 7\r\n"),
    "sub-str-sid": (lambda: encode_sub(">", "s1"), b"SUB > s1\r\n"),
    "unsub": (lambda: encode_unsub(1), b"UNSUB 1\r\n"),
    "unsub-max": (lambda: encode_unsub(3, 10), b"UNSUB 3 10\r\n"),
    "unsub-max-zero": (lambda: encode_unsub(3, 0), b"UNSUB 3 0\r\n"),
    "connect": (
        lambda: encode_connect({"verbose": False, "name": "x"}),
        b'CONNECT {"verbose":false,"name":"x"}\r\n',
    ),
    "ping": (encode_ping, b"PING\r\n"),
    "pong": (encode_pong, b"PONG\r\n"),
    "info": (lambda: encode_info({"max_payload": 1024}), b'INFO {"max_payload":1024}\r\n'),
    "msg": (lambda: encode_msg("a", 1, b"hi"), b"MSG a 1 2\r\nhi\r\n"),
    "msg-reply": (lambda: encode_msg("a", "9", b"hi", "r"), b"MSG a 9 r 2\r\nhi\r\n"),
    "hmsg": (
        lambda: encode_hmsg("_INBOX.x", 2, Headers(status=503), b""),
        b"HMSG _INBOX.x 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\n",
    ),
    "hmsg-reply-status-text": (
        lambda: encode_hmsg("a", 2, Headers(status=408, description="Request Timeout"), b"", "r"),
        b"HMSG a 2 r 32 32\r\nNATS/1.0 408 Request Timeout\r\n\r\n\r\n",
    ),
    "ok": (encode_ok, b"+OK\r\n"),
    "err": (lambda: encode_err("Stale Connection"), b"-ERR 'Stale Connection'\r\n"),
}


@pytest.mark.parametrize(("encode", "expected"), CANONICAL.values(), ids=CANONICAL.keys())
def test_canonical_bytes(encode: Callable[[], bytes], expected: bytes) -> None:
    assert encode() == expected


def test_pub_parts_do_not_copy_the_payload() -> None:
    payload = bytearray(b"x" * 100_000)
    head, body, tail = encode_pub_parts("a", payload, "r")
    assert body is payload
    assert (head, tail) == (b"PUB a r 100000\r\n", b"\r\n")
    assert b"".join((head, body, tail)) == encode_pub("a", bytes(payload), "r")
    with pytest.raises(MaxPayloadError):
        encode_pub_parts("a", payload, max_payload=99_999)
    with pytest.raises(LocalProtocolError, match="wildcard"):
        encode_pub_parts("a.*", b"")


def test_connect_and_info_are_compact_json() -> None:
    fields: dict[str, Any] = {"a": [1, 2], "b": {"c": None}, "d": "\u00e9"}
    line = encode_connect(fields)
    assert line.endswith(b"\r\n") and b"\r\n" not in line[:-2]
    assert b" " not in line[len(b"CONNECT ") :]
    assert json.loads(line[len(b"CONNECT ") :]) == fields
    assert json.loads(encode_info(fields)[len(b"INFO ") :]) == fields


BAD_SUBJECT: dict[str, tuple[Any, str]] = {
    "empty": ("", "subject is empty"),
    "empty-bytes": (b"", "subject is empty"),
    "leading-dot": (".a", "empty token"),
    "trailing-dot": ("a.", "empty token"),
    "double-dot": ("a..b", "empty token"),
    "only-dot": (".", "empty token"),
    "space": ("a b", "whitespace or a control character"),
    "tab": ("a\tb", "whitespace or a control character"),
    "cr": ("a\rb", "whitespace or a control character"),
    "lf": ("a\n", "whitespace or a control character"),
    "crlf-injection": ("a\r\nPUB b 0\r\n", "whitespace or a control character"),
    "nul": ("a\x00", "whitespace or a control character"),
    "del": ("a\x7f", "whitespace or a control character"),
    "vertical-tab": ("a\x0bb", "whitespace or a control character"),
}


SUBJECT_ENCODERS: dict[str, Callable[[Any], bytes]] = {
    "pub": lambda subject: encode_pub(subject, b""),
    "pub_parts": lambda subject: b"".join(encode_pub_parts(subject, b"")),
    "hpub": lambda subject: encode_hpub(subject, {}, b""),
    "msg": lambda subject: encode_msg(subject, 1, b""),
    "hmsg": lambda subject: encode_hmsg(subject, 1, {}, b""),
    "sub": lambda subject: encode_sub(subject, 1),
    "publish_subject": publish_subject,
    "subscribe_subject": subscribe_subject,
}
REPLY_ENCODERS: dict[str, Callable[[Any], bytes]] = {
    "pub-reply": lambda reply: encode_pub("ok", b"", reply),
    "hpub-reply": lambda reply: encode_hpub("ok", {}, b"", reply),
    "msg-reply": lambda reply: encode_msg("ok", 1, b"", reply),
    "hmsg-reply": lambda reply: encode_hmsg("ok", 1, {}, b"", reply),
}


@pytest.mark.parametrize(("subject", "message"), BAD_SUBJECT.values(), ids=BAD_SUBJECT.keys())
@pytest.mark.parametrize("encode", SUBJECT_ENCODERS.values(), ids=SUBJECT_ENCODERS.keys())
def test_bad_subjects(encode: Callable[[Any], bytes], subject: Any, message: str) -> None:
    with pytest.raises(LocalProtocolError) as info:
        encode(subject)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("subject", "message"),
    [case for case in BAD_SUBJECT.values() if case[0]],
    ids=[name for name, case in BAD_SUBJECT.items() if case[0]],
)
@pytest.mark.parametrize("encode", REPLY_ENCODERS.values(), ids=REPLY_ENCODERS.keys())
def test_bad_reply_subjects(encode: Callable[[Any], bytes], subject: Any, message: str) -> None:
    """Reply subjects follow the publish rules (an empty reply means no reply)."""
    with pytest.raises(LocalProtocolError) as info:
        encode(subject)
    assert "reply subject" in str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize("subject", ["*", "a.*", "*.a", "a.*.b", ">", "a.>"])
@pytest.mark.parametrize(
    "encode",
    [
        lambda subject: encode_pub(subject, b""),
        lambda subject: encode_hpub(subject, {}, b""),
        lambda subject: encode_msg(subject, 1, b""),
        lambda subject: encode_hmsg(subject, 1, {}, b""),
        lambda subject: encode_pub("ok", b"", subject),
        lambda subject: encode_msg("ok", 1, b"", subject),
    ],
    ids=["pub", "hpub", "msg", "hmsg", "pub-reply", "msg-reply"],
)
def test_wildcards_refused_in_publish_subjects(
    encode: Callable[[str], bytes], subject: str
) -> None:
    with pytest.raises(LocalProtocolError, match="wildcard"):
        encode(subject)


@pytest.mark.parametrize("subject", ["a*", "a>", "*a.b", "a.b>", "a.>b"])
def test_wildcard_characters_inside_tokens_are_literal(subject: str) -> None:
    assert encode_pub(subject, b"") == f"PUB {subject} 0\r\n\r\n".encode()
    assert subscribe_subject(subject) == subject.encode()


@pytest.mark.parametrize("subject", [">.a", "a.>.b", ">.>", "*.>.*"])
def test_full_wildcard_must_be_last_in_subscribe_subjects(subject: str) -> None:
    with pytest.raises(LocalProtocolError, match="'>' may only be the last token"):
        encode_sub(subject, 1)


@pytest.mark.parametrize("subject", ["*", ">", "a.*", "a.>", "*.*.>", "a.*.b"])
def test_wildcards_allowed_in_subscribe_subjects(subject: str) -> None:
    assert encode_sub(subject, 1) == f"SUB {subject} 1\r\n".encode()


@pytest.mark.parametrize(
    "queue", ["a b", "a\tb", "q\r\n", "\x00", "q\x7f"], ids=["space", "tab", "crlf", "nul", "del"]
)
def test_bad_queue_names(queue: str) -> None:
    with pytest.raises(LocalProtocolError, match="queue group"):
        encode_sub("a", 1, queue)


@pytest.mark.parametrize("queue", ["workers", "q.1", "q*", "\u00e9"])
def test_good_queue_names(queue: str) -> None:
    assert encode_sub("a", 1, queue) == f"SUB a {queue} 1\r\n".encode()


@pytest.mark.parametrize("sid", ["", "a b", "1\r\n", b"\t"])
def test_bad_sids(sid: str | bytes) -> None:
    with pytest.raises(LocalProtocolError, match="sid"):
        encode_sub("a", sid)
    with pytest.raises(LocalProtocolError, match="sid"):
        encode_unsub(sid)


def test_negative_sid_and_max_msgs() -> None:
    with pytest.raises(LocalProtocolError, match="sid must not be negative"):
        encode_sub("a", -1)
    with pytest.raises(LocalProtocolError, match="sid must not be negative"):
        encode_unsub(-1)
    with pytest.raises(LocalProtocolError, match="sid must not be negative"):
        encode_msg("a", -5, b"")
    with pytest.raises(LocalProtocolError, match="max_msgs must be a non-negative int"):
        encode_unsub(1, -1)
    with pytest.raises(LocalProtocolError, match="max_msgs must be a non-negative int"):
        encode_unsub(1, True)
    with pytest.raises(LocalProtocolError, match="max_msgs must be a non-negative int"):
        encode_unsub(1, "5")  # type: ignore[arg-type]


BAD_HEADERS: dict[str, tuple[Any, str]] = {
    "cr-in-value": ({"K": "a\rb"}, "holds CR or LF"),
    "lf-in-value": ({"K": "a\nb"}, "holds CR or LF"),
    "crlf-injection-value": ({"K": "v\r\nInjected: 1"}, "holds CR or LF"),
    "cr-in-name": ({"K\r": "v"}, "header name"),
    "lf-in-name": ({"K\n": "v"}, "header name"),
    "colon-in-name": ({"K:": "v"}, "header name"),
    "space-in-name": ({"Bad Name": "v"}, "header name"),
    "tab-in-name": ({"Bad\tName": "v"}, "header name"),
    "multi-value-with-lf": ({"K": ["ok", "bad\n"]}, "holds CR or LF"),
    "status-description-crlf": (Headers(status=503, description="x\r\n"), "holds CR or LF"),
    "status-too-small": (Headers(status=99), "header status must be 3 digits"),
    "status-too-large": (Headers(status=1000), "header status must be 3 digits"),
    "non-str-value": ({"K": [1]}, "must be str"),
}


def test_headers_without_a_name_are_dropped_as_nats_py_does() -> None:
    assert encode_headers({"": "v", "K": "1"}) == b"NATS/1.0\r\nK: 1\r\n\r\n"
    assert encode_headers({"": "v"}) == b"NATS/1.0\r\n\r\n"


@pytest.mark.parametrize(("headers", "message"), BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
@pytest.mark.parametrize(
    "encode",
    [
        encode_headers,
        lambda headers: encode_hpub("a", headers, b""),
        lambda headers: encode_hmsg("a", 1, headers, b""),
    ],
    ids=["headers", "hpub", "hmsg"],
)
def test_bad_headers(encode: Callable[[Any], bytes], headers: Any, message: str) -> None:
    with pytest.raises(LocalProtocolError) as info:
        encode(headers)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "raw", [b"", b"NATS/1.0\r\n", b"HTTP/1.1\r\n\r\n", b"NATS/1.0\r\nK: v\r\n"]
)
def test_bad_raw_header_blocks(raw: bytes) -> None:
    with pytest.raises(LocalProtocolError, match=r"NATS/1\.0 block"):
        encode_hpub("a", raw, b"")
    with pytest.raises(LocalProtocolError, match=r"NATS/1\.0 block"):
        encode_hmsg("a", 1, raw, b"")


def test_max_payload() -> None:
    assert encode_pub("a", b"x" * 10, max_payload=10)
    with pytest.raises(MaxPayloadError, match="11 bytes exceeds the server's max_payload of 10"):
        encode_pub("a", b"x" * 11, max_payload=10)
    # HPUB counts headers and payload together: 12 bytes of empty headers + 1.
    assert encode_hpub("a", {}, b"x", max_payload=13)
    with pytest.raises(MaxPayloadError, match="13 bytes exceeds the server's max_payload of 12"):
        encode_hpub("a", {}, b"x", max_payload=12)
    with pytest.raises(MaxPayloadError):
        encode_pub("a", memoryview(b"x" * 11), max_payload=10)
    assert issubclass(MaxPayloadError, LocalProtocolError)
    assert issubclass(LocalProtocolError, ProtocolError)


@pytest.mark.parametrize(
    "encode",
    [
        lambda payload: encode_pub("a", payload),
        lambda payload: encode_hpub("a", {}, payload),
        lambda payload: encode_msg("a", 1, payload),
        lambda payload: encode_hmsg("a", 1, {}, payload),
        lambda payload: encode_pub_parts("a", payload),
    ],
    ids=["pub", "hpub", "msg", "hmsg", "pub_parts"],
)
def test_str_payload_is_a_type_error(encode: Callable[[Any], bytes]) -> None:
    with pytest.raises(TypeError, match="encode str payloads first"):
        encode("text")
    with pytest.raises(TypeError, match="payload must be bytes"):
        encode(42)


def test_subject_type_errors() -> None:
    with pytest.raises(TypeError, match="must be str or bytes"):
        encode_pub(42, b"")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be str or bytes"):
        encode_sub(None, 1)  # type: ignore[arg-type]


def test_json_fields_must_be_a_dict() -> None:
    with pytest.raises(TypeError, match="CONNECT fields must be a dict"):
        encode_connect([1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="INFO fields must be a dict"):
        encode_info("x")  # type: ignore[arg-type]


def test_err_refuses_line_breaks() -> None:
    with pytest.raises(LocalProtocolError, match="holds CR or LF"):
        encode_err("a\r\nPING")


def test_validation_cache_does_not_leak_between_kinds() -> None:
    """A subject validated for subscribing (wildcards allowed) stays invalid to publish."""
    assert subscribe_subject("cache.*") == b"cache.*"
    with pytest.raises(LocalProtocolError, match="wildcard"):
        publish_subject("cache.*")
    assert publish_subject("cache.x") == b"cache.x"
    assert publish_subject(b"cache.x") == b"cache.x"
    with pytest.raises(LocalProtocolError):
        subscribe_subject("cache..x")
    with pytest.raises(LocalProtocolError):  # still refused the second time (not cached)
        subscribe_subject("cache..x")
