"""The workloads, written once against the API natswire and nats-py share.

natswire is a drop-in for nats-py, so one body of code drives both; a :class:`Flavour`
holds the few differences: which module connects, whether callbacks may be plain
functions, and how many flushes make a barrier. The JetStream workloads (``js*``) use
the JetStream API the two share just as well (``nc.jetstream()``, ``add_stream``,
``publish``, ``publish_async``, ``pull_subscribe``, ``fetch``, ``ack``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import nats
import nats.micro

import natswire
import natswire.micro

from .common import (
    BIG_PENDING_BYTES,
    BIG_PENDING_MSGS,
    FAN_SUBJECT,
    JS_BATCH,
    JS_SUBJECT,
    JS_WINDOW,
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
    js_settled,
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
from .svccaller import run_caller

SUB_LIMITS = {"pending_msgs_limit": BIG_PENDING_MSGS, "pending_bytes_limit": BIG_PENDING_BYTES}


@dataclass(frozen=True)
class Flavour:
    """What differs between the clients under test."""

    module: Any
    #: natswire calls a plain-function callback inside data_received; nats-py only
    #: takes coroutine functions (one task per subscription awaits them).
    plain_callbacks: bool
    #: The service API (natswire.micro, nats.micro): handlers are plain functions where
    #: ``plain_callbacks`` says so, coroutine functions otherwise.
    micro: Any
    #: nats-py's flush() may write its PING ahead of PUB bytes still queued: the second
    #: PING is queued behind all of them, so its PONG is the real barrier. natswire's
    #: PING always goes behind pending data.
    barrier_flushes: int


FLAVOURS = {
    "natswire": Flavour(natswire, plain_callbacks=True, micro=natswire.micro, barrier_flushes=1),
    "nats-py": Flavour(nats, plain_callbacks=False, micro=nats.micro, barrier_flushes=2),
}


async def _connect(client: Flavour, url: str, errors: list[str]) -> Any:
    async def on_error(exc: Exception) -> None:
        errors.append(f"{type(exc).__name__}: {exc}")

    return await client.module.connect(url, error_cb=on_error)


async def _barrier(client: Flavour, nc: Any) -> None:
    for _ in range(client.barrier_flushes):
        await nc.flush()


def _counting_cb(client: Flavour, counter: Counter) -> Any:
    def count(msg: Any) -> None:
        counter.count += 1
        counter.nbytes += len(msg.data)
        if counter.count == counter.next:
            counter.hit()

    if client.plain_callbacks:
        return count

    async def cb(msg: Any) -> None:
        count(msg)

    return cb


def _check(errors: list[str]) -> None:
    if errors:
        raise RuntimeError(f"client reported {len(errors)} error(s): {errors[:3]}")


async def pub(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    errors: list[str] = []
    nc = await _connect(client, url, errors)
    data = payload(size)
    publish = nc.publish
    subject = PUB_SUBJECT
    for _ in range(warmup):
        await publish(subject, data)
    await _barrier(client, nc)
    t0 = now()
    for _ in range(n):
        await publish(subject, data)
    await _barrier(client, nc)
    elapsed = now() - t0
    await nc.close()
    _check(errors)
    return {"metrics": {"rate": n / elapsed}, "expect_in": warmup + n, "expect_out": 0}


async def _spread(
    client: Flavour, url: str, size: int, n: int, warmup: int, subject: str, nsubs: int, queue: str
) -> dict[str, Any]:
    errors: list[str] = []
    subs = [await _connect(client, url, errors) for _ in range(nsubs)]
    pub_nc = await _connect(client, url, errors)
    uniq, counters = spread_counters(nsubs, queue)
    per = len(uniq)  # deliveries per published message
    for nc, counter in zip(subs, counters, strict=True):
        await nc.subscribe(subject, queue=queue, cb=_counting_cb(client, counter), **SUB_LIMITS)
        await nc.flush()
    data = payload(size)
    limit = timeout_for(n * per)
    await publish_and_wait(pub_nc, subject, data, warmup, [c.at(warmup) for c in uniq], limit)
    t0 = now()
    futures = [c.at(warmup + n) for c in uniq]
    await publish_and_wait(pub_nc, subject, data, n, futures, limit)
    elapsed = max(f.result() for f in futures) - t0
    # a flush round trip on every connection: anything extra (a duplicate) would show up now
    await pub_nc.flush()
    for nc in subs:
        await nc.flush()
    total = sum(c.count for c in uniq)
    expected = (warmup + n) * per
    for nc in [*subs, pub_nc]:
        await nc.close()
    _check(errors)
    if total != expected or sum(c.nbytes for c in uniq) != expected * size:
        raise RuntimeError(f"received {total} messages, expected {expected}")
    return {
        "metrics": {"rate": n * per / elapsed},
        "expect_in": warmup + n,
        "expect_out": expected,
    }


async def pubsub(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    return await _spread(client, url, size, n, warmup, PUBSUB_SUBJECT, 1, "")


async def wspub(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """:func:`pub` over WebSocket: ``url`` is a ``ws://`` one (nats-py: through aiohttp)."""
    return await pub(client, url, size, n, warmup)


