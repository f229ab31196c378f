"""Publish/subscribe behaviour against a real nats-server."""

from __future__ import annotations

import asyncio

import pytest
from support import Connect, eventually

import natswire
from natswire.errors import ConnectionClosedError, TimeoutError
from natswire.protocol import encode_msg

pytestmark = pytest.mark.timeout(30)


async def collect(sub: natswire.Subscription, timeout: float = 0.2) -> list[bytes]:
    """Everything pending or arriving within ``timeout`` of the last message."""
    out: list[bytes] = []
    while True:
        try:
            out.append((await sub.next_msg(timeout=timeout)).data)
        except TimeoutError:
            return out


async def test_queue_group_shares_load_without_loss(connect: Connect) -> None:
    pub = await connect()
    members = [await connect() for _ in range(3)]
    counts = [0, 0, 0]
    seen: list[bytes] = []

    def make_cb(i: int):
        def cb(msg: natswire.Msg) -> None:
            counts[i] += 1
            seen.append(msg.data)

        return cb

    for i, member in enumerate(members):
        await member.subscribe("work.q", queue="workers", cb=make_cb(i))
        await member.flush()
    n = 600
    for i in range(n):
        await pub.publish("work.q", b"%d" % i)
    await pub.flush()
    await eventually(lambda: sum(counts) >= n)
    await asyncio.sleep(0.05)
    assert sum(counts) == n
    assert all(c > 0 for c in counts), counts
    assert sorted(seen, key=int) == [b"%d" % i for i in range(n)]


async def test_wildcards(nc: natswire.Client) -> None:
    star = await nc.subscribe("wild.*.end")
    full = await nc.subscribe("wild.>")
    await nc.flush()
    for subject in ("wild.a.end", "wild.b.end", "wild.a.b.end", "wild.x", "other.a.end"):
        await nc.publish(subject, subject.encode())
    await nc.flush()
    assert await collect(star) == [b"wild.a.end", b"wild.b.end"]
    assert await collect(full) == [b"wild.a.end", b"wild.b.end", b"wild.a.b.end", b"wild.x"]
    # The message carries the concrete subject, not the pattern.
    await nc.publish("wild.z.end", b"")
    msg = await star.next_msg(timeout=1)
    assert msg.subject == "wild.z.end"


async def test_auto_unsubscribe_max_msgs(nc: natswire.Client) -> None:
    sub = await nc.subscribe("auto.max", max_msgs=3)
    await nc.flush()
    for i in range(10):
        await nc.publish("auto.max", b"%d" % i)
    await nc.flush()
    got = [m.data async for m in sub.messages]  # ends by itself after the limit
    assert got == [b"0", b"1", b"2"]
    assert sub.delivered == 3
    assert sub.is_closed


async def test_the_last_message_under_max_msgs_ends_every_other_waiter(
    nc: natswire.Client,
) -> None:
    sub = await nc.subscribe("auto.last", max_msgs=1)
    await nc.flush()
    waiters = [asyncio.ensure_future(sub.next_msg(timeout=5)) for _ in range(2)]
    await asyncio.sleep(0.05)
    await nc.publish("auto.last", b"only")
    _, pending = await asyncio.wait(waiters, timeout=2)
    assert not pending, "a waiter kept waiting after the subscription's last message"
    outcomes = [w.exception() or w.result().data for w in waiters]
    assert outcomes[0] == b"only"
    assert isinstance(outcomes[1], ConnectionClosedError)


async def test_unsubscribe_limit_counts_earlier_messages(nc: natswire.Client) -> None:
    sub = await nc.subscribe("auto.limit")
    await nc.flush()
    for i in range(2):
        await nc.publish("auto.limit", b"%d" % i)
    await nc.flush()
    await eventually(lambda: sub.delivered == 2)
    # limit 5 counts the 2 already received: 3 more arrive.
    await sub.unsubscribe(5)
    for i in range(2, 12):
        await nc.publish("auto.limit", b"%d" % i)
    await nc.flush()
    got = await asyncio.wait_for(_all(sub), 2)
    assert got == [b"%d" % i for i in range(5)]


