"""nats-py's JetStream and natswire's, on the same streams: each reads what the other
wrote, and they agree on metadata."""

from __future__ import annotations

from typing import Any

from natswire.jetstream import JetStreamContext


async def test_natswire_consumes_what_nats_py_published(
    js: JetStreamContext, peer: Any, stream: str
) -> None:
    pjs = peer.jetstream()
    acks = []
    for i in range(30):
        acks.append(await pjs.publish(f"{stream}.py", b"py-%d" % i, headers={"n": str(i)}))
    dup = await pjs.publish(f"{stream}.py", b"x", headers={"Nats-Msg-Id": "k"})
    dup2 = await js.publish(f"{stream}.py", b"y", msg_id="k")
    assert dup2.duplicate and dup2.seq == dup.seq
    assert [a.seq for a in acks] == list(range(1, 31))
    psub = await js.pull_subscribe(f"{stream}.py", durable="nw")
    got = []
    for _ in range(10):
        if len(got) == 31:
            break
        for msg in await psub.fetch(31 - len(got), timeout=1):
            got.append(msg)
            await msg.ack()
    assert [m.data for m in got[:30]] == [b"py-%d" % i for i in range(30)]
    assert all(m.headers is not None and m.headers["n"] == str(i) for i, m in enumerate(got[:30]))
    assert got[30].data == b"x"


async def test_nats_py_consumes_what_natswire_published(
    js: JetStreamContext, peer: Any, stream: str
) -> None:
    for i in range(30):
        await js.publish(f"{stream}.nw", b"nw-%d" % i, msg_id=f"id{i}")
    pjs = peer.jetstream()
    psub = await pjs.pull_subscribe(f"{stream}.nw", durable="py", stream=stream)
    got = []
    for _ in range(10):
        if len(got) == 30:
            break
        for msg in await psub.fetch(30 - len(got), timeout=1):
            got.append(msg)
            await msg.ack()
    assert [m.data for m in got] == [b"nw-%d" % i for i in range(30)]
    assert [m.headers["Nats-Msg-Id"] for m in got] == [f"id{i}" for i in range(30)]
    assert [m.metadata.sequence.stream for m in got] == list(range(1, 31))
    info = await js.consumer_info(stream, "py")
    assert info.delivered is not None and info.delivered.stream_seq == 30
    # A stream and consumer made by nats-py are managed by natswire and back.
    pinfo = await pjs.stream_info(stream)
    assert pinfo.state.messages == 30


async def test_metadata_agrees_with_nats_py(js: JetStreamContext, peer: Any, stream: str) -> None:
    await js.publish(f"{stream}.m", b"meta")
    await js.add_consumer(stream, durable_name="both", filter_subject=f"{stream}.m")
    pjs = peer.jetstream()
    psub = await pjs.pull_subscribe_bind("both", stream=stream)
    (pmsg,) = await psub.fetch(1, timeout=2)
    await pmsg.nak()
    mine = await js.pull_subscribe_bind("both", stream)
    (msg,) = await mine.fetch(1, timeout=2)
    pm = pmsg.metadata
    m = msg.metadata
    assert (m.stream, m.consumer) == (pm.stream, pm.consumer)
    assert m.sequence.stream == pm.sequence.stream
    assert m.sequence.consumer == pm.sequence.consumer + 1
    assert m.num_delivered == pm.num_delivered + 1 == 2
    assert m.timestamp == pm.timestamp
    await msg.ack()
