"""An Object Store watcher keeps delivering after a kill -9 and restart of the server on
the same store, and after its consumer is deleted from outside: every later update
exactly once, in order, and afterwards the bucket's stream has one consumer per live
watcher (the Key-Value watchers' recovery tests, for ``ObjectStore.watch``).

An object's info is stored with ``Nats-Rollup: sub``: a newer info of the same object
removes the older one from the stream. So the updates written while a watcher's consumer
is being replaced go to distinct objects, each of which stays stored until the watcher
reads it; an object updated twice meanwhile would be read once, at its latest info."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator

import pytest
from support import eventually, until_answered

import natswire
from natswire import errors
from natswire.jetstream.object_store import ObjectStore, ObjectWatcher
from natswire.server import NatsServer

pytestmark = pytest.mark.timeout(60)

BUCKET = "OREC"
BATCH = 12


@pytest.fixture
async def server() -> AsyncIterator[NatsServer]:
    async with NatsServer(jetstream=True) as srv:
        yield srv


async def collect(watcher: ObjectWatcher, into: list[tuple[str, str]]) -> None:
    async for info in watcher:
        if info is not None:
            into.append((info.name or "", info.nuid or ""))


@pytest.mark.parametrize("fault", ["kill", "delete"])
async def test_object_watcher_recovers_exactly_once(server: NatsServer, fault: str) -> None:
    watch_nc = await natswire.connect(
        server.url, reconnect_time_wait=0.1, max_reconnect_attempts=-1, error_cb=lambda e: None
    )
    pub_nc = await natswire.connect(server.url, reconnect_time_wait=0.1, max_reconnect_attempts=-1)
    try:
        pub_js = pub_nc.jetstream(timeout=1.0)
        writer = await pub_js.create_object_store(BUCKET)
        reader: ObjectStore = await watch_nc.jetstream(timeout=1.0).object_store(BUCKET)
        stream = f"OBJ_{BUCKET}"
        watchers = [await reader.watch(), await reader.watch(include_history=True)]
        seen: list[list[tuple[str, str]]] = [[], []]
        tasks = [asyncio.create_task(collect(w, s)) for w, s in zip(watchers, seen, strict=True)]
        written: list[tuple[str, str]] = []

        async def write(first: int, distinct: bool) -> None:
            for i in range(first, first + BATCH):
                name = f"p{i}" if distinct else f"o{i % 3}"
                info = await until_answered(functools.partial(writer.put, name, b"%d" % i))
                written.append((name, info.nuid or ""))

        await write(0, distinct=False)
        await eventually(lambda: len(seen[0]) == BATCH, 10, what="the first updates")
        if fault == "kill":
            await asyncio.sleep(0.3)
            await asyncio.to_thread(server.kill)
            await asyncio.to_thread(server.restart)
        else:
            await pub_js.delete_consumer(stream, watchers[0].consumer)
        await write(BATCH, distinct=True)
        await eventually(lambda: len(seen[0]) >= len(written), 20, what="watch resumed")
        await eventually(lambda: len(seen[1]) >= len(written), 20, what="history resumed")
        # Live again: an update of an object read before arrives once more.
        await write(2 * BATCH, distinct=False)
        await eventually(lambda: len(seen[0]) >= len(written), 10, what="live updates")
        await eventually(lambda: len(seen[1]) >= len(written), 10, what="live history")
        await asyncio.sleep(0.2)
        assert seen == [written, written]

        async def consumer_count_is(count: int) -> bool:
            try:
                info = await pub_js.stream_info(stream)
            except (errors.JetStreamError, errors.TimeoutError, errors.NoRespondersError):
                return False
            return info.state.consumer_count == count

        await eventually(lambda: consumer_count_is(2), 10, interval=0.1, what="no leak")
        if fault == "delete":
            assert watchers[0].recoveries >= 1
        for watcher in watchers:
            await watcher.stop()
        await eventually(lambda: consumer_count_is(0), 5, interval=0.1, what="removed")
        for task in tasks:
            await asyncio.wait_for(task, 2)
    finally:
        for nc in (watch_nc, pub_nc):
            with contextlib.suppress(Exception):
                await nc.close()
