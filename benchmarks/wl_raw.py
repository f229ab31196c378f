"""The workloads for the ``raw`` row, with the hand-written client in rawclient.py."""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from typing import Any

from .common import (
    FAN_SUBJECT,
    MEM_SUBJECT,
    PUB_SUBJECT,
    PUBSUB_SUBJECT,
    QUEUE_GROUP,
    QUEUE_SUBJECT,
    RECV_SUBJECT,
    REQ_SUBJECT,
    SERVICE_SUBJECT,
    Counter,
    hold_pending,
    now,
    payload,
    percentile,
    publish_and_wait,
    ready,
    shares,
    spread_counters,
    timeout_for,
    wait,
)
from .rawclient import RawConnection
from .svccaller import run_caller


def _counting_cb(counter: Counter) -> Any:
    def cb(subject: bytes, reply: bytes | None, data: bytes) -> None:
        counter.count += 1
        counter.nbytes += len(data)
        if counter.count == counter.next:
            counter.hit()

    return cb


def _check(conns: list[RawConnection]) -> None:
    errors = [e for c in conns for e in c.errors]
    if errors:
        raise RuntimeError(f"server reported {len(errors)} error(s): {errors[:3]}")


async def pub(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    nc = await RawConnection.connect(url)
    data = payload(size)
    publish = nc.publish
    subject = PUB_SUBJECT
    for _ in range(warmup):
        await publish(subject, data)
    await nc.flush()
    t0 = now()
    for _ in range(n):
        await publish(subject, data)
    await nc.flush()
    elapsed = now() - t0
    nc.close()
    _check([nc])
    return {"metrics": {"rate": n / elapsed}, "expect_in": warmup + n, "expect_out": 0}


async def _spread(
    url: str, size: int, n: int, warmup: int, subject: str, nsubs: int, queue: str
) -> dict[str, Any]:
    subs = [await RawConnection.connect(url) for _ in range(nsubs)]
    pub_nc = await RawConnection.connect(url)
    uniq, counters = spread_counters(nsubs, queue)
    per = len(uniq)  # deliveries per published message
    for nc, counter in zip(subs, counters, strict=True):
        nc.subscribe(subject, _counting_cb(counter), queue)
        await nc.flush()
    data = payload(size)
    limit = timeout_for(n * per)
    await publish_and_wait(pub_nc, subject, data, warmup, [c.at(warmup) for c in uniq], limit)
    t0 = now()
    futures = [c.at(warmup + n) for c in uniq]
    await publish_and_wait(pub_nc, subject, data, n, futures, limit)
    elapsed = max(f.result() for f in futures) - t0
    await pub_nc.flush()
    for nc in subs:
        await nc.flush()
    total = sum(c.count for c in uniq)
    expected = (warmup + n) * per
    for nc in [*subs, pub_nc]:
        nc.close()
    _check([*subs, pub_nc])
    if total != expected or sum(c.nbytes for c in uniq) != expected * size:
        raise RuntimeError(f"received {total} messages, expected {expected}")
    return {
        "metrics": {"rate": n * per / elapsed},
        "expect_in": warmup + n,
        "expect_out": expected,
    }


async def pubsub(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    return await _spread(url, size, n, warmup, PUBSUB_SUBJECT, 1, "")


async def fanout(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    return await _spread(url, size, n, warmup, FAN_SUBJECT, 4, "")


async def queue(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    return await _spread(url, size, n, warmup, QUEUE_SUBJECT, 4, QUEUE_GROUP)


async def recv(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    nc = await RawConnection.connect(url)
    counter = Counter()
    first = counter.at(warmup)
    last = counter.at(warmup + n)
    nc.subscribe(RECV_SUBJECT, _counting_cb(counter))
    await nc.flush()
    ready()
    t0 = await wait(first, 60.0, "the sender's first messages")
    t1 = await wait(last, timeout_for(n), f"{n} messages")
    await nc.flush()
    total = counter.count
    nc.close()
    _check([nc])
    if total != warmup + n or counter.nbytes != total * size:
        raise RuntimeError(f"received {total} messages, expected {warmup + n}")
    return {"metrics": {"rate": n / (t1 - t0)}, "expect_in": warmup + n, "expect_out": warmup + n}


async def _requester(url: str) -> RawConnection:
    nc = await RawConnection.connect(url)
    nc.start_inbox(b"_INBOX.raw" + os.urandom(8).hex().encode())
    await nc.flush()
    return nc


async def reqreply(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    nc = await _requester(url)
    data = payload(size)
    request = nc.request
    for _ in range(warmup):
        await request(REQ_SUBJECT, data, 5.0)
    lat = []
    append = lat.append
    t0 = now()
    for _ in range(n):
        t = now()
        reply = await request(REQ_SUBJECT, data, 5.0)
        append(now() - t)
        if len(reply) != size:
            raise RuntimeError("bad reply")
    elapsed = now() - t0
    nc.close()
    _check([nc])
    lat.sort()
    return {
        "metrics": {
            "rate": n / elapsed,
            "p50": percentile(lat, 0.5) * 1e6,
            "p99": percentile(lat, 0.99) * 1e6,
        },
        "expect_in": 2 * (warmup + n),
        "expect_out": 2 * (warmup + n),
    }


async def inflight(
    url: str, size: int, n: int, warmup: int, concurrency: int = 100
) -> dict[str, Any]:
    nc = await _requester(url)
    data = payload(size)
    request = nc.request

    async def worker(count: int) -> None:
        for _ in range(count):
            reply = await request(REQ_SUBJECT, data, 10.0)
            if len(reply) != size:
                raise RuntimeError("bad reply")

    await asyncio.gather(*(worker(k) for k in shares(warmup, concurrency)))
    t0 = now()
    await asyncio.gather(*(worker(k) for k in shares(n, concurrency)))
    elapsed = now() - t0
    nc.close()
    _check([nc])
    return {
        "metrics": {"rate": n / elapsed},
        "expect_in": 2 * (warmup + n),
        "expect_out": 2 * (warmup + n),
    }


async def service(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """The service row's raw column: an echo in the services' queue group, called as the
    services are (``benchmarks.svccaller``, 100 in flight); no service API at all, so
    what a service that costs next to nothing reaches. ``cpu_us`` as for the services."""
    nc = await RawConnection.connect(url)
    nc.subscribe(SERVICE_SUBJECT, nc.echo, queue="q")
    await nc.flush()
    cpu = time.process_time()
    rate = await run_caller(url, SERVICE_SUBJECT, size, n, warmup)
    cpu = time.process_time() - cpu
    nc.close()
    _check([nc])
    return {
        "metrics": {"rate": rate, "cpu_us": cpu / (warmup + n) * 1e6},
        "expect_in": 2 * (warmup + n),
        "expect_out": 2 * (warmup + n),
    }


async def memory(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """``n`` messages of ``size`` bytes kept as (subject, reply, payload) tuples in a deque:
    resident set growth per message."""
    return await _hold(url, size, n, traced=False)


async def memtrace(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """As ``memory``, counted by ``tracemalloc``."""
    return await _hold(url, size, n, traced=True)


async def _hold(url: str, size: int, n: int, traced: bool) -> dict[str, Any]:
    nc = await RawConnection.connect(url)
    pending: deque[tuple[bytes, bytes | None, bytes]] = deque()
    append = pending.append

    def keep(subject: bytes, reply: bytes | None, data: bytes) -> None:
        append((subject, reply, data))

    nc.subscribe(MEM_SUBJECT, keep)
    await nc.flush()
    metrics = await hold_pending(lambda: len(pending), n, size, traced)
    nc.close()
    _check([nc])
    return {"metrics": metrics, "expect_in": n, "expect_out": n}


# The Object Store get row's raw column: a plain loopback socket copy (see wl_kv).
from .wl_kv import raw_objget as objget  # noqa: E402, F401

# The JetStream push, pull and Key-Value rows' raw columns (see wl_raw_js).
from .wl_raw_js import jsfetch, jsflow, jspush, kvget, kvput  # noqa: E402, F401
