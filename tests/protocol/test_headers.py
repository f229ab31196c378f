"""Headers: a multi-value, case-preserving, case-insensitive mapping; the NATS/1.0 block."""

from __future__ import annotations

from collections.abc import MutableMapping

import pytest

from natswire.protocol import (
    Headers,
    RemoteProtocolError,
    encode_headers,
    parse_headers,
)


def sample() -> Headers:
    return Headers([("Nats-Msg-Id", "1"), ("X-Trace", "a"), ("x-trace", "b"), ("X-TRACE", "c")])


def test_is_a_mutable_mapping() -> None:
    assert isinstance(Headers(), MutableMapping)


def test_first_value_and_case_insensitive_lookup() -> None:
    headers = sample()
    assert headers["X-Trace"] == "a"
    assert headers["x-trace"] == "a"
    assert headers["X-TRACE"] == "a"
    assert headers.get("nats-msg-id") == "1"
    assert headers.get("missing") is None
    assert headers.get("missing", "d") == "d"
    with pytest.raises(KeyError):
        headers["missing"]


def test_get_all_keeps_order_and_case_of_values() -> None:
    headers = sample()
    assert headers.get_all("x-trace") == ["a", "b", "c"]
    assert headers.get_all("X-Trace") == ["a", "b", "c"]
    assert headers.get_all("missing") == []


def test_multi_items_keep_key_case() -> None:
    assert sample().multi_items() == [
        ("Nats-Msg-Id", "1"),
        ("X-Trace", "a"),
        ("x-trace", "b"),
        ("X-TRACE", "c"),
    ]


def test_contains() -> None:
    headers = sample()
    assert "x-trace" in headers
    assert "NATS-MSG-ID" in headers
    assert "missing" not in headers
    assert 1 not in headers  # type: ignore[comparison-overlap]


def test_add_keeps_existing_values() -> None:
    headers = Headers({"A": "1"})
    headers.add("a", "2")
    headers.add("B", "3")
    assert headers.get_all("A") == ["1", "2"]
    assert headers.multi_items() == [("A", "1"), ("a", "2"), ("B", "3")]


def test_setitem_replaces_every_value_in_place() -> None:
    headers = Headers([("A", "1"), ("B", "x"), ("a", "2"), ("A", "3")])
    headers["a"] = "new"
    assert headers.get_all("A") == ["new"]
    # The new value takes the place of the first old one, with the key as now given.
    assert headers.multi_items() == [("a", "new"), ("B", "x")]
    headers["C"] = "c"
    assert headers.multi_items() == [("a", "new"), ("B", "x"), ("C", "c")]


def test_delitem_removes_every_value() -> None:
    headers = sample()
    del headers["X-TRACE"]
    assert headers.multi_items() == [("Nats-Msg-Id", "1")]
    with pytest.raises(KeyError):
        del headers["x-trace"]


def test_iteration_and_len_count_distinct_keys() -> None:
    headers = sample()
    assert list(headers) == ["Nats-Msg-Id", "X-Trace"]
    assert len(headers) == 2
    assert list(headers.keys()) == ["Nats-Msg-Id", "X-Trace"]
    assert list(headers.values()) == ["1", "a"]
    assert dict(headers) == {"Nats-Msg-Id": "1", "X-Trace": "a"}
    assert len(Headers()) == 0
    assert not Headers()


def test_equality() -> None:
    assert sample() == sample()
    assert Headers({"A": "1"}) == {"A": "1"}
    assert Headers({"A": "1"}) != {"A": "2"}
    assert Headers({"A": "1"}) != {"B": "1"}
    # Against a plain dict, only the first value of each key is visible.
    assert Headers([("A", "1"), ("A", "2")]) == {"A": "1"}
    # Between Headers, every value counts, and so do order, case and status.
    assert Headers([("A", "1"), ("A", "2")]) != Headers([("A", "1")])
    assert Headers([("A", "1"), ("B", "2")]) != Headers([("B", "2"), ("A", "1")])
    assert Headers([("A", "1")]) != Headers([("a", "1")])
    assert Headers(status=503) != Headers()
    assert Headers(status=408, description="x") != Headers(status=408)
    assert Headers() != 42
    with pytest.raises(TypeError):
        hash(Headers())


