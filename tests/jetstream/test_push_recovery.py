"""Push, queue-group push and ordered consumers keep delivering after a kill -9 and
restart of the server on the same store, a frozen link found by pings, and their
consumer deleted from outside; afterwards the stream has only the consumer one live
subscriber needs. The ordered consumer delivers every message exactly once, in order."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from faultproxy import FaultProxy
from support import eventually, until_answered

import natswire
from natswire import errors
from natswire.jetstream import (
    ConsumerConfig,
    DeliverPolicy,
    JetStreamContext,
    JetStreamMessage,
    OrderedPullSubscription,
    PushSubscription,
)
from natswire.server import NatsServer

pytestmark = pytest.mark.timeout(60)

STREAM = "REC"
BATCH = 40


@pytest.fixture
async def server() -> AsyncIterator[NatsServer]:
    async with NatsServer(jetstream=True) as srv:
        yield srv


class Setup:
    """A subscriber connection through the proxy, a publisher connection straight to the
    server, the stream, and what the subscriptions received."""

    def __init__(self, server: NatsServer, proxy: FaultProxy) -> None:
        self.server = server
        self.proxy = proxy
        self.received: list[int] = []
        self.disconnected = asyncio.Event()
        self.reconnected = asyncio.Event()

    async def start(self) -> None:
        self.sub_nc = await natswire.connect(
            self.proxy.url, ping_interval=0.3, max_outstanding_pings=2,
            reconnect_time_wait=0.1, max_reconnect_attempts=-1,
            disconnected_cb=self.disconnected.set, reconnected_cb=self.reconnected.set,
            error_cb=lambda e: None,
        )  # fmt: skip
        self.pub_nc = await natswire.connect(
            self.server.url, reconnect_time_wait=0.1, max_reconnect_attempts=-1
        )
        self.sub_js = self.sub_nc.jetstream(timeout=1.0)
        self.pub_js = self.pub_nc.jetstream(timeout=1.0)
        await self.pub_js.add_stream(name=STREAM, subjects=[f"{STREAM}.>"])

    async def close(self) -> None:
        for nc in (self.sub_nc, self.pub_nc):
            with contextlib.suppress(Exception):
                await nc.close()

    def record(self, msg: JetStreamMessage) -> None:
        self.received.append(msg.metadata.sequence.stream)

    def read(self, sub: OrderedPullSubscription) -> asyncio.Task[None]:
        """Record everything ``async for`` takes from ``sub``, in a task."""

        async def read() -> None:
            async for msg in sub:
                self.record(msg)

        return asyncio.create_task(read())

    async def publish(self, first: int, count: int) -> None:
        for i in range(first, first + count):
            await until_answered(functools.partial(self.pub_js.publish, f"{STREAM}.x", b"%d" % i))

    async def fault(self, kind: str, subs: list[PushSubscription]) -> None:
        if kind == "kill":
            await asyncio.to_thread(self.server.kill)
            await asyncio.to_thread(self.server.restart)
        elif kind == "freeze":
            self.proxy.freeze()
            await asyncio.wait_for(self.disconnected.wait(), 10)
            self.proxy.thaw()
        else:
            await self.pub_js.delete_consumer(STREAM, subs[0].consumer)

    async def consumer_count(self) -> int:
        return (await self.pub_js.stream_info(STREAM)).state.consumer_count


Subscribe = Callable[
    [JetStreamContext, Callable[[JetStreamMessage], None]], Awaitable[list[PushSubscription]]
]


async def push(
    js: JetStreamContext, cb: Callable[[JetStreamMessage], None]
) -> list[PushSubscription]:
    config = ConsumerConfig(ack_wait=1.0)
    return [
        await js.subscribe(f"{STREAM}.x", durable="pd", cb=cb, idle_heartbeat=0.3, config=config)
    ]


async def queue_push(
    js: JetStreamContext, cb: Callable[[JetStreamMessage], None]
) -> list[PushSubscription]:
    config = ConsumerConfig(ack_wait=1.0)
    return [
        await js.subscribe(
            f"{STREAM}.x", queue="q", durable="qd", cb=cb, idle_heartbeat=0.3, config=config
        )
        for _ in range(2)
    ]


async def ordered(
    js: JetStreamContext, cb: Callable[[JetStreamMessage], None]
) -> list[PushSubscription]:
    return [await js.subscribe(f"{STREAM}.x", cb=cb, ordered_consumer=True, idle_heartbeat=0.3)]


@pytest.mark.parametrize("fault", ["kill", "freeze", "delete"])
@pytest.mark.parametrize("subscribe", [push, queue_push, ordered], ids=lambda f: f.__name__)
async def test_consumer_recovers(
    server: NatsServer, proxy: FaultProxy, fault: str, subscribe: Subscribe
) -> None:
    setup = Setup(server, proxy)
    await setup.start()
    try:
        subs = await subscribe(setup.sub_js, setup.record)
        await setup.publish(1, BATCH)
        await eventually(lambda: set(setup.received) >= set(range(1, BATCH + 1)), 10)
        if fault == "kill":
            await asyncio.sleep(0.3)  # let the server write the consumer's ack state
        await setup.fault(fault, subs)
        await setup.publish(BATCH + 1, BATCH)
        everything = set(range(1, 2 * BATCH + 1))
        await eventually(lambda: set(setup.received) >= everything, 20, what="delivery resumed")
        if subscribe is ordered:
            assert setup.received == sorted(everything)
        await eventually(lambda: _count_is(setup, 1), 10, interval=0.1, what="no leaked consumer")
        for sub in subs:
            await sub.unsubscribe()
        if subscribe is ordered:
            await eventually(lambda: _count_is(setup, 0), 5, what="ordered consumer removed")
    finally:
        await setup.close()


async def _count_is(setup: Setup, count: int) -> bool:
    try:
        return await setup.consumer_count() == count
    except (errors.JetStreamError, errors.TimeoutError, errors.NoRespondersError):
        return False


@pytest.mark.parametrize("fault", ["kill", "freeze", "delete"])
async def test_ordered_pull_recovers_exactly_once_in_order(
    server: NatsServer, proxy: FaultProxy, fault: str
) -> None:
    setup = Setup(server, proxy)
    await setup.start()
    try:
        sub = await setup.sub_js.ordered_pull(f"{STREAM}.x")
        reader = setup.read(sub)
        await setup.publish(1, BATCH)
        await eventually(lambda: len(setup.received) >= BATCH, 10)
        if fault == "delete":
            await setup.pub_js.delete_consumer(STREAM, sub.consumer)
        else:
            await setup.fault(fault, [])
        await setup.publish(BATCH + 1, BATCH)
        everything = list(range(1, 2 * BATCH + 1))
        await eventually(lambda: len(setup.received) >= 2 * BATCH, 20, what="delivery resumed")
        assert setup.received == everything
        await eventually(lambda: _count_is(setup, 1), 10, interval=0.1, what="no leak")
        reader.cancel()
        await sub.unsubscribe()
        await eventually(lambda: _count_is(setup, 0), 5, interval=0.1, what="removed")
    finally:
        await setup.close()


@pytest.mark.parametrize("form", ["push", "bind", "pull"])
async def test_an_ordered_consumer_replaced_before_its_first_message_keeps_its_start(
    server: NatsServer, proxy: FaultProxy, form: str
) -> None:
    # DeliverPolicy.NEW, and the consumer deleted before anything new was published:
    # the replacement must neither replay the stream nor skip what came meanwhile.
    setup = Setup(server, proxy)
    await setup.start()
    try:
        await setup.publish(1, 5)
        reader: asyncio.Task[None] | None = None
        if form == "push":
            sub: PushSubscription | OrderedPullSubscription = await setup.sub_js.subscribe(
                f"{STREAM}.x", cb=setup.record, ordered_consumer=True,
                deliver_policy=DeliverPolicy.NEW, idle_heartbeat=0.3,
            )  # fmt: skip
        elif form == "bind":
            config = ConsumerConfig(
                name="made-elsewhere", deliver_subject=setup.sub_nc.new_inbox(),
                filter_subject=f"{STREAM}.x", deliver_policy=DeliverPolicy.NEW,
                ack_policy="none", flow_control=True, idle_heartbeat=0.3,
            )  # fmt: skip
            await setup.pub_js.add_consumer(STREAM, config)
            sub = await setup.sub_js.subscribe_bind(
                STREAM, config, cb=setup.record, ordered_consumer=True
            )
        else:
            pull = await setup.sub_js.ordered_pull(f"{STREAM}.x", deliver_policy=DeliverPolicy.NEW)
            sub, reader = pull, setup.read(pull)
        await setup.pub_js.delete_consumer(STREAM, sub.consumer)
        await setup.publish(6, 3)
        await eventually(lambda: len(setup.received) >= 3, 20, what="delivery resumed")
        await setup.publish(9, 2)
        await eventually(lambda: len(setup.received) >= 5, 10, what="the later messages")
        await asyncio.sleep(0.3)
        assert setup.received == [6, 7, 8, 9, 10]
        if reader is not None:
            reader.cancel()
        await sub.unsubscribe()
    finally:
        await setup.close()


async def test_an_ordered_last_per_subject_consumer_of_unset_subjects_misses_no_update(
    server: NatsServer, proxy: FaultProxy
) -> None:
    # A KV watcher of keys not set yet: replaced before its first message, it must still
    # deliver every update made meanwhile, not only the last per subject.
    setup = Setup(server, proxy)
    await setup.start()
    try:
        await setup.publish(1, 3)  # on another subject
        sub = await setup.sub_js.subscribe(
            f"{STREAM}.y", cb=setup.record, ordered_consumer=True,
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT, idle_heartbeat=0.3,
        )  # fmt: skip
        await setup.pub_js.delete_consumer(STREAM, sub.consumer)
        for body in (b"1", b"2"):
            await until_answered(functools.partial(setup.pub_js.publish, f"{STREAM}.y", body))
        await eventually(lambda: len(setup.received) >= 2, 20, what="both updates")
        await asyncio.sleep(0.3)
        assert setup.received == [4, 5]
        await sub.unsubscribe()
    finally:
        await setup.close()
