"""JetStream management of the newer servers against nats-server itself, each read by
nats-py too: consumer reset (2.14, ADR-60), sourcing through a pre-made consumer
(2.14, ADR-60), ``StreamState.lost`` (data missing from the store at start),
``StreamPurgeRequest`` and ``RawStreamMsg.hdrs``."""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats.js.api
import pytest
from support import eventually

import natswire
from natswire import errors
from natswire.jetstream import JetStreamContext
from natswire.jetstream.api import (
    AckPolicy,
    ConsumerConfig,
    ConsumerReset,
    DeliverPolicy,
    LostStreamData,
    RetentionPolicy,
    StreamConsumerSource,
    StreamPurgeRequest,
    StreamSource,
)
from natswire.server import NatsServer

pytestmark = pytest.mark.timeout(30)


async def fetch_seqs(js: JetStreamContext, stream: str, consumer: str, count: int) -> list[int]:
    psub = await js.pull_subscribe_bind(consumer, stream)
    try:
        msgs = await psub.fetch(count, timeout=2)
        for msg in msgs:
            await msg.ack_sync()
        return [msg.metadata.sequence.stream for msg in msgs]
    finally:
        await psub.unsubscribe()


# ------------------------------------------------------------------ consumer reset


async def test_reset_consumer_to_a_sequence_and_to_its_ack_floor(
    js: JetStreamContext, peer: Any, stream: str
) -> None:
    for i in range(6):
        await js.publish(f"{stream}.x", b"%d" % i)
    await js.add_consumer(stream, durable_name="r", ack_policy=AckPolicy.EXPLICIT)
    assert await fetch_seqs(js, stream, "r", 3) == [1, 2, 3]

    reset = await js.reset_consumer(stream, "r", 2)
    assert isinstance(reset, ConsumerReset)
    assert reset.reset_seq == 2
    assert reset.info.name == "r"
    assert reset.info.ack_floor is not None and reset.info.ack_floor.stream_seq == 1
    assert reset.info.num_pending == 5
    assert await fetch_seqs(js, stream, "r", 2) == [2, 3]

    # Without a sequence: from one above the ack floor (3 is acked, so 4).
    reset = await js.reset_consumer(stream, "r")
    assert reset.reset_seq == 4
    assert await fetch_seqs(js, stream, "r", 10) == [4, 5, 6]

    # nats-py reads the same answer.
    theirs = await peer.jetstream().reset_consumer(stream, "r", seq=5)
    assert theirs.reset_seq == 5
    mine = (await js.consumer_info(stream, "r")).as_dict()
    assert theirs.info.num_pending == mine["num_pending"] == 2
    assert await fetch_seqs(js, stream, "r", 10) == [5, 6]


async def test_reset_below_the_consumers_start_is_refused(
    js: JetStreamContext, stream: str
) -> None:
    for i in range(4):
        await js.publish(f"{stream}.x", b"%d" % i)
    await js.add_consumer(
        stream,
        durable_name="late",
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=3,
    )
    with pytest.raises(errors.ConsumerInvalidResetError) as caught:
        await js.reset_consumer(stream, "late", 1)
    assert caught.value.err_code == 10204
    assert isinstance(caught.value, errors.BadRequestError)
    assert (await js.reset_consumer(stream, "late", 4)).reset_seq == 4
    # Only all, by_start_sequence and by_start_time consumers move to a sequence; any
    # consumer may go back to its ack floor.
    await js.add_consumer(stream, durable_name="last", deliver_policy=DeliverPolicy.LAST)
    with pytest.raises(errors.ConsumerInvalidResetError) as caught:
        await js.reset_consumer(stream, "last", 2)
    assert caught.value.description == "invalid reset: not allowed"
    assert (await js.reset_consumer(stream, "last")).info.name == "last"
    # Each consumer answers its own resets: for one that does not exist nothing answers
    # (nats-server 2.15.1), so the call times out, as nats-py's does.
    with pytest.raises(errors.TimeoutError):
        await js.reset_consumer(stream, "nobody", timeout=0.5)


