"""Helpers for the migration tests: publish to RabbitMQ, read back on both sides."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import aio_pika

from natswire import amqp

#: Wire's topology (notes/wire-amqp.md §2.3), declared in RabbitMQ by the tests.
UID = "2f6a1b7c-0d5e-4c3a-9b8e-1a2b3c4d5e6f"
CID = "a1b2c3d4e5f60718"
CLIENT_QUEUE = f"user-notifications.{UID}.{CID}"
DOMAIN = "remote.example.com"


def migrate_args(step: str, amqp_url: str, mgmt: str, namespace: str, *more: str) -> list[str]:
    """The arguments of ``natswire migrate STEP`` (plan, apply, ...) for the vhost of
    ``amqp_url``, read through the management API at ``mgmt``, into ``namespace``."""
    return [
        "migrate",
        step,
        "--amqp",
        amqp_url,
        "--management",
        mgmt,
        "--namespace",
        namespace,
        *more,
    ]


def shovel_args(
    source: str, target: str, namespace: str, *options: str, queue: str | None = None
) -> list[str]:
    """The arguments of ``natswire migrate shovel`` from ``source`` to ``target`` (one
    amqp://, one nats:// URL) in ``namespace``: of ``queue`` when given, then ``options``."""
    args = ["migrate", "shovel", "--from", source, "--to", target, "--namespace", namespace]
    if queue is not None:
        args += ["--queue", queue]
    return [*args, *options]


async def declare_wire_topology(url: str) -> None:
    """Exchanges, queues, bindings and dead-letter settings as wire-server declares them."""
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel()
        notif = await ch.declare_exchange("user-notifications", "direct", durable=True)
        dlx = await ch.declare_exchange("dead-user-notifications", "direct", durable=True)
        client = await ch.declare_queue(
            CLIENT_QUEUE,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-dead-letter-exchange": "dead-user-notifications",
                "x-dead-letter-routing-key": "dead-user-notifications",
            },
        )
        await client.bind(notif, UID)
        await client.bind(notif, f"{UID}.{CID}")
        dlq = await ch.declare_queue(
            "dead-user-notifications", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await dlq.bind(dlx, "dead-user-notifications")
        await ch.declare_queue("cells_events", durable=True, arguments={"x-queue-type": "quorum"})
        await ch.declare_queue(
            f"backend-notifications.{DOMAIN}",
            durable=True,
            arguments={"x-queue-type": "quorum", "x-single-active-consumer": True},
        )
        await ch.declare_queue(
            "background-jobs", durable=True, arguments={"x-queue-type": "quorum"}
        )
    finally:
        await conn.close()


def make_message(n: int, rng: random.Random) -> tuple[bytes, dict[str, Any]]:
    """Message ``n``: a body of a random size (mostly small, some large) and a full set of
    properties and headers (``n`` in the ``n`` header)."""
    roll = rng.random()
    if roll < 0.02:
        size = rng.randint(32_000, 200_000)
    elif roll < 0.05:
        size = 0
    else:
        size = rng.randint(1, 2_000)
    body = rng.randbytes(size)
    props: dict[str, Any] = {
        "content_type": rng.choice(["application/json", "text/plain; charset=utf-8", None]),
        "content_encoding": rng.choice([None, "gzip"]),
        "delivery_mode": rng.choice([1, 2]),
        "priority": rng.choice([0, 5]),  # aio-pika always sends one
        "correlation_id": rng.choice([None, f"corr-{n}"]),
        "reply_to": rng.choice([None, "replies"]),
        "expiration": rng.choice([None, "86400000", "604800000"]),
        "message_id": f"msg-{n}",
        "timestamp": rng.choice([None, 1_700_000_000 + n]),
        "type": rng.choice([None, "synchronization", "event"]),
        "user_id": rng.choice([None, "guest"]),
        "app_id": rng.choice([None, "gundeck"]),
        "headers": {
            "n": n,
            "text": f"header ✓ {n}",
            "flag": bool(n % 2),
            "ratio": n / 4,  # pamqp sends floats as 32-bit: keep them exact
            "nested": {"list": [1, "two", {"three": 3}], "none": None},
        },
    }
    return body, props


def pika_message(body: bytes, props: dict[str, Any]) -> aio_pika.Message:
    kwargs = dict(props)
    expiration = kwargs.pop("expiration")
    msg = aio_pika.Message(body, **{k: v for k, v in kwargs.items() if v is not None})
    if expiration is not None:
        msg.expiration = int(expiration) / 1000
    return msg


async def declare_rabbit_queue(url: str, name: str, kind: str | None = None) -> None:
    """A durable RabbitMQ queue ``name``, of ``kind`` (``x-queue-type``) when given."""
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel()
        arguments = {"x-queue-type": kind} if kind is not None else None
        await ch.declare_queue(name, durable=True, arguments=arguments)
    finally:
        await conn.close()


async def declare_nats_queue(nats_url: str, namespace: str, name: str, **options: Any) -> None:
    """A natswire.amqp quorum queue ``name``; ``options`` go to ``amqp.connect``."""
    conn = await amqp.connect(servers=nats_url, namespace=namespace, **options)
    try:
        ch = await conn.channel()
        await ch.queue_declare(name, arguments={"x-queue-type": "quorum"})
    finally:
        await conn.close()


async def publish_to_rabbit(
    url: str, queue: str, messages: list[tuple[bytes, dict[str, Any]]], window: int = 500
) -> None:
    """Publish into ``queue`` (default exchange); return once the queue holds them all."""
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel(publisher_confirms=False)
        q = await ch.declare_queue(queue, passive=True)
        before = int(q.declaration_result.message_count or 0)
        for body, props in messages:
            await ch.default_exchange.publish(pika_message(body, props), routing_key=queue)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while True:
            q = await ch.declare_queue(queue, passive=True)
            if int(q.declaration_result.message_count or 0) >= before + len(messages):
                return
            assert loop.time() < deadline, "RabbitMQ did not take every message"
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def rabbit_count(url: str, queue: str) -> int:
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel()
        q = await ch.declare_queue(queue, passive=True)
        return int(q.declaration_result.message_count or 0)
    finally:
        await conn.close()


async def drain_rabbit(url: str, queue: str, quiet: float = 1.0, limit: float = 60.0) -> list[Any]:
    """Consume (and ack) everything in a RabbitMQ queue until it stays quiet."""
    got: list[Any] = []
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel()
        await ch.set_qos(prefetch_count=500)
        q = await ch.declare_queue(queue, passive=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        async with q.iterator() as it:
            while loop.time() < deadline:
                try:
                    message = await asyncio.wait_for(it.__anext__(), quiet)
                except asyncio.TimeoutError:
                    break
                await message.ack()
                got.append(message)
    finally:
        await conn.close()
    return got


async def drain_nats(
    conn: amqp.Connection, queue: str, quiet: float = 1.0, limit: float = 60.0
) -> list[amqp.Delivery]:
    """Consume (and ack) everything in a natswire.amqp queue until it stays quiet."""
    got: list[amqp.Delivery] = []
    changed = asyncio.Event()

    async def on_message(delivery: amqp.Delivery) -> None:
        got.append(delivery)
        await delivery.ack()
        changed.set()

    ch = await conn.channel()
    await ch.basic_qos(1000)
    await ch.basic_consume(queue, on_message)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while loop.time() < deadline:
        changed.clear()
        try:
            await asyncio.wait_for(changed.wait(), quiet)
        except asyncio.TimeoutError:
            break
    await ch.close()
    return got


def expected_properties(props: dict[str, Any]) -> amqp.BasicProperties:
    return amqp.BasicProperties(**props)
