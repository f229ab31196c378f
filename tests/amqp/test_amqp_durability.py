"""Durability across a server crash, and deliveries across a reconnect."""

from __future__ import annotations

import asyncio

import pytest
from amqp_helpers import Collector
from faultproxy import FaultProxy
from support import eventually

import natswire
from natswire import amqp
from natswire.amqp.options import LASTING_PULL_EXPIRES
from natswire.server import NatsServer


async def test_kill_9_and_restart_lose_nothing_unacked_and_return_nothing_acked(
    server: NatsServer, amqp_connect: object
) -> None:
    conn: amqp.Connection = await amqp_connect(reconnect_time_wait=0.1)  # type: ignore[operator]
    ch = await conn.channel()
    await ch.exchange_declare("ex", "direct")
    await ch.queue_declare("durable-q", arguments={"x-queue-type": "quorum"})
    await ch.queue_bind("durable-q", "ex", "k")
    for i in range(20):
        await ch.basic_publish("ex", "k", b"%d" % i)
    got = Collector()
    await ch.basic_consume("durable-q", got)
    await got.wait_for(20)
    await ch.basic_ack(10, multiple=True)  # 0..9 acked, 10..19 held
    await conn.nc.flush()
    await asyncio.sleep(0.6)  # acks of the last ~0.2 s may be lost in a crash
    for i in range(20, 25):  # published and never delivered
        await ch.basic_publish("ex", "k", b"%d" % i)
    await ch.basic_cancel(ch.consumer_tags[0])
    server.kill()
    server.start()
    await eventually(lambda: conn.nc.is_connected, timeout=10, what="reconnect")
    await ch.close()  # naks are confirmed, retried while JetStream starts  # hands 10..19 back
    ch2 = await conn.channel()
    again = Collector()
    await ch2.basic_consume("durable-q", again)
    await again.wait_for(15, timeout=10)
    await again.quiet(0.5)
    assert sorted(int(b) for b in again.bodies) == list(range(10, 25))
    assert all(d.redelivered for d in again.deliveries if int(d.body) < 20)


async def test_reconnect_keeps_tags_and_redelivers_what_was_in_flight(
    server: NatsServer, amqp_connect: object
) -> None:
    events: list[str] = []

    async def reconnected() -> None:
        events.append("reconnected")

    async with FaultProxy("127.0.0.1", server.port) as proxy:
        conn: amqp.Connection = await amqp_connect(  # type: ignore[operator]
            servers=proxy.url,
            reconnect_time_wait=0.1,
            ack_wait=1.5,
            # The caller's own callbacks, plain and coroutine, run after the adapter's.
            disconnected_cb=lambda: events.append("disconnected"),
            reconnected_cb=reconnected,
        )
        ch = await conn.channel()
        await ch.queue_declare("q")
        got = Collector()
        await ch.basic_consume("q", got)
        publisher: amqp.Connection = await amqp_connect()  # type: ignore[operator]
        pch = await publisher.channel()
        for i in range(3):
            await pch.basic_publish("", "q", b"%d" % i)
        await got.wait_for(3)
        proxy.freeze()
        for i in range(3, 6):  # sent to the frozen link: lost in flight
            await pch.basic_publish("", "q", b"%d" % i)
        await asyncio.sleep(0.2)
        await proxy.reset()
        proxy.thaw()
        await eventually(
            lambda: conn.nc.is_connected and conn.nc.stats.reconnects >= 1,
            timeout=10,
            what="reconnect",
        )
        await eventually(lambda: "reconnected" in events, timeout=5, what="reconnected_cb")
        assert events == ["disconnected", "reconnected"]
        # Tags from before the reconnect still mean their messages.
        await ch.basic_ack(2, multiple=True)
        for i in range(6, 8):
            await pch.basic_publish("", "q", b"%d" % i)
        await got.wait_for(8, timeout=8)  # 3..5 come back after the ack wait
        await got.quiet(0.3)
        assert sorted(int(b) for b in got.bodies) == list(range(8))
        tags = [d.delivery_tag for d in got.deliveries]
        assert tags == sorted(tags) and len(set(tags)) == len(tags)
        await ch.basic_ack(tags[-1], multiple=True)
        await ch.close()
        ch2 = await conn.channel()
        after = Collector()
        await ch2.basic_consume("q", after)
        assert await after.quiet(0.5) == []  # nothing acked comes back


