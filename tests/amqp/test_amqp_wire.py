"""Wire's acceptance scenarios (``integration/test/Test/Events.hs``, notes §3.3) over the
adapter, with Wire's topology (notes §2.3): the ``user-notifications`` exchange, one
queue per client bound with ``<uid>`` and ``<uid>.<cid>``, temporary queues bound with
``<uid>`` and ``<uid>.temporary``, the ``dead-user-notifications`` dead-letter exchange
and queue, and ``backend-notifications.<domain>`` queues with a single active consumer
and prefetch 1."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field

import pytest
from amqp_helpers import Collector
from faultproxy import FaultProxy
from support import eventually

from natswire import amqp
from natswire.amqp import BasicProperties
from natswire.server import NatsServer

EXCHANGE = "user-notifications"
DLX = "dead-user-notifications"
QUEUE_ARGS = {
    "x-queue-type": "quorum",
    "x-dead-letter-exchange": DLX,
    "x-dead-letter-routing-key": DLX,
}


async def gundeck_setup(conn: amqp.Connection) -> None:
    """Gundeck's startup: the exchanges and the dead-letter queue."""
    ch = await conn.channel()
    await ch.exchange_declare(EXCHANGE, "direct")
    await ch.exchange_declare(DLX, "direct")
    await ch.queue_declare(DLX, arguments={"x-queue-type": "quorum"})
    await ch.queue_bind(DLX, DLX, DLX)
    await ch.close()


async def setup_client(conn: amqp.Connection, uid: str, cid: str) -> str:
    """``setupConsumableNotifications``: the client's queue and its two bindings."""
    ch = await conn.channel()
    queue = amqp.client_queue_name(uid, cid)
    await ch.queue_declare(queue, arguments=QUEUE_ARGS)
    await ch.queue_bind(queue, EXCHANGE, uid)
    await ch.queue_bind(queue, EXCHANGE, f"{uid}.{cid}")
    await ch.close()
    return queue


async def push(
    conn: amqp.Connection,
    uid: str,
    payload: object,
    cid: str | None = None,
    transient: bool = False,
    ttl_ms: int = 24192200_000,
) -> None:
    """Gundeck's ``pushViaRabbitMq``."""
    ch = await conn.channel()
    props = BasicProperties(
        content_type="application/json",
        delivery_mode=1 if transient else 2,
        expiration="0" if transient else str(ttl_ms),
    )
    key = uid if cid is None else f"{uid}.{cid}"
    body = json.dumps({"id": str(uuid.uuid4()), "payload": payload}).encode()
    await ch.basic_publish(EXCHANGE, key, body, props)
    await ch.close()


@dataclass
class Websocket:
    """Cannon's ``/events`` websocket: one channel, prefetch 500."""

    ch: amqp.Channel
    events: Collector
    queue: str
    missed: bool = False

    def payloads(self) -> list[object]:
        return [json.loads(d.body)["payload"] for d in self.events.deliveries]

    async def ack(self, tag: int, multiple: bool = False) -> None:
        await self.ch.basic_ack(tag, multiple)

    async def close(self) -> None:
        await self.ch.close()


@dataclass
class Watcher:
    """Background-worker's ``DeadUserNotificationWatcher``: records missed clients."""

    missed: set[tuple[str, str]] = field(default_factory=set)
    seen: int = 0

    async def __call__(self, delivery: amqp.Delivery) -> None:
        self.seen += 1
        if delivery.properties.delivery_mode != 1:
            queue = (delivery.properties.headers or {})["x-last-death-queue"]
            prefix, uid, cid = queue.split(".")
            assert prefix == "user-notifications"
            self.missed.add((uid, cid))
        await delivery.ack()


async def start_watcher(conn: amqp.Connection) -> Watcher:
    watcher = Watcher()
    ch = await conn.channel()
    await ch.queue_declare(DLX, arguments={"x-queue-type": "quorum"})
    await ch.basic_consume(DLX, watcher)
    return watcher


