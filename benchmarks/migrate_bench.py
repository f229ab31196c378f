"""The migration row: ``natswire migrate`` at Wire's scale, with RabbitMQ's own shovel
plugin beside it.

Measures, against a private RabbitMQ (management and shovel plugins on) and a private
nats-server with JetStream:

- ``apply``: queues/s of ``apply_plan`` for ``--devices`` Wire device queues (each bound
  to ``user-notifications`` by user and by user.client), read from the management API;
  then a second apply over the same plan (everything in place: the resume rate).
- ``shovel -> nats`` and ``shovel -> rabbitmq``: messages/s of one queue of
  ``--messages`` messages (1 KiB, with ids and headers), each direction until empty.
- ``shovel --queues``: messages/s over ``--queues`` queues of ``--per-queue`` messages,
  ``--concurrency`` at a time.
- ``rabbitmq shovel plugin``: messages/s of a dynamic shovel (``ack-mode on-confirm``,
  ``src-delete-after queue-length``) moving ``--messages`` from one RabbitMQ queue to
  another: RabbitMQ's own mover, a reference (it never leaves the broker).

Every figure is checked: the source ends empty and the target holds every message.

    python -m benchmarks.migrate_bench                  # 20,000 devices and messages
    python -m benchmarks.migrate_bench --quick          # small N, a smoke run
    python -m benchmarks.migrate_bench --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

from natswire import amqp
from natswire.errors import NatsWireError
from natswire.migrate.broker import connect_nats
from natswire.migrate.definitions import read_definitions
from natswire.migrate.many import shovel_many
from natswire.migrate.planner import make_plan
from natswire.migrate.rabbit import RabbitMqServer
from natswire.migrate.shovel import MoveOptions, shovel_to_amqp, shovel_to_nats
from natswire.migrate.topology import apply_plan
from natswire.server import NatsServer

NAMESPACE = "wire"
BODY = b"x" * 1024


@dataclass
class Figure:
    """One measured row."""

    name: str
    count: int
    unit: str
    seconds: float

    @property
    def rate(self) -> float:
        return self.count / max(self.seconds, 1e-9)

    def line(self) -> str:
        return (
            f"{self.name:<34} {self.count:>8} {self.unit:<9} {self.seconds:>8.2f} s "
            f"{self.rate:>10.0f} {self.unit}/s"
        )


async def _pika() -> Any:
    import aio_pika

    return aio_pika


async def declare_devices(url: str, count: int, channels: int = 16) -> None:
    """Wire's device queues in RabbitMQ, declared over several channels at once."""
    aio_pika = await _pika()
    conn = await aio_pika.connect(url)
    try:
        first = await conn.channel()
        exchange_name = "user-notifications"
        await first.declare_exchange(exchange_name, "direct", durable=True)
        todo = iter(range(count))

        async def work() -> None:
            ch = await conn.channel()
            exchange = await ch.get_exchange(exchange_name)
            for n in todo:
                queue = await ch.declare_queue(
                    f"user-notifications.u{n:06d}.c{n:06d}", durable=True
                )
                await queue.bind(exchange, f"u{n:06d}")
                await queue.bind(exchange, f"u{n:06d}.c{n:06d}")

        await asyncio.gather(*(work() for _ in range(channels)))
    finally:
        await conn.close()


async def fill_rabbit(url: str, queue: str, count: int) -> None:
    aio_pika = await _pika()
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel()
        await ch.declare_queue(queue, durable=True)
        for n in range(count):
            message = aio_pika.Message(
                BODY, message_id=f"{queue}-{n}", headers={"n": n}, delivery_mode=2
            )
            await ch.default_exchange.publish(message, routing_key=queue)
        while await rabbit_ready(url, queue) < count:
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def rabbit_ready(url: str, queue: str) -> int:
    aio_pika = await _pika()
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel()
        declared = await ch.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)
    finally:
        await conn.close()


async def bench_apply(rabbit: RabbitMqServer, nats_url: str, devices: int) -> list[Figure]:
    await declare_devices(rabbit.url, devices)
    definitions, vhost = await read_definitions(
        amqp_url=rabbit.url, management_url=rabbit.management_url
    )
    plan = make_plan(definitions, vhost=vhost, namespace=NAMESPACE)
    conn = await connect_nats(nats_url, NAMESPACE)
    try:
        began = time.monotonic()
        try:
            first = await apply_plan(plan, conn)
        except NatsWireError as exc:
            have = len(await conn.js.consumer_names(conn.stream))
            limit = (await conn.js.stream_info(conn.stream)).config.max_consumers
            raise RuntimeError(
                f"apply failed with {have} consumers on the stream (its max_consumers: "
                f"{limit}): {exc}"
            ) from exc
        created = time.monotonic() - began
        began = time.monotonic()
        again = await apply_plan(plan, conn)
        resumed = time.monotonic() - began
    finally:
        await conn.close()
    for result in (first, again):
        if result.failures or result.queues != devices:
            raise RuntimeError(f"apply: {result.queues} of {devices} queues, {result.failures[:3]}")
    if again.in_place != devices:
        raise RuntimeError(f"second apply found {again.in_place} of {devices} in place")
    return [
        Figure(f"apply ({devices} device queues)", devices, "queues", created),
        Figure("apply again (all in place)", devices, "queues", resumed),
    ]


