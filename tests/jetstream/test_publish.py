"""Publishing with acks: sequences, message ids, expectations, retries, the async window."""

from __future__ import annotations

import asyncio

import pytest

import natswire
from natswire import errors
from natswire.jetstream import JetStreamContext, PubAck


async def test_publish_acks_have_contiguous_sequences(js: JetStreamContext, stream: str) -> None:
    acks = [await js.publish(f"{stream}.a", b"%d" % i) for i in range(20)]
    assert [ack.seq for ack in acks] == list(range(1, 21))
    assert all(ack.stream == stream and not ack.duplicate for ack in acks)
    assert isinstance(acks[0], PubAck)
    assert (await js.stream_info(stream)).state.messages == 20


async def test_duplicate_msg_id_is_stored_once(js: JetStreamContext, stream: str) -> None:
    first = await js.publish(f"{stream}.a", b"one", msg_id="id-1")
    again = await js.publish(f"{stream}.a", b"one again", msg_id="id-1")
    via_header = await js.publish(f"{stream}.a", b"x", headers={"Nats-Msg-Id": "id-1"})
    other = await js.publish(f"{stream}.a", b"two", msg_id="id-2")
    assert not first.duplicate
    assert again.duplicate and again.seq == first.seq
    assert via_header.duplicate and via_header.seq == first.seq
    assert other.seq == first.seq + 1 and not other.duplicate
    info = await js.stream_info(stream)
    assert info.state.messages == 2
    assert (await js.get_msg(stream, first.seq)).data == b"one"


async def test_expectations_fail_with_clear_errors(js: JetStreamContext, stream: str) -> None:
    subject = f"{stream}.e"
    ack = await js.publish(subject, b"1", msg_id="m1", stream=stream)
    with pytest.raises(errors.WrongExpectedStreamError) as caught:
        await js.publish(subject, b"x", stream="OTHER")
    assert caught.value.code == 400 and caught.value.err_code == 10060
    with pytest.raises(errors.WrongLastSequenceError) as seq_err:
        await js.publish(subject, b"x", expected_last_seq=ack.seq + 5)
    assert "last sequence" in str(seq_err.value)
    with pytest.raises(errors.WrongLastSequenceError):
        await js.publish(subject, b"x", expected_last_subject_seq=ack.seq + 5)
    with pytest.raises(errors.WrongLastMsgIdError):
        await js.publish(subject, b"x", expected_last_msg_id="not-m1")
    ok = await js.publish(
        subject,
        b"2",
        expected_last_seq=ack.seq,
        expected_last_subject_seq=ack.seq,
        expected_last_msg_id="m1",
    )
    assert ok.seq == ack.seq + 1
    assert (await js.stream_info(stream)).state.messages == 2


async def test_publish_does_not_modify_callers_headers(js: JetStreamContext, stream: str) -> None:
    headers = {"a": "1"}
    await js.publish(f"{stream}.h", b"", headers=headers, msg_id="h1", stream=stream)
    assert headers == {"a": "1"}
    raw = await js.get_msg(stream, 1)
    assert raw.headers is not None
    assert raw.headers["a"] == "1" and raw.headers["Nats-Msg-Id"] == "h1"


async def test_no_stream_503_is_retried_then_raises(js: JetStreamContext, name: str) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(errors.NoStreamResponseError):
        await js.publish(f"{name}.nostream", b"", retry_attempts=2, retry_wait=0.1)
    # Two pauses: 0.1 and 0.2 seconds.
    assert loop.time() - start >= 0.28


async def test_503_retry_succeeds_once_the_stream_exists(js: JetStreamContext, name: str) -> None:
    async def create_later() -> None:
        await asyncio.sleep(0.3)
        await js.add_stream(name=name, subjects=[f"{name}.>"])

    task = asyncio.create_task(create_later())
    try:
        ack = await js.publish(f"{name}.late", b"x", retry_attempts=8, retry_wait=0.1)
        assert ack.stream == name and ack.seq == 1
    finally:
        await task
        await js.delete_stream(name)


async def test_timeout_is_retried_only_with_a_msg_id(
    nc: natswire.Client, js: JetStreamContext, name: str
) -> None:
    # A subscriber that never answers stands in for a stream leader that went quiet.
    silent = await nc.subscribe(f"{name}.silent")
    with pytest.raises(errors.TimeoutError):
        await js.publish(f"{name}.silent", b"a", timeout=0.2, retry_attempts=3, retry_wait=0.01)
    await nc.flush()
    assert silent.pending_msgs == 1
    with pytest.raises(errors.TimeoutError):
        await js.publish(
            f"{name}.silent", b"b", timeout=0.2, msg_id="b1", retry_attempts=2, retry_wait=0.01
        )
    await nc.flush()
    assert silent.pending_msgs == 1 + 3
    received = [await silent.next_msg(0) for _ in range(4)]
    assert [m.headers["Nats-Msg-Id"] if m.headers else None for m in received] == [
        None,
        "b1",
        "b1",
        "b1",
    ]


async def test_publish_async_window(nc: natswire.Client, stream: str) -> None:
    js = nc.jetstream(publish_async_max_pending=16)
    futures = []
    for i in range(500):
        futures.append(await js.publish_async(f"{stream}.w", b"%d" % i))
        assert js.publish_async_pending() <= 16
    await js.publish_async_completed(timeout=10)
    assert js.publish_async_pending() == 0
    acks = [f.result() for f in futures]
    assert sorted(ack.seq for ack in acks) == list(range(1, 501))
    assert (await js.stream_info(stream)).state.messages == 500
    await js.publish_async_completed(timeout=1)  # nothing outstanding: returns at once


async def test_publish_async_errors_land_on_the_future(nc: natswire.Client, stream: str) -> None:
    js = nc.jetstream(publish_async_max_pending=1)
    bad = await js.publish_async(f"{stream}.x", b"", stream="OTHER")
    with pytest.raises(errors.WrongExpectedStreamError):
        await asyncio.wait_for(bad, 5)
    nostream = await js.publish_async("nowhere.at.all", b"")
    with pytest.raises(errors.NoStreamResponseError):
        await asyncio.wait_for(nostream, 5)
    # A stalled window: a silent subscriber never acks, so the window of 1 stays full.
    silent = await nc.subscribe(f"{stream}silent.x")
    stuck = await js.publish_async(f"{stream}silent.x", b"", timeout=0.5)
    with pytest.raises(errors.TooManyStalledMsgsError):
        await js.publish_async(f"{stream}.x", b"", wait_stall=0.1)
    with pytest.raises(errors.TimeoutError):
        await js.publish_async_completed(timeout=0.1)
    with pytest.raises(errors.TimeoutError):
        await asyncio.wait_for(stuck, 5)
    await js.publish_async_completed(timeout=1)
    ok = await js.publish_async(f"{stream}.x", b"", wait_stall=1)
    assert (await asyncio.wait_for(ok, 5)).stream == stream
    await silent.unsubscribe()
