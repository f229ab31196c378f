"""The Key-Value store and Object Store workloads, written once for natswire and
nats-py (their KV and Object Store calls are the same): sequential acked puts, Direct
Get gets, a watcher's delivery of updates, and an object's put and get in MB/s.

Each trial makes its own bucket (file storage) and deletes it afterwards.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from .common import now, payload, timeout_for
from .wl_clients import Flavour, _barrier, _check, _connect

WORKLOADS = ("kvput", "kvget", "kvwatch", "objput", "objget")
MIB = 1024 * 1024
#: Keys the watch workload spreads its updates over (each keeps every revision).
WATCH_KEYS = 2_000


@asynccontextmanager
async def _bucket(
    client: Flavour, url: str, errors: list[str], history: int = 1
) -> AsyncIterator[Any]:
    nc = await _connect(client, url, errors)
    js = nc.jetstream()
    bucket = f"bench{os.urandom(6).hex()}"
    try:
        kv = await js.create_key_value(bucket=bucket, history=history, direct=True)
        yield nc, js, kv, bucket
    finally:
        try:
            await js.delete_key_value(bucket)
        finally:
            await nc.close()


async def kvput(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """Sequential ``kv.put``: each waits for its ack."""
    errors: list[str] = []
    data = payload(size)
    async with _bucket(client, url, errors) as (_, _, kv, _):
        for i in range(warmup):
            await kv.put(f"k{i % 100}", data)
        t0 = now()
        for i in range(n):
            await kv.put(f"k{i % 100}", data)
        took = now() - t0
    _check(errors)
    return {"metrics": {"rate": n / took}}


async def kvget(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """Sequential ``kv.get`` of existing keys, by Direct Get."""
    errors: list[str] = []
    data = payload(size)
    async with _bucket(client, url, errors) as (_, _, kv, _):
        for i in range(100):
            await kv.put(f"k{i}", data)
        for i in range(warmup):
            await kv.get(f"k{i % 100}")
        t0 = now()
        for i in range(n):
            entry = await kv.get(f"k{i % 100}")
        took = now() - t0
        if entry.value != data:
            raise RuntimeError("kv.get returned another value")
    _check(errors)
    return {"metrics": {"rate": n / took}}


async def kvwatch(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """A watcher with ``include_history`` delivering ``n`` stored updates (stored by
    plain publishes beforehand, not timed), iterated with ``async for``."""
    errors: list[str] = []
    data = payload(size)
    total = n + warmup
    async with _bucket(client, url, errors, history=64) as (nc, js, kv, bucket):
        stored = 0
        while stored < total:
            chunk = min(2_000, total - stored)
            for i in range(stored, stored + chunk):
                await nc.publish(f"$KV.{bucket}.k{i % WATCH_KEYS}", data)
            await _barrier(client, nc)
            stored += chunk
            while (await js.stream_info(f"KV_{bucket}")).state.messages < stored:
                await asyncio.sleep(0.002)
        watcher = await kv.watchall(include_history=True)
        count = 0
        t0 = now()

        async def drain() -> float:
            nonlocal count, t0
            async for entry in watcher:
                if entry is None:
                    continue
                count += 1
                if count == warmup:
                    t0 = now()
                if count == total:
                    return now()
            return now()

        end = await asyncio.wait_for(drain(), timeout_for(total, 2_000.0))
        await watcher.stop()
    _check(errors)
    return {"metrics": {"rate": n / (end - t0)}}


async def _object_trial(client: Flavour, url: str, mib: int, timed: str) -> dict[str, Any]:
    errors: list[str] = []
    data = os.urandom(mib * MIB)
    nc = await _connect(client, url, errors)
    js = nc.jetstream()
    bucket = f"bench{os.urandom(6).hex()}"
    try:
        obs = await js.create_object_store(bucket)
        t0 = now()
        await obs.put("object", data)
        put_took = now() - t0
        t0 = now()
        result = await obs.get("object")
        get_took = now() - t0
        if result.data != data:
            raise RuntimeError("the object read back differs")
    finally:
        try:
            await js.delete_object_store(bucket)
        finally:
            await nc.close()
    _check(errors)
    took = put_took if timed == "put" else get_took
    return {"metrics": {"rate": len(data) / 1e6 / took}}


async def objput(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """``obs.put`` of an ``n`` MiB object from memory, in MB/s."""
    return await _object_trial(client, url, n, "put")


async def objget(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """``obs.get`` of an ``n`` MiB object into memory, in MB/s."""
    return await _object_trial(client, url, n, "get")


async def raw_objget(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """The raw socket copy rate the object get is measured against: ``n`` MiB sent over
    loopback TCP by a thread in 128 KiB writes, received by an asyncio protocol into
    memory, in MB/s."""
    total = n * MIB
    block = os.urandom(128 * 1024)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def send() -> None:
        conn, _ = listener.accept()
        with conn:
            sent = 0
            while sent < total:
                piece = block[: min(len(block), total - sent)]
                conn.sendall(piece)
                sent += len(piece)

    loop = asyncio.get_running_loop()
    done: asyncio.Future[float] = loop.create_future()
    parts: list[bytes] = []

    class Receiver(asyncio.Protocol):
        received = 0

        def data_received(self, data: bytes) -> None:
            parts.append(data)
            self.received += len(data)
            if self.received >= total and not done.done():
                done.set_result(now())

    sender = loop.run_in_executor(None, send)
    t0 = now()
    transport, _ = await loop.create_connection(Receiver, "127.0.0.1", port)
    end = await asyncio.wait_for(done, 120)
    data = b"".join(parts)
    took = now() - t0
    transport.close()
    await sender
    listener.close()
    if len(data) != total:
        raise RuntimeError("the socket copy lost bytes")
    return {"metrics": {"rate": total / 1e6 / max(took, end - t0)}}
