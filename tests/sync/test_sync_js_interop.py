"""JetStream scenarios, each run against the asyncio and the blocking client (the
``driver`` fixture), with nats-py's JetStream on the other side."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from support import eventually
from sync_drivers import Driver

from natswire.server import NatsServer

pytestmark = pytest.mark.timeout(60)

_names = itertools.count(1)


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    """One nats-server with JetStream for the module."""
    with NatsServer(jetstream=True) as srv:
        yield srv


@pytest.fixture
async def stream(peer: Any) -> Any:
    name = f"SD{next(_names)}"
    pjs = peer.jetstream()
    await pjs.add_stream(name=name, subjects=[f"{name}.>"])
    yield name
    await pjs.delete_stream(name)


async def test_publish_is_acked_and_deduplicated(driver: Driver, peer: Any, stream: str) -> None:
    acks = [await driver.js_publish(f"{stream}.a", b"%d" % i, msg_id=f"id{i}") for i in range(5)]
    assert [a.seq for a in acks] == [1, 2, 3, 4, 5]
    assert {a.stream for a in acks} == {stream}
    again = await driver.js_publish(f"{stream}.a", b"0", msg_id="id0")
    assert again.duplicate and again.seq == 1
    info = await peer.jetstream().stream_info(stream)
    assert info.state.messages == 5


async def test_driver_fetches_and_acks_what_nats_py_published(
    driver: Driver, peer: Any, stream: str
) -> None:
    pjs = peer.jetstream()
    for i in range(12):
        await pjs.publish(f"{stream}.py", b"py-%d" % i, headers={"n": str(i)})
    puller = await driver.js_pull(f"{stream}.py", durable="drv")
    got: list[Any] = []
    for _ in range(10):
        if len(got) == 12:
            break
        for msg in await puller.fetch(12 - len(got), timeout=1):
            got.append(msg)
            await puller.ack(msg)
    assert [m.data for m in got] == [b"py-%d" % i for i in range(12)]
    assert [m.headers["n"] for m in got] == [str(i) for i in range(12)]
    assert [m.metadata.sequence.stream for m in got] == list(range(1, 13))
    assert {m.metadata.consumer for m in got} == {"drv"}

    async def all_acked() -> bool:
        info = await pjs.consumer_info(stream, "drv")
        return bool(info.ack_floor.stream_seq == 12 and info.num_ack_pending == 0)

    await eventually(all_acked, 10)


async def test_nats_py_fetches_what_driver_published(
    driver: Driver, peer: Any, stream: str
) -> None:
    for i in range(10):
        await driver.js_publish(f"{stream}.nw", b"nw-%d" % i)
    psub = await peer.jetstream().pull_subscribe(f"{stream}.nw", durable="py")
    msgs = await psub.fetch(10, timeout=2)
    assert [m.data for m in msgs] == [b"nw-%d" % i for i in range(10)]
    for msg in msgs:
        await msg.ack()
