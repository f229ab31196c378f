"""Pull consumers and the ack protocol against a real nats-server."""

from __future__ import annotations

import asyncio

import pytest

import natswire
from natswire import errors
from natswire.jetstream import ConsumerConfig, JetStreamContext, JetStreamMessage


async def publish_n(js: JetStreamContext, subject: str, n: int) -> None:
    for i in range(n):
        await js.publish_async(subject, b"%d" % i)
    await js.publish_async_completed(timeout=10)


async def test_fetch_in_batches_gets_every_message_exactly_once(
    js: JetStreamContext, stream: str
) -> None:
    await publish_n(js, f"{stream}.a", 250)
    psub = await js.pull_subscribe(f"{stream}.a", durable="batcher")
    seen: list[int] = []
    for _ in range(20):  # bounded: 250 messages in batches of up to 40
        try:
            msgs = await psub.fetch(40, timeout=0.5)
        except errors.TimeoutError:
            break
        assert 1 <= len(msgs) <= 40
        for msg in msgs:
            assert isinstance(msg, JetStreamMessage)
            assert isinstance(msg, natswire.Message)
            assert msg.subject == f"{stream}.a"
            assert msg.metadata.num_delivered == 1
            assert msg.metadata.stream == stream and msg.metadata.consumer == "batcher"
            seen.append(msg.metadata.sequence.stream)
            assert int(msg.data) == msg.metadata.sequence.stream - 1
            await msg.ack()
    assert sorted(seen) == list(range(1, 251))
    assert len(seen) == len(set(seen))
    info = await psub.consumer_info()
    assert info.num_ack_pending == 0 or (await _settled(psub))
    assert info.num_pending == 0
    await psub.unsubscribe()


async def _settled(psub: object) -> bool:
    for _ in range(50):
        info = await psub.consumer_info()  # type: ignore[attr-defined]
        if info.num_ack_pending == 0:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_fetch_timeout_when_nothing_comes(js: JetStreamContext, stream: str) -> None:
    psub = await js.pull_subscribe(f"{stream}.none", durable="idle")
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(errors.TimeoutError):
        await psub.fetch(1, timeout=0.5)
    with pytest.raises(errors.TimeoutError):
        await psub.fetch(10, timeout=0.5, heartbeat=0.1)
    assert 0.9 <= loop.time() - start < 3
    # A message that arrives during a waiting fetch is returned when it comes.
    task = asyncio.create_task(psub.fetch(1, timeout=5))
    await asyncio.sleep(0.2)
    start = loop.time()
    await js.publish(f"{stream}.none", b"late")
    msgs = await asyncio.wait_for(task, 5)
    assert [m.data for m in msgs] == [b"late"]
    assert loop.time() - start < 2
    # A batch not filled in time comes back partial when the request expires.
    task = asyncio.create_task(psub.fetch(5, timeout=0.8))
    await asyncio.sleep(0.2)
    await js.publish(f"{stream}.none", b"partial")
    msgs = await asyncio.wait_for(task, 5)
    assert [m.data for m in msgs] == [b"partial"]
    with pytest.raises(ValueError):
        await psub.fetch(0)
    with pytest.raises(ValueError):
        await psub.fetch(1, timeout=1, heartbeat=0.9)


async def test_nak_redelivers_with_num_delivered_2(js: JetStreamContext, stream: str) -> None:
    await js.publish(f"{stream}.n", b"again")
    psub = await js.pull_subscribe(f"{stream}.n", durable="nakker")
    (msg,) = await psub.fetch(1, timeout=2)
    assert msg.metadata.num_delivered == 1
    await msg.nak()
    (again,) = await psub.fetch(1, timeout=2)
    assert again.data == b"again"
    assert again.metadata.num_delivered == 2
    assert again.metadata.sequence.stream == msg.metadata.sequence.stream
    await again.ack_sync()


