"""Direct Get (single and batched), consumer pause/resume, the stream info iterator,
``pull_subscribe_bind``'s keywords and ``pending_bytes``, against a real nats-server."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from support import eventually

from natswire import errors
from natswire.jetstream import ConsumerConfig, JetStreamContext


@pytest.fixture
async def direct_stream(js: JetStreamContext, name: str) -> str:
    await js.add_stream(name=name, subjects=[f"{name}.>"], allow_direct=True)
    for i in range(6):
        await js.publish(f"{name}.{'ab'[i % 2]}", b"m%d" % i, headers={"i": str(i)})
    return name


async def test_direct_get_by_sequence_last_and_next(
    js: JetStreamContext, direct_stream: str
) -> None:
    s = direct_stream
    raw = await js.get_msg(s, 2, direct=True)
    assert (raw.seq, raw.subject, raw.data, raw.stream) == (2, f"{s}.b", b"m1", s)
    assert raw.headers is not None and raw.headers["i"] == "1" and raw.time
    last = await js.get_last_msg(s, f"{s}.a", direct=True)
    assert (last.seq, last.data) == (5, b"m4")
    nxt = await js.get_msg(s, 3, subject=f"{s}.b", direct=True, next=True)
    assert (nxt.seq, nxt.data) == (4, b"m3")
    # The same answers as the API form.
    assert (await js.get_msg(s, 2)).data == raw.data
    with pytest.raises(errors.NoMessageFoundError):
        await js.get_msg(s, 99, direct=True)
    with pytest.raises(errors.NotFoundError):
        await js.get_last_msg(s, f"{s}.none", direct=True)


async def test_direct_get_batches(js: JetStreamContext, direct_stream: str) -> None:
    s = direct_stream
    got = await js.get_msgs(s, batch=3, seq=2)
    assert [m.seq for m in got] == [2, 3, 4]
    on_a = await js.get_msgs(s, batch=10, subject=f"{s}.a")
    assert [m.data for m in on_a] == [b"m0", b"m2", b"m4"]
    last = await js.get_msgs(s, multi_last=[f"{s}.a", f"{s}.b"])
    assert sorted(m.seq for m in last) == [5, 6]
    upto = await js.get_msgs(s, multi_last=[f"{s}.>"], up_to_seq=3)
    assert sorted(m.seq for m in upto) == [2, 3]
    assert await js.get_msgs(s, batch=5, seq=100) == []


async def test_pause_and_resume_a_consumer(js: JetStreamContext, stream: str) -> None:
    await js.add_consumer(stream, ConsumerConfig(durable_name="p"))
    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
    paused = await js.pause_consumer(stream, "p", until)
    assert paused.paused and paused.pause_until
    assert paused.pause_remaining is not None and 200 < paused.pause_remaining <= 300
    await js.publish(f"{stream}.x", b"held")
    psub = await js.pull_subscribe_bind(consumer="p", stream=stream)
    with pytest.raises(errors.FetchTimeoutError):
        await psub.fetch(1, timeout=0.3)
    resumed = await js.resume_consumer(stream, "p")
    assert not resumed.paused
    msgs = await psub.fetch(1, timeout=2)
    assert msgs[0].data == b"held"
    assert psub.pending_bytes == 0


async def test_pending_bytes_counts_the_payloads_waiting_in_a_pull_subscription(
    js: JetStreamContext, stream: str
) -> None:
    await js.add_consumer(stream, ConsumerConfig(durable_name="pb"))
    for i in range(5):
        await js.publish(f"{stream}.x", b"%010d" % i)
    psub = await js.pull_subscribe_bind(consumer="pb", stream=stream)
    messages = psub.consume(5)
    first = await anext(messages)
    assert first.data == b"0000000000"
    await eventually(lambda: _pending(psub, 4), what="the rest of the batch waiting")
    assert psub.pending_bytes == 40
    await messages.aclose()
    await psub.unsubscribe()


async def _pending(psub: Any, n: int) -> bool:
    return bool(psub.pending_msgs == n)


async def test_pull_subscribe_bind_keywords(js: JetStreamContext, stream: str) -> None:
    await js.add_consumer(stream, ConsumerConfig(durable_name="k"))
    await js.publish(f"{stream}.x", b"1")
    for sub in (
        await js.pull_subscribe_bind(durable="k", stream=stream),
        await js.pull_subscribe_bind(name="k", stream=stream),
        await js.pull_subscribe_bind("k", stream),
    ):
        assert sub.consumer == "k"
        await sub.unsubscribe()
    with pytest.raises(ValueError):
        await js.pull_subscribe_bind(stream=stream)


async def test_streams_info_iterator(js: JetStreamContext, stream: str, name: str) -> None:
    await js.add_stream(name=name, subjects=[f"{name}.>"])
    names = [info.config.name async for info in js.streams_info_iterator()]
    assert stream in names and name in names
    await js.delete_stream(name)


async def test_streams_info_iterator_awaited_gives_a_page_as_nats_py(
    js: JetStreamContext, stream: str, name: str, peer: Any
) -> None:
    await js.add_stream(name=name, subjects=[f"{name}.>"])
    page = await js.streams_info_iterator()
    mine = sorted(info.config.name for info in page)
    theirs = sorted(info.config.name for info in await peer.jetstream().streams_info_iterator())
    assert mine == theirs and stream in mine and name in mine
    assert page.total == len(mine) and page.offset == 0
    await js.delete_stream(name)
