"""The AMQP adapter's workload: publish→consume→ack through ``natswire.amqp``.

The same flow as ``jsflow`` in wl_clients.py (which runs it on JetStream directly, with
natswire and with nats-py), through the adapter: a fresh namespace per trial (so a
fresh interest-retention file stream), one durable queue on the default exchange, a
consumer with prefetch JS_BATCH whose callback acks each delivery
(``basic_ack(tag)``), and a publisher with pipelined publisher confirms
(``basic_publish(..., confirm=False)``: at most JS_WINDOW outstanding, as
``publish_async``) followed by ``wait_for_confirms()``. Timed from the first publish to
a barrier after the last ack (and the last confirm).
"""

from __future__ import annotations

import os
from typing import Any

from natswire import amqp

from .common import JS_BATCH, Counter, js_settled, now, payload, timeout_for, wait

QUEUE = "bench"


async def amqp_flow(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(f"{type(exc).__name__}: {exc}")

    def on_channel_exception(channel: Any, exc: BaseException) -> None:
        errors.append(f"channel {channel}: {type(exc).__name__}: {exc}")

    conn = await amqp.connect(
        servers=url,
        namespace=f"bench{os.urandom(6).hex()}",
        on_channel_exception=on_channel_exception,
        error_cb=on_error,
    )
    js = conn.js
    try:
        ch = await conn.channel()
        await ch.queue_declare(QUEUE)
        await ch.basic_qos(JS_BATCH)
        counter = Counter()
        bad: list[str] = []
        basic_ack = ch.basic_ack

        async def on_message(delivery: amqp.Delivery) -> None:
            counter.count += 1
            counter.nbytes += len(delivery.body)
            tag = delivery.delivery_tag
            if tag != counter.count or delivery.redelivered:
                bad.append(
                    f"delivery {counter.count}: tag {tag}, redelivered {delivery.redelivered}"
                )
            await basic_ack(tag)
            if counter.count == counter.next:
                counter.hit()

        await ch.basic_consume(QUEUE, on_message)
        data = payload(size)
        publish = ch.basic_publish
        limit = timeout_for(n, 2_000.0)

        async def flow(count: int) -> None:
            done = counter.at(counter.count + count)
            for _ in range(count):
                await publish("", QUEUE, data, confirm=False)
            await wait(ch.wait_for_confirms(), limit, "the publisher confirms")
            await wait(done, limit, "every delivery to be acked")
            await conn.nc.flush()

        await flow(warmup)
        t0 = now()
        await flow(n)
        elapsed = now() - t0
        total = warmup + n
        if bad:
            raise RuntimeError(f"{len(bad)} bad deliveries, first: {bad[0]}")
        if counter.count != total or counter.nbytes != total * size:
            raise RuntimeError(f"{counter.count} deliveries, expected {total}")
        if ch.unacked_count:
            raise RuntimeError(f"{ch.unacked_count} deliveries still unacked")
        # The adapter's stream keeps acked messages until its max age (limits retention):
        # all of them are still stored; the queue's consumer has every one acked.
        await js_settled(
            js,
            conn.stream,
            stored=total,
            published=total,
            consumer=conn.consumer_name(QUEUE),
        )
        await ch.close()
    finally:
        try:
            for stream in (conn.stream, conn.meta_stream):
                await js.delete_stream(stream)
        finally:
            await conn.close()
    if errors:
        raise RuntimeError(f"adapter reported {len(errors)} error(s): {errors[:3]}")
    return {"metrics": {"rate": n / elapsed}}
