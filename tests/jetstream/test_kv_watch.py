"""Key-Value watchers: initial values, then updates in revision order; the watch
options as nats-py documents them; no consumer left behind."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from support import Connect, eventually

import natswire
from natswire import errors
from natswire.jetstream import JetStreamContext
from natswire.jetstream.kv import KeyValue
from natswire.jetstream.kv_watch import Entry, KeyWatcher

_buckets = itertools.count(1)


@pytest.fixture
async def kv(js: JetStreamContext) -> AsyncIterator[KeyValue]:
    bucket = f"w{next(_buckets)}"
    kv = await js.create_key_value(bucket=bucket, history=10)
    yield kv
    with contextlib.suppress(errors.NatsWireError):
        await js.delete_key_value(bucket)


async def take(watcher: KeyWatcher, count: int) -> list[Entry | None]:
    return [await watcher.updates(timeout=2.0) for _ in range(count)]


def summary(items: list[Entry | None]) -> list[Any]:
    return [None if e is None else (e.key, e.value, e.operation) for e in items]


async def consumers(js: JetStreamContext, kv: KeyValue) -> int:
    return (await js.stream_info(kv.stream)).state.consumer_count


async def test_initial_values_then_updates_in_order(js: JetStreamContext, kv: KeyValue) -> None:
    await kv.put("a", b"1")
    await kv.put("a", b"2")
    await kv.put("b", b"1")
    watcher = await kv.watchall()
    assert summary(await take(watcher, 3)) == [("a", b"2", None), ("b", b"1", None), None]
    await kv.put("c", b"1")
    await kv.delete("a")
    await kv.purge("b")
    updates = await take(watcher, 3)
    assert summary(updates) == [("c", b"1", None), ("a", b"", "DEL"), ("b", b"", "PURGE")]
    revisions = [e.revision for e in updates if e is not None]
    assert revisions == sorted(revisions)
    assert all(e is not None and e.bucket == kv.bucket and e.created for e in updates)
    with pytest.raises(errors.TimeoutError):
        await watcher.updates(timeout=0.2)
    await watcher.stop()
    assert await consumers(js, kv) == 0
    # Iteration ends after stop.
    assert [e async for e in watcher] == []


async def test_empty_bucket_marks_the_end_at_once(kv: KeyValue) -> None:
    watcher = await kv.watch("x.*")
    assert await watcher.updates(timeout=2.0) is None
    await kv.put("y.1", b"no")
    await kv.put("x.1", b"yes")
    assert summary(await take(watcher, 1)) == [("x.1", b"yes", None)]
    await watcher.stop()


async def test_include_history_and_ignore_deletes(kv: KeyValue) -> None:
    await kv.put("a", b"1")
    await kv.put("a", b"2")
    await kv.put("b", b"1")
    await kv.delete("b")
    everything = await kv.watchall(include_history=True)
    assert summary(await take(everything, 5)) == [
        ("a", b"1", None),
        ("a", b"2", None),
        ("b", b"1", None),
        ("b", b"", "DEL"),
        None,
    ]
    await everything.stop()
    live = await kv.watchall(ignore_deletes=True)
    assert summary(await take(live, 2)) == [("a", b"2", None), None]
    await kv.delete("a")
    await kv.put("c", b"3")
    assert summary(await take(live, 1)) == [("c", b"3", None)]
    await live.stop()


@pytest.mark.parametrize("option", ["meta_only", "headers_only"])
async def test_meta_only_transfers_no_values(kv: KeyValue, option: str) -> None:
    await kv.put("a", b"a large value")
    watcher = await kv.watchall(**{option: True})
    first = await watcher.updates(timeout=2.0)
    assert first is not None and (first.key, first.value) == ("a", b"")
    assert first.revision == 1
    await watcher.stop()


async def test_consumers_equal_live_watchers(
    js: JetStreamContext, kv: KeyValue, connect: Connect
) -> None:
    watchers = [await kv.watch(f"k{i}") for i in range(3)]
    assert await consumers(js, kv) == 3
    await watchers[0].stop()
    assert await consumers(js, kv) == 2
    for watcher in watchers[1:]:
        await watcher.stop()
    assert await consumers(js, kv) == 0
    # A client that closes without stopping its watcher: the server drops the consumer.
    other: natswire.Client = await connect()
    other_kv = await other.jetstream().key_value(kv.bucket)
    await other_kv.watchall(inactive_threshold=0.5)
    assert await consumers(js, kv) == 1
    await other.close()

    async def none_left() -> bool:
        return await consumers(js, kv) == 0

    await eventually(none_left, 5.0, interval=0.1, what="the closed client's consumer removed")


async def test_many_updates_arrive_once_in_order(kv: KeyValue) -> None:
    watcher = await kv.watchall()
    assert await watcher.updates(timeout=2.0) is None
    revisions = [await kv.put(f"k{i % 7}", b"%d" % i) for i in range(200)]
    seen: list[int] = []
    while len(seen) < len(revisions):
        entry = await asyncio.wait_for(watcher.updates(timeout=2.0), 3.0)
        assert entry is not None
        seen.append(entry.revision or 0)
    assert seen == revisions
    await watcher.stop()
