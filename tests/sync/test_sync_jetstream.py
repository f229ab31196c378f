"""The blocking client's JetStream beyond the interop scenarios: the ack protocol,
fetch's time limits, the errors of publishing and pulling."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest

import natswire.sync
from natswire.errors import TimeoutError
from natswire.jetstream import ConsumerConfig
from natswire.jetstream.errors import (
    MsgAlreadyAckedError,
    NoStreamResponseError,
    ServiceUnavailableError,
    StreamNotFoundError,
)
from natswire.server import NatsServer
from natswire.sync.jetstream import JetStreamContext

pytestmark = pytest.mark.timeout(60)

_names = itertools.count(1)


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer(jetstream=True) as srv:
        yield srv


@pytest.fixture
def js(server: NatsServer) -> Iterator[JetStreamContext]:
    with natswire.sync.connect(server.url) as nc:
        yield nc.jetstream(timeout=2.0)


@pytest.fixture
def stream(js: JetStreamContext) -> Iterator[str]:
    name = f"SJ{next(_names)}"
    js.add_stream(name=name, subjects=[f"{name}.>"])
    yield name
    js.delete_stream(name)


def test_ack_nak_term_and_metadata(js: JetStreamContext, stream: str) -> None:
    for i in range(3):
        js.publish(f"{stream}.x", b"%d" % i)
    psub = js.pull_subscribe(f"{stream}.x", durable="w", config=ConsumerConfig(ack_wait=30.0))
    first, second, third = psub.fetch(3, timeout=2)
    assert first.metadata.sequence.stream == 1 and first.metadata.num_pending == 2
    first.in_progress()
    first.ack()
    assert first.is_acked
    with pytest.raises(MsgAlreadyAckedError):
        first.ack()
    second.nak()
    third.term("bad input")
    again = psub.fetch(1, timeout=2)[0]
    assert again.data == b"1" and again.metadata.num_delivered == 2
    assert again.ack_sync(timeout=2) is not None
    info = psub.consumer_info()
    assert info.num_ack_pending == 0 and info.num_pending == 0


def test_fetch_returns_what_there_is_and_times_out_when_nothing(
    js: JetStreamContext, stream: str
) -> None:
    psub = js.pull_subscribe(f"{stream}.y")  # ephemeral
    js.publish(f"{stream}.y", b"only")
    started = time.monotonic()
    msgs = psub.fetch(10, timeout=5)
    # What is there comes back at once, without waiting out the timeout for the rest.
    assert [m.data for m in msgs] == [b"only"] and time.monotonic() - started < 2.5
    msgs[0].ack()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        psub.fetch(1, timeout=0.3)
    assert 0.25 < time.monotonic() - started < 3


def test_a_pull_nobody_answers_raises_service_unavailable_as_in_asyncio(
    js: JetStreamContext, stream: str
) -> None:
    psub = js.pull_subscribe(f"{stream}.gone", durable="gone")
    js.delete_consumer(stream, "gone")
    with pytest.raises(ServiceUnavailableError, match="'gone'"):
        psub.fetch(1, timeout=2)


def test_publish_without_a_stream_and_subscribe_to_no_stream(js: JetStreamContext) -> None:
    with pytest.raises(NoStreamResponseError):
        js.publish("nostream.here", b"x", retry_attempts=0)
    with pytest.raises(StreamNotFoundError):
        js.pull_subscribe("nostream.here", durable="d")