def test_construction() -> None:
    from_dict = Headers({"A": "1", "B": ["2", "3"]})
    assert from_dict.multi_items() == [("A", "1"), ("B", "2"), ("B", "3")]
    from_pairs = Headers([("A", "1"), ("B", "2"), ("B", "3")])
    assert from_pairs == from_dict
    from_generator = Headers((key, value) for key, value in from_pairs.multi_items())
    assert from_generator == from_dict
    copy = Headers(from_dict)
    assert copy == from_dict
    copy.add("C", "4")
    assert "C" not in from_dict  # a copy, not a view
    assert from_dict.copy() == from_dict
    assert from_dict.copy() is not from_dict


def test_construction_keeps_or_overrides_status() -> None:
    status = Headers({"A": "1"}, status=408, description="Request Timeout")
    assert Headers(status).status == 408
    assert Headers(status).description == "Request Timeout"
    assert Headers(status, status=503).status == 503
    assert Headers(status, status=503).description == ""


def test_repr() -> None:
    assert "Nats-Msg-Id" in repr(sample())
    assert "status=503" in repr(Headers(status=503))


ENCODED = {
    "empty": (Headers(), b"NATS/1.0\r\n\r\n"),
    "one": (Headers({"K": "v"}), b"NATS/1.0\r\nK: v\r\n\r\n"),
    "multi": (Headers([("K", "1"), ("k", "2")]), b"NATS/1.0\r\nK: 1\r\nk: 2\r\n\r\n"),
    "empty-value": (Headers({"K": ""}), b"NATS/1.0\r\nK: \r\n\r\n"),
    "status": (Headers(status=503), b"NATS/1.0 503\r\n\r\n"),
    "status-description": (
        Headers(status=408, description="Request Timeout"),
        b"NATS/1.0 408 Request Timeout\r\n\r\n",
    ),
    "status-and-headers": (
        Headers({"Nats-Last-Consumer": "3"}, status=100, description="Idle Heartbeat"),
        b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 3\r\n\r\n",
    ),
    "unicode": (Headers({"K\u00e9": "\u2603"}), "NATS/1.0\r\nK\u00e9: \u2603\r\n\r\n".encode()),
}


@pytest.mark.parametrize(("headers", "raw"), ENCODED.values(), ids=ENCODED.keys())
def test_encode_and_parse(headers: Headers, raw: bytes) -> None:
    assert encode_headers(headers) == raw
    parsed = parse_headers(raw)
    assert parsed == headers
    assert (parsed.status, parsed.description) == (headers.status, headers.description)


def test_encode_accepts_dicts_and_pairs() -> None:
    assert encode_headers({"A": ["1", "2"]}) == b"NATS/1.0\r\nA: 1\r\nA: 2\r\n\r\n"
    assert encode_headers([("A", "1")]) == b"NATS/1.0\r\nA: 1\r\n\r\n"


def test_description_without_status_is_not_encoded() -> None:
    assert encode_headers(Headers(description="ignored")) == b"NATS/1.0\r\n\r\n"


