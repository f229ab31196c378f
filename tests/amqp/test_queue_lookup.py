"""A channel method's queue lookup waits out a consumer leader election: on a cluster, a
consumer whose leader was lost answers nothing until it has elected a new one."""

from __future__ import annotations

from typing import Any

import pytest

from natswire import amqp
from natswire.amqp.options import AmqpOptions
from natswire.amqp.queues import QueueSpec
from natswire.amqp.topology import Topology
from natswire.client.errors import TimeoutError
from natswire.jetstream.api import ConsumerInfo
from natswire.jetstream.errors import ConsumerNotFoundError

QUEUE = "user-notifications.u1.c1"


class ElectingJetStream:
    """Answers CONSUMER.INFO only after ``silent`` requests got no answer."""

    def __init__(self, silent: int, missing: bool = False) -> None:
        self.silent = silent
        self.missing = missing
        self.timeouts: list[float | None] = []

    async def consumer_info(self, stream: str, consumer: str, timeout: float | None = None) -> Any:
        self.timeouts.append(timeout)
        if self.silent:
            self.silent -= 1
            raise TimeoutError(f"no reply to CONSUMER.INFO.{stream}.{consumer}")
        if self.missing:
            raise ConsumerNotFoundError(description="consumer not found", code=404, err_code=10014)
        spec = QueueSpec(name=QUEUE, durable=True, exclusive=False, auto_delete=False)
        return ConsumerInfo.from_response(
            {
                "stream_name": stream,
                "name": consumer,
                "config": {"durable_name": consumer, "metadata": spec.metadata()},
                "num_pending": 3,
            }
        )


def topology(js: ElectingJetStream) -> Topology:
    options = AmqpOptions()
    return Topology(None, js, options, "AMQP", "AMQP-META", "me", None)  # type: ignore[arg-type]


async def test_lookup_with_patience_waits_for_the_election() -> None:
    js = ElectingJetStream(silent=2)
    found = await topology(js).find_queue(QUEUE, patience=10)
    assert found is not None and found[1].name == QUEUE and found[0].num_pending == 3
    assert len(js.timeouts) == 3 and all(t is not None and t < 10 for t in js.timeouts)


async def test_lookup_with_patience_still_tells_a_missing_queue() -> None:
    js = ElectingJetStream(silent=1, missing=True)
    assert await topology(js).find_queue(QUEUE, patience=10) is None


async def test_lookup_that_never_gets_an_answer_is_service_unavailable() -> None:
    js = ElectingJetStream(silent=1_000)
    with pytest.raises(amqp.ServerUnavailableError) as raised:
        await topology(js).find_queue(QUEUE, patience=0.3)
    assert raised.value.reply_code == 503
    assert QUEUE in str(raised.value)


async def test_background_lookup_is_one_try() -> None:
    js = ElectingJetStream(silent=1)
    with pytest.raises(TimeoutError):
        await topology(js).find_queue(QUEUE)
    assert js.timeouts == [None]