async def websocket(
    conn: amqp.Connection, uid: str, cid: str | None = None, watcher: Watcher | None = None
) -> Websocket:
    """Cannon's ``RabbitMqConsumerApp``: check for missed notifications, declare, consume."""
    ch = await conn.channel()
    await ch.basic_qos(500)
    missed = False
    if cid is not None:
        if watcher is not None and (uid, cid) in watcher.missed:
            missed = True  # {"type":"notifications_missed"}, then ack_full_sync
            watcher.missed.discard((uid, cid))
        queue = amqp.client_queue_name(uid, cid)
        await ch.queue_declare(queue, arguments=QUEUE_ARGS)
    else:
        queue = (await ch.queue_declare("", exclusive=True, auto_delete=True)).queue
        await ch.queue_bind(queue, EXCHANGE, uid)
        await ch.queue_bind(queue, EXCHANGE, amqp.temporary_routing_key(uid))
    events = Collector()
    await ch.basic_consume(queue, events)
    return Websocket(ch, events, queue, missed)


@pytest.fixture
async def wire(conn: amqp.Connection) -> amqp.Connection:
    await gundeck_setup(conn)
    return conn


def ids() -> tuple[str, str]:
    return str(uuid.uuid4()), uuid.uuid4().hex[:16]


async def test_consume_events_acks(wire: amqp.Connection) -> None:
    uid, cid = ids()
    await setup_client(wire, uid, cid)
    await push(wire, uid, "event-1")
    ws = await websocket(wire, uid, cid)
    (first,) = await ws.events.wait_for(1)
    assert ws.payloads() == ["event-1"] and first.delivery_tag == 1
    await ws.close()  # not acked: comes back on the next connection
    ws = await websocket(wire, uid, cid)
    (again,) = await ws.events.wait_for(1)
    assert again.redelivered and ws.payloads() == ["event-1"]
    await ws.ack(again.delivery_tag)
    await ws.close()
    ws = await websocket(wire, uid, cid)
    assert await ws.events.quiet(0.3) == []


async def test_consume_events_multiple_acks(wire: amqp.Connection) -> None:
    uid, cid = ids()
    await setup_client(wire, uid, cid)
    await push(wire, uid, "event-1")
    await push(wire, uid, "event-2")
    ws = await websocket(wire, uid, cid)
    await ws.events.wait_for(2)
    await ws.ack(2, multiple=True)
    await ws.close()
    ws = await websocket(wire, uid, cid)
    assert await ws.events.quiet(0.3) == []


async def test_consume_events_ack_new_event_without_acking_old_one(
    wire: amqp.Connection,
) -> None:
    uid, cid = ids()
    await setup_client(wire, uid, cid)
    await push(wire, uid, "event-1")
    await push(wire, uid, "event-2")
    ws = await websocket(wire, uid, cid)
    await ws.events.wait_for(2)
    await ws.ack(2, multiple=False)
    await ws.close()
    ws = await websocket(wire, uid, cid)
    await ws.events.wait_for(1)
    assert (await ws.events.quiet(0.3)) and ws.payloads() == ["event-1"]


async def test_prefetch_count(wire: amqp.Connection) -> None:
    uid, cid = ids()
    await setup_client(wire, uid, cid)
    ch = await wire.channel()
    for i in range(550):
        await ch.basic_publish(EXCHANGE, uid, json.dumps({"payload": i}).encode(), confirm=False)
    await ch.wait_for_confirms(10)
    ws = await websocket(wire, uid, cid)
    await ws.events.wait_for(500)
    assert len(await ws.events.quiet(0.5)) == 500
    await ws.ack(500, multiple=True)
    await ws.events.wait_for(550)
    assert ws.payloads() == list(range(550))


