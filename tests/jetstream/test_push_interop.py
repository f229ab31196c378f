"""nats-py and natswire push consumers on the same streams: natswire push and ordered
consumers deliver what nats-py published, and bind a durable nats-py created."""

from __future__ import annotations

from typing import Any

from support import eventually

from natswire.jetstream import JetStreamContext, JetStreamMessage


async def test_natswire_push_and_ordered_deliver_what_nats_py_published(
    js: JetStreamContext, peer: Any, stream: str
) -> None:
    pjs = peer.jetstream()
    for i in range(20):
        await pjs.publish(f"{stream}.py", b"py-%d" % i, headers={"n": str(i)})
    pushed: list[JetStreamMessage] = []
    push = await js.subscribe(f"{stream}.py", cb=pushed.append)
    ordered = await js.subscribe(f"{stream}.py", ordered_consumer=True)
    in_order = [await ordered.next_msg(2) for _ in range(20)]
    await eventually(lambda: len(pushed) == 20)
    for got in (pushed, in_order):
        assert [m.data for m in got] == [b"py-%d" % i for i in range(20)]
        assert [m.headers["n"] if m.headers else None for m in got] == [str(i) for i in range(20)]
    await push.unsubscribe()
    await ordered.unsubscribe()
    await eventually(lambda: _no_consumers(js, stream))


async def _no_consumers(js: JetStreamContext, stream: str) -> bool:
    return (await js.stream_info(stream)).state.consumer_count == 0


async def test_natswire_binds_a_durable_push_consumer_nats_py_created(
    js: JetStreamContext, peer: Any, stream: str
) -> None:
    pjs = peer.jetstream()
    await pjs.add_consumer(
        stream, durable_name="made-by-py", deliver_subject=f"deliver.{stream}",
        filter_subject=f"{stream}.d", ack_policy="explicit",
    )  # fmt: skip
    for i in range(5):
        await pjs.publish(f"{stream}.d", b"%d" % i)
    sub = await js.subscribe(f"{stream}.d", durable="made-by-py")
    assert sub.consumer == "made-by-py"
    got = []
    for _ in range(5):
        msg = await sub.next_msg(2)
        got.append(msg.data)
        await msg.ack()
    assert got == [b"%d" % i for i in range(5)]
    await sub.unsubscribe()
    # nats-py sees the acks natswire sent.
    info = await pjs.consumer_info(stream, "made-by-py")
    assert info.delivered.stream_seq == 5
