"""The bridge: with services on both sides bound to the same exchange, each sees every
message once, whichever side it was published on; no loops."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest
from migrate_helpers import drain_nats, drain_rabbit

from natswire import amqp
from natswire.migrate.bridge import remove_bridge, run_bridge
from natswire.migrate.errors import MigrationError
from natswire.migrate.messages import BRIDGED_AMQP_HEADER
from natswire.server import NatsServer


async def test_bridge_both_ways_every_message_once_no_loops(
    amqp_url: str, nats: NatsServer, namespace: str
) -> None:
    # RabbitMQ side: a direct exchange and a service queue bound with "u1".
    rabbit = await aio_pika.connect(amqp_url)
    ch = await rabbit.channel()
    exchange = await ch.declare_exchange("user-notifications", "direct", durable=True)
    old = await ch.declare_queue("old-service", durable=True)
    await old.bind(exchange, "u1")
    # NATS side: the same exchange (as `migrate apply` makes it) and a service queue.
    conn = await amqp.connect(servers=nats.url, namespace=namespace)
    nch = await conn.channel()
    await nch.exchange_declare("user-notifications", "direct")
    await nch.queue_declare("new-service")
    await nch.queue_bind("new-service", "user-notifications", "u1")

    stop, ready = asyncio.Event(), asyncio.Event()
    bridge = asyncio.ensure_future(
        run_bridge(
            amqp_url=amqp_url,
            nats_url=nats.url,
            exchanges=["user-notifications"],
            namespace=namespace,
            both_ways=True,
            stop=stop,
            ready=ready,
        )
    )
    try:
        await asyncio.wait_for(ready.wait(), 20)
        for n in range(50):
            await exchange.publish(
                aio_pika.Message(
                    f"from rabbit {n}".encode(), headers={"n": n}, content_type="text/plain"
                ),
                routing_key="u1",
            )
            await nch.basic_publish(
                "user-notifications",
                "u1",
                f"from nats {n}".encode(),
                amqp.BasicProperties(headers={"n": n}, content_type="text/plain"),
            )
        # Unbound keys reach no queue on either side.
        await exchange.publish(aio_pika.Message(b"nobody"), routing_key="u2")
        on_nats = await drain_nats(conn, "new-service", quiet=2.0)
        on_rabbit = await drain_rabbit(amqp_url, "old-service", quiet=2.0)
    finally:
        stop.set()
        stats = await asyncio.wait_for(bridge, 30)
        await rabbit.close()
        await conn.close()

    expected = sorted(
        [f"from rabbit {n}" for n in range(50)] + [f"from nats {n}" for n in range(50)]
    )
    assert sorted(d.body.decode() for d in on_nats) == expected
    assert sorted(m.body.decode() for m in on_rabbit) == expected
    for delivery in on_nats:
        assert delivery.properties.content_type == "text/plain"
        assert delivery.routing_key == "u1"
    for message in on_rabbit:
        bridged = message.body.startswith(b"from nats")
        assert (BRIDGED_AMQP_HEADER in message.headers) == bridged
        assert message.content_type == "text/plain"
    forward = stats.to_nats["user-notifications"]
    back = stats.to_rabbitmq["user-notifications"]
    assert (forward.moved, forward.skipped) == (50, 50)  # copies of NATS messages skipped
    assert (back.moved, back.skipped) == (50, 50)  # copies of RabbitMQ messages skipped


async def test_cut_over_drains_what_the_bridge_holds_before_removing_it(
    amqp_url: str, nats: NatsServer, namespace: str
) -> None:
    """Messages published while the bridge is down wait in its queue and consumer;
    --remove refuses to drop them, --drain copies them all and stops by itself."""
    rabbit = await aio_pika.connect(amqp_url)
    ch = await rabbit.channel()
    exchange = await ch.declare_exchange("events", "topic", durable=True)
    old = await ch.declare_queue("old-service", durable=True)
    await old.bind(exchange, "#")
    conn = await amqp.connect(servers=nats.url, namespace=namespace)
    nch = await conn.channel()
    await nch.exchange_declare("events", "topic")
    await nch.queue_declare("new-service")
    await nch.queue_bind("new-service", "events", "#")
    options = {
        "amqp_url": amqp_url,
        "nats_url": nats.url,
        "exchanges": ["events"],
        "namespace": namespace,
    }
    try:
        stop, ready = asyncio.Event(), asyncio.Event()
        first = asyncio.ensure_future(run_bridge(**options, both_ways=True, stop=stop, ready=ready))
        await asyncio.wait_for(ready.wait(), 20)
        stop.set()
        await asyncio.wait_for(first, 30)
        # The bridge is down: both sides keep publishing.
        for n in range(30):
            await exchange.publish(aio_pika.Message(f"r{n}".encode()), routing_key="a.b")
            await nch.basic_publish("events", "a.b", f"n{n}".encode())
        await nch.wait_for_confirms(10)
        with pytest.raises(MigrationError, match="the bridge still holds messages"):
            await remove_bridge(**options)
        stats = await asyncio.wait_for(
            run_bridge(**options, both_ways=True, drain=True, progress=None), 30
        )
        assert stats.remaining == 0
        assert stats.to_nats["events"].moved == 30
        assert stats.to_rabbitmq["events"].moved == 30
        removed = await remove_bridge(**options)
        assert len(removed) == 2
        on_nats = await drain_nats(conn, "new-service", quiet=1.0)
        on_rabbit = await drain_rabbit(amqp_url, "old-service", quiet=1.0)
    finally:
        await rabbit.close()
        await conn.close()
    expected = sorted([f"r{n}" for n in range(30)] + [f"n{n}" for n in range(30)])
    assert sorted(d.body.decode() for d in on_nats) == expected
    assert sorted(m.body.decode() for m in on_rabbit) == expected
