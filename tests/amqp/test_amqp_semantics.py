"""Every semantic of the issue's list, on a real nats-server with JetStream."""

from __future__ import annotations

import asyncio

import pytest
from amqp_helpers import Collector, declare_bound
from support import AmqpConnect, eventually

from natswire import amqp, errors
from natswire.amqp import BasicProperties

# ------------------------------------------------------------------------ routing


async def test_direct_topic_and_fanout_routing(ch: amqp.Channel) -> None:
    await ch.exchange_declare("direct-x", "direct")
    await ch.exchange_declare("topic-x", "topic")
    await ch.exchange_declare("fanout-x", "fanout")
    await declare_bound(ch, "d", "direct-x", ["a.b"])
    await declare_bound(ch, "t-star", "topic-x", ["a.*"])
    await declare_bound(ch, "t-hash", "topic-x", ["a.#"])
    await declare_bound(ch, "t-mid", "topic-x", ["a.#.z"])
    await declare_bound(ch, "f1", "fanout-x", [""])
    await declare_bound(ch, "f2", "fanout-x", ["ignored"])
    got = {q: Collector() for q in ("d", "t-star", "t-hash", "t-mid", "f1", "f2")}
    for queue, collector in got.items():
        await ch.basic_consume(queue, collector, auto_ack=True)
    await ch.basic_publish("direct-x", "a.b", b"d1")
    await ch.basic_publish("direct-x", "a.c", b"d-none")
    for key in ("a", "a.b", "a.b.c", "a.z", "a.q.r.z", "b.z"):
        await ch.basic_publish("topic-x", key, key.encode())
    await ch.basic_publish("fanout-x", "anything", b"f")
    await got["t-hash"].wait_for(5)
    await got["f2"].wait_for(1)
    await asyncio.sleep(0.2)
    assert got["d"].bodies == [b"d1"]
    assert got["t-star"].bodies == [b"a.b", b"a.z"]
    assert got["t-hash"].bodies == [b"a", b"a.b", b"a.b.c", b"a.z", b"a.q.r.z"]
    assert got["t-mid"].bodies == [b"a.z", b"a.q.r.z"]
    assert got["f1"].bodies == [b"f"] and got["f2"].bodies == [b"f"]
    assert got["t-mid"].deliveries[1].routing_key == "a.q.r.z"
    assert got["d"].deliveries[0].exchange == "direct-x"


async def test_each_bound_queue_sees_a_message_once(
    ch: amqp.Channel, conn: amqp.Connection
) -> None:
    await ch.exchange_declare("tx", "topic")
    # Overlapping bindings on one queue: still one copy.
    await declare_bound(ch, "q1", "tx", ["a.*", "*.b", "a.b", "#"])
    await declare_bound(ch, "q2", "tx", ["a.b"])
    c1, c2 = Collector(), Collector()
    await ch.basic_consume("q1", c1)
    await ch.basic_consume("q2", c2)
    await ch.basic_publish("tx", "a.b", b"m")
    await c1.wait_for(1)
    await c2.wait_for(1)
    await asyncio.sleep(0.3)
    assert c1.bodies == [b"m"] and c2.bodies == [b"m"]


async def test_unroutable_messages_are_dropped(ch: amqp.Channel, conn: amqp.Connection) -> None:
    await ch.exchange_declare("dx", "direct")
    await ch.basic_publish("dx", "nobody", b"lost")
    await ch.basic_publish("", "no-such-queue", b"lost too")
    # The stream keeps them until its max age (limits retention), but no queue has them,
    # and a queue bound afterwards does not see them either.
    await declare_bound(ch, "late", "dx", ["nobody"])
    assert (await ch.queue_declare("late", passive=True)).message_count == 0
    late = Collector()
    await ch.basic_consume("late", late)
    assert await late.quiet(0.3) == []