async def test_single_consumer(wire: amqp.Connection) -> None:
    uid, cid = ids()
    await setup_client(wire, uid, cid)
    ws1 = await websocket(wire, uid, cid)
    await push(wire, uid, "event-1")
    await ws1.events.wait_for(1)
    # A second websocket for the same client gets nothing while the first holds it.
    ws2 = await websocket(wire, uid, cid)
    assert await ws2.events.quiet(0.3) == []
    await ws1.close()
    (again,) = await ws2.events.wait_for(1)
    assert again.redelivered and ws2.payloads() == ["event-1"]


async def test_consume_temp_events(wire: amqp.Connection) -> None:
    uid, cid = ids()
    await setup_client(wire, uid, cid)
    temp = await websocket(wire, uid)
    client = await websocket(wire, uid, cid)
    await push(wire, uid, "for-all")
    await push(wire, uid, "for-the-client", cid=cid)
    await client.events.wait_for(2)
    await temp.events.wait_for(1)
    assert (await temp.events.quiet(0.3)) and temp.payloads() == ["for-all"]


async def test_temporary_queues_are_deleted_after_use(wire: amqp.Connection) -> None:
    uid, _ = ids()
    temp = await websocket(wire, uid)
    await push(wire, uid, "seen")
    await temp.events.wait_for(1)
    await temp.close()
    names = await wire.js.consumer_names(wire.stream)
    assert amqp.consumer_name(temp.queue) not in names
    await push(wire, uid, "unseen")  # no queue for it: dropped
    for info in await wire.js.consumers_info(wire.stream):
        assert info.num_pending == 0, info.name


async def test_events_for_specific_clients(wire: amqp.Connection) -> None:
    uid, c1 = ids()
    c2 = uuid.uuid4().hex[:16]
    await setup_client(wire, uid, c1)
    await setup_client(wire, uid, c2)
    ws1 = await websocket(wire, uid, c1)
    ws2 = await websocket(wire, uid, c2)
    await push(wire, uid, "only-c1", cid=c1)
    await push(wire, uid, "everyone")
    await ws1.events.wait_for(2)
    await ws2.events.wait_for(1)
    assert ws1.payloads() == ["only-c1", "everyone"]
    assert (await ws2.events.quiet(0.3)) and ws2.payloads() == ["everyone"]


async def test_events_dead_lettered(wire: amqp.Connection) -> None:
    uid, cid = ids()
    await setup_client(wire, uid, cid)
    watcher = await start_watcher(wire)
    await push(wire, uid, "expires", ttl_ms=300)
    # Nobody consumes the client's queue: the expired event is dead-lettered anyway.
    await eventually(lambda: (uid, cid) in watcher.missed, timeout=5, what="dead letter")
    ws = await websocket(wire, uid, cid, watcher)
    assert ws.missed  # notifications_missed: the client must full-sync
    assert await ws.events.quiet(0.3) == []


async def test_events_dead_lettered_with_reconnect(wire: amqp.Connection) -> None:
    uid, cid = ids()
    await setup_client(wire, uid, cid)
    watcher = await start_watcher(wire)
    ws = await websocket(wire, uid, cid, watcher)
    await push(wire, uid, "expires", ttl_ms=500)
    await ws.events.wait_for(1)
    await ws.close()  # not acked
    await eventually(lambda: (uid, cid) in watcher.missed, timeout=5, what="dead letter")
    ws = await websocket(wire, uid, cid, watcher)
    assert ws.missed
    assert await ws.events.quiet(0.3) == []


async def test_transient_events_do_not_trigger_dead_letters(wire: amqp.Connection) -> None:
    uid, cid = ids()
    await setup_client(wire, uid, cid)
    watcher = await start_watcher(wire)
    await push(wire, uid, "typing", transient=True)
    await asyncio.sleep(1.5)  # past the "0" expiration, and a sweep or more
    ws = await websocket(wire, uid, cid, watcher)
    # The watcher ignores transient dead letters: none must have reached it at all.
    assert watcher.seen == 0
    assert not ws.missed and watcher.missed == set()
    assert await ws.events.quiet(0.3) == []