async def test_unsubscribe_limit_already_reached_stops_now(nc: natswire.Client) -> None:
    sub = await nc.subscribe("auto.reached")
    await nc.flush()
    for i in range(3):
        await nc.publish("auto.reached", b"%d" % i)
    await nc.flush()
    await eventually(lambda: sub.delivered == 3)
    await sub.unsubscribe(2)
    await nc.publish("auto.reached", b"late")
    await nc.flush()
    assert await asyncio.wait_for(_all(sub), 2) == [b"0", b"1", b"2"]


async def _all(sub: natswire.Subscription) -> list[bytes]:
    return [m.data async for m in sub.messages]


async def test_unsubscribe_ends_iterator_and_stops_delivery(nc: natswire.Client) -> None:
    sub = await nc.subscribe("unsub.now")
    await nc.flush()
    await nc.publish("unsub.now", b"before")
    await nc.flush()
    await eventually(lambda: sub.pending_msgs == 1)

    async def consume() -> list[bytes]:
        return [m.data async for m in sub.messages]

    task = asyncio.ensure_future(consume())
    await asyncio.sleep(0.01)
    await sub.unsubscribe()
    await nc.publish("unsub.now", b"after")
    await nc.flush()
    assert await asyncio.wait_for(task, 2) == [b"before"]
    with pytest.raises(ConnectionClosedError):
        await sub.next_msg(timeout=0.1)


async def test_iterator_ends_on_close(connect: Connect) -> None:
    nc = await connect()
    sub = await nc.subscribe("iter.close")
    await nc.flush()

    async def consume() -> int:
        return sum([1 async for _ in sub.messages])

    task = asyncio.ensure_future(consume())
    await nc.publish("iter.close", b"x")
    await nc.flush()
    await asyncio.sleep(0.02)
    await nc.close()
    assert await asyncio.wait_for(task, 2) == 1


async def test_sub_drain_delivers_pending(nc: natswire.Client) -> None:
    sub = await nc.subscribe("drain.sub")
    await nc.flush()
    for i in range(50):
        await nc.publish("drain.sub", b"%d" % i)
    await nc.flush()
    await eventually(lambda: sub.pending_msgs == 50)

    async def consume() -> list[bytes]:
        return [m.data async for m in sub.messages]

    task = asyncio.ensure_future(consume())
    await asyncio.wait_for(sub.drain(), 5)
    await nc.publish("drain.sub", b"after")
    got = await asyncio.wait_for(task, 2)
    assert got == [b"%d" % i for i in range(50)]
    assert nc.is_connected


async def test_sub_drain_with_coroutine_callback(nc: natswire.Client) -> None:
    got: list[bytes] = []

    async def slow(msg: natswire.Msg) -> None:
        await asyncio.sleep(0.001)
        got.append(msg.data)

    sub = await nc.subscribe("drain.cb", cb=slow)
    await nc.flush()
    for i in range(30):
        await nc.publish("drain.cb", b"%d" % i)
    await nc.flush()
    await asyncio.wait_for(sub.drain(), 5)
    assert got == [b"%d" % i for i in range(30)]


async def test_client_drain_delivers_pending_and_closes(connect: Connect) -> None:
    pub = await connect()
    closed = asyncio.Event()
    nc = await connect(closed_cb=closed.set)
    got: list[bytes] = []

    async def handler(msg: natswire.Msg) -> None:
        await asyncio.sleep(0)
        got.append(msg.data)

    await nc.subscribe("drain.nc", cb=handler)
    await nc.flush()
    for i in range(200):
        await pub.publish("drain.nc", b"%d" % i)
    await pub.flush()
    await nc.flush()
    await asyncio.wait_for(nc.drain(), 10)
    assert got == [b"%d" % i for i in range(200)]
    assert nc.is_closed
    assert closed.is_set()