async def test_default_exchange_routes_to_the_named_queue(ch: amqp.Channel) -> None:
    await ch.queue_declare("jobs")
    await ch.queue_declare("other")
    jobs, other = Collector(), Collector()
    await ch.basic_consume("jobs", jobs)
    await ch.basic_consume("other", other)
    props = BasicProperties(
        content_type="application/json",
        type="job",
        message_id="m-1",
        correlation_id="r-1",
        delivery_mode=2,
        headers={"k": 1, "nested": {"x": [1, "y"]}},
    )
    await ch.basic_publish("", "jobs", b"{}", props)
    (delivery,) = await jobs.wait_for(1)
    assert delivery.properties == props
    assert (delivery.exchange, delivery.routing_key) == ("", "jobs")
    assert delivery.delivery_tag == 1 and not delivery.redelivered
    assert await other.quiet(0.2) == []


async def test_publishing_to_a_missing_exchange_is_not_found(conn: amqp.Connection) -> None:
    ch = await conn.channel()
    with pytest.raises(amqp.ExchangeNotFoundError):
        await ch.basic_publish("missing", "k", b"x")
    assert ch.is_closed
    with pytest.raises(amqp.ChannelClosedError):
        await ch.queue_declare("q")


# ------------------------------------------------------------------- declarations


async def test_redeclare_same_is_idempotent_and_different_fails(conn: amqp.Connection) -> None:
    ch = await conn.channel()
    args = {"x-queue-type": "quorum", "x-dead-letter-exchange": "dlx"}
    await ch.queue_declare("q", arguments=args)
    ok = await ch.queue_declare("q", arguments=dict(args))
    assert ok.queue == "q"
    exceptions: list[BaseException] = []
    conn.on_channel_exception = lambda channel, exc: exceptions.append(exc)
    with pytest.raises(amqp.PreconditionFailedError, match="x-dead-letter-exchange"):
        await ch.queue_declare("q", arguments={"x-queue-type": "quorum"})
    assert ch.is_closed
    await eventually(lambda: len(exceptions) == 1, what="on_channel_exception")
    ch2 = await conn.channel()
    with pytest.raises(amqp.PreconditionFailedError, match="durable"):
        await ch2.queue_declare("q", durable=False, arguments=args)
    ch3 = await conn.channel()
    await ch3.exchange_declare("x", "direct")
    await ch3.exchange_declare("x", type="direct")
    with pytest.raises(amqp.PreconditionFailedError, match="type"):
        await ch3.exchange_declare("x", "topic")
    assert isinstance(exceptions[0], errors.NatsWireError)
    assert errors.PreconditionFailedError is amqp.PreconditionFailedError


async def test_generated_names_and_passive_declare(ch: amqp.Channel, conn: amqp.Connection) -> None:
    ok = await ch.queue_declare("", exclusive=True)
    assert ok.queue.startswith("amq.gen-")
    again = await ch.queue_declare(ok.queue, passive=True)
    assert again.queue == ok.queue
    with pytest.raises(amqp.QueueNotFoundError):
        await ch.queue_declare("absent", passive=True)
    ch2 = await conn.channel()
    with pytest.raises(amqp.NotAllowedError, match="x-max-length"):
        await ch2.queue_declare("q", arguments={"x-max-length": 10})


async def test_unbind_purge_and_delete(ch: amqp.Channel, conn: amqp.Connection) -> None:
    await ch.exchange_declare("ex", "direct")
    await declare_bound(ch, "q", "ex", ["k1", "k2"])
    await ch.queue_unbind("q", "ex", "k2")
    for key in ("k1", "k2", "k1"):
        await ch.basic_publish("ex", key, key.encode())
    assert (await ch.queue_declare("q")).message_count == 2
    assert await ch.queue_purge("q") == 2
    assert (await ch.queue_declare("q")).message_count == 0
    await ch.basic_publish("ex", "k1", b"x")
    assert await ch.queue_delete("q") == 1
    with pytest.raises(amqp.QueueNotFoundError):
        await ch.queue_declare("q", passive=True)


# ----------------------------------------------------------------------- acks


