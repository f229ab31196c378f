"""Push consumers (``js.subscribe``): durable and ephemeral, acks, queue groups,
headers only, heartbeats and flow control, against a real nats-server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support import eventually

import natswire
from natswire import errors
from natswire.jetstream import ConsumerConfig, JetStreamContext, JetStreamMessage


async def publish_n(js: JetStreamContext, subject: str, n: int, size: int = 0) -> None:
    for i in range(n):
        await js.publish_async(subject, (b"%d" % i).ljust(size, b"."))
    await js.publish_async_completed(timeout=30)


async def test_ephemeral_push_without_callback_and_manual_ack(
    js: JetStreamContext, stream: str
) -> None:
    await publish_n(js, f"{stream}.a", 5)
    sub = await js.subscribe(f"{stream}.a")
    seqs = []
    for _ in range(5):
        msg = await sub.next_msg(2)
        assert isinstance(msg, JetStreamMessage)
        seqs.append(msg.metadata.sequence.stream)
        await msg.ack()
    assert seqs == [1, 2, 3, 4, 5]
    with pytest.raises(errors.TimeoutError):
        await sub.next_msg(0.2)
    info = await sub.consumer_info()
    assert info.config.durable_name is None
    await eventually(lambda: _acked(sub, 5), what="acks recorded")
    await sub.unsubscribe()
    assert (await js.stream_info(stream)).state.consumer_count == 0


async def _acked(sub: natswire.jetstream.PushSubscription, n: int) -> bool:
    info = await sub.consumer_info()
    return info.ack_floor is not None and info.ack_floor.stream_seq == n


async def test_durable_push_auto_acks_after_a_plain_callback(
    js: JetStreamContext, stream: str
) -> None:
    got: list[bytes] = []
    sub = await js.subscribe(f"{stream}.a", durable="d1", cb=lambda m: got.append(m.data))
    await publish_n(js, f"{stream}.a", 10)
    await eventually(lambda: len(got) == 10)
    await eventually(lambda: _acked(sub, 10), what="auto acks")
    assert got == [b"%d" % i for i in range(10)]
    await sub.unsubscribe()
    # The durable stays and can be bound again: it delivers only what is new.
    got.clear()
    sub = await js.subscribe(f"{stream}.a", durable="d1", cb=lambda m: got.append(m.data))
    await js.publish(f"{stream}.a", b"new")
    await eventually(lambda: got == [b"new"])
    await sub.unsubscribe()
    assert (await js.stream_info(stream)).state.consumer_count == 1


async def test_coroutine_callback_manual_ack_is_not_acked_for_you(
    js: JetStreamContext, stream: str
) -> None:
    got: list[JetStreamMessage] = []

    async def cb(msg: JetStreamMessage) -> None:
        got.append(msg)

    sub = await js.subscribe(f"{stream}.a", cb=cb, manual_ack=True, durable="m")
    await publish_n(js, f"{stream}.a", 3)
    await eventually(lambda: len(got) == 3)
    assert (await sub.consumer_info()).num_ack_pending == 3
    for msg in got:
        await msg.ack()
    await eventually(lambda: _acked(sub, 3))
    await sub.unsubscribe()


async def test_coroutine_callback_auto_ack(js: JetStreamContext, stream: str) -> None:
    got: list[JetStreamMessage] = []

    async def cb(msg: JetStreamMessage) -> None:
        got.append(msg)

    sub = await js.subscribe(f"{stream}.a", cb=cb)
    await publish_n(js, f"{stream}.a", 4)
    await eventually(lambda: len(got) == 4)
    await eventually(lambda: _acked(sub, 4))
    assert all(m.is_acked for m in got)
    await sub.unsubscribe()


async def test_queue_group_push_splits_the_messages(js: JetStreamContext, stream: str) -> None:
    a: list[int] = []
    b: list[int] = []
    sub_a = await js.subscribe(
        f"{stream}.q", queue="workers", durable="workers",
        cb=lambda m: a.append(m.metadata.sequence.stream),
    )  # fmt: skip
    sub_b = await js.subscribe(
        f"{stream}.q", queue="workers", durable="workers",
        cb=lambda m: b.append(m.metadata.sequence.stream),
    )  # fmt: skip
    assert sub_a.consumer == sub_b.consumer == "workers"
    assert sub_a.queue == "workers" and sub_a.subject == sub_b.subject
    await publish_n(js, f"{stream}.q", 200)
    await eventually(lambda: len(a) + len(b) == 200)
    assert a and b
    assert sorted(a + b) == list(range(1, 201))
    with pytest.raises(errors.JetStreamError, match="deliver group"):
        await js.subscribe(f"{stream}.q", durable="workers")
    with pytest.raises(errors.JetStreamError, match="queue subscription other"):
        await js.subscribe(f"{stream}.q", queue="other", durable="workers")
    await sub_a.unsubscribe()
    await sub_b.unsubscribe()


async def test_headers_only(js: JetStreamContext, stream: str) -> None:
    await js.publish(f"{stream}.h", b"a big payload")
    sub = await js.subscribe(f"{stream}.h", headers_only=True)
    msg = await sub.next_msg(2)
    assert msg.data == b""
    assert msg.headers is not None and msg.headers.get("Nats-Msg-Size") == "13"
    await sub.unsubscribe()


async def test_heartbeats_never_reach_the_application(js: JetStreamContext, stream: str) -> None:
    got: list[JetStreamMessage] = []
    sub = await js.subscribe(f"{stream}.a", cb=got.append, idle_heartbeat=0.1, flow_control=True)
    await asyncio.sleep(0.6)  # several heartbeats
    assert sub.delivered >= 3
    assert got == []
    await js.publish(f"{stream}.a", b"x")
    await eventually(lambda: len(got) == 1)
    assert got[0].status is None and got[0].data == b"x"
    await sub.unsubscribe()


async def test_burst_with_flow_control_is_delivered_completely(
    js: JetStreamContext, name: str
) -> None:
    await js.add_stream(name=name, subjects=[f"{name}.>"], storage="memory")
    total = 50_000
    await publish_n(js, f"{name}.b", total, 16)
    count = 0
    done = asyncio.get_running_loop().create_future()

    def cb(msg: JetStreamMessage) -> None:
        nonlocal count
        count += 1
        if count == total:
            done.set_result(None)

    sub = await js.subscribe(
        f"{name}.b", cb=cb, flow_control=True, idle_heartbeat=1.0,
        config=ConsumerConfig(ack_policy="none", max_ack_pending=-1),
    )  # fmt: skip
    await asyncio.wait_for(done, 30)
    assert count == total
    await sub.unsubscribe()
    await js.delete_stream(name)


async def test_burst_with_flow_control_and_next_msg(js: JetStreamContext, name: str) -> None:
    await js.add_stream(name=name, subjects=[f"{name}.>"], storage="memory")
    total = 5_000
    await publish_n(js, f"{name}.b", total, 16)
    sub = await js.subscribe(f"{name}.b", flow_control=True, idle_heartbeat=1.0)
    for i in range(total):
        msg = await sub.next_msg(5)
        assert msg.metadata.sequence.stream == i + 1
        await msg.ack()
    await sub.unsubscribe()
    await js.delete_stream(name)


async def test_subscribe_bind_to_an_existing_push_consumer(
    js: JetStreamContext, stream: str
) -> None:
    deliver = js.client.new_inbox()
    info = await js.add_consumer(
        stream, ConsumerConfig(durable_name="bound", deliver_subject=deliver)
    )
    sub = await js.subscribe_bind(stream, info.config, consumer="bound")
    await js.publish(f"{stream}.x", b"hi")
    assert (await sub.next_msg(2)).data == b"hi"
    await sub.unsubscribe()
    await js.add_consumer(stream, ConsumerConfig(durable_name="pulled"))
    with pytest.raises(errors.JetStreamError, match="pull based"):
        await js.subscribe(f"{stream}.x", durable="pulled")


async def test_ordered_pull_fetch_in_order_and_replaced_after_deletion(
    js: JetStreamContext, stream: str
) -> None:
    await publish_n(js, f"{stream}.o", 30)
    sub = await js.ordered_pull(f"{stream}.o")
    first = await sub.fetch(10, timeout=1)
    assert [m.metadata.sequence.stream for m in first] == list(range(1, 11))
    await js.delete_consumer(stream, sub.consumer)
    rest: list[int] = []
    while len(rest) < 20:
        rest += [m.metadata.sequence.stream for m in await sub.fetch(20, timeout=2)]
    assert rest == list(range(11, 31))
    assert sub.recoveries == 1 and sub.last_stream_seq == 30
    with pytest.raises(errors.TimeoutError):
        await sub.fetch(1, timeout=0.3)
    await sub.unsubscribe()
    assert (await js.stream_info(stream)).state.consumer_count == 0


async def test_ordered_push_from_a_start_sequence(js: JetStreamContext, stream: str) -> None:
    await publish_n(js, f"{stream}.o", 10)
    sub = await js.subscribe(
        f"{stream}.o", ordered_consumer=True,
        config=ConsumerConfig(deliver_policy="by_start_sequence", opt_start_seq=6),
    )  # fmt: skip
    got = [(await sub.next_msg(2)).metadata.sequence.stream for _ in range(5)]
    assert got == [6, 7, 8, 9, 10]
    info = await sub.consumer_info()
    assert info.config.ack_policy == "none" and info.config.mem_storage
    assert info.config.flow_control and info.config.max_deliver == 1
    await sub.unsubscribe()


async def test_missed_heartbeats_are_reported_and_the_consumer_comes_back(
    connect: Any, stream: str
) -> None:
    reported: list[Exception] = []
    nc = await connect(error_cb=reported.append)
    js = nc.jetstream(timeout=2.0)
    got: list[int] = []
    sub = await js.subscribe(
        f"{stream}.a", cb=lambda m: got.append(m.metadata.sequence.stream), idle_heartbeat=0.2
    )
    await js.publish(f"{stream}.a", b"1")
    await eventually(lambda: got == [1])
    await js.delete_consumer(stream, sub.consumer)
    await eventually(lambda: any(isinstance(e, errors.NoHeartbeatError) for e in reported))
    await eventually(lambda: sub.recoveries == 1)
    await js.publish(f"{stream}.a", b"2")
    await eventually(lambda: got == [1, 2])  # resumed after the last one delivered
    await sub.unsubscribe()
    assert (await js.stream_info(stream)).state.consumer_count == 0


async def test_closing_the_client_stops_the_watch(connect: Any, stream: str) -> None:
    reported: list[Exception] = []
    nc = await connect(error_cb=reported.append)
    js = nc.jetstream(timeout=0.5)
    await js.subscribe(f"{stream}.a", cb=lambda m: None, idle_heartbeat=0.1)
    assert nc.reconnect_listeners
    await nc.close()
    await asyncio.sleep(0.5)  # more than two heartbeat intervals
    names = [t.get_coro().__qualname__ for t in asyncio.all_tasks()]  # type: ignore[union-attr]
    assert not [n for n in names if "RecoveryWatch" in n]
    # The watch stopped itself: it listens for no reconnect and reports nothing.
    assert not nc.reconnect_listeners
    assert not [e for e in reported if isinstance(e, errors.NoHeartbeatError)], reported


async def test_unsubscribe_with_a_limit(js: JetStreamContext, stream: str) -> None:
    sub = await js.subscribe(f"{stream}.l", durable="lim", manual_ack=True)
    await sub.unsubscribe(3)
    await publish_n(js, f"{stream}.l", 5)
    assert [(await sub.next_msg(2)).data for _ in range(3)] == [b"0", b"1", b"2"]
    with pytest.raises((errors.TimeoutError, errors.ConnectionClosedError)):
        await sub.next_msg(0.3)


@pytest.mark.parametrize("receive", ["plain", "coroutine", "next_msg"])
async def test_an_ordered_consumer_gap_is_reported_and_the_consumer_replaced(
    connect: Any, stream: str, receive: str
) -> None:
    """A delivery whose consumer sequence skips one (forged on the deliver subject) is
    not handed out: the consumer is replaced after the last message handed out, and
    every stream message arrives once, in order."""
    reported: list[Exception] = []
    nc = await connect(error_cb=reported.append)
    js = nc.jetstream(timeout=2.0)
    got: list[int] = []

    def take(msg: JetStreamMessage) -> None:
        got.append(msg.metadata.sequence.stream)

    async def take_async(msg: JetStreamMessage) -> None:
        take(msg)

    cb = {"plain": take, "coroutine": take_async, "next_msg": None}[receive]
    sub = await js.subscribe(f"{stream}.g", ordered_consumer=True, cb=cb)

    async def received(n: int) -> None:
        if cb is None:
            while len(got) < n:
                take(await sub.next_msg(5))
        await eventually(lambda: len(got) >= n)

    await publish_n(js, f"{stream}.g", 5)
    await received(5)
    first = sub.consumer
    # The server refuses a client's publish with a $JS.ACK reply: the forged one has
    # the same layout under another prefix (sequences are read by position).
    forged = f"FORGED.ACK.{stream}.{first}.1.99.7.1733480000000000000.0"
    await nc.publish(sub.subject, b"forged", reply=forged)
    await publish_n(js, f"{stream}.g", 5)
    await received(10)
    assert got == list(range(1, 11))
    await eventually(lambda: sub.recoveries == 1, what="the consumer replaced")
    assert sub.consumer != first
    mismatches = [e for e in reported if isinstance(e, errors.ConsumerSequenceMismatchError)]
    assert len(mismatches) == 1
    await sub.unsubscribe()
    await eventually(
        lambda: _consumer_count(js, stream, 0), what="the old and new consumers deleted"
    )


async def _consumer_count(js: JetStreamContext, stream: str, n: int) -> bool:
    return (await js.stream_info(stream)).state.consumer_count == n


async def test_async_for_over_a_push_subscription_ends_when_it_is_drained(
    js: JetStreamContext, stream: str
) -> None:
    await publish_n(js, f"{stream}.it", 4)
    sub = await js.subscribe(f"{stream}.it")
    seen: list[int] = []

    async def read() -> None:
        async for msg in sub:
            seen.append(msg.metadata.sequence.stream)
            await msg.ack()

    reader = asyncio.create_task(read())
    await eventually(lambda: _count(seen, 4), what="four messages")
    assert not reader.done()  # waits for more
    await sub.drain()
    await asyncio.wait_for(reader, 5)  # the iteration ends with the subscription
    assert seen == [1, 2, 3, 4]
    assert (await js.stream_info(stream)).state.consumer_count == 0  # ephemeral: deleted


async def _count(items: list[int], n: int) -> bool:
    return len(items) >= n
