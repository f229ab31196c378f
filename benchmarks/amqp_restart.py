"""The adapter through a crash at Wire's scale: ``python -m benchmarks.amqp_restart``.

Declares ``--queues`` Wire device queues (quorum, dead-letter exchange, bound by user id)
on a private nats-server with JetStream, publishes ``--messages`` confirmed messages to
as many users and consumes none, kills the server with SIGKILL and starts it again on the
same store. It prints how long after the restart JetStream answered and the queues could
be read again, then consumes every queue and checks that each message arrived. With
``--queue-state memory`` (the default on a single server) the crash loses the queues'
consumers, and consuming makes each again from its record.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable

from natswire import amqp
from natswire.server import NatsServer

from .consumer_cost import answered

EXCHANGE = "user-notifications"
ARGUMENTS = {"x-queue-type": "quorum", "x-dead-letter-exchange": "dead-user-notifications"}
CONCURRENCY = 20


def queue_of(user: int) -> str:
    return f"user-notifications.u{user}.c1"


async def _bounded(count: int, work: Callable[[int], Awaitable[None]]) -> None:
    """Run ``work(user)`` for users 0 to ``count - 1``, :data:`CONCURRENCY` at a time."""
    users = iter(range(count))

    async def worker() -> None:
        for user in users:
            await work(user)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def fill(url: str, queues: int, messages: int, queue_state: str) -> None:
    conn = await amqp.connect({"namespace": "wire"}, servers=url, queue_state=queue_state)
    try:
        ch = await conn.channel()
        await ch.exchange_declare(EXCHANGE, "direct", durable=True)
        started = time.monotonic()

        async def declare(user: int) -> None:
            await ch.queue_declare(queue_of(user), durable=True, arguments=dict(ARGUMENTS))
            await ch.queue_bind(queue_of(user), EXCHANGE, f"u{user}")

        await _bounded(queues, declare)
        print(f"declared and bound {queues} queues in {time.monotonic() - started:.1f} s")
        started = time.monotonic()

        async def publish(user: int) -> None:
            await ch.basic_publish(EXCHANGE, f"u{user}", b"%d" % user)

        await _bounded(messages, publish)
        print(f"published {messages} confirmed messages in {time.monotonic() - started:.1f} s")
    finally:
        await conn.close()


async def drain(url: str, messages: int, timeout: float, queue_state: str) -> float:
    started = time.monotonic()
    conn = await amqp.connect({"namespace": "wire"}, servers=url, queue_state=queue_state)
    got: set[int] = set()
    done = asyncio.Event()
    try:
        channels = [await conn.channel() for _ in range(CONCURRENCY)]

        async def consume(user: int) -> None:
            ch = channels[user % CONCURRENCY]

            async def on_message(delivery: amqp.Delivery) -> None:
                got.add(int(delivery.body))
                await ch.basic_ack(delivery.delivery_tag)
                if len(got) >= messages:
                    done.set()

            await ch.basic_consume(queue_of(user), on_message)

        await _bounded(messages, consume)
        await asyncio.wait_for(done.wait(), timeout)
        missing = messages - len(got)
        if missing:
            raise SystemExit(f"{missing} messages missing after the restart")
        return time.monotonic() - started
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.amqp_restart")
    parser.add_argument("--queues", type=int, default=20_000)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--queue-state", choices=("memory", "file"), default="memory")
    args = parser.parse_args(argv)
    if args.messages > args.queues:
        parser.error("--messages is at most --queues (one message per user)")
    with NatsServer(jetstream=True, startup_timeout=300.0) as server:
        asyncio.run(fill(server.url, args.queues, args.messages, args.queue_state))
        server.kill()
        started = time.monotonic()
        server.start()
        ready = time.monotonic() - started
        # With queue state in memory (the default on a single server) the queues'
        # consumers are made again from their records as they are consumed: what
        # answers first is the stream.
        consumer = amqp.consumer_name(queue_of(0)) if args.queue_state == "file" else None
        after = asyncio.run(answered(server.url, "AMQP-wire", consumer, 300.0))
        print(
            f"kill -9 and restart with {args.queues} queues and {args.messages} unconsumed "
            f"messages (queue state {args.queue_state}): server ready after {ready:.1f} s; "
            f"JetStream answered for {'a queue' if consumer else 'the stream'} "
            f"{ready + after:.1f} s after the restart"
        )
        took = asyncio.run(drain(server.url, args.messages, 600.0, args.queue_state))
        print(f"all {args.messages} messages delivered and acked {took:.1f} s after reconnecting")
    return 0


if __name__ == "__main__":
    sys.exit(main())