async def test_callbacks_plain_and_coroutine(nc: natswire.Client) -> None:
    plain: list[bytes] = []
    coro: list[bytes] = []

    def on_plain(msg: natswire.Msg) -> None:
        plain.append(msg.data)

    async def on_coro(msg: natswire.Msg) -> None:
        await asyncio.sleep(0)
        coro.append(msg.data)

    await nc.subscribe("cb.both", cb=on_plain)
    await nc.subscribe("cb.both", cb=on_coro)
    await nc.flush()
    for i in range(20):
        await nc.publish("cb.both", b"%d" % i)
    await nc.flush()
    expected = [b"%d" % i for i in range(20)]
    await eventually(lambda: len(plain) == 20 and len(coro) == 20)
    assert plain == expected
    assert coro == expected


async def test_callback_exception_goes_to_error_cb(connect: Connect, error_log) -> None:
    nc = await connect(error_cb=error_log)

    def boom(msg: natswire.Msg) -> None:
        raise ValueError("boom " + msg.data.decode())

    await nc.subscribe("cb.boom", cb=boom)
    await nc.publish("cb.boom", b"1")
    err = await error_log.wait_for(ValueError)
    assert "boom 1" in str(err)
    assert nc.is_connected
    await nc.flush()


async def test_next_msg_timeout_is_builtin_timeout(nc: natswire.Client) -> None:
    sub = await nc.subscribe("nothing.here")
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(TimeoutError) as info:
        await sub.next_msg(timeout=0.1)
    assert 0.08 <= loop.time() - start < 1.0
    assert isinstance(info.value, natswire.errors.TimeoutError)
    assert isinstance(info.value, builtins_timeout())
    # The subscription still works after a timeout.
    await nc.publish("nothing.here", b"now")
    assert (await sub.next_msg(timeout=1)).data == b"now"


def builtins_timeout() -> type[Exception]:
    import builtins

    return builtins.TimeoutError


async def test_message_fields_and_reply(nc: natswire.Client) -> None:
    sub = await nc.subscribe("fields.x")
    await nc.publish("fields.x", b"data", reply="fields.reply")
    await nc.publish("fields.x", b"")
    msg = await sub.next_msg(timeout=1)
    assert (msg.subject, msg.reply, msg.data, msg.headers) == (
        "fields.x",
        "fields.reply",
        b"data",
        None,
    )
    assert msg.subscription is sub
    empty = await sub.next_msg(timeout=1)
    assert empty.reply == "" and empty.data == b""
    with pytest.raises(ValueError):
        await empty.respond(b"nobody to answer")


async def test_no_echo(connect: Connect) -> None:
    nc = await connect(no_echo=True)
    other = await connect()
    own = await nc.subscribe("echo.x")
    await nc.flush()
    await nc.publish("echo.x", b"mine")
    await other.publish("echo.x", b"theirs")
    await other.flush()
    await nc.flush()
    assert await collect(own, 0.2) == [b"theirs"]


async def test_flush_is_a_barrier(connect: Connect) -> None:
    pub = await connect()
    recv = await connect()
    sub = await recv.subscribe("barrier")
    await recv.flush()
    n = 2000
    for i in range(n):
        await pub.publish("barrier", b"%d" % i)
    await pub.flush()
    await recv.flush()
    # Everything is already here: no waiting needed.
    assert sub.pending_msgs == n
    assert sub.delivered == n


async def test_slow_consumer_drops_and_reports_once_per_episode(
    connect: Connect,
    error_log,
) -> None:
    nc = await connect(error_cb=error_log)
    sub = await nc.subscribe("slow.x", pending_msgs_limit=10, pending_bytes_limit=1 << 20)
    await nc.flush()
    for i in range(50):
        await nc.publish("slow.x", b"%d" % i)
    await nc.flush()
    assert sub.pending_msgs == 10
    assert sub.dropped == 40
    assert sub.delivered == 50
    await asyncio.sleep(0.05)
    slow = error_log.of_type(natswire.errors.SlowConsumerError)
    assert len(slow) == 1
    assert slow[0].subject == "slow.x"  # type: ignore[attr-defined]
    # The first ten are kept, in order.
    assert [(await sub.next_msg(timeout=1)).data for _ in range(10)] == [
        b"%d" % i for i in range(10)
    ]
    # A second episode is reported again, once.
    for i in range(30):
        await nc.publish("slow.x", b"again %d" % i)
    await nc.flush()
    await asyncio.sleep(0.05)
    assert len(error_log.of_type(natswire.errors.SlowConsumerError)) == 2
    assert sub.dropped == 60
    assert nc.is_connected


