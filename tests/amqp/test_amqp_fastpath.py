"""The adapter's per-message shortcuts behave as the slow paths they replace: ack
numbers read from the ack subject, the raw-header TTL look, cached header blocks for
``confirm=False`` publishes, failure reports without done-callbacks, and acks that stay
out of the client's subject caches."""

from __future__ import annotations

import asyncio

import pytest
from amqp_helpers import Collector
from support import eventually

from natswire import amqp
from natswire.amqp.consumer import ack_numbers, may_expire
from natswire.client.message import Message, new_message
from natswire.jetstream.message import parse_metadata
from natswire.protocol import serializer
from natswire.protocol.frames import HMsg
from natswire.protocol.headers import Headers

TS_NS = 1_767_225_600_123_456_789


@pytest.mark.parametrize(
    "reply",
    [
        f"$JS.ACK.ORDERS.worker.3.1042.17.{TS_NS}.5",
        f"$JS.ACK.hub.ACCHASH1.ORDERS.worker.2.99.7.{TS_NS}.0.r4nd0m",
        f"$JS.ACK._.H.S.C.1.2.3.{TS_NS}.4.tok.extra.more",
    ],
)
def test_ack_numbers_agree_with_parse_metadata(reply: str) -> None:
    meta = parse_metadata(reply)
    assert ack_numbers(reply.encode()) == (
        meta.sequence.stream,
        meta.num_delivered,
        meta.timestamp_ns,
    )


@pytest.mark.parametrize(
    "reply",
    [
        None,
        b"",
        b"_INBOX.x.1",
        b"$JS.ACK.S.C.1.2",
        b"$JS.ACK.S.C.x.2.3.4.5",
        b"$JS.ACK..C.1.2.3.4.5",
    ],
)
def test_ack_numbers_reject_what_parse_metadata_rejects(reply: bytes | None) -> None:
    assert ack_numbers(reply) is None


def _received(raw_headers: bytes) -> Message:
    msg = new_message(Message)
    msg._frame = HMsg(b"s", b"1", b"$JS.ACK.S.C.1.2.3.4.5", raw_headers, b"x")
    msg._sub = None
    return msg


def test_may_expire_looks_at_the_raw_headers_ignoring_case() -> None:
    assert may_expire(_received(b"NATS/1.0\r\nAmqp-Expiration: 5\r\n\r\n"))
    assert may_expire(_received(b"NATS/1.0\r\namqp-expiration: 5\r\n\r\n"))
    assert not may_expire(_received(b"NATS/1.0\r\nAmqp-Exchange: x\r\n\r\n"))
    assert not may_expire(Message("s", b"x"))
    assert may_expire(Message("s", b"x", headers=Headers({"AMQP-EXPIRATION": "1"})))


async def test_pipelined_publishes_keep_routes_and_properties(ch: amqp.Channel) -> None:
    await ch.exchange_declare("fp", "direct")
    await ch.queue_declare("fp-q")
    await ch.queue_bind("fp-q", "fp", "a")
    await ch.queue_bind("fp-q", "fp", "b")
    got = Collector()
    await ch.basic_consume("fp-q", got, auto_ack=True)
    props = amqp.BasicProperties(content_type="text/plain", headers={"n": 1})
    for i in range(3):  # the same shapes again and again: served from the cache
        await ch.basic_publish("fp", "a", b"a%d" % i, confirm=False)
        await ch.basic_publish("fp", "b", b"b%d" % i, props, confirm=False)
        await ch.basic_publish(
            "fp", "a", b"m%d" % i, amqp.BasicProperties(message_id=f"id{i}"), confirm=False
        )
    await ch.wait_for_confirms(5.0)
    deliveries = await got.wait_for(9)
    by_body = {d.body: d for d in deliveries}
    for i in range(3):
        plain, with_props, with_id = by_body[b"a%d" % i], by_body[b"b%d" % i], by_body[b"m%d" % i]
        assert (plain.exchange, plain.routing_key) == ("fp", "a")
        assert plain.properties == amqp.BasicProperties()
        assert (with_props.exchange, with_props.routing_key) == ("fp", "b")
        assert with_props.properties == props
        assert with_id.properties.message_id == f"id{i}"
        assert not plain.redelivered and plain.delivery_count == 1


async def test_a_lowercase_expiration_header_still_expires(conn: amqp.Connection) -> None:
    ch = await conn.channel()
    await ch.queue_declare("fp-ttl")
    subject = conn.subjects.publish_subject("", "fp-ttl")
    await conn.js.publish(
        subject,
        b"old",
        headers={"amqp-exchange": "", "amqp-routing-key": "fp-ttl", "amqp-expiration": "50"},
    )
    await ch.basic_publish("", "fp-ttl", b"fresh")
    await asyncio.sleep(0.2)
    got = Collector()
    await ch.basic_consume("fp-ttl", got, auto_ack=True)
    await got.wait_for(1)
    assert (await got.quiet(0.3)) and got.bodies == [b"fresh"]


async def test_redelivery_count_follows_the_live_delivery(ch: amqp.Channel) -> None:
    await ch.queue_declare("fp-redeliver")
    got = Collector()
    await ch.basic_consume("fp-redeliver", got)
    await ch.basic_publish("", "fp-redeliver", b"x")
    first = (await got.wait_for(1))[0]
    assert not first.redelivered and first.delivery_count == 1
    await first.nack(requeue=True)
    second = (await got.wait_for(2))[1]
    assert second.redelivered and second.delivery_count == 2
    await second.ack()


async def test_a_failed_pipelined_publish_is_reported(amqp_connect: object) -> None:
    errors: list[BaseException] = []
    conn: amqp.Connection = await amqp_connect(  # type: ignore[operator]
        on_channel_exception=lambda channel, exc: errors.append(exc)
    )
    ch = await conn.channel()
    await ch.queue_declare("fp-gone")
    await conn.js.delete_stream(conn.stream)  # nobody stores the next publish
    await ch.basic_publish("", "fp-gone", b"x", confirm=False)
    await eventually(lambda: bool(errors), what="the failed confirm reported")
    assert "no stream" in str(errors[0])


async def test_acks_stay_out_of_the_subject_caches(ch: amqp.Channel) -> None:
    nc = ch.connection.nc
    known = set(serializer._publish_subjects)  # the cache is shared by every client
    await ch.queue_declare("fp-acks")
    got = Collector()
    await ch.basic_consume("fp-acks", got)
    for i in range(20):
        await ch.basic_publish("", "fp-acks", b"%d" % i, confirm=False)
    for delivery in await got.wait_for(20):
        await delivery.ack()
    await nc.flush()
    cached = [*nc._pub_prefixes, *(set(serializer._publish_subjects) - known)]
    as_text = [s.decode() if isinstance(s, bytes) else s for s in cached]
    assert not [s for s in as_text if s.startswith("$JS.ACK")]
    await eventually(lambda: ch.unacked_count == 0)
