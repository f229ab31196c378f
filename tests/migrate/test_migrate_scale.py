"""At Wire's scale, in small: many device queues read from RabbitMQ's management API;
``apply`` killed with SIGKILL and run again continues without creating anything twice;
the shovel moves many queues at once with per-queue progress and a total."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import aio_pika
from migrate_helpers import drain_nats, migrate_args, shovel_args
from support import natswire_cli, start_cli, stop_process

from natswire import amqp
from natswire.server import NatsServer

DEVICES = 200


def _device_queue(n: int) -> str:
    return f"user-notifications.u{n:05d}.c{n:05d}"


async def declare_devices(url: str, count: int) -> None:
    """Wire's per-device queues: each bound to ``user-notifications`` by user and by
    user.client (classic queues here: quicker to create than quorum ones)."""
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel()
        exchange = await ch.declare_exchange("user-notifications", "direct", durable=True)
        for n in range(count):
            queue = await ch.declare_queue(_device_queue(n), durable=True)
            await queue.bind(exchange, f"u{n:05d}")
            await queue.bind(exchange, f"u{n:05d}.c{n:05d}")
    finally:
        await conn.close()


async def _consumers(nats_url: str, namespace: str) -> dict[str, Any]:
    conn = await amqp.connect(servers=nats_url, namespace=namespace)
    try:
        return {info.name: info for info in await conn.js.consumers_info(conn.stream)}
    finally:
        await conn.close()


async def test_apply_killed_and_rerun_continues_creating_nothing_twice(
    amqp_url: str, mgmt: str, nats: NatsServer, namespace: str
) -> None:
    await declare_devices(amqp_url, DEVICES)
    command = migrate_args("apply", amqp_url, mgmt, namespace, "--nats", nats.url)
    proc = start_cli(*command, "--concurrency", "1")
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while len(await _consumers(nats.url, namespace)) < DEVICES // 4:
            assert proc.poll() is None, proc.communicate()
            assert loop.time() < deadline, "apply did not get going in 30 s"
            await asyncio.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        stop_process(proc)
    before = await _consumers(nats.url, namespace)
    assert DEVICES // 4 <= len(before) < DEVICES, "the kill came too late to test a resume"

    rerun = await asyncio.to_thread(natswire_cli, *command, "--concurrency", "4")
    assert rerun.returncode == 0, rerun.stderr
    assert f"Done: 1 exchanges, {DEVICES} queues, {2 * DEVICES} bindings in place" in rerun.stdout
    in_place = int(rerun.stdout.split(" queues were already in place")[0].split()[-1])
    assert len(before) - 1 <= in_place <= len(before)  # the last one may lack a binding
    assert f"apply: queues {DEVICES}/{DEVICES}" in rerun.stderr  # the progress line
    after = await _consumers(nats.url, namespace)
    assert len(after) == DEVICES
    for name, info in before.items():
        assert after[name].created == info.created, f"{name} was created again"

    conn = await amqp.connect(servers=nats.url, namespace=namespace)
    try:
        ch = await conn.channel()
        await ch.basic_publish("user-notifications", "u00003", b"to the user")
        await ch.basic_publish("user-notifications", f"u{DEVICES - 1:05d}.c{DEVICES - 1:05d}", b"x")
        first = await drain_nats(conn, _device_queue(3), quiet=0.5)
        last = await drain_nats(conn, _device_queue(DEVICES - 1), quiet=0.5)
    finally:
        await conn.close()
    assert [d.body for d in first] == [b"to the user"]
    assert [d.body for d in last] == [b"x"]


async def test_shovel_moves_many_queues_at_once_both_ways(
    amqp_url: str, mgmt: str, nats: NatsServer, namespace: str
) -> None:
    queues = 12
    per_queue = 40
    await declare_devices(amqp_url, queues)
    applied = await asyncio.to_thread(
        natswire_cli, *migrate_args("apply", amqp_url, mgmt, namespace, "--nats", nats.url)
    )
    assert applied.returncode == 0, applied.stderr
    for n in range(queues):
        batch = [(f"{n}/{i}".encode(), {"message_id": f"m-{n}-{i}"}) for i in range(per_queue)]
        await _publish(amqp_url, _device_queue(n), batch)

    def shovel(source: str, target: str) -> Any:
        return natswire_cli(
            *shovel_args(source, target, namespace),
            "--queues",
            r"^user-notifications\.u",
            "--management",
            mgmt,
            "--concurrency",
            "4",
            "--progress",
            "0.2",
        )

    forward = await asyncio.to_thread(shovel, amqp_url, nats.url)
    assert forward.returncode == 0, forward.stderr
    total = queues * per_queue
    assert f"total: {queues} of {queues} queues moved ({total} messages" in forward.stdout
    assert "0 messages left" in forward.stdout
    assert "total: " in forward.stderr and "queues done" in forward.stderr  # the total line
    assert f"queue '{_device_queue(0)}'" in forward.stderr  # per-queue lines
    conn = await amqp.connect(servers=nats.url, namespace=namespace)
    try:
        ch = await conn.channel()
        for n in range(queues):
            assert (await ch.queue_declare(_device_queue(n), passive=True)).message_count == (
                per_queue
            )
    finally:
        await conn.close()

    back = await asyncio.to_thread(shovel, nats.url, amqp_url)
    assert back.returncode == 0, back.stderr
    assert f"total: {queues} of {queues} queues moved ({total} messages" in back.stdout
    for n in range(queues):
        got = await _drain(amqp_url, _device_queue(n))
        assert sorted(got) == sorted(f"m-{n}-{i}" for i in range(per_queue))


async def _publish(url: str, queue: str, batch: list[tuple[bytes, dict[str, Any]]]) -> None:
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel()
        for body, props in batch:
            await ch.default_exchange.publish(aio_pika.Message(body, **props), routing_key=queue)
    finally:
        await conn.close()


async def _drain(url: str, queue: str) -> list[str]:
    conn = await aio_pika.connect(url)
    ids: list[str] = []
    try:
        ch = await conn.channel()
        q = await ch.declare_queue(queue, passive=True)
        while (message := await q.get(no_ack=True, fail=False)) is not None:
            ids.append(str(message.message_id))
    finally:
        await conn.close()
    return ids
