"""Queue state in memory (the default on a single server): what a server crash loses is
made again from the queue records and the ack log."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from amqp_helpers import Collector
from support import eventually

from natswire import amqp
from natswire.amqp.names import acklog_stream_name
from natswire.amqp.options import DEFAULT_MAX_AGE
from natswire.amqp.setup import default_queue_state
from natswire.server import NatsServer


async def crash(server: NatsServer, *conns: amqp.Connection) -> None:
    """kill -9 and restart the server, once every connection's last records and acks
    were sent and stored (acks of the last moments before a crash may come back)."""
    for conn in conns:
        await conn.nc.flush()
    await asyncio.sleep(0.3)
    server.kill()
    server.start()
    for conn in conns:
        await eventually(lambda c=conn: c.nc.is_connected, timeout=10, what="reconnect")
        await conn.wait_ready(20)


async def test_consumers_keep_state_in_memory_with_an_ack_log_on_a_single_server(
    amqp_connect: object,
) -> None:
    conn: amqp.Connection = await amqp_connect()  # type: ignore[operator]
    assert conn.options.queue_state == "memory"
    ch = await conn.channel()
    await ch.queue_declare("mem-q")
    info = await conn.js.consumer_info(conn.stream, amqp.consumer_name("mem-q"))
    assert info.config.mem_storage is True
    log = await conn.js.stream_info(acklog_stream_name(conn.namespace))
    assert log.config.max_age == DEFAULT_MAX_AGE
    # Exclusive and auto-delete queues go with their connection or consumers: no record,
    # their state stays in files.
    await ch.queue_declare("mem-excl", exclusive=True)
    info = await conn.js.consumer_info(conn.stream, amqp.consumer_name("mem-excl"))
    assert not info.config.mem_storage
    file_conn: amqp.Connection = await amqp_connect(queue_state="file")  # type: ignore[operator]
    await (await file_conn.channel()).queue_declare("file-q")
    info = await conn.js.consumer_info(conn.stream, amqp.consumer_name("file-q"))
    assert not info.config.mem_storage
    assert file_conn.acklog is None


def test_queue_state_is_memory_only_on_a_single_server_that_reads_the_log_back() -> None:
    assert default_queue_state({}, (2, 11)) == "memory"
    assert default_queue_state({}, (2, 15)) == "memory"
    assert default_queue_state({}, (2, 10)) == "file"  # no batched Direct Get
    assert default_queue_state({"cluster": "c"}, (2, 15)) == "file"


async def test_a_crash_returns_what_was_not_settled_and_nothing_that_was(
    server: NatsServer, amqp_connect: object
) -> None:
    conn: amqp.Connection = await amqp_connect(reconnect_time_wait=0.1)  # type: ignore[operator]
    ch = await conn.channel()
    await ch.exchange_declare("ex", "direct")
    await ch.exchange_declare("dlx", "fanout")
    await ch.queue_declare("dead")
    await ch.queue_bind("dead", "dlx", "")
    await ch.queue_declare("work", arguments={"x-dead-letter-exchange": "dlx"})
    await ch.queue_bind("work", "ex", "k")
    await ch.queue_declare("purged")
    await ch.queue_bind("purged", "ex", "k")
    for i in range(12):
        await ch.basic_publish("ex", "k", b"%d" % i)
    assert await ch.queue_purge("purged") == 12
    got = Collector()
    await ch.basic_consume("work", got)
    await got.wait_for(12)
    tags = {int(d.body): d.delivery_tag for d in got.deliveries}
    await ch.basic_ack(tags[3], multiple=True)  # 0..3 acked
    await ch.basic_ack(tags[6])
    await ch.basic_reject(tags[7], requeue=False)  # dead-lettered
    await ch.basic_nack(tags[8], requeue=False)  # dead-lettered
    await ch.basic_cancel(got.deliveries[0].consumer_tag)
    await ch.basic_publish("", "work", b"direct")  # after the binding, never delivered
    await crash(server, conn)

    ch2 = await conn.channel()
    again = Collector()
    await ch2.basic_consume("work", again)
    info = await conn.js.consumer_info(conn.stream, amqp.consumer_name("work"))
    assert info.config.metadata is not None and "amqp.restored" in info.config.metadata
    await again.wait_for(6, timeout=15)
    await again.quiet(0.5)
    assert sorted(again.bodies) == sorted([b"4", b"5", b"9", b"10", b"11", b"direct"])
    assert all(d.redelivered for d in again.deliveries)  # may have been, before the crash
    dead = Collector()
    await ch2.basic_consume("dead", dead)
    await dead.wait_for(2)
    assert sorted(dead.bodies) == [b"7", b"8"]
    assert await dead.quiet(0.3) == dead.deliveries[:2]
    purged = Collector()
    await ch2.basic_consume("purged", purged)
    assert await purged.quiet(0.5) == []
    # The restored queue settles as any other, and holds nothing once it is done.
    await ch2.basic_ack(again.deliveries[-1].delivery_tag, multiple=True)
    await ch2.close()
    ch3 = await conn.channel()
    ok = await ch3.queue_declare("work", arguments={"x-dead-letter-exchange": "dlx"})
    assert ok.message_count == 0


async def test_a_declare_after_a_crash_restores_the_queue_instead_of_a_new_one(
    server: NatsServer, amqp_connect: object
) -> None:
    first: amqp.Connection = await amqp_connect()  # type: ignore[operator]
    ch = await first.channel()
    await ch.exchange_declare("user-notifications", "direct")
    await ch.basic_publish("user-notifications", "u1", b"before the queue")
    await ch.queue_declare("user-notifications.u1.c1", arguments={"x-queue-type": "quorum"})
    await ch.basic_publish("user-notifications", "u1", b"before the binding")
    await ch.queue_bind("user-notifications.u1.c1", "user-notifications", "u1")
    for i in range(3):
        await ch.basic_publish("user-notifications", "u1", b"%d" % i)
    got = Collector()
    await ch.basic_consume("user-notifications.u1.c1", got)
    await got.wait_for(3)
    await ch.basic_ack(got.deliveries[0].delivery_tag)
    await first.close()  # hands 1 and 2 back
    await crash(server)
    second: amqp.Connection = await amqp_connect()  # type: ignore[operator]
    ch2 = await second.channel()
    ok = await ch2.queue_declare("user-notifications.u1.c1", arguments={"x-queue-type": "quorum"})
    await ch2.queue_bind("user-notifications.u1.c1", "user-notifications", "u1")
    again = Collector()
    await ch2.basic_consume("user-notifications.u1.c1", again)
    await again.wait_for(2, timeout=10)
    assert await again.quiet(0.5) == again.deliveries[:2]
    assert again.bodies == [b"1", b"2"]
    assert ok.message_count >= 2  # the restored consumer counts the logged ones too
    # Another connection consuming the restored queue does not get what was acked either.
    third: amqp.Connection = await amqp_connect()  # type: ignore[operator]
    other = Collector()
    await (await third.channel()).basic_consume("user-notifications.u1.c1", other)
    assert await other.quiet(0.5) == []


async def test_a_deleted_queue_stays_deleted_across_a_crash(
    server: NatsServer, amqp_connect: object
) -> None:
    conn: amqp.Connection = await amqp_connect()  # type: ignore[operator]
    ch = await conn.channel()
    await ch.queue_declare("gone")
    await ch.basic_publish("", "gone", b"old")
    assert await ch.queue_delete("gone") == 1
    await crash(server, conn)
    with_channel = await conn.channel()
    with pytest.raises(amqp.QueueNotFoundError):
        await with_channel.queue_declare("gone", passive=True)
    ch2 = await conn.channel()
    ok = await ch2.queue_declare("gone")
    assert ok.message_count == 0


async def test_live_consumers_carry_on_after_a_crash_without_what_was_acked(
    server: NatsServer, amqp_connect: object
) -> None:
    # Two connections consume one queue; after the crash both look it up before pulling
    # again: whichever restores it, neither is handed a message that was acked.
    a: amqp.Connection = await amqp_connect(reconnect_time_wait=0.1)  # type: ignore[operator]
    b: amqp.Connection = await amqp_connect(reconnect_time_wait=0.1)  # type: ignore[operator]
    ch_a = await a.channel()
    ch_b = await b.channel()
    await ch_a.queue_declare("shared")
    await ch_a.basic_qos(5)
    await ch_b.basic_qos(5)
    got_a = Collector()
    got_b = Collector()
    await ch_a.basic_consume("shared", got_a)
    await ch_b.basic_consume("shared", got_b)
    for i in range(6):
        await ch_a.basic_publish("", "shared", b"%d" % i)
    await eventually(lambda: len(got_a.deliveries) + len(got_b.deliveries) == 6, what="all 6")
    for ch, got in ((ch_a, got_a), (ch_b, got_b)):
        if got.deliveries:
            await ch.basic_ack(got.deliveries[-1].delivery_tag, multiple=True)
    await crash(server, a, b)
    for i in range(6, 10):
        await ch_a.basic_publish("", "shared", b"%d" % i)
    await eventually(
        lambda: len(got_a.deliveries) + len(got_b.deliveries) >= 10, timeout=15, what="all 10"
    )
    await asyncio.sleep(0.5)
    bodies = sorted(int(d.body) for d in got_a.deliveries + got_b.deliveries)
    assert bodies == list(range(10))


async def test_the_ack_log_reads_back_every_record_of_a_queue_in_pages(
    amqp_connect: object,
) -> None:
    conn: amqp.Connection = await amqp_connect()  # type: ignore[operator]
    log = conn.acklog
    assert log is not None
    subject = log.subject("busy")
    for seq in range(1, 2501):  # more than two pages of READ_BATCH
        await log.record(subject, seq)
    await log.record(log.subject("other"), 7)
    await conn.nc.flush()
    stream = acklog_stream_name(conn.namespace)

    def stored_count(count: int) -> Callable[[], Awaitable[bool]]:
        async def stored() -> bool:
            return (await conn.js.stream_info(stream)).state.last_seq == count

        return stored

    await eventually(stored_count(2501), what="every record stored")
    assert await log.settled("busy", 2500) == set(range(1, 2501))
    assert await log.settled("busy", 1200) == set(range(1, 1201))
    assert await log.settled("other", 100) == {7}
    end = await log.end()
    await log.record(subject, 4000)  # logged after the deletion began: kept
    await eventually(stored_count(2502), what="the late record stored")
    await log.forget("busy", end)
    assert await log.settled("busy", 5000) == {4000}
    assert await log.settled("other", 100) == {7}


async def test_an_exchange_deleted_while_a_queue_was_lost_is_not_bound_on_restore(
    server: NatsServer, amqp_connect: object
) -> None:
    conn: amqp.Connection = await amqp_connect()  # type: ignore[operator]
    ch = await conn.channel()
    await ch.exchange_declare("short-lived", "fanout")
    await ch.exchange_declare("stays", "direct")
    await ch.queue_declare("bound-twice")
    await ch.queue_bind("bound-twice", "short-lived", "")
    await ch.queue_bind("bound-twice", "stays", "k")
    await crash(server, conn)
    other: amqp.Connection = await amqp_connect()  # type: ignore[operator]
    och = await other.channel()
    await och.exchange_delete("short-lived")  # the queue's consumer is not there to see it
    got = Collector()
    await (await conn.channel()).basic_consume("bound-twice", got)
    await och.exchange_declare("short-lived", "fanout")  # a new exchange: no bindings
    await och.basic_publish("short-lived", "", b"not routed")
    await och.basic_publish("stays", "k", b"routed")
    await got.wait_for(1, timeout=10)
    assert await got.quiet(0.5) == got.deliveries[:1]
    assert got.bodies == [b"routed"]


async def test_a_lost_durable_queue_is_not_declared_over_with_other_flags(
    server: NatsServer, amqp_connect: object
) -> None:
    conn: amqp.Connection = await amqp_connect()  # type: ignore[operator]
    ch = await conn.channel()
    await ch.queue_declare("kept")
    await ch.basic_publish("", "kept", b"waiting")
    await crash(server, conn)
    other = await conn.channel()
    with pytest.raises(amqp.PreconditionFailedError, match="exclusive"):
        await other.queue_declare("kept", exclusive=True)
    got = Collector()
    await (await conn.channel()).basic_consume("kept", got)
    await got.wait_for(1, timeout=10)
    assert got.bodies == [b"waiting"]