async def test_each_queue_has_its_own_acks(ch: amqp.Channel, conn: amqp.Connection) -> None:
    await ch.exchange_declare("fx", "fanout")
    await declare_bound(ch, "a", "fx", [""])
    await declare_bound(ch, "b", "fx", [""])
    ca, cb = Collector(), Collector()
    await ch.basic_consume("a", ca)
    await ch.basic_consume("b", cb)
    await ch.basic_publish("fx", "", b"m")
    (da,) = await ca.wait_for(1)
    (_db,) = await cb.wait_for(1)
    await ch.basic_ack(da.delivery_tag)
    await ch.close()  # b's copy was not acked: it comes back to b only
    ch2 = await conn.channel()
    ca2, cb2 = Collector(), Collector()
    await ch2.basic_consume("a", ca2)
    await ch2.basic_consume("b", cb2)
    (again,) = await cb2.wait_for(1)
    assert again.body == b"m" and again.redelivered
    assert await ca2.quiet(0.3) == []


async def test_ack_multiple_and_single(ch: amqp.Channel, conn: amqp.Connection) -> None:
    await ch.queue_declare("q")
    got = Collector()
    await ch.basic_consume("q", got)
    for i in range(6):
        await ch.basic_publish("", "q", b"%d" % i)
    deliveries = await got.wait_for(6)
    assert [d.delivery_tag for d in deliveries] == [1, 2, 3, 4, 5, 6]
    await ch.basic_ack(3, multiple=True)  # 1, 2, 3
    await ch.basic_ack(5)  # only 5
    assert ch.unacked_count == 2
    with pytest.raises(amqp.UnknownDeliveryTagError):
        await ch.basic_ack(5)
    assert ch.is_closed  # 4 and 6 went back to the queue at once
    ch2 = await conn.channel()
    again = Collector()
    await ch2.basic_consume("q", again)
    await again.wait_for(2, timeout=3)
    assert sorted(again.bodies) == [b"3", b"5"]
    assert all(d.redelivered for d in again.deliveries)
    assert [d.delivery_tag for d in again.deliveries] == [1, 2]


async def test_nack_requeue_redelivers_and_reject_dead_letters(
    ch: amqp.Channel, conn: amqp.Connection
) -> None:
    await ch.exchange_declare("dlx", "direct")
    await declare_bound(ch, "dlq", "dlx", ["dead"])
    await ch.queue_declare(
        "q", arguments={"x-dead-letter-exchange": "dlx", "x-dead-letter-routing-key": "dead"}
    )
    await ch.queue_declare("plain")
    got, dead, plain = Collector(), Collector(), Collector()
    await ch.basic_consume("q", got)
    await ch.basic_consume("dlq", dead)
    await ch.basic_consume("plain", plain)
    await ch.basic_publish("", "q", b"m", BasicProperties(message_id="id-1"))
    (first,) = await got.wait_for(1)
    await ch.basic_nack(first.delivery_tag, requeue=True)
    second = (await got.wait_for(2))[1]
    assert second.body == b"m" and second.redelivered and second.delivery_tag == 2
    await ch.basic_reject(second.delivery_tag, requeue=False)
    (dl,) = await dead.wait_for(1)
    headers = dl.properties.headers or {}
    assert headers["x-last-death-queue"] == "q"
    assert headers["x-last-death-reason"] == "rejected"
    assert headers["x-first-death-queue"] == "q"
    assert headers["x-death"][0]["queue"] == "q" and headers["x-death"][0]["count"] == 1
    assert headers["x-death"][0]["routing-keys"] == ["q"]
    assert dl.routing_key == "dead" and dl.properties.message_id == "id-1"
    # Without a dead-letter exchange a rejected message is dropped.
    await ch.basic_publish("", "plain", b"p")
    (p,) = await plain.wait_for(1)
    await ch.basic_reject(p.delivery_tag, requeue=False)
    assert await got.quiet(0.3) and len(got.deliveries) == 2
    assert (await ch.queue_declare("plain")).message_count == 0
    assert len(plain.deliveries) == 1 and len(dead.deliveries) == 1


