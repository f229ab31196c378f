"""PublishRetry: when an acked publish is tried again (no server, no event loop)."""

from __future__ import annotations

import json

import pytest

from natswire.errors import (
    APIError,
    JetStreamError,
    NoStreamResponseError,
    ServiceUnavailableError,
)
from natswire.jetstream.api import PubAck
from natswire.jetstream.puback import MAX_RETRY_WAIT, PublishRetry, parse_pub_ack


def test_pauses_start_at_zero_and_double_up_to_the_cap() -> None:
    retry = PublishRetry("s", attempts=5, wait=0.25, has_id=False)
    assert list(retry.pauses()) == [0.0, 0.25, 0.5, 1.0, MAX_RETRY_WAIT, MAX_RETRY_WAIT]


def test_a_timeout_is_retried_only_for_a_message_with_an_id() -> None:
    exc = TimeoutError("late")
    with pytest.raises(TimeoutError):
        PublishRetry("s", 2, 0.1, has_id=False).timed_out(exc)
    retry = PublishRetry("s", 2, 0.1, has_id=True)
    retry.timed_out(exc)
    assert retry.error() is exc


def test_no_responders_and_a_503_answer_are_retried_and_reported_last() -> None:
    retry = PublishRetry("orders.new", 1, 0.1, has_id=False)
    retry.no_responders()
    assert isinstance(retry.error(), NoStreamResponseError)
    assert "orders.new" in str(retry.error())
    busy = json.dumps({"error": {"code": 503, "description": "unavailable"}}).encode()
    assert retry.answer(busy) is None
    assert isinstance(retry.error(), ServiceUnavailableError)
    ack = retry.answer(b'{"stream": "ORDERS", "seq": 7}')
    assert ack is not None and (ack.stream, ack.seq) == ("ORDERS", 7)


@pytest.mark.parametrize(
    "answer",
    [
        b'{"stream":"BENCH-a1","seq":123}',
        b'{"stream":"S","seq":5,"duplicate":true}',
        b'{"stream":"S","seq":5,"domain":"hub"}',
        b'{"stream":"S\\"x","seq":5}',
        b'{"stream":"\xc3\xa9t\xc3\xa9","seq":18446744073709551615}',
        b'{"stream": "S", "seq": 9}',
    ],
)
def test_the_plain_answer_shortcut_gives_what_the_json_decoder_gives(answer: bytes) -> None:
    ack = parse_pub_ack(answer)
    assert ack == PubAck.from_response(json.loads(answer))
    assert type(ack.seq) is int


def test_an_error_answer_is_never_taken_for_an_ack() -> None:
    with pytest.raises(APIError):
        parse_pub_ack(
            b'{"error":{"code":400,"err_code":10071,"description":"wrong last sequence"}}'
        )
    with pytest.raises(JetStreamError):
        parse_pub_ack(b'{"stream":"S"}')