PARSED = {
    "no-responders": (b"NATS/1.0 503\r\n\r\n", 503, "", []),
    "no-responders-with-subject": (
        b"NATS/1.0 503\r\nNats-Subject: a.b\r\n\r\n",
        503,
        "",
        [("Nats-Subject", "a.b")],
    ),
    "request-timeout": (
        b"NATS/1.0 408 Request Timeout\r\n"
        b"Nats-Pending-Messages: 1\r\nNats-Pending-Bytes: 0\r\n\r\n",
        408,
        "Request Timeout",
        [("Nats-Pending-Messages", "1"), ("Nats-Pending-Bytes", "0")],
    ),
    "flow-control": (b"NATS/1.0 100 FlowControl Request\r\n\r\n", 100, "FlowControl Request", []),
    "idle-heartbeat": (
        b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 5\r\nNats-Last-Stream: 7\r\n\r\n",
        100,
        "Idle Heartbeat",
        [("Nats-Last-Consumer", "5"), ("Nats-Last-Stream", "7")],
    ),
    "description-spaces": (
        b"NATS/1.0  409   Consumer  Deleted  \r\n\r\n",
        409,
        "Consumer  Deleted",
        [],
    ),
    "tab-before-status": (b"NATS/1.0\t404\r\n\r\n", 404, "", []),
    "trailing-space-no-status": (b"NATS/1.0 \r\n\r\n", None, "", []),
    "value-whitespace-trimmed": (b"NATS/1.0\r\nK:   v  \r\n\r\n", None, "", [("K", "v")]),
    "value-no-space": (b"NATS/1.0\r\nK:v\r\n\r\n", None, "", [("K", "v")]),
    "value-with-colon": (b"NATS/1.0\r\nK: a:b: c\r\n\r\n", None, "", [("K", "a:b: c")]),
    "empty-value": (b"NATS/1.0\r\nK:\r\n\r\n", None, "", [("K", "")]),
    "continuation": (
        b"NATS/1.0\r\nK: first\r\n  second\r\n\tthird\r\nL: x\r\n\r\n",
        None,
        "",
        [("K", "first second third"), ("L", "x")],
    ),
    "continuation-of-empty": (b"NATS/1.0\r\nK:\r\n v\r\n\r\n", None, "", [("K", "v")]),
    "multi-value-case": (
        b"NATS/1.0\r\nA: 1\r\na: 2\r\nB: 3\r\nA: 4\r\n\r\n",
        None,
        "",
        [("A", "1"), ("a", "2"), ("B", "3"), ("A", "4")],
    ),
}


@pytest.mark.parametrize(
    ("raw", "status", "description", "pairs"), PARSED.values(), ids=PARSED.keys()
)
def test_parse(
    raw: bytes, status: int | None, description: str, pairs: list[tuple[str, str]]
) -> None:
    headers = parse_headers(raw)
    assert headers.status == status
    assert headers.description == description
    assert headers.multi_items() == pairs


BAD_BLOCKS = {
    "empty": (b"", "does not start with NATS/1.0"),
    "wrong-version": (b"NATS/2.0\r\n\r\n", "does not start with NATS/1.0"),
    "lower-case-version": (b"nats/1.0\r\n\r\n", "does not start with NATS/1.0"),
    "http": (b"HTTP/1.1 200 OK\r\n\r\n", "does not start with NATS/1.0"),
    "no-blank-line": (b"NATS/1.0\r\nK: v\r\n", "does not end with a blank line"),
    "only-version": (b"NATS/1.0", "does not end with a blank line"),
    "bare-lf": (b"NATS/1.0\nK: v\n\n", "does not end with a blank line"),
    "glued-version": (b"NATS/1.0503\r\n\r\n", "bad header version line"),
    "status-letters": (b"NATS/1.0 5o3\r\n\r\n", "bad status code"),
    "status-two-digits": (b"NATS/1.0 50\r\n\r\n", "bad status code"),
    "status-four-digits": (b"NATS/1.0 5030\r\n\r\n", "bad status code"),
    "status-unicode-digits": ("NATS/1.0 \u0665\u0660\u0663\r\n\r\n".encode(), "bad status code"),
    "no-colon": (b"NATS/1.0\r\nK v\r\n\r\n", "malformed header line"),
    "empty-name": (b"NATS/1.0\r\n: v\r\n\r\n", "malformed header line"),
    "space-in-name": (b"NATS/1.0\r\nK K: v\r\n\r\n", "malformed header line"),
    "blank-line-inside": (b"NATS/1.0\r\nA: 1\r\n\r\nB: 2\r\n\r\n", "malformed header line"),
    "continuation-first": (b"NATS/1.0\r\n v\r\n\r\n", "continuation line before any header"),
    "not-utf8": (b"NATS/1.0\r\nK: \xff\r\n\r\n", "not UTF-8"),
}


@pytest.mark.parametrize(("raw", "message"), BAD_BLOCKS.values(), ids=BAD_BLOCKS.keys())
def test_parse_errors(raw: bytes, message: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_headers(raw)
    assert message in str(info.value)