async def test_unacked_comes_back_at_once_when_the_channel_closes(
    conn: amqp.Connection,
) -> None:
    ch1 = await conn.channel()
    ch2 = await conn.channel()
    await ch1.queue_declare("q")
    c1, c2 = Collector(), Collector()
    await ch1.basic_qos(1)
    await ch1.basic_consume("q", c1)
    await ch1.basic_publish("", "q", b"m")
    await c1.wait_for(1)
    await ch2.basic_consume("q", c2)
    assert await c2.quiet(0.2) == []
    loop = asyncio.get_running_loop()
    started = loop.time()
    await ch1.close()
    (d,) = await c2.wait_for(1, timeout=2)
    assert loop.time() - started < 1.0  # not the 30 s ack wait
    assert d.redelivered and d.body == b"m"


# --------------------------------------------------------------------- prefetch


async def test_prefetch_500_of_550(ch: amqp.Channel, conn: amqp.Connection) -> None:
    await ch.queue_declare("q")
    for i in range(550):
        await ch.basic_publish("", "q", b"%d" % i, confirm=False)
    await ch.wait_for_confirms(10)
    await ch.basic_qos(500)
    got = Collector()
    await ch.basic_consume("q", got)
    await got.wait_for(500)
    assert len(await got.quiet(0.5)) == 500
    info = await conn.js.consumer_info(conn.stream, amqp.consumer_name("q"))
    assert info.num_ack_pending == 500 and info.num_pending == 50
    await ch.basic_ack(10, multiple=True)
    await got.wait_for(510)
    assert len(await got.quiet(0.3)) == 510
    await ch.basic_ack(510, multiple=True)
    await got.wait_for(550)
    assert [int(b) for b in got.bodies] == list(range(550))


# ----------------------------------------------------------------- TTL, expiry


async def test_expired_messages_are_dead_lettered_never_delivered(
    ch: amqp.Channel, conn: amqp.Connection
) -> None:
    await ch.exchange_declare("dlx", "fanout")
    await declare_bound(ch, "dlq", "dlx", [""])
    args = {"x-dead-letter-exchange": "dlx"}
    await ch.queue_declare("per-msg", arguments=args)
    await ch.queue_declare("queue-ttl", arguments={**args, "x-message-ttl": 200})
    await ch.basic_publish("", "per-msg", b"short", BasicProperties(expiration="200"))
    await ch.basic_publish("", "per-msg", b"long", BasicProperties(expiration="60000"))
    await ch.basic_publish(
        "", "per-msg", b"transient", BasicProperties(expiration="200", delivery_mode=1)
    )
    await ch.basic_publish("", "queue-ttl", b"q-ttl")
    await asyncio.sleep(0.4)
    got, dead = Collector(), Collector()
    await ch.basic_consume("per-msg", got)
    await ch.basic_consume("queue-ttl", got)
    await ch.basic_consume("dlq", dead)
    await dead.wait_for(2)
    assert got.bodies == [b"long"]
    assert sorted(dead.bodies) == [b"q-ttl", b"short"]
    for d in dead.deliveries:
        headers = d.properties.headers or {}
        assert headers["x-last-death-reason"] == "expired"
        assert d.properties.expiration is None
    assert {(d.properties.headers or {})["x-last-death-queue"] for d in dead.deliveries} == {
        "per-msg",
        "queue-ttl",
    }
    assert (await dead.quiet(0.3)) and len(dead.deliveries) == 2  # transient: quietly dropped


async def test_idle_queue_expiry_is_swept_to_the_dead_letter_queue(
    amqp_connect: AmqpConnect,
) -> None:
    conn = await amqp_connect(expiry_sweep_interval=0.5)
    ch = await conn.channel()
    await ch.exchange_declare("dlx", "fanout")
    await declare_bound(ch, "dlq", "dlx", [""])
    await ch.queue_declare("idle", arguments={"x-dead-letter-exchange": "dlx"})
    dead = Collector()
    await ch.basic_consume("dlq", dead)
    await ch.basic_publish("", "idle", b"gone", BasicProperties(expiration="100"))
    # Nobody consumes "idle": the sweeper dead-letters the expired head.
    (d,) = await dead.wait_for(1, timeout=4)
    assert (d.properties.headers or {})["x-last-death-queue"] == "idle"


