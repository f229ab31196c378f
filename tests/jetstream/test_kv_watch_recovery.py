"""A Key-Value watcher keeps delivering after a kill -9 and restart of the server, a
frozen link and its consumer deleted from outside: every later update exactly once, in
revision order, and afterwards the bucket's stream has one consumer per live watcher."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator

import pytest
from faultproxy import FaultProxy
from support import eventually, until_answered

import natswire
from natswire import errors
from natswire.jetstream.kv import KeyValue
from natswire.jetstream.kv_watch import KeyWatcher
from natswire.server import NatsServer

pytestmark = pytest.mark.timeout(60)

BUCKET = "REC"
BATCH = 20


@pytest.fixture
async def server() -> AsyncIterator[NatsServer]:
    async with NatsServer(jetstream=True) as srv:
        yield srv


async def collect(watcher: KeyWatcher, into: list[int]) -> None:
    async for entry in watcher:
        if entry is not None:
            into.append(entry.revision or 0)


@pytest.mark.parametrize("fault", ["kill", "freeze", "delete"])
async def test_watcher_recovers_exactly_once(
    server: NatsServer, proxy: FaultProxy, fault: str
) -> None:
    disconnected = asyncio.Event()
    watch_nc = await natswire.connect(
        proxy.url, ping_interval=0.3, max_outstanding_pings=2, reconnect_time_wait=0.1,
        max_reconnect_attempts=-1, disconnected_cb=disconnected.set, error_cb=lambda e: None,
    )  # fmt: skip
    pub_nc = await natswire.connect(server.url, reconnect_time_wait=0.1, max_reconnect_attempts=-1)
    try:
        pub_js = pub_nc.jetstream(timeout=1.0)
        # Every revision is kept, so that a watcher resuming late still finds them all.
        writer = await pub_js.create_key_value(bucket=BUCKET, history=64)
        reader: KeyValue = await watch_nc.jetstream(timeout=1.0).key_value(BUCKET)
        watchers = [await reader.watchall(), await reader.watch("k1")]
        seen: list[list[int]] = [[], []]
        tasks = [asyncio.create_task(collect(w, s)) for w, s in zip(watchers, seen, strict=True)]
        written: list[tuple[str, int]] = []

        async def write(first: int) -> None:
            for i in range(first, first + BATCH):
                key = f"k{i % 3}"
                revision = await until_answered(functools.partial(writer.put, key, b"%d" % i))
                written.append((key, revision))

        await write(0)
        await eventually(lambda: len(seen[0]) == BATCH, 10)
        if fault == "kill":
            await asyncio.sleep(0.3)
            await asyncio.to_thread(server.kill)
            await asyncio.to_thread(server.restart)
        elif fault == "freeze":
            proxy.freeze()
            await asyncio.wait_for(disconnected.wait(), 10)
            proxy.thaw()
        else:
            await pub_js.delete_consumer(reader.stream, watchers[0].consumer)
        await write(BATCH)
        everything = [rev for _, rev in written]
        only_k1 = [rev for key, rev in written if key == "k1"]
        await eventually(lambda: len(seen[0]) >= len(everything), 20, what="watchall resumed")
        await eventually(lambda: len(seen[1]) >= len(only_k1), 20, what="watch resumed")
        await asyncio.sleep(0.2)
        assert seen == [everything, only_k1]

        async def consumer_count_is(count: int) -> bool:
            try:
                info = await pub_js.stream_info(reader.stream)
            except (errors.JetStreamError, errors.TimeoutError, errors.NoRespondersError):
                return False
            return info.state.consumer_count == count

        await eventually(lambda: consumer_count_is(2), 10, interval=0.1, what="no leak")
        for watcher in watchers:
            await watcher.stop()
        await eventually(lambda: consumer_count_is(0), 5, interval=0.1, what="removed")
        for task in tasks:
            await asyncio.wait_for(task, 2)
    finally:
        for nc in (watch_nc, pub_nc):
            with contextlib.suppress(Exception):
                await nc.close()