async def test_nak_with_delay(js: JetStreamContext, stream: str) -> None:
    await js.publish(f"{stream}.d", b"later")
    psub = await js.pull_subscribe(f"{stream}.d", durable="delayer")
    (msg,) = await psub.fetch(1, timeout=2)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await msg.nak(delay=0.7)
    with pytest.raises(errors.TimeoutError):
        await psub.fetch(1, timeout=0.4)
    (again,) = await psub.fetch(1, timeout=3)
    assert loop.time() - start >= 0.6
    assert again.metadata.num_delivered == 2
    await again.ack()


async def test_term_is_never_redelivered(js: JetStreamContext, stream: str) -> None:
    await js.publish(f"{stream}.t", b"poison")
    await js.publish(f"{stream}.t", b"fine")
    psub = await js.pull_subscribe(
        f"{stream}.t", durable="termer", config=ConsumerConfig(ack_wait=0.3)
    )
    msgs = await psub.fetch(2, timeout=2)
    assert [m.data for m in msgs] == [b"poison", b"fine"]
    await msgs[0].term()
    await msgs[1].nak()
    (again,) = await psub.fetch(1, timeout=1)
    assert again.data == b"fine"
    await again.ack()
    with pytest.raises(errors.TimeoutError):
        await psub.fetch(1, timeout=0.7)  # longer than ack_wait: poison stays gone


async def test_ack_wait_expiry_redelivers(js: JetStreamContext, stream: str) -> None:
    await js.publish(f"{stream}.w", b"slow")
    psub = await js.pull_subscribe(
        f"{stream}.w", durable="waiter", config=ConsumerConfig(ack_wait=0.4)
    )
    (msg,) = await psub.fetch(1, timeout=2)
    # in_progress keeps it ours past one ack_wait...
    for _ in range(3):
        await asyncio.sleep(0.2)
        await msg.in_progress()
    with pytest.raises(errors.TimeoutError):
        await psub.fetch(1, timeout=0.3)
    # ...and without acks or progress it comes back.
    (again,) = await psub.fetch(1, timeout=3)
    assert again.metadata.num_delivered == 2
    assert again.metadata.sequence.stream == msg.metadata.sequence.stream
    await again.ack()


async def test_double_ack_raises_a_clear_error(js: JetStreamContext, stream: str) -> None:
    await js.publish(f"{stream}.x", b"once")
    psub = await js.pull_subscribe(f"{stream}.x", durable="twice")
    (msg,) = await psub.fetch(1, timeout=2)
    assert not msg.is_acked
    reply = await msg.ack_sync(timeout=2)
    assert reply.data == b""
    assert msg.is_acked
    for settle in (msg.ack, msg.nak, msg.term, msg.in_progress, msg.ack_sync):
        with pytest.raises(errors.MsgAlreadyAckedError, match="already"):
            await settle()
    info = await psub.consumer_info()
    assert info.num_ack_pending == 0 and info.ack_floor is not None
    assert info.ack_floor.stream_seq == msg.metadata.sequence.stream


async def test_max_deliver_reached_gives_an_advisory(js: JetStreamContext, stream: str) -> None:
    dead_letters = await js.dead_letters(stream, "maxer")
    ack = await js.publish(f"{stream}.m", b"hopeless", stream=stream, msg_id="hopeless-1")
    psub = await js.pull_subscribe(
        f"{stream}.m", durable="maxer", config=ConsumerConfig(max_deliver=2, ack_wait=5)
    )
    for attempt in (1, 2):
        (msg,) = await psub.fetch(1, timeout=2)
        assert msg.metadata.num_delivered == attempt
        await msg.nak()
    # The server gives up (and advises) when a pull request would get it a third time.
    with pytest.raises(errors.TimeoutError):
        await psub.fetch(1, timeout=0.3)
    dead = await dead_letters.next(timeout=5)
    assert (dead.stream, dead.consumer, dead.stream_seq) == (stream, "maxer", ack.seq)
    assert dead.reason == "max_deliveries" and dead.deliveries == 2
    # The dead message can be read back and moved to a dead-letter stream.
    raw = await dead_letters.get(dead)
    assert raw.data == b"hopeless"
    await js.add_stream(name=f"{stream}DLQ", subjects=[f"dlq.{stream}"])
    try:
        moved = await dead_letters.move(dead, f"dlq.{stream}")
        moved_again = await dead_letters.move(dead, f"dlq.{stream}")
        assert moved_again.duplicate and moved_again.seq == moved.seq
        copy = await js.get_msg(f"{stream}DLQ", moved.seq)
        assert copy.data == b"hopeless"
        assert copy.headers is not None
        assert copy.headers["Nats-DLQ-Sequence"] == str(ack.seq)
        assert copy.headers["Nats-DLQ-Reason"] == "max_deliveries"
        # The original's publish controls are not carried over to the copy.
        assert copy.headers["Nats-Msg-Id"] == f"dlq.{stream}.{ack.seq}"
        assert "Nats-Expected-Stream" not in copy.headers
    finally:
        await js.delete_stream(f"{stream}DLQ")
        await dead_letters.unsubscribe()