# ----------------------------------------------------- exclusive and auto-delete


async def test_exclusive_and_auto_delete_queues_vanish_with_their_channel(
    conn: amqp.Connection,
) -> None:
    ch = await conn.channel()
    await ch.exchange_declare("ex", "direct")
    await ch.basic_publish("ex", "k", b"before")
    tmp = (await ch.queue_declare("", exclusive=True, auto_delete=True)).queue
    await ch.queue_bind(tmp, "ex", "k")
    await ch.queue_declare("auto", auto_delete=True)
    await ch.queue_bind("auto", "ex", "k")
    got, auto = Collector(), Collector()
    await ch.basic_consume(tmp, got)
    auto_tag = await ch.basic_consume("auto", auto)
    await ch.basic_publish("ex", "k", b"during")
    await got.wait_for(1)
    assert got.bodies == [b"during"]  # only what was published while it existed
    await ch.basic_cancel(auto_tag)  # last consumer of an auto-delete queue
    ch2 = await conn.channel()
    with pytest.raises(amqp.QueueNotFoundError):
        await ch2.queue_declare("auto", passive=True)
    await ch.close()
    ch3 = await conn.channel()
    with pytest.raises(amqp.QueueNotFoundError):
        await ch3.queue_declare(tmp, passive=True)


async def test_exclusive_queue_is_locked_to_its_connection(
    conn: amqp.Connection, amqp_connect: object
) -> None:
    ch = await conn.channel()
    await ch.queue_declare("mine", exclusive=True)
    other = await amqp_connect()  # type: ignore[operator]
    och = await other.channel()
    with pytest.raises(amqp.ResourceLockedError):
        await och.queue_declare("mine", exclusive=True)


# ----------------------------------------------------- single active consumer


async def test_single_active_consumer_and_takeover(conn: amqp.Connection) -> None:
    ch1 = await conn.channel()
    ch2 = await conn.channel()
    await ch1.queue_declare("sac", arguments={"x-single-active-consumer": True})
    c1, c2 = Collector(), Collector()
    await ch1.basic_consume("sac", c1)
    await asyncio.sleep(0.1)
    await ch2.basic_consume("sac", c2)
    for i in range(10):
        await ch1.basic_publish("", "sac", b"%d" % i)
    await c1.wait_for(10)
    assert c1.bodies == [b"%d" % i for i in range(10)]
    assert await c2.quiet(0.3) == []
    await ch1.basic_ack(5, multiple=True)  # 0..4 done; 5..9 held
    await ch1.close()
    await c2.wait_for(5, timeout=3)
    for i in range(10, 13):
        await ch2.basic_publish("", "sac", b"%d" % i)
    await c2.wait_for(8)
    assert c2.bodies == [b"%d" % i for i in range(5, 13)]


async def _active_and_waiting(
    conn: amqp.Connection, queue: str, messages: int
) -> tuple[amqp.Channel, str, Collector, Collector]:
    """A single-active-consumer ``queue`` with prefetch 1 on two channels: the active
    consumer (its channel, tag and collector; it acks nothing) and a waiting one that
    acks what it gets; then ``messages`` messages ``b"0"``, ``b"1"``, ... published."""
    ch1 = await conn.channel()
    ch2 = await conn.channel()
    await ch1.basic_qos(1)
    await ch2.basic_qos(1)
    await ch1.queue_declare(queue, arguments={"x-single-active-consumer": True})
    first, waiting = Collector(), Collector()
    tag = await ch1.basic_consume(queue, first)
    await asyncio.sleep(0.1)

    async def ack_each(delivery: amqp.Delivery) -> None:
        waiting(delivery)
        await delivery.ack()

    await ch2.basic_consume(queue, ack_each)
    for i in range(messages):
        await ch1.basic_publish("", queue, b"%d" % i)
    return ch1, tag, first, waiting


