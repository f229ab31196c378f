"""Crashes mid-shovel, against a real RabbitMQ and a real nats-server: SIGKILL of the shovel
in each direction, of nats-server and of RabbitMQ. After each, a run with --until-empty
ends (status 0) only once every message of the source is on the target; nothing is lost;
copies are at most the in-flight window (the prefetch) and carry the original message_id.

The NATS queues here are declared with a short ack wait (the adapter's default is 30 s)
so that what a killed run held comes back within the test's time."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import aio_pika
import pytest
from migrate_helpers import (
    declare_nats_queue,
    declare_rabbit_queue,
    drain_nats,
    drain_rabbit,
    make_message,
    pika_message,
    publish_to_rabbit,
    rabbit_count,
    shovel_args,
)
from support import natswire_cli, start_cli, stop_process

from natswire import amqp
from natswire.migrate.backlog import Backlog, nats_backlog
from natswire.migrate.errors import RabbitSideError
from natswire.migrate.rabbit import RabbitMqNotFoundError, RabbitMqServer, ensure_rabbitmq
from natswire.migrate.shovel import shovel_to_amqp, shovel_to_nats
from natswire.server import NatsServer

PREFETCH = 100
ACK_WAIT = 2.0


async def _backlog(nats_url: str, namespace: str, name: str) -> Backlog:
    conn = await amqp.connect(servers=nats_url, namespace=namespace)
    try:
        return await nats_backlog(conn, name)
    finally:
        await conn.close()


def _messages(count: int, seed: int, all_ids: bool = False) -> list[tuple[bytes, dict[str, Any]]]:
    rng = random.Random(seed)
    sent = [make_message(n, rng) for n in range(count)]
    if not all_ids:  # (aio-pika would invent ids for RabbitMQ publishes without one)
        for _, props in sent[::5]:
            props["message_id"] = None  # the rollback gives these natswire-<stream>-<seq>
    return sent


async def _publish_to_nats(
    nats_url: str, namespace: str, queue: str, sent: list[tuple[bytes, dict[str, Any]]]
) -> None:
    conn = await amqp.connect(servers=nats_url, namespace=namespace)
    try:
        ch = await conn.channel()
        for body, props in sent:
            await ch.basic_publish("", queue, body, amqp.BasicProperties(**props), confirm=False)
        await ch.wait_for_confirms(20)
    finally:
        await conn.close()


async def _publish_confirmed(url: str, queue: str, sent: list[tuple[bytes, Any]]) -> None:
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel(publisher_confirms=True)
        for body, props in sent:
            await ch.default_exchange.publish(pika_message(body, props), routing_key=queue)
    finally:
        await conn.close()


def _check_rabbit_copies(got: list[Any], sent: list[tuple[bytes, dict[str, Any]]]) -> int:
    """Every message arrived; copies of one are identical and carry the same message_id.
    Returns the number of extra copies."""
    copies: dict[int, list[Any]] = {}
    for message in got:
        copies.setdefault(message.headers["n"], []).append(message)
    missing = set(range(len(sent))) - set(copies)
    assert not missing, f"{len(missing)} lost, e.g. {sorted(missing)[:5]}"
    for n, same in copies.items():
        body, props = sent[n]
        ids = {message.message_id for message in same}
        assert len(ids) == 1, f"message {n}: copies with different ids {ids}"
        (message_id,) = ids
        if props["message_id"] is None:
            assert message_id.startswith("natswire-AMQP-")
        else:
            assert message_id == props["message_id"]
        assert all(message.body == body for message in same), f"message {n}: body differs"
    return len(got) - len(copies)


def _check_nats_once(deliveries: list[amqp.Delivery], sent: list[tuple[bytes, Any]]) -> None:
    seen = Counter()
    for delivery in deliveries:
        props = delivery.properties
        assert props.headers is not None
        n = props.headers["n"]
        seen[n] += 1
        body, expected = sent[n]
        assert delivery.body == body
        assert props == amqp.BasicProperties(**expected), f"message {n}: properties differ"
    assert not [n for n, c in seen.items() if c > 1], "duplicated on NATS"
    assert set(seen) == set(range(len(sent))), "lost on the way to NATS"


async def _wait_for(condition: Any, what: str, limit: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not await condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


# ------------------------------------------------------------------ shovel SIGKILL


async def test_rollback_sigkill_then_until_empty_waits_for_the_dead_runs_messages(
    amqp_url: str, nats: NatsServer, namespace: str
) -> None:
    """The issue's scenario: the rollback shovel is killed; the restarted run counts the
    dead run's deliveries as not moved, shows when they are due back, and exits 0 only
    once RabbitMQ holds every message."""
    sent = _messages(1500, seed=24)
    await declare_rabbit_queue(amqp_url, "jobs", "quorum")
    await declare_nats_queue(nats.url, namespace, "jobs", ack_wait=6.0)
    await _publish_to_nats(nats.url, namespace, "jobs", sent)
    command = shovel_args(
        nats.url,
        amqp_url,
        namespace,
        "--prefetch",
        str(PREFETCH),
        "--progress",
        "0.2",
        queue="jobs",
    )
    proc = start_cli(*command)
    try:

        async def half_moved() -> bool:
            assert proc.poll() is None, proc.communicate()
            return await rabbit_count(amqp_url, "jobs") >= 600

        await _wait_for(half_moved, "the shovel to move 600 messages")
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        stop_process(proc)
    stranded = await _backlog(nats.url, namespace, "jobs")
    assert 0 < stranded.unacked <= PREFETCH, stranded  # held by the dead run

    done = await asyncio.to_thread(natswire_cli, *command, "--until-empty", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "0 left in the source queue" in done.stdout
    assert "delivered unacked" in done.stderr  # the progress lines count them
    assert "due again in at most" in done.stderr  # and count down to their return
    # Exit 0 means every message is in RabbitMQ already, and none is left on NATS.
    assert await rabbit_count(amqp_url, "jobs") >= len(sent)
    assert (await _backlog(nats.url, namespace, "jobs")).total == 0

    got = await drain_rabbit(amqp_url, "jobs", quiet=1.0)
    extra = _check_rabbit_copies(got, sent)
    assert extra <= PREFETCH


async def test_forward_sigkill_copies_are_dropped_within_the_window(
    amqp_url: str, nats: NatsServer, namespace: str
) -> None:
    sent = _messages(1500, seed=42, all_ids=True)
    await declare_rabbit_queue(amqp_url, "jobs", "quorum")
    await declare_nats_queue(nats.url, namespace, "jobs", ack_wait=ACK_WAIT)
    await publish_to_rabbit(amqp_url, "jobs", sent)
    command = shovel_args(
        amqp_url, nats.url, namespace, "--prefetch", str(PREFETCH), "--progress", "0", queue="jobs"
    )
    proc = start_cli(*command)
    try:

        async def half_moved() -> bool:
            assert proc.poll() is None, proc.communicate()
            return (await _backlog(nats.url, namespace, "jobs")).ready >= 600

        await _wait_for(half_moved, "the shovel to move 600 messages")
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        stop_process(proc)
    done = await asyncio.to_thread(natswire_cli, *command, "--until-empty", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "0 left in the source queue" in done.stdout
    assert await rabbit_count(amqp_url, "jobs") == 0
    # Copies the dead run had published are recognised and counted, within the window.
    duplicates = 0
    if "were already on NATS" in done.stdout:
        duplicates = int(done.stdout.split("; ")[1].split()[0])
    assert duplicates <= PREFETCH
    conn = await amqp.connect(servers=nats.url, namespace=namespace)
    try:
        deliveries = await drain_nats(conn, "jobs", quiet=1.0)
    finally:
        await conn.close()
    _check_nats_once(deliveries, sent)


async def test_until_empty_stopped_early_exits_3_and_says_how_many_are_left(
    amqp_url: str, nats: NatsServer, namespace: str
) -> None:
    """A queue held by a live consumer is not empty: the shovel waits, and when stopped
    it says so instead of exiting 0."""
    sent = _messages(20, seed=3)
    await declare_rabbit_queue(amqp_url, "held", "quorum")
    await declare_nats_queue(nats.url, namespace, "held", ack_wait=30.0)
    await _publish_to_nats(nats.url, namespace, "held", sent)
    holder = await amqp.connect(servers=nats.url, namespace=namespace)
    try:
        got: list[amqp.Delivery] = []
        ch = await holder.channel()
        await ch.basic_qos(5)
        await ch.basic_consume("held", got.append)  # never acks: holds 5

        async def holding() -> bool:
            return len(got) == 5

        await _wait_for(holding, "the holder to take 5 messages")
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(3.0, stop.set)
        stats = await shovel_to_amqp(
            nats_url=nats.url,
            queue="held",
            amqp_url=amqp_url,
            namespace=namespace,
            until_empty=True,
            stop=stop,
        )
        assert stats.moved == 15
        assert stats.backlog is not None
        assert (stats.backlog.ready, stats.backlog.unacked) == (0, 5)
        assert "5 (0 ready, 5 delivered unacked) left in the source queue" in stats.summary()
        proc = start_cli(
            *shovel_args(
                nats.url, amqp_url, namespace, "--until-empty", "--progress", "0.5", queue="held"
            )
        )
        try:
            assert proc.stderr is not None
            lines: list[str] = []
            while not any("due again" in line for line in lines):  # the countdown shows
                line = await asyncio.to_thread(proc.stderr.readline)
                assert line, f"the shovel ended: {lines}"
                lines.append(line)
            proc.send_signal(signal.SIGINT)
            out, rest = await asyncio.to_thread(proc.communicate, timeout=20)
            err = "".join(lines) + rest
        finally:
            stop_process(proc)
        assert proc.returncode == 3, err
        assert "waiting for 5 messages delivered to another consumer" in err
        assert "due again in at most" in err
        assert "5 (0 ready, 5 delivered unacked) left in the source queue" in out
        assert "5 messages not moved" in err
    finally:
        await holder.close()


# ------------------------------------------------------------------ server crashes


async def test_nats_server_killed_mid_rollback_loses_nothing(amqp_url: str, namespace: str) -> None:
    sent = _messages(2000, seed=5)
    await declare_rabbit_queue(amqp_url, "jobs", "quorum")
    with NatsServer(jetstream=True) as server:
        await declare_nats_queue(server.url, namespace, "jobs", ack_wait=ACK_WAIT)
        await _publish_to_nats(server.url, namespace, "jobs", sent)
        task = asyncio.ensure_future(
            shovel_to_amqp(
                nats_url=server.url,
                queue="jobs",
                amqp_url=amqp_url,
                namespace=namespace,
                until_empty=True,
                prefetch=PREFETCH,
            )
        )
        started = time.monotonic()
        try:

            async def some_moved() -> bool:
                assert not task.done(), task.result()
                return await rabbit_count(amqp_url, "jobs") >= 600

            await _wait_for(some_moved, "600 messages in RabbitMQ")
            rate = await rabbit_count(amqp_url, "jobs") / (time.monotonic() - started)
            await asyncio.to_thread(server.kill)  # kill -9, mid-shovel
            await asyncio.sleep(1.0)
            await asyncio.to_thread(server.start)
            stats = await asyncio.wait_for(task, 60)
        finally:
            if not task.done():
                task.cancel()
        assert stats.remaining == 0
        assert await rabbit_count(amqp_url, "jobs") >= len(sent)
        assert (await _backlog(server.url, namespace, "jobs")).total == 0
    got = await drain_rabbit(amqp_url, "jobs", quiet=1.0)
    # Copies: those in flight, and those whose acks the crash took: nats-server writes a
    # consumer's acks at most every 100 ms, and the adapter's stream keeps acked
    # messages until their max age, so a lost ack redelivers (the adapter's docs: acks
    # of the last ~0.2 s before a crash may come back).
    copies = _check_rabbit_copies(got, sent)
    assert copies <= PREFETCH + int(0.2 * rate) + 1, f"{copies} copies at {rate:.0f} msg/s"


@pytest.fixture(scope="module")
def crashing_rabbit() -> Iterator[RabbitMqServer]:
    """A broker of its own, for tests that kill it."""
    try:
        ensure_rabbitmq()
    except RabbitMqNotFoundError as exc:
        pytest.skip(f"RabbitMQ is not available: {exc}")
    server = RabbitMqServer()
    server.start()
    try:
        yield server
    finally:
        server.stop(timeout=2.0)


async def test_rabbitmq_killed_mid_shovel_both_ways(
    crashing_rabbit: RabbitMqServer, nats: NatsServer, namespace: str
) -> None:
    """RabbitMQ killed with SIGKILL mid-shovel, in each direction: the run fails with an
    error (it does not claim success); after RabbitMQ restarts, a rerun completes and
    every message arrives, exactly once to NATS, at most a window twice to RabbitMQ."""
    url = crashing_rabbit.url
    sent = _messages(1500, seed=11, all_ids=True)
    for _, props in sent:
        props["delivery_mode"] = 2  # transient messages do not survive a broker crash
    # Classic queues: on this single-node broker a quorum queue had no leader for more
    # than 10 s after a kill -9 and restart (its publishes and consumers waited).
    await declare_rabbit_queue(url, "forward", "classic")
    await declare_nats_queue(nats.url, namespace, "forward", ack_wait=ACK_WAIT)
    await _publish_confirmed(url, "forward", sent)  # confirmed: on disk
    options: dict[str, Any] = {"namespace": namespace, "until_empty": True, "prefetch": PREFETCH}

    forward = asyncio.ensure_future(
        shovel_to_nats(amqp_url=url, queue="forward", nats_url=nats.url, **options)
    )

    async def forward_moving() -> bool:
        assert not forward.done(), forward.result()
        return (await _backlog(nats.url, namespace, "forward")).ready >= 400

    await _wait_for(forward_moving, "400 messages on NATS")
    await asyncio.to_thread(crashing_rabbit.kill)
    with pytest.raises(RabbitSideError, match="lost RabbitMQ"):
        await asyncio.wait_for(forward, 30)
    await asyncio.to_thread(crashing_rabbit.restart)
    stats = await shovel_to_nats(amqp_url=url, queue="forward", nats_url=nats.url, **options)
    assert stats.remaining == 0
    conn = await amqp.connect(servers=nats.url, namespace=namespace)
    try:
        _check_nats_once(await drain_nats(conn, "forward", quiet=1.0), sent)
    finally:
        await conn.close()

    # And back: NATS -> RabbitMQ, RabbitMQ killed mid-way.
    await declare_rabbit_queue(url, "back", "classic")
    await declare_nats_queue(nats.url, namespace, "back", ack_wait=ACK_WAIT)
    await _publish_to_nats(nats.url, namespace, "back", sent)
    back = asyncio.ensure_future(
        shovel_to_amqp(nats_url=nats.url, queue="back", amqp_url=url, **options)
    )

    async def back_moving() -> bool:
        assert not back.done(), back.result()
        return (await _backlog(nats.url, namespace, "back")).total <= 1100

    await _wait_for(back_moving, "400 messages moved back")
    await asyncio.to_thread(crashing_rabbit.kill)
    with pytest.raises(RabbitSideError, match="RabbitMQ did not take a message"):
        await asyncio.wait_for(back, 30)
    await asyncio.to_thread(crashing_rabbit.restart)
    stats = await shovel_to_amqp(nats_url=nats.url, queue="back", amqp_url=url, **options)
    assert stats.remaining == 0
    got = await drain_rabbit(url, "back", quiet=1.0)
    assert _check_rabbit_copies(got, sent) <= PREFETCH
