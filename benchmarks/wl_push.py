"""The JetStream push workloads, written once for natswire and nats-py (see wl_clients):
a push consumer with automatic acks, and an ordered consumer.

Each trial fills its own file-storage stream first (not timed), then subscribes and
times the delivery of the last N messages (after W warm-up ones) to the callback: a
plain function for natswire, a coroutine function for nats-py (the only kind it
takes), as in the core workloads.
"""

from __future__ import annotations

from typing import Any

from .common import Counter, js_settled, now, payload, timeout_for, wait
from .wl_clients import Flavour, _barrier, _check, _counting_cb, _fill, _js_trial

WORKLOADS = ("jspush", "jsordered")


async def _push_trial(
    client: Flavour, url: str, size: int, n: int, warmup: int, ordered: bool
) -> dict[str, Any]:
    errors: list[str] = []
    async with _js_trial(client, url, errors) as t:
        total = warmup + n
        await _fill(client, t, payload(size), total)
        counter = Counter()
        started = counter.at(warmup) if warmup else None
        finished = counter.at(total)
        cb = _counting_cb(client, counter)
        if ordered:
            sub = await t.js.subscribe(t.subject, cb=cb, ordered_consumer=True)
        else:
            sub = await t.js.subscribe(t.subject, durable="bench", cb=cb)
        t0 = await started if started is not None else now()
        end = await wait(finished, timeout_for(total, 2_000.0), "the last push delivery")
        await _barrier(client, t.nc)
        if counter.count != total or counter.nbytes != total * size:
            raise RuntimeError(f"delivered {counter.count} messages, expected {total}")
        await js_settled(
            t.js, t.stream, stored=total, published=total, consumer=None if ordered else "bench"
        )
        await sub.unsubscribe()
    _check(errors)
    return {"metrics": {"rate": n / (end - t0)}}


async def jspush(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """Push consumer, durable, explicit acks sent automatically after the callback."""
    return await _push_trial(client, url, size, n, warmup, ordered=False)


async def jsordered(client: Flavour, url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """Ordered push consumer (ephemeral, no acks, flow control, sequence checks)."""
    return await _push_trial(client, url, size, n, warmup, ordered=True)
