"""JetStream data as nats-py hands it over: times as ``datetime``, ``as_dict()``,
equality that ignores the response time, the newer fields and types, the checks
nats-py makes before sending, ``purge_stream``'s positional order, ``msg_ttl`` as
nats-py sends it, and the filter subject in the consumer-create API subject."""

from __future__ import annotations

import asyncio
import datetime

import pytest

import natswire
from natswire.jetstream import JetStreamContext
from natswire.jetstream.api import (
    AccountInfo,
    ClusterInfo,
    KeyValueConfig,
    ObjectStoreConfig,
    PersistMode,
    StoreCompression,
    StreamConfig,
    Tier,
)

pytestmark = pytest.mark.timeout(30)


async def test_times_are_datetimes_and_ts_is_left_out_of_equality(
    js: JetStreamContext, stream: str
) -> None:
    await js.publish(f"{stream}.t", b"x")
    first = await js.stream_info(stream)
    await asyncio.sleep(0.01)
    again = await js.stream_info(stream)
    assert isinstance(first.created, datetime.datetime)
    assert first.created.tzinfo is datetime.timezone.utc
    assert first == again
    await js.add_consumer(stream, durable_name="times", ack_policy="explicit")
    psub = await js.pull_subscribe(f"{stream}.t", durable="times", stream=stream)
    (msg,) = await psub.fetch(1, timeout=2)
    await msg.ack_sync()
    info = await js.consumer_info(stream, "times")
    assert isinstance(info.created, datetime.datetime)
    assert info.delivered is not None
    assert isinstance(info.delivered.last_active, datetime.datetime)
    assert info == (await js.consumer_info(stream, "times"))
    stored = await js.get_msg(stream, 1)
    assert isinstance(stored.time, datetime.datetime)
    assert first.config.as_dict() == first.config.as_request()


def test_server_times_parse_as_nats_py_parses_them() -> None:
    cluster = ClusterInfo.from_response(
        {"name": "c", "leader_since": "2026-12-06T07:00:00.123456789Z", "traffic_acc": "SYS"}
    )
    assert cluster.leader_since == datetime.datetime(
        2026, 12, 6, 7, 0, 0, 123456, tzinfo=datetime.timezone.utc
    )
    assert cluster.traffic_acc == "SYS"


def test_account_tiers() -> None:
    info = AccountInfo.from_response(
        {
            "memory": 1,
            "storage": 2,
            "streams": 1,
            "consumers": 0,
            "tiers": {"R1": {"memory": 1, "storage": 2, "streams": 1, "consumers": 0}},
        }
    )
    assert info.tiers == {"R1": Tier(memory=1, storage=2, streams=1, consumers=0)}


def test_newer_stream_fields_and_types() -> None:
    config = StreamConfig.from_response(
        {
            "name": "S",
            "allow_atomic": True,
            "allow_msg_schedules": True,
            "allow_batched": True,
            "persist_mode": "async",
            "compression": "s2",
            "metadata": {"k": "v"},
        }
    )
    assert config.persist_mode is PersistMode.ASYNC
    assert config.compression is StoreCompression.S2
    assert config.as_dict()["persist_mode"] == "async"
    assert KeyValueConfig(bucket="b", ttl=1.5).as_dict() == {
        "bucket": "b",
        "history": 1,
        "ttl": 1_500_000_000,
        "replicas": 1,
    }
    assert ObjectStoreConfig(bucket="o").as_dict() == {"bucket": "o", "replicas": 1}


async def test_bad_compression_or_metadata_raise_before_sending(js: JetStreamContext) -> None:
    with pytest.raises(ValueError, match="compression"):
        await js.add_stream(name="BADC", subjects=["badc"], compression="zstd")
    with pytest.raises(ValueError, match="metadata"):
        await js.add_stream(name="BADM", subjects=["badm"], metadata=["not", "a", "dict"])


async def test_purge_stream_takes_nats_py_s_positional_order(
    js: JetStreamContext, stream: str
) -> None:
    for i in range(5):
        await js.publish(f"{stream}.p", b"%d" % i)
    assert await js.purge_stream(stream, 4)  # seq: everything below 4
    assert (await js.stream_info(stream)).state.messages == 2


async def test_msg_ttl_is_sent_as_nats_py_sends_it(js: JetStreamContext, name: str) -> None:
    await js.add_stream(name=name, subjects=[f"{name}.>"], allow_msg_ttl=True)
    try:
        await js.publish(f"{name}.ttl", b"x", msg_ttl=60)
        stored = await js.get_msg(name, 1)
        assert stored.headers is not None
        assert stored.headers["Nats-TTL"] == "60"
    finally:
        await js.delete_stream(name)


async def test_consumer_create_names_the_filter_subject(
    nc: natswire.Client, js: JetStreamContext, stream: str
) -> None:
    seen = await nc.subscribe("$JS.API.CONSUMER.CREATE.>")
    await nc.flush()
    await js.add_consumer(stream, name="filtered", filter_subject=f"{stream}.only")
    request = await seen.next_msg(timeout=2)
    assert request.subject == f"$JS.API.CONSUMER.CREATE.{stream}.filtered.{stream}.only"


async def test_consumer_create_keeps_a_wildcard_filter_out_of_the_api_subject(
    nc: natswire.Client, js: JetStreamContext, stream: str
) -> None:
    seen = await nc.subscribe("$JS.API.CONSUMER.CREATE.>")
    await nc.flush()
    info = await js.add_consumer(stream, name="wild", filter_subject=f"{stream}.>")
    request = await seen.next_msg(timeout=2)
    assert request.subject == f"$JS.API.CONSUMER.CREATE.{stream}.wild"
    assert info.config.filter_subject == f"{stream}.>"