async def wspubsub(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """:func:`pubsub` over WebSocket (both connections): ``url`` is a ``ws://`` one."""
    return await pubsub(client, url, size, n, warmup)


async def fanout(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    return await _spread(client, url, size, n, warmup, FAN_SUBJECT, 4, "")


async def queue(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    return await _spread(client, url, size, n, warmup, QUEUE_SUBJECT, 4, QUEUE_GROUP)


async def recv(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    errors: list[str] = []
    nc = await _connect(client, url, errors)
    counter = Counter()
    first = counter.at(warmup)
    last = counter.at(warmup + n)
    await nc.subscribe(RECV_SUBJECT, cb=_counting_cb(client, counter), **SUB_LIMITS)
    await nc.flush()
    ready()
    t0 = await wait(first, 60.0, "the sender's first messages")
    t1 = await wait(last, timeout_for(n), f"{n} messages")
    await nc.flush()
    total = counter.count
    await nc.close()
    _check(errors)
    if total != warmup + n or counter.nbytes != total * size:
        raise RuntimeError(f"received {total} messages, expected {warmup + n}")
    return {"metrics": {"rate": n / (t1 - t0)}, "expect_in": warmup + n, "expect_out": warmup + n}


async def reqreply(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    errors: list[str] = []
    nc = await _connect(client, url, errors)
    data = payload(size)
    request = nc.request
    for _ in range(warmup):
        await request(REQ_SUBJECT, data, timeout=5.0)
    lat = []
    append = lat.append
    t0 = now()
    for _ in range(n):
        t = now()
        msg = await request(REQ_SUBJECT, data, timeout=5.0)
        append(now() - t)
        if len(msg.data) != size:
            raise RuntimeError("bad reply")
    elapsed = now() - t0
    await nc.close()
    _check(errors)
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
    client: Flavour, url: str, size: int, n: int, warmup: int, concurrency: int = 100
) -> dict[str, Any]:
    errors: list[str] = []
    nc = await _connect(client, url, errors)
    data = payload(size)
    request = nc.request

    async def worker(count: int) -> None:
        for _ in range(count):
            msg = await request(REQ_SUBJECT, data, timeout=10.0)
            if len(msg.data) != size:
                raise RuntimeError("bad reply")

    await asyncio.gather(*(worker(k) for k in shares(warmup, concurrency)))
    t0 = now()
    await asyncio.gather(*(worker(k) for k in shares(n, concurrency)))
    elapsed = now() - t0
    await nc.close()
    _check(errors)
    return {
        "metrics": {"rate": n / elapsed},
        "expect_in": 2 * (warmup + n),
        "expect_out": 2 * (warmup + n),
    }


async def service(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """A service endpoint (the service API of the client under test) echoing each request,
    called with 100 requests in flight by ``benchmarks.svccaller``, a separate process
    that is the same for both clients; the caller times the requests. ``cpu_us``: this
    process's CPU time per request while the caller runs (warm-up included)."""
    errors: list[str] = []
    nc = await _connect(client, url, errors)
    svc = await client.micro.add_service(nc, name="bench", version="1.0.0")

    if client.plain_callbacks:

        def handler(req: Any) -> None:
            req.respond(req.data)
    else:

        async def handler(req: Any) -> None:  # type: ignore[misc]
            await req.respond(req.data)

    await svc.add_endpoint(name="echo", subject=SERVICE_SUBJECT, handler=handler)
    await nc.flush()
    cpu = time.process_time()
    rate = await run_caller(url, SERVICE_SUBJECT, size, n, warmup)
    cpu = time.process_time() - cpu
    endpoint = svc.stats().endpoints[0]
    await svc.stop()
    await nc.close()
    _check(errors)
    if (endpoint.num_requests, endpoint.num_errors) != (warmup + n, 0):
        raise RuntimeError(
            f"service counted {endpoint.num_requests} requests, {endpoint.num_errors} errors; "
            f"expected {warmup + n}, 0"
        )
    return {
        "metrics": {"rate": rate, "cpu_us": cpu / (warmup + n) * 1e6},
        "expect_in": 2 * (warmup + n),
        "expect_out": 2 * (warmup + n),
    }


async def memory(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """``n`` messages of ``size`` bytes left pending in a subscription: resident set
    growth per message."""
    return await _hold(client, url, size, n, traced=False)


async def memtrace(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """As ``memory``, counted by ``tracemalloc``."""
    return await _hold(client, url, size, n, traced=True)


async def _hold(client: Flavour, url: str, size: int, n: int, traced: bool) -> dict[str, Any]:
    errors: list[str] = []
    nc = await _connect(client, url, errors)
    sub = await nc.subscribe(MEM_SUBJECT, **SUB_LIMITS)
    await nc.flush()
    metrics = await hold_pending(lambda: int(sub.pending_msgs), n, size, traced)
    await nc.close()
    _check(errors)
    return {"metrics": metrics, "expect_in": n, "expect_out": n}


# --------------------------------------------------------------------------- JetStream


@dataclass
class JsTrial:
    """A connection, its JetStream context and a stream made for this trial alone."""

    nc: Any
    js: Any
    stream: str
    subject: str


@contextlib.asynccontextmanager
async def _js_trial(
    client: Flavour, url: str, errors: list[str], retention: str = "limits"
) -> AsyncIterator[JsTrial]:
    """A fresh file-storage stream on its own subject, deleted afterwards."""
    nc = await _connect(client, url, errors)
    js = nc.jetstream(publish_async_max_pending=JS_WINDOW)
    token = os.urandom(6).hex()
    stream = f"BENCH-{token}"
    subject = f"{JS_SUBJECT}.{token}"
    try:
        await js.add_stream(name=stream, subjects=[subject], storage="file", retention=retention)
        yield JsTrial(nc, js, stream, subject)
    finally:
        try:
            await js.delete_stream(stream)
        finally:
            await nc.close()


async def _publish_windowed(
    js: Any, subject: str, data: bytes, count: int, futures: list[Any]
) -> None:
    """``count`` publish_async calls (at most JS_WINDOW acks outstanding), then wait for
    every ack."""
    publish = js.publish_async
    append = futures.append
    for _ in range(count):
        append(await publish(subject, data))
    await wait(js.publish_async_completed(), timeout_for(count, 5_000.0), "the publish acks")


def _check_acks(futures: list[Any], total: int) -> None:
    """Every publish_async future acked, with the sequences 1..total."""
    failed = [f for f in futures if f.cancelled() or f.exception() is not None]
    if failed:
        first = "cancelled" if failed[0].cancelled() else repr(failed[0].exception())
        raise RuntimeError(f"{len(failed)} of {len(futures)} publishes failed, first: {first}")
    seqs = sorted(f.result().seq for f in futures)
    if len(seqs) != total or seqs[0] != 1 or seqs[-1] != total or len(set(seqs)) != total:
        raise RuntimeError(f"publish acks: {len(seqs)} acks, sequences not 1..{total}")


async def _fetch_and_ack(psub: Any, count: int, size: int) -> None:
    """Fetch ``count`` messages in batches of JS_BATCH and ack each."""
    fetch = psub.fetch
    got = 0
    nbytes = 0
    while got < count:
        msgs = await fetch(min(JS_BATCH, count - got), timeout=5.0)
        for msg in msgs:
            nbytes += len(msg.data)
            await msg.ack()
        got += len(msgs)
    if got != count or nbytes != count * size:
        raise RuntimeError(f"fetched {got} messages ({nbytes} B), expected {count}")


async def jspub(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """Sequential publish with ack: each ``await js.publish`` waits for its PubAck."""
    errors: list[str] = []
    async with _js_trial(client, url, errors) as t:
        data = payload(size)
        publish = t.js.publish
        subject = t.subject
        for _ in range(warmup):
            await publish(subject, data)
        ack = None
        t0 = now()
        for _ in range(n):
            ack = await publish(subject, data)
        elapsed = now() - t0
        total = warmup + n
        if ack is None or ack.seq != total or ack.stream != t.stream:
            raise RuntimeError(f"last publish ack {ack}, expected sequence {total}")
        await js_settled(t.js, t.stream, stored=total, published=total)
    _check(errors)
    return {"metrics": {"rate": n / elapsed}}


async def jspubasync(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """Windowed publish with ack: ``publish_async`` (JS_WINDOW acks outstanding at most),
    timed until ``publish_async_completed()`` returns."""
    errors: list[str] = []
    async with _js_trial(client, url, errors) as t:
        data = payload(size)
        futures: list[Any] = []
        await _publish_windowed(t.js, t.subject, data, warmup, futures)
        t0 = now()
        await _publish_windowed(t.js, t.subject, data, n, futures)
        elapsed = now() - t0
        total = warmup + n
        _check_acks(futures, total)
        await js_settled(t.js, t.stream, stored=total, published=total)
    _check(errors)
    return {"metrics": {"rate": n / elapsed}}


async def _fill(client: Flavour, t: JsTrial, data: bytes, total: int) -> None:
    """Store ``total`` messages in the trial's stream quickly: plain publishes (no ack)
    in chunks of JS_WINDOW, each followed by a barrier and a wait until the stream holds
    them (so the server's ingest queue never overflows: a loss would show as a timeout)."""
    publish = t.nc.publish
    stored = 0
    while stored < total:
        chunk = min(JS_WINDOW, total - stored)
        for _ in range(chunk):
            await publish(t.subject, data)
        await _barrier(client, t.nc)
        stored += chunk
        deadline = now() + 30.0
        while (await t.js.stream_info(t.stream)).state.messages < stored:
            if now() > deadline:
                raise RuntimeError(f"the stream did not store {stored} messages in 30 s")
            await asyncio.sleep(0.002)


async def jsfetch(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """Fetch+ack: a stream filled beforehand (plain publishes, not timed), a durable pull
    consumer; ``fetch`` in batches of JS_BATCH and ack each message; timed until a
    barrier after the last ack."""
    errors: list[str] = []
    async with _js_trial(client, url, errors) as t:
        total = warmup + n
        await _fill(client, t, payload(size), total)
        psub = await t.js.pull_subscribe(t.subject, "bench")
        await _fetch_and_ack(psub, warmup, size)
        await _barrier(client, t.nc)
        t0 = now()
        await _fetch_and_ack(psub, n, size)
        await _barrier(client, t.nc)
        elapsed = now() - t0
        await js_settled(t.js, t.stream, stored=total, published=total, consumer="bench")
    _check(errors)
    return {"metrics": {"rate": n / elapsed}}


async def jsflow(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """Publish→consume→ack on JetStream directly, the flow the AMQP adapter row runs:
    an interest-retention file stream, a durable pull consumer made first; one task
    publishes with ``publish_async`` (JS_WINDOW outstanding) while another fetches in
    batches of JS_BATCH and acks each; timed from the first publish to a barrier after
    the last ack (and the last publish ack)."""
    errors: list[str] = []
    async with _js_trial(client, url, errors, retention="interest") as t:
        data = payload(size)
        psub = await t.js.pull_subscribe(t.subject, "bench")
        futures: list[Any] = []
        limit = timeout_for(n, 2_000.0)

        async def flow(count: int) -> None:
            await wait(
                asyncio.gather(
                    _publish_windowed(t.js, t.subject, data, count, futures),
                    _fetch_and_ack(psub, count, size),
                ),
                limit,
                "the flow",
            )
            await _barrier(client, t.nc)

        await flow(warmup)
        t0 = now()
        await flow(n)
        elapsed = now() - t0
        total = warmup + n
        _check_acks(futures, total)
        await js_settled(t.js, t.stream, stored=0, published=total, consumer="bench")
    _check(errors)
    return {"metrics": {"rate": n / elapsed}}
