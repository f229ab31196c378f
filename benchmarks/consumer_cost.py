"""What a queue costs nats-server: ``python -m benchmarks.consumer_cost --queues N``.

Creates one stream and N durable pull consumers with two filter subjects each (the shape
of a Wire device queue under natswire.amqp), stores N/2 messages of 200 B, consumes and
acks 1,000 of them from distinct consumers, then kills the server with SIGKILL and starts
it on the same store. Prints the create rate, the server's memory, the store's size and
files, the time and server CPU the acks took, and how long after the restart JetStream
answered. ``--retention interest`` measures the adapter's earlier layout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import natswire
from natswire.httpjson import get_json
from natswire.jetstream.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy
from natswire.jetstream.context import JetStreamContext
from natswire.server import NatsServer

CONCURRENCY = 200
ACKED = 1_000


def server_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def store_figures(store: Path) -> tuple[int, int]:
    files = size = 0
    for root, _, names in os.walk(store):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(root, name))
    return files, size


def shard_of(i: int, shards: int) -> tuple[str, str]:
    """(stream, subject prefix) of consumer ``i`` when ``shards`` streams share them:
    ``S`` and ``ns.`` for one stream, else ``S<k>`` and ``ns.s<k>.`` with k = i mod shards."""
    if shards == 1:
        return "S", "ns."
    k = i % shards
    return f"S{k}", f"ns.s{k}."


async def create_queue_consumers(
    js: JetStreamContext,
    count: int,
    filters: int,
    deliver: DeliverPolicy = DeliverPolicy.NEW,
    shards: int = 1,
    memory_state: bool = False,
) -> None:
    """``count`` durable pull consumers ``Q-<i>`` on stream ``S`` (or spread over
    ``shards`` streams, see :func:`shard_of`), each with ``filters`` literal filter
    subjects (``<prefix>un.u<i>`` first) and the ``deliver`` policy, as many created at
    once as :data:`CONCURRENCY`; ``memory_state`` keeps their state in memory
    (``mem_storage``)."""
    slots = asyncio.Semaphore(CONCURRENCY)

    async def create(i: int) -> None:
        stream, prefix = shard_of(i, shards)
        subjects = [f"{prefix}un.u{i}", *(f"{prefix}q{f}.u{i}" for f in range(1, filters))]
        async with slots:
            await js.add_consumer(
                stream,
                ConsumerConfig(
                    durable_name=f"Q-{i}",
                    deliver_policy=deliver,
                    ack_policy=AckPolicy.EXPLICIT,
                    max_deliver=-1,
                    max_ack_pending=-1,
                    filter_subjects=subjects,
                    mem_storage=memory_state or None,
                ),
            )

    await asyncio.gather(*(create(i) for i in range(count)))


async def fill(server: NatsServer, queues: int, retention: str) -> None:
    nc = await natswire.connect(server.url)
    js = nc.jetstream(timeout=30)
    await js.add_stream(
        name="S", subjects=["ns.>"], retention=RetentionPolicy(retention), max_consumers=queues
    )
    slots = asyncio.Semaphore(CONCURRENCY)
    started = time.monotonic()
    await create_queue_consumers(js, queues, filters=2)
    took = time.monotonic() - started
    varz = get_json(f"{server.monitor_url}/varz")
    print(f"{queues} consumers created in {took:.1f} s ({queues / took:.0f}/s)")
    print(f"server memory {varz['mem'] / 1e6:.0f} MB ({varz['mem'] / queues / 1e3:.0f} KB a queue)")

    async def publish(i: int) -> None:
        async with slots:
            await js.publish(f"ns.un.u{i}", b"x" * 200)

    await asyncio.gather(*(publish(i) for i in range(queues // 2)))
    acks = min(ACKED, queues // 2)
    assert server.pid is not None
    cpu_before = server_cpu_seconds(server.pid)
    started = time.monotonic()
    for i in range(acks):
        sub = await js.pull_subscribe_bind(f"Q-{i}", "S")
        for msg in await sub.fetch(1, timeout=5):
            await msg.ack()
        await sub.unsubscribe()
    await nc.flush()
    took = time.monotonic() - started
    cpu = server_cpu_seconds(server.pid) - cpu_before
    print(
        f"{acks} messages fetched and acked from distinct queues in {took:.1f} s, "
        f"{1000 * cpu / acks:.2f} ms of server CPU each (fetch + ack)"
    )
    await nc.close()


async def answered(url: str, stream: str, consumer: str | None, timeout: float) -> float:
    """Seconds until the server at ``url`` answers for ``consumer`` of ``stream`` (after
    a restart: JetStream is up and has recovered it), or for ``stream`` itself when
    ``consumer`` is ``None``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            nc = await natswire.connect(url, connect_timeout=1, allow_reconnect=False)
        except Exception:
            await asyncio.sleep(0.1)
            continue
        try:
            js = nc.jetstream(timeout=1)
            if consumer is None:
                await js.stream_info(stream)
            else:
                await js.consumer_info(stream, consumer)
            return time.monotonic() - started
        except Exception:
            await asyncio.sleep(0.1)
        finally:
            await nc.close()
    raise SystemExit(f"JetStream did not answer within {timeout} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.consumer_cost")
    parser.add_argument("--queues", type=int, default=20_000)
    parser.add_argument("--retention", choices=("limits", "interest"), default="limits")
    args = parser.parse_args(argv)
    with NatsServer(jetstream=True, http_port=-1, startup_timeout=600.0) as server:
        asyncio.run(fill(server, args.queues, args.retention))
        assert server.store_dir is not None
        files, size = store_figures(server.store_dir)
        print(f"store: {size / 1e6:.0f} MB in {files} files")
        server.kill()
        started = time.monotonic()
        server.start()
        ready = time.monotonic() - started
        after = asyncio.run(answered(server.url, "S", "Q-0", 600.0))
        print(
            f"kill -9 + restart ({args.retention} retention): server ready after {ready:.1f} s, "
            f"a consumer answered {ready + after:.1f} s after the restart"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