# ------------------------------------------------------- sourcing through a consumer


async def test_sourcing_a_work_queue_through_a_made_consumer(
    js: JetStreamContext, peer: Any, name: str
) -> None:
    """The work queue is emptied as the aggregate stores: the sourcing stream's flow
    control acks the consumer. nats-py made the aggregate; natswire reads its source."""
    queue, aggregate = f"{name}Q", f"{name}AGG"
    deliver = f"deliver.{name}"
    await js.add_stream(name=queue, subjects=[f"{queue}.>"], retention=RetentionPolicy.WORK_QUEUE)
    try:
        await js.add_consumer(
            queue,
            ConsumerConfig(
                durable_name="feed",
                deliver_subject=deliver,
                ack_policy=AckPolicy.FLOW_CONTROL,
                flow_control=True,
                idle_heartbeat=1.0,
                max_deliver=-1,
            ),
        )
        for i in range(5):
            await js.publish(f"{queue}.{i}", b"%d" % i)
        source = nats.js.api.StreamSource(
            name=queue,
            consumer=nats.js.api.StreamConsumerSource(name="feed", deliver_subject=deliver),
        )
        await peer.jetstream().add_stream(name=aggregate, sources=[source])
        info = await js.stream_info(aggregate)
        assert info.config.sources == [
            StreamSource(
                name=queue, consumer=StreamConsumerSource(name="feed", deliver_subject=deliver)
            )
        ]

        async def moved(count: int) -> bool:
            agg = await js.stream_info(aggregate)
            work = await js.stream_info(queue)
            return agg.state.messages == count and work.state.messages == 0

        await eventually(lambda: moved(5), 10, interval=0.1, what="sourced and acked")
        await js.publish(f"{queue}.late", b"late")
        await eventually(lambda: moved(6), 10, interval=0.1, what="the next one too")
        consumer = await js.consumer_info(queue, "feed")
        assert consumer.config.ack_policy is AckPolicy.FLOW_CONTROL
        assert consumer.ack_floor is not None and consumer.ack_floor.stream_seq == 6
        theirs = await peer.jetstream().stream_info(aggregate)
        assert theirs.config.sources[0].consumer.name == "feed"
    finally:
        for stream in (aggregate, queue):
            with contextlib.suppress(errors.NatsWireError):
                await js.delete_stream(stream)


async def test_a_stream_natswire_makes_with_a_consumer_source_reads_in_nats_py(
    js: JetStreamContext, peer: Any, name: str
) -> None:
    origin, copy = f"{name}O", f"{name}C"
    await js.add_stream(name=origin, subjects=[f"{origin}.>"], retention=RetentionPolicy.INTEREST)
    try:
        await js.add_consumer(
            origin,
            durable_name="feed",
            deliver_subject=f"deliver.{name}",
            ack_policy=AckPolicy.FLOW_CONTROL,
            flow_control=True,
            idle_heartbeat=1.0,
            max_deliver=-1,
        )
        consumer = StreamConsumerSource(name="feed", deliver_subject=f"deliver.{name}")
        await js.add_stream(name=copy, sources=[StreamSource(name=origin, consumer=consumer)])
        await js.publish(f"{origin}.a", b"a")
        await eventually(
            lambda: _messages(js, copy, 1), 10, interval=0.1, what="sourced through feed"
        )
        theirs = await peer.jetstream().stream_info(copy)
        assert theirs.config.sources[0].consumer == nats.js.api.StreamConsumerSource(
            name="feed", deliver_subject=f"deliver.{name}"
        )
    finally:
        for stream in (copy, origin):
            with contextlib.suppress(errors.NatsWireError):
                await js.delete_stream(stream)


async def _messages(js: JetStreamContext, stream: str, count: int) -> bool:
    return (await js.stream_info(stream)).state.messages == count


# ---------------------------------------------------------------- purge request