async def test_slow_consumer_by_bytes(connect: Connect, error_log) -> None:
    nc = await connect(error_cb=error_log)
    sub = await nc.subscribe("slow.bytes", pending_bytes_limit=1000)
    await nc.flush()
    for _ in range(5):
        await nc.publish("slow.bytes", b"x" * 400)
    await nc.flush()
    assert sub.pending_msgs == 2
    assert sub.pending_bytes == 800
    assert sub.dropped == 3
    await error_log.wait_for(natswire.errors.SlowConsumerError)
    assert len(error_log.errors) == 1


async def test_stats_count(connect: Connect) -> None:
    nc = await connect()
    sub = await nc.subscribe("stats.x")
    await nc.flush()
    await nc.publish("stats.x", b"12345")
    await nc.publish("stats.x", b"")
    await nc.publish("stats.x", b"abc", headers={"K": "v"})
    await nc.flush()
    await eventually(lambda: sub.delivered == 3)
    stats = nc.stats
    assert stats.out_msgs == 3
    assert stats.in_msgs == 3
    assert stats.out_bytes == 8
    assert stats.in_bytes == 8
    assert stats.reconnects == 0
    assert stats.errors_received == 0
    assert stats.as_dict()["out_msgs"] == 3
    assert stats["in_msgs"] == 3


async def test_next_msg_sees_message_delivered_as_it_starts_waiting(nc: natswire.Client) -> None:
    """Regression: before Python 3.12 ``asyncio.wait_for`` runs the wait in a task that
    starts one iteration later; a message delivered in between must still wake next_msg."""
    sub = await nc.subscribe("race.x")
    await nc.flush()
    task = asyncio.ensure_future(sub.next_msg(timeout=1))
    await asyncio.sleep(0)  # next_msg is now inside wait_for; its inner task has not run
    assert not task.done()
    conn = nc._supervisor.conn
    assert conn is not None
    conn.data_received(encode_msg("race.x", sub.sid, b"in between"))
    msg = await asyncio.wait_for(task, 2)
    assert msg.data == b"in between"


async def test_sub_drain_delivers_what_the_server_sent_before_the_unsub(
    nc: natswire.Client,
) -> None:
    """The PUB goes out before the UNSUB, so the server routes the message to the
    subscription and then removes it: the message is still on its way when drain starts."""
    sub = await nc.subscribe("drain.inflight")
    await nc.flush()
    await nc.publish("drain.inflight", b"in flight")
    drain = asyncio.ensure_future(sub.drain())
    msg = await sub.next_msg(timeout=2)
    assert msg.data == b"in flight"
    await asyncio.wait_for(drain, 5)


async def test_queued_messages_keep_subject_reply_headers_and_order(nc: natswire.Client) -> None:
    """Queued messages on the usual subject wait as their payload alone; the others keep
    their frame: taken, every one has its own subject, reply, headers and place."""
    sub = await nc.subscribe("mixed.>")
    sent = [
        ("mixed.a", None, None),
        ("mixed.a", None, None),
        ("mixed.b", None, None),
        ("mixed.a", "inbox.1", None),
        ("mixed.a", None, {"k": "v"}),
        ("mixed.a", None, None),
        ("mixed.c", "inbox.2", None),
    ]
    for i, (subject, reply, headers) in enumerate(sent):
        await nc.publish(subject, b"%d" % i, reply=reply or "", headers=headers)
    await nc.flush()
    got = [await sub.next_msg(timeout=2) for _ in sent]
    assert [m.data for m in got] == [b"%d" % i for i in range(len(sent))]
    assert [(m.subject, m.reply or None) for m in got] == [(s, r) for s, r, _ in sent]
    assert [m.headers for m in got] == [h for _, _, h in sent]
    assert sub.pending_msgs == 0 and sub.pending_bytes == 0
