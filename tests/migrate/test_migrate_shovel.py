"""The shovel against a real RabbitMQ and a real nats-server: exactly once through
SIGKILLs of the shovel process, nothing lost through a kill -9 of nats-server, the
rollback direction, and clear errors on bad input with nothing consumed."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections import Counter
from typing import Any

import aio_pika
import pytest
from migrate_helpers import (
    declare_nats_queue,
    declare_rabbit_queue,
    drain_nats,
    drain_rabbit,
    make_message,
    publish_to_rabbit,
    rabbit_count,
    shovel_args,
)
from support import natswire_cli, start_cli, stop_process

from natswire import amqp
from natswire.migrate.errors import NatsSideError, RabbitSideError
from natswire.migrate.rabbit import RabbitMqServer
from natswire.migrate.shovel import shovel_to_nats
from natswire.server import NatsServer, free_port


async def _nats_ready(nats_url: str, namespace: str, name: str) -> int:
    conn = await amqp.connect(servers=nats_url, namespace=namespace)
    try:
        ch = await conn.channel()
        return (await ch.queue_declare(name, passive=True)).message_count
    finally:
        await conn.close()


def _check_exactly_once(
    deliveries: list[amqp.Delivery], sent: list[tuple[bytes, dict[str, Any]]]
) -> None:
    seen = Counter()
    for delivery in deliveries:
        props = delivery.properties
        assert props.headers is not None
        n = props.headers["n"]
        seen[n] += 1
        body, expected = sent[n]
        assert delivery.body == body, f"message {n}: body differs"
        assert props == amqp.BasicProperties(**expected), f"message {n}: properties differ"
    duplicates = {n: c for n, c in seen.items() if c > 1}
    missing = set(range(len(sent))) - set(seen)
    assert not duplicates, f"{len(duplicates)} duplicated, e.g. {list(duplicates)[:5]}"
    assert not missing, f"{len(missing)} missing, e.g. {sorted(missing)[:5]}"


async def test_10000_messages_exactly_once_through_three_sigkills(
    amqp_url: str, nats: NatsServer, namespace: str
) -> None:
    rng = random.Random(9)
    sent = [make_message(n, rng) for n in range(10_000)]
    await declare_rabbit_queue(amqp_url, "jobs", "quorum")
    await declare_nats_queue(nats.url, namespace, "jobs")
    await publish_to_rabbit(amqp_url, "jobs", sent)
    assert await rabbit_count(amqp_url, "jobs") == 10_000

    command = shovel_args(amqp_url, nats.url, namespace, "--progress", "0.2", queue="jobs")
    targets = sorted(rng.randint(lo, hi) for lo, hi in ((800, 2500), (3500, 6000), (6500, 8500)))
    for target in targets:
        proc = start_cli(*command)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            while await _nats_ready(nats.url, namespace, "jobs") < target:
                assert proc.poll() is None, proc.communicate()
                assert loop.time() < deadline, f"the shovel did not reach {target} in 60 s"
                await asyncio.sleep(0.02)
            os.kill(proc.pid, signal.SIGKILL)  # a crash, at a random point
            assert proc.wait(10) == -signal.SIGKILL
        finally:
            stop_process(proc)
    left = await rabbit_count(amqp_url, "jobs")
    assert 0 < left < 10_000 - targets[-1] + 1000  # messages in flight went back

    done = natswire_cli(*command, "--until-empty")
    assert done.returncode == 0, done.stderr
    assert "remaining" in done.stderr  # progress lines: moved, rate, remaining
    assert "moved" in done.stdout and "0 left in the source queue" in done.stdout
    assert await rabbit_count(amqp_url, "jobs") == 0

    conn = await amqp.connect(servers=nats.url, namespace=namespace)
    try:
        deliveries = await drain_nats(conn, "jobs", quiet=1.5)
    finally:
        await conn.close()
    _check_exactly_once(deliveries, sent)


async def test_nats_server_killed_mid_shovel_loses_nothing(
    amqp_url: str, namespace: str, tmp_path: Any
) -> None:
    rng = random.Random(4)
    sent = [make_message(n, rng) for n in range(3000)]
    await declare_rabbit_queue(amqp_url, "cells_events")
    await publish_to_rabbit(amqp_url, "cells_events", sent)
    with NatsServer(jetstream=True) as server:
        await declare_nats_queue(server.url, namespace, "cells_events")
        stop = asyncio.Event()
        task = asyncio.ensure_future(
            shovel_to_nats(
                amqp_url=amqp_url,
                queue="cells_events",
                nats_url=server.url,
                namespace=namespace,
                until_empty=True,
                prefetch=300,
                stop=stop,
            )
        )
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            while await _nats_ready(server.url, namespace, "cells_events") < 1000:
                assert not task.done(), task.result()
                assert loop.time() < deadline
                await asyncio.sleep(0.02)
            await asyncio.to_thread(server.kill)  # kill -9, mid-shovel
            await asyncio.sleep(1.0)
            await asyncio.to_thread(server.start)
            stats = await asyncio.wait_for(task, 90)
        finally:
            stop.set()
            if not task.done():
                task.cancel()
        assert stats.moved + stats.duplicates == 3000
        assert await rabbit_count(amqp_url, "cells_events") == 0
        conn = await amqp.connect(servers=server.url, namespace=namespace)
        try:
            deliveries = await drain_nats(conn, "cells_events", quiet=1.5)
        finally:
            await conn.close()
    _check_exactly_once(deliveries, sent)


async def test_identical_messages_are_all_moved(
    amqp_url: str, nats: NatsServer, namespace: str
) -> None:
    """Distinct messages with the same content and message_id share a digest; each one
    is still moved (a first delivery that meets a duplicate answer gets another id)."""
    same = (b"typing", {"message_id": "same", "content_type": "text/plain"})
    await declare_rabbit_queue(amqp_url, "q")
    await declare_nats_queue(nats.url, namespace, "q")
    conn = await aio_pika.connect(amqp_url)
    try:
        ch = await conn.channel()
        for _ in range(5):
            await ch.default_exchange.publish(aio_pika.Message(same[0], **same[1]), routing_key="q")
    finally:
        await conn.close()
    stats = await shovel_to_nats(
        amqp_url=amqp_url, queue="q", nats_url=nats.url, namespace=namespace, until_empty=True
    )
    assert (stats.moved, stats.duplicates) == (5, 0)
    nc = await amqp.connect(servers=nats.url, namespace=namespace)
    try:
        got = await drain_nats(nc, "q", quiet=0.5)
    finally:
        await nc.close()
    assert [d.body for d in got] == [b"typing"] * 5


async def test_rollback_shovel_returns_messages_intact(
    amqp_url: str, nats: NatsServer, namespace: str
) -> None:
    rng = random.Random(7)
    sent = [make_message(n, rng) for n in range(500)]
    for _, props in sent[::3]:
        props["message_id"] = None  # published on NATS without one
    await declare_rabbit_queue(amqp_url, "background-jobs")
    await declare_nats_queue(nats.url, namespace, "background-jobs")
    conn = await amqp.connect(servers=nats.url, namespace=namespace)
    try:
        ch = await conn.channel()
        for body, props in sent:
            await ch.basic_publish(
                "", "background-jobs", body, amqp.BasicProperties(**props), confirm=False
            )
        await ch.wait_for_confirms(10)
    finally:
        await conn.close()

    out = natswire_cli(
        *shovel_args(nats.url, amqp_url, namespace, "--until-empty", queue="background-jobs")
    )
    assert out.returncode == 0, out.stderr
    assert "moved 500 messages" in out.stdout
    assert await _nats_ready(nats.url, namespace, "background-jobs") == 0

    got = await drain_rabbit(amqp_url, "background-jobs", quiet=1.0)
    assert len(got) == 500
    seen = set()
    for message in got:
        n = message.headers["n"]
        assert n not in seen
        seen.add(n)
        body, props = sent[n]
        assert message.body == body
        expected_headers = props["headers"]
        assert dict(message.headers) == expected_headers
        assert message.content_type == props["content_type"]
        assert message.content_encoding == props["content_encoding"]
        assert int(message.delivery_mode) == props["delivery_mode"]
        assert message.priority == props["priority"]
        assert message.correlation_id == props["correlation_id"]
        assert message.reply_to == props["reply_to"]
        expiration = None if message.expiration is None else str(round(message.expiration * 1000))
        assert expiration == props["expiration"]
        stamp = None if message.timestamp is None else int(message.timestamp.timestamp())
        assert stamp == props["timestamp"]
        assert message.type == props["type"]
        assert message.user_id == props["user_id"]
        assert message.app_id == props["app_id"]
        if props["message_id"] is None:
            assert message.message_id.startswith(f"natswire-AMQP-{namespace}-")
        else:
            assert message.message_id == props["message_id"]
    assert seen == set(range(500))


# ------------------------------------------------------------------- bad input


async def test_bad_input_gives_clear_errors_and_consumes_nothing(
    rabbit: RabbitMqServer, amqp_url: str, vhost: str, nats: NatsServer, namespace: str
) -> None:
    await declare_rabbit_queue(amqp_url, "full")
    await declare_nats_queue(nats.url, namespace, "full")
    await publish_to_rabbit(amqp_url, "full", [make_message(n, random.Random(n)) for n in range(5)])
    dead = free_port()
    cases = [
        # unreachable brokers
        (
            [f"amqp://guest:guest@127.0.0.1:{dead}/", "full", nats.url],
            "cannot connect to RabbitMQ at amqp://guest:***@127.0.0.1",
        ),
        ([amqp_url, "full", f"nats://127.0.0.1:{dead}"], "cannot connect to NATS"),
        # wrong credentials
        (
            [rabbit.url_for(vhost, password="wrong"), "full", nats.url],
            "refused the credentials of user 'guest'",
        ),
        # no such vhost
        ([rabbit.url_for("no-such-vhost"), "full", nats.url], "no-such-vhost"),
        # a queue that does not exist, on either side
        ([amqp_url, "nope", nats.url], "RabbitMQ has no queue 'nope'"),
    ]
    for (source, queue, target), message in cases:
        out = await asyncio.to_thread(
            natswire_cli,
            *shovel_args(source, target, namespace, "--until-empty", queue=queue),
            timeout=60,
        )
        assert out.returncode == 1, (source, out.stdout, out.stderr)
        assert message in out.stderr, (message, out.stderr)
        assert "Traceback" not in out.stderr
    missing = await asyncio.to_thread(
        natswire_cli,
        *shovel_args(
            amqp_url, nats.url, namespace, "--to-queue", "absent", "--until-empty", queue="full"
        ),
    )
    assert missing.returncode == 1
    assert f"NATS namespace '{namespace}' has no queue 'absent'" in missing.stderr
    back = await asyncio.to_thread(
        natswire_cli,
        *shovel_args(
            nats.url, amqp_url, namespace, "--to-queue", "absent", "--until-empty", queue="full"
        ),
    )
    assert back.returncode == 1 and "RabbitMQ has no queue 'absent'" in back.stderr
    both_nats = await asyncio.to_thread(
        natswire_cli, "migrate", "shovel", "--from", nats.url, "--queue", "full", "--to", nats.url
    )
    assert both_nats.returncode == 2
    assert "one amqp:// and one nats://" in both_nats.stderr
    # Nothing was consumed anywhere.
    assert await rabbit_count(amqp_url, "full") == 5
    assert await _nats_ready(nats.url, namespace, "full") == 0
    with pytest.raises(RabbitSideError):
        await shovel_to_nats(
            amqp_url=amqp_url,
            queue="nope",
            nats_url=nats.url,
            namespace=namespace,
            until_empty=True,
        )
    with pytest.raises(NatsSideError):
        await shovel_to_nats(
            amqp_url=amqp_url,
            queue="full",
            nats_url=nats.url,
            namespace=namespace,
            to_queue="absent",
            until_empty=True,
        )