async def test_transient_events(wire: amqp.Connection) -> None:
    uid, cid = ids()
    await setup_client(wire, uid, cid)
    ws = await websocket(wire, uid, cid)
    await push(wire, uid, "typing", transient=True)
    await ws.events.wait_for(1)
    assert ws.payloads() == ["typing"]
    assert ws.events.deliveries[0].properties.delivery_mode == 1


async def test_channel_limit(amqp_connect: object) -> None:
    conn: amqp.Connection = await amqp_connect(max_channels=2)  # type: ignore[operator]
    await gundeck_setup(conn)
    uid, cid = ids()
    await setup_client(conn, uid, cid)
    await websocket(conn, uid, cid)
    await websocket(conn, uid)
    with pytest.raises(amqp.TooManyChannelsError) as info:
        await websocket(conn, uid)  # cannon answers 503
    assert info.value.reply_code == 503


async def test_channel_killed(server: NatsServer, amqp_connect: object) -> None:
    async with FaultProxy("127.0.0.1", server.port) as proxy:
        killed = asyncio.Event()
        conn: amqp.Connection = await amqp_connect(  # type: ignore[operator]
            servers=proxy.url, reconnect_time_wait=0.1, on_connection_close=killed.set
        )
        await gundeck_setup(conn)
        uid, cid = ids()
        await setup_client(conn, uid, cid)
        ws = await websocket(conn, uid, cid)
        await push(conn, uid, "event-1")
        await ws.events.wait_for(1)
        await proxy.reset()  # the connection is killed
        await asyncio.wait_for(killed.wait(), 5)
        await ws.close()  # cannon closes the websocket (1001)
        await eventually(lambda: conn.nc.is_connected, timeout=10, what="reconnect")
        ws = await websocket(conn, uid, cid)
        (again,) = await ws.events.wait_for(1)
        assert again.redelivered and ws.payloads() == ["event-1"]
        await conn.close()


async def test_backend_pusher_recovers_from_queue_deletion(
    wire: amqp.Connection, amqp_connect: object
) -> None:
    domain = "far-away.example.com"
    queue = amqp.backend_notifications_queue(domain)
    queue_args = {"x-single-active-consumer": True, "x-queue-type": "quorum"}
    pushed: list[bytes] = []
    cancelled: list[str] = []

    async def enqueue(conn: amqp.Connection, body: bytes) -> None:
        ch = await conn.channel()  # ensureQueue on every publish, then publish
        await ch.queue_declare(queue, arguments=queue_args)
        await ch.basic_publish("", queue, body, BasicProperties(delivery_mode=2))
        await ch.close()

    pusher = await wire.channel()
    await pusher.basic_qos(1)

    async def deliver(delivery: amqp.Delivery) -> None:
        pushed.append(delivery.body)
        await delivery.ack()

    async def consume() -> None:
        await pusher.queue_declare(queue, arguments=queue_args)
        await pusher.basic_consume(queue, deliver, on_cancel=cancelled.append)

    await consume()
    brig: amqp.Connection = await amqp_connect()  # type: ignore[operator]
    await enqueue(brig, b"n1")
    await eventually(lambda: pushed == [b"n1"], what="first notification")
    admin = await brig.channel()
    await admin.queue_delete(queue)  # deleted through the admin API
    await eventually(lambda: len(cancelled) == 1, what="basic.cancel")
    await enqueue(brig, b"n2")  # the next publish re-creates the queue
    await consume()  # the pusher's next domain refresh consumes again
    await eventually(lambda: pushed == [b"n1", b"n2"], what="notifications flow again")
    subject = wire.subjects.queue_subject(queue)
    assert amqp.domain_of_subject(subject, wire.namespace) == domain