async def test_single_active_consumer_hands_over_after_the_last_held_ack(
    conn: amqp.Connection,
) -> None:
    """Cancelled while holding an unacked delivery: once that delivery is acked, the
    waiting consumer becomes active and gets the rest of the queue, in order, not
    redelivered (as RabbitMQ does)."""
    ch1, tag, first, waiting = await _active_and_waiting(conn, "sac1", 5)
    (held,) = await first.wait_for(1)
    assert held.body == b"0"
    assert await waiting.quiet(0.3) == []
    await ch1.basic_cancel(tag)
    await held.ack()
    got = await waiting.wait_for(4, timeout=5)
    assert [d.body for d in got] == [b"1", b"2", b"3", b"4"]
    assert not any(d.redelivered for d in got)
    assert len(first.deliveries) == 1


async def test_single_active_consumer_hands_over_when_the_cancelled_ones_channel_closes(
    conn: amqp.Connection,
) -> None:
    """Cancelled while holding an unacked delivery, then its channel closes: the waiting
    consumer takes over at once and gets every message, the held one redelivered. (Its
    place: the pin moves before the nak, so the ready messages may come first.)"""
    ch1, tag, first, waiting = await _active_and_waiting(conn, "sac2", 3)
    await first.wait_for(1)
    await ch1.basic_cancel(tag)
    await ch1.close()
    got = await waiting.wait_for(3, timeout=5)
    assert sorted(d.body for d in got) == [b"0", b"1", b"2"]
    assert {d.body: d.redelivered for d in got} == {b"0": True, b"1": False, b"2": False}
    assert [d.body for d in got if d.body != b"0"] == [b"1", b"2"]


# ------------------------------------------------------------- delivery limit


async def test_delivery_limit_dead_letters(ch: amqp.Channel) -> None:
    await ch.exchange_declare("dlx", "fanout")
    await declare_bound(ch, "dlq", "dlx", [""])
    await ch.queue_declare(
        "limited", arguments={"x-dead-letter-exchange": "dlx", "x-max-delivery": 3}
    )
    got, dead = Collector(), Collector()
    await ch.basic_consume("dlq", dead)

    async def requeue(delivery: amqp.Delivery) -> None:
        got(delivery)
        await delivery.nack(requeue=True)

    await ch.basic_consume("limited", requeue)
    await ch.basic_publish("", "limited", b"poison")
    (d,) = await dead.wait_for(1)
    assert len(got.deliveries) == 3
    assert [x.delivery_count for x in got.deliveries] == [1, 2, 3]
    assert (d.properties.headers or {})["x-last-death-reason"] == "delivery_limit"


# ------------------------------------------------------------------- cancel


async def test_deleting_a_queue_calls_on_cancel(
    conn: amqp.Connection, amqp_connect: object
) -> None:
    ch = await conn.channel()
    await ch.queue_declare("doomed")
    cancelled: list[str] = []
    tag = await ch.basic_consume("doomed", Collector(), on_cancel=cancelled.append)
    # Deleted from another connection: the server tells the consumer.
    other = await amqp_connect()  # type: ignore[operator]
    och = await other.channel()
    await och.queue_delete("doomed")
    await eventually(lambda: cancelled == [tag], what="on_cancel")
    assert tag not in ch.consumer_tags and ch.is_open


# --------------------------------------------------------------- channels


async def test_channel_limit(amqp_connect: object) -> None:
    conn = await amqp_connect(max_channels=2)  # type: ignore[operator]
    opened: list[amqp.Channel] = []
    conn.on_new_channel = opened.append
    a = await conn.channel()
    await conn.channel()
    with pytest.raises(amqp.TooManyChannelsError) as info:
        await conn.channel()
    assert info.value.reply_code == 503
    await a.close()
    await conn.channel()
    assert len(opened) == 3
