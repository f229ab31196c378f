"""Stream and consumer management against a real nats-server."""

from __future__ import annotations

import pytest

import natswire
from natswire import errors
from natswire.jetstream import (
    ConsumerConfig,
    JetStreamContext,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)


async def test_add_info_update_delete_stream(js: JetStreamContext, name: str) -> None:
    info = await js.add_stream(
        StreamConfig(name=name, subjects=[f"{name}.*"], max_age=60, storage=StorageType.MEMORY),
        max_msgs=100,
    )
    assert info.config.name == name
    assert info.config.max_age == 60.0
    assert info.config.max_msgs == 100
    assert info.config.storage is StorageType.MEMORY
    assert info.config.retention is RetentionPolicy.LIMITS
    assert info.state.messages == 0
    # The server fills in fields this client may not model; they survive an update.
    assert info.config.duplicate_window == 60.0  # capped at max_age by the server
    updated = await js.update_stream(info.config.evolve(max_msgs=5, description="d"))
    assert updated.config.max_msgs == 5
    assert updated.config.description == "d"
    assert updated.config.max_age == 60.0
    assert name in await js.stream_names()
    assert name in [s.config.name for s in await js.streams_info()]
    assert await js.find_stream_name_by_subject(f"{name}.x") == name
    assert await js.delete_stream(name) is True
    with pytest.raises(errors.StreamNotFoundError) as caught:
        await js.stream_info(name)
    assert caught.value.code == 404
    assert caught.value.err_code == 10059


async def test_unknown_server_fields_round_trip(js: JetStreamContext, stream: str) -> None:
    # Priority groups (server 2.11) are not ConsumerConfig fields (every StreamConfig
    # field of nats-server 2.15 is a field now, so a consumer carries the unknown ones).
    extra = {"priority_groups": ["jobs"], "priority_policy": "overflow"}
    config = ConsumerConfig(durable_name="unknown", extra=extra)
    info = await js.add_consumer(stream, config)
    assert info.config.extra == extra
    again = await js.add_consumer(stream, info.config.evolve(max_ack_pending=7))
    assert again.config.max_ack_pending == 7
    assert again.config.extra == extra
    assert (await js.consumer_info(stream, "unknown")).config.extra == extra


async def test_stream_errors_are_clear(js: JetStreamContext, stream: str) -> None:
    with pytest.raises(errors.StreamNameInUseError):
        await js.add_stream(name=stream, subjects=["elsewhere.>"])
    with pytest.raises(errors.BadRequestError):
        await js.add_stream(name=stream + "x", subjects=[f"{stream}.>"])  # overlapping
    with pytest.raises(errors.StreamNotFoundError):
        await js.delete_stream("NOPE_NOT_HERE")
    with pytest.raises(ValueError):
        await js.stream_info("bad.name")
    with pytest.raises(TypeError):
        await js.add_stream(name="X", no_such_option=1)
    with pytest.raises(errors.StreamNotFoundError):
        await js.find_stream_name_by_subject("no.stream.has.this")


async def test_purge_and_get_msg(js: JetStreamContext, stream: str) -> None:
    for i in range(6):
        await js.publish(f"{stream}.{'a' if i % 2 else 'b'}", b"m%d" % i, headers={"k": str(i)})
    raw = await js.get_msg(stream, 2)
    assert (raw.seq, raw.subject, raw.data) == (2, f"{stream}.a", b"m1")
    assert raw.headers is not None and raw.headers["k"] == "1"
    last = await js.get_last_msg(stream, f"{stream}.b")
    assert (last.seq, last.data) == (5, b"m4")
    nxt = await js.get_msg(stream, 3, subject=f"{stream}.a", next=True)
    assert nxt.seq == 4
    with pytest.raises(errors.NoMessageFoundError):
        await js.get_msg(stream, 99)
    assert await js.delete_msg(stream, 1)
    assert await js.purge_stream(stream, subject=f"{stream}.a", keep=1)
    info = await js.stream_info(stream, subjects_filter=">")
    assert info.state.messages == 3  # 3 (b), 5 (b), 6 (a)
    assert info.state.subjects == {f"{stream}.a": 1, f"{stream}.b": 2}
    assert await js.purge_stream(stream, seq=6)
    assert (await js.stream_info(stream)).state.messages == 1
    assert await js.purge_stream(stream)
    assert (await js.stream_info(stream)).state.messages == 0


async def test_consumer_management(js: JetStreamContext, stream: str) -> None:
    info = await js.add_consumer(
        stream,
        ConsumerConfig(durable_name="d1", ack_wait=3, max_deliver=4, backoff=None),
        filter_subject=f"{stream}.x",
    )
    assert info.name == "d1"
    assert info.stream_name == stream
    assert info.config.ack_wait == 3.0
    assert info.config.max_deliver == 4
    assert info.config.filter_subject == f"{stream}.x"
    eph = await js.add_consumer(stream, inactive_threshold=5)
    assert eph.name and eph.name != "d1"
    assert eph.config.inactive_threshold == 5.0
    assert {c.name for c in await js.consumers_info(stream)} == {"d1", eph.name}
    assert set(await js.consumer_names(stream)) == {"d1", eph.name}
    assert (await js.consumer_info(stream, "d1")).num_pending == 0
    assert await js.delete_consumer(stream, "d1")
    with pytest.raises(errors.ConsumerNotFoundError):
        await js.consumer_info(stream, "d1")
    with pytest.raises(ValueError):
        await js.add_consumer(stream, name="a", durable_name="b")


async def test_account_info_and_jsm(nc: natswire.Client, stream: str) -> None:
    jsm = nc.jsm()
    account = await jsm.account_info()
    assert account.streams >= 1
    assert (await jsm.stream_info(stream)).config.name == stream


async def test_no_jetstream_is_service_unavailable(connect: object) -> None:
    from natswire.server import NatsServer

    with NatsServer() as plain:
        nc = await natswire.connect(plain.url)
        try:
            with pytest.raises(errors.ServiceUnavailableError):
                await nc.jetstream(timeout=1).account_info()
            with pytest.raises(errors.NoStreamResponseError):
                await nc.jetstream().publish("x", b"", retry_attempts=0)
        finally:
            await nc.close()