async def bench_shovel(rabbit: RabbitMqServer, nats_url: str, messages: int) -> list[Figure]:
    queue = "bench-jobs"
    await fill_rabbit(rabbit.url, queue, messages)
    conn = await amqp.connect(servers=nats_url, namespace=NAMESPACE)
    try:
        ch = await conn.channel()
        await ch.queue_declare(queue)
    finally:
        await conn.close()
    forward = await shovel_to_nats(
        amqp_url=rabbit.url, queue=queue, nats_url=nats_url, namespace=NAMESPACE, until_empty=True
    )
    if forward.moved != messages or forward.remaining != 0:
        raise RuntimeError(f"to NATS: {forward.summary()}")
    back = await shovel_to_amqp(
        nats_url=nats_url, queue=queue, amqp_url=rabbit.url, namespace=NAMESPACE, until_empty=True
    )
    if back.moved != messages or back.remaining != 0:
        raise RuntimeError(f"to RabbitMQ: {back.summary()}")
    if await rabbit_ready(rabbit.url, queue) != messages:
        raise RuntimeError("RabbitMQ does not hold every message after the rollback")
    return [
        Figure("shovel rabbitmq -> nats", messages, "msgs", forward.elapsed),
        Figure("shovel nats -> rabbitmq", messages, "msgs", back.elapsed),
    ]


async def bench_many(
    rabbit: RabbitMqServer, nats_url: str, queues: int, per_queue: int, concurrency: int
) -> list[Figure]:
    names = [f"user-notifications.u{n:06d}.c{n:06d}" for n in range(queues)]
    for name in names:  # declared (and applied to NATS) by bench_apply
        await fill_rabbit(rabbit.url, name, per_queue)
    stats = await shovel_many(
        to_nats=True,
        amqp_url=rabbit.url,
        nats_url=nats_url,
        queues=names,
        namespace=NAMESPACE,
        options=MoveOptions(),
        concurrency=concurrency,
    )
    if not stats.complete or stats.moved != queues * per_queue:
        raise RuntimeError(stats.summary())
    return [
        Figure(
            f"shovel --queues ({queues} x {per_queue}, {concurrency} at once)",
            stats.moved,
            "msgs",
            stats.elapsed,
        )
    ]


async def bench_plugin(rabbit: RabbitMqServer, messages: int) -> list[Figure]:
    source, target = "plugin-src", "plugin-dst"
    await fill_rabbit(rabbit.url, source, messages)
    aio_pika = await _pika()
    conn = await aio_pika.connect(rabbit.url)
    try:
        ch = await conn.channel()
        await ch.declare_queue(target, durable=True)
    finally:
        await conn.close()
    local = f"amqp://{rabbit.user}:{rabbit.password}@127.0.0.1:{rabbit.port}/{quote('/', safe='')}"
    value = {
        "src-protocol": "amqp091",
        "src-uri": local,
        "src-queue": source,
        "dest-protocol": "amqp091",
        "dest-uri": local,
        "dest-queue": target,
        "ack-mode": "on-confirm",
        "src-delete-after": "queue-length",
    }
    began = time.monotonic()
    await asyncio.to_thread(
        rabbit.api, "PUT", f"parameters/shovel/{quote('/', safe='')}/bench", {"value": value}
    )
    deadline = began + 600
    while await rabbit_ready(rabbit.url, target) < messages:
        if time.monotonic() > deadline:
            raise RuntimeError("the shovel plugin did not finish in 600 s")
        await asyncio.sleep(0.01)
    took = time.monotonic() - began
    if await rabbit_ready(rabbit.url, source) != 0:
        raise RuntimeError("the shovel plugin left messages in its source")
    return [Figure("rabbitmq shovel plugin (queue -> queue)", messages, "msgs", took)]


async def run(args: argparse.Namespace) -> list[Figure]:
    rabbit = RabbitMqServer(management=True, plugins=["rabbitmq_shovel"]).start()
    try:
        with NatsServer(jetstream=True) as nats:
            figures = await bench_apply(rabbit, nats.url, args.devices)
            figures += await bench_shovel(rabbit, nats.url, args.messages)
            figures += await bench_many(
                rabbit, nats.url, args.queues, args.per_queue, args.concurrency
            )
            figures += await bench_plugin(rabbit, args.messages)
            return figures
    finally:
        rabbit.stop(timeout=5.0)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.migrate_bench")
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--queues", type=int, default=200)
    parser.add_argument("--per-queue", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="small N: a smoke run")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    if args.quick:
        args.devices, args.messages, args.queues, args.per_queue = 200, 1000, 20, 20
    args.queues = min(args.queues, args.devices)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    figures = asyncio.run(run(args))
    print(f"{'migration':<34} {'count':>8} {'unit':<9} {'time':>10} {'rate':>14}")
    for figure in figures:
        print(figure.line())
    if args.json:
        with open(args.json, "w") as out:
            json.dump([{**asdict(f), "rate": f.rate} for f in figures], out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