async def test_terminated_message_gives_an_advisory(js: JetStreamContext, stream: str) -> None:
    got: list[object] = []
    watcher = await js.dead_letters(stream, cb=got.append)  # every consumer
    ack = await js.publish(f"{stream}.p", b"poison")
    psub = await js.pull_subscribe(f"{stream}.p", durable="judge")
    (msg,) = await psub.fetch(1, timeout=2)
    await msg.term("cannot parse")
    for _ in range(100):
        if got:
            break
        await asyncio.sleep(0.02)
    assert len(got) == 1
    dead = got[0]
    assert dead.stream_seq == ack.seq  # type: ignore[attr-defined]
    assert dead.reason == "terminated"  # type: ignore[attr-defined]
    assert dead.description == "cannot parse"  # type: ignore[attr-defined]
    await watcher.unsubscribe()


async def test_consume_iterator_gets_everything(js: JetStreamContext, stream: str) -> None:
    await publish_n(js, f"{stream}.c", 300)
    psub = await js.pull_subscribe(f"{stream}.c", durable="consumer")
    seen: set[int] = set()

    async def run() -> None:
        async for msg in psub.consume(batch=50, expires=2, heartbeat=0.5):
            seen.add(msg.metadata.sequence.stream)
            await msg.ack()
            if len(seen) == 310:
                return

    task = asyncio.create_task(run())
    await asyncio.sleep(0.5)
    await publish_n(js, f"{stream}.c", 10)  # while the iterator waits
    await asyncio.wait_for(task, 10)
    assert seen == set(range(1, 311))


async def test_consume_survives_idle_periods(js: JetStreamContext, stream: str) -> None:
    psub = await js.pull_subscribe(f"{stream}.i", durable="idler")
    got: list[bytes] = []

    async def run() -> None:
        async for msg in psub.consume(batch=5, expires=0.6, heartbeat=0.2):
            got.append(msg.data)
            await msg.ack()
            if len(got) == 2:
                return

    task = asyncio.create_task(run())
    await js.publish(f"{stream}.i", b"first")
    await asyncio.sleep(1.5)  # several request expiries with nothing to deliver
    await js.publish(f"{stream}.i", b"second")
    await asyncio.wait_for(task, 5)
    assert got == [b"first", b"second"]


async def test_consumer_deleted_while_pulling(js: JetStreamContext, stream: str) -> None:
    psub = await js.pull_subscribe(f"{stream}.del", durable="doomed")
    task = asyncio.create_task(psub.fetch(1, timeout=5))
    await asyncio.sleep(0.3)
    await js.delete_consumer(stream, "doomed")
    with pytest.raises(errors.ConsumerDeletedError):
        await asyncio.wait_for(task, 5)

    psub2 = await js.pull_subscribe(f"{stream}.del", durable="doomed2")

    async def consume() -> None:
        async for _ in psub2.consume(batch=5, expires=2, heartbeat=0.5):
            pass

    task2 = asyncio.create_task(consume())
    await asyncio.sleep(0.3)
    await js.delete_consumer(stream, "doomed2")
    with pytest.raises(errors.ConsumerDeletedError):
        await asyncio.wait_for(task2, 5)