async def consume_with_prefetch(
    conn: amqp.Connection, queue: str, prefetch: int
) -> tuple[amqp.Channel, Collector]:
    """A new queue consumed on a new channel with ``prefetch``, its pull request sent."""
    ch = await conn.channel()
    await ch.queue_declare(queue)
    await ch.basic_qos(prefetch)
    got = Collector()
    await ch.basic_consume(queue, got)
    await conn.nc.flush()
    return ch, got


@pytest.mark.parametrize("latency", [0.0, 0.1])
async def test_prefetch_holds_across_a_reconnect(
    server: NatsServer, amqp_connect: object, latency: float
) -> None:
    # The server keeps a pull request across a reconnect and serves it again once its
    # reply subject has a listener: a consumer that pulled again on the same inbox would
    # be sent its prefetch twice over, and one whose old inbox the reconnect subscribed
    # again would be, while its unsubscribe crossed a slow link.
    async with FaultProxy("127.0.0.1", server.port) as proxy:
        conn: amqp.Connection = await amqp_connect(  # type: ignore[operator]
            servers=proxy.url, reconnect_time_wait=0.05
        )
        publisher: amqp.Connection = await amqp_connect()  # type: ignore[operator]
        pch = await publisher.channel()
        ch, got = await consume_with_prefetch(conn, "pq", 3)
        await asyncio.sleep(0.2)  # the pull request waits on the server
        proxy.delay = latency
        await proxy.reset()
        await eventually(
            lambda: conn.nc.is_connected and conn.nc.stats.reconnects >= 1,
            timeout=10,
            what="reconnect",
        )
        await asyncio.sleep(latency * 1.3)  # the reconnect's subscriptions have arrived
        for i in range(10):
            await pch.basic_publish("", "pq", b"%d" % i)
        await got.wait_for(3)
        assert len(await got.quiet(0.5 + 3 * latency)) == 3  # the prefetch, not twice it
        await ch.basic_ack(got.deliveries[-1].delivery_tag, multiple=True)
        await got.wait_for(6)
        await got.quiet(0.3)
        assert [int(b) for b in got.bodies] == list(range(6))


async def test_consumer_advisories_renew_pull_requests_on_a_fresh_inbox(
    amqp_connect: object,
) -> None:
    # nats-server publishes these advisories itself (leader elections on a cluster,
    # deletions anywhere); here they are sent by hand so the adapter's answer to each can
    # be watched on a single server.
    conn: amqp.Connection = await amqp_connect()  # type: ignore[operator]
    ch, got = await consume_with_prefetch(conn, "adv", 3)
    (consumer,) = conn.consumers.of_queue("adv")
    first = consumer.subscription
    prefix = "$JS.EVENT.ADVISORY.CONSUMER"
    name = amqp.consumer_name("adv")
    await conn.nc.publish(f"{prefix}.LEADER_ELECTED.{conn.stream}.{name}", b"{}")
    await eventually(lambda: consumer.subscription is not first, what="a fresh inbox")
    second = consumer.subscription
    await conn.nc.publish(f"{prefix}.DELETED.{conn.stream}.{name}", b"{}")
    await eventually(lambda: consumer.subscription is not second, what="another inbox")
    assert first is not None and first.is_closed  # its requests lapse on the server
    await conn.nc.flush()
    for i in range(6):
        await ch.basic_publish("", "adv", b"%d" % i)
    await got.wait_for(3)
    assert len(await got.quiet(0.5)) == 3  # the queue still exists: consumed, prefetch 3
    assert ch.consumer_tags  # not cancelled


async def test_a_connection_on_the_callers_client_renews_its_pulls_after_a_restart(
    server: NatsServer, amqp_connect: object
) -> None:
    # With client=nc the adapter sets none of the client's callbacks: it hears of the
    # reconnect as a listener, and pulls again long before pull_expires (10 minutes).
    nc = await natswire.connect(server.url, reconnect_time_wait=0.1, max_reconnect_attempts=-1)
    try:
        conn: amqp.Connection = await amqp_connect(client=nc)  # type: ignore[operator]
        assert conn.options.pull_expires == LASTING_PULL_EXPIRES  # a single server
        _, got = await consume_with_prefetch(conn, "callers", 5)
        server.kill()
        server.start()
        await eventually(
            lambda: nc.is_connected and nc.stats.reconnects >= 1, timeout=10, what="reconnect"
        )
        await conn.wait_ready(20)
        publisher: amqp.Connection = await amqp_connect()  # type: ignore[operator]
        pch = await publisher.channel()
        await pch.basic_publish("", "callers", b"after")
        await got.wait_for(1, timeout=15)
        assert got.bodies == [b"after"]
        await conn.close()
        assert conn.handle_reconnected not in nc.reconnect_listeners
    finally:
        await nc.close()
