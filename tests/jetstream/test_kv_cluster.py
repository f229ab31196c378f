"""A replicas=3 bucket on a 3-node cluster: a writer and a watcher keep working through
kill -9 of the stream leader; no acknowledged put is lost and the watcher sees every
later revision once, in order."""

from __future__ import annotations

import asyncio
import functools

import pytest
from support import eventually, until_answered

import natswire
from natswire.jetstream.kv_watch import KeyWatcher
from natswire.server import NatsCluster

pytestmark = pytest.mark.timeout(120)


async def collect(watcher: KeyWatcher, into: list[int]) -> None:
    async for entry in watcher:
        if entry is not None:
            into.append(entry.revision or 0)


async def test_r3_bucket_survives_leader_kill() -> None:
    async with NatsCluster(size=3, jetstream=True) as cluster:
        await asyncio.to_thread(cluster.wait_jetstream_ready, 30)
        options = dict(reconnect_time_wait=0.1, max_reconnect_attempts=200, connect_timeout=2)
        writer_nc = await natswire.connect(cluster.urls, **options)
        watcher_nc = await natswire.connect(list(reversed(cluster.urls)), **options)
        try:
            js = writer_nc.jetstream(timeout=2)
            kv = await until_answered(
                lambda: js.create_key_value(bucket="R3KV", history=64, replicas=3)
            )
            reader = await until_answered(lambda: watcher_nc.jetstream(timeout=2).key_value("R3KV"))
            watcher = await reader.watchall()
            seen: list[int] = []
            task = asyncio.create_task(collect(watcher, seen))
            total = 200
            acked: list[int] = []
            killed = asyncio.Event()

            async def write() -> None:
                for i in range(total):
                    put = functools.partial(kv.put, f"k{i % 10}", b"%d" % i)
                    acked.append(await until_answered(put))
                    if i == 80:
                        await asyncio.wait_for(killed.wait(), 10)

            writing = asyncio.create_task(write())
            await eventually(lambda: len(acked) > 80, 20)
            info = await js.stream_info(kv.stream)
            assert info.cluster is not None and info.cluster.leader
            leader = next(s for s in cluster.servers if s.server_name == info.cluster.leader)
            await asyncio.to_thread(leader.kill)
            killed.set()
            await asyncio.wait_for(writing, 90)
            assert len(acked) == total
            await eventually(lambda: set(seen) >= set(acked), 30, what="every acked revision seen")
            assert seen == sorted(set(seen)), "once each, in revision order"
            info = await until_answered(lambda: js.stream_info(kv.stream))
            assert info.cluster is not None and info.cluster.leader != leader.server_name
            last = await kv.get(f"k{(total - 1) % 10}")
            assert last.value == b"%d" % (total - 1)
            await watcher.stop()
            task.cancel()
        finally:
            await writer_nc.close()
            await watcher_nc.close()