async def test_purge_stream_sends_a_stream_purge_request(
    js: JetStreamContext, peer: Any, stream: str
) -> None:
    for subject in ("a", "b", "a", "b", "a", "b"):
        await js.publish(f"{stream}.{subject}", b"x")
    request = StreamPurgeRequest(filter=f"{stream}.a", keep=1)
    assert request.as_dict() == {"filter": f"{stream}.a", "keep": 1}
    theirs = nats.js.api.StreamPurgeRequest(filter=f"{stream}.a", keep=1)
    assert request.as_dict() == theirs.as_dict()
    assert await js.purge_stream(stream, subject=f"{stream}.a", keep=1)
    state = (await js.stream_info(stream, subjects_filter=">")).state
    assert state.subjects == {f"{stream}.a": 1, f"{stream}.b": 3}
    # nats-py's purge below a sequence, read back by natswire.
    assert await peer.jetstream().purge_stream(stream, seq=5)
    state = (await js.stream_info(stream)).state
    assert (state.first_seq, state.messages) == (5, 2)
    assert await js.purge_stream(stream)
    assert (await js.stream_info(stream)).state.messages == 0


# ------------------------------------------------------------------- raw headers


async def test_raw_stream_msg_hdrs_is_the_servers_header_block(
    js: JetStreamContext, peer: Any, stream: str
) -> None:
    await js.publish(f"{stream}.h", b"body", headers={"Trace": "t-1"})
    await js.publish(f"{stream}.n", b"plain")
    mine = await js.get_msg(stream, 1)
    theirs = await peer.jetstream().get_msg(stream, 1)
    assert mine.hdrs is not None and mine.hdrs == theirs.hdrs
    block = base64.b64decode(mine.hdrs)
    assert block.startswith(b"NATS/1.0\r\n") and b"Trace: t-1\r\n" in block
    assert mine.headers is not None and mine.headers["Trace"] == "t-1"
    assert (await js.get_msg(stream, 2)).hdrs is None
    # Direct Get hands over the message itself: no header block, as in nats-py.
    await js.update_stream(name=stream, subjects=[f"{stream}.>"], allow_direct=True)
    assert (await js.get_msg(stream, 1, direct=True)).hdrs is None


# ----------------------------------------------------------------- lost stream data


@pytest.fixture
def store_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="natswire-lost-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_stream_state_lost_names_what_vanished_from_the_store(
    store_dir: Path, no_leaked_servers: None
) -> None:
    """A message block removed while the server was down: at the next start the server
    reports its messages lost (only with ``deleted_details``); nats-py parses the same
    answer to the same sequences."""
    with NatsServer(jetstream=True, store_dir=store_dir) as srv:
        nc = await natswire.connect(srv.url)
        js = nc.jetstream()
        await js.add_stream(name="LOSS", subjects=["loss.>"])
        for i in range(10):
            await js.publish("loss.x", b"payload %d" % i)
        assert (await js.stream_info("LOSS", deleted_details=True)).state.lost is None
        await nc.close()
    blocks = list(store_dir.glob("jetstream/*/streams/LOSS/msgs/*.blk"))
    assert len(blocks) == 1
    size = blocks[0].stat().st_size
    blocks[0].unlink()
    with NatsServer(jetstream=True, store_dir=store_dir) as srv:
        nc = await natswire.connect(srv.url)
        try:
            js = nc.jetstream()
            info = await js.stream_info("LOSS", deleted_details=True)
            assert info.state.lost == LostStreamData(msgs=list(range(1, 11)), bytes=size)
            assert info.state.messages == 0
            assert (await js.stream_info("LOSS")).state.lost is None  # only when asked
            raw = await nc.request(
                "$JS.API.STREAM.INFO.LOSS", json.dumps({"deleted_details": True}).encode()
            )
            theirs = nats.js.api.StreamInfo.from_response(json.loads(raw.data))
            assert theirs.state.lost == nats.js.api.LostStreamData(**info.state.lost.as_dict())
        finally:
            await nc.close()