async def test_a_pull_nobody_answers_fails_fetch_and_is_retried_by_consume(
    js: JetStreamContext, stream: str
) -> None:
    psub = await js.pull_subscribe(f"{stream}.gone", durable="gone")
    await js.delete_consumer(stream, "gone")  # no server answers its pulls now: 503
    with pytest.raises(errors.ServiceUnavailableError, match="'gone'"):
        await psub.fetch(1, timeout=2)

    got: list[bytes] = []

    async def consume() -> None:
        async for msg in psub.consume(batch=5, expires=4, heartbeat=1.5):
            got.append(msg.data)
            return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.6)  # several unanswered pulls, as while a leader is elected
    assert not task.done()
    await js.add_consumer(stream, durable_name="gone", filter_subject=f"{stream}.gone")
    await js.publish(f"{stream}.gone", b"back")
    await asyncio.wait_for(task, 5)
    assert got == [b"back"]

    await js.delete_consumer(stream, "gone")
    started = asyncio.get_running_loop().time()
    with pytest.raises(errors.ServiceUnavailableError):
        async for _ in psub.consume(batch=5, expires=1, heartbeat=0.25):
            pass
    assert asyncio.get_running_loop().time() - started < 2  # gives up after 2 heartbeats

    started = asyncio.get_running_loop().time()
    with pytest.raises(errors.ServiceUnavailableError):  # at once, as the ordered consumer
        async for _ in psub.consume(batch=5, expires=4, heartbeat=1.5, wait_for_leader=False):
            pass
    assert asyncio.get_running_loop().time() - started < 2  # not after 2 x 1.5 s


async def test_ephemeral_pull_and_bind(js: JetStreamContext, stream: str) -> None:
    await js.publish(f"{stream}.e", b"e1")
    eph = await js.pull_subscribe(f"{stream}.e")  # no durable: server-side name
    (msg,) = await eph.fetch(1, timeout=2)
    await msg.ack()
    assert msg.metadata.consumer == eph.consumer
    await js.add_consumer(stream, durable_name="bound", filter_subject=f"{stream}.e")
    bound = await js.pull_subscribe_bind("bound", stream)
    (msg,) = await bound.fetch(1, timeout=2)
    assert msg.data == b"e1" and msg.metadata.consumer == "bound"
    await msg.ack()


async def test_consume_ends_when_unsubscribed(js: JetStreamContext, stream: str) -> None:
    await js.publish(f"{stream}.u", b"one")
    psub = await js.pull_subscribe(f"{stream}.u", durable="quitter")
    got: list[bytes] = []

    async def run() -> None:
        async for msg in psub.consume(batch=10, expires=2, heartbeat=0.5):
            got.append(msg.data)
            await msg.ack()

    task = asyncio.create_task(run())
    for _ in range(100):
        if got:
            break
        await asyncio.sleep(0.02)
    await psub.unsubscribe()
    await asyncio.wait_for(task, 5)  # ends instead of pulling for ever
    assert got == [b"one"]


async def test_pull_beyond_the_consumers_max_batch_fails_at_once(
    js: JetStreamContext, stream: str
) -> None:
    await js.publish(f"{stream}.b", b"one")
    psub = await js.pull_subscribe(
        f"{stream}.b", durable="small", config=ConsumerConfig(max_batch=2)
    )
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(errors.APIError, match=r"(?i)exceeded maxrequestbatch") as caught:
        await psub.fetch(5, timeout=3)
    assert caught.value.code == 409
    with pytest.raises(errors.APIError, match=r"(?i)exceeded maxrequestbatch"):
        async for _ in psub.consume(batch=5, expires=2, heartbeat=0.5):
            pass
    assert loop.time() - start < 2  # not pulled again until a timeout
    (msg,) = await psub.fetch(2, timeout=2)
    assert msg.data == b"one"
    await msg.ack()
