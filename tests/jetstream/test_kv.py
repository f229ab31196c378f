"""The Key-Value store's calls and errors against a real nats-server, and buckets shared
with nats-py both ways."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import Any

import nats.js.errors as nats_errors
import pytest

from natswire import errors
from natswire.jetstream import JetStreamContext
from natswire.jetstream.kv import KeyValue
from natswire.jetstream.kv_api import KeyValueConfig

_buckets = itertools.count(1)


@pytest.fixture
async def bucket(js: JetStreamContext) -> AsyncIterator[str]:
    name = f"kv{next(_buckets)}"
    yield name
    with contextlib.suppress(errors.NotFoundError):
        await js.delete_key_value(name)


@pytest.fixture
async def kv(js: JetStreamContext, bucket: str) -> KeyValue:
    return await js.create_key_value(bucket=bucket, history=5)


async def test_put_get_create_update(kv: KeyValue) -> None:
    rev = await kv.put("color", b"blue")
    entry = await kv.get("color")
    assert (entry.bucket, entry.key, entry.value, entry.revision) == (
        kv.bucket,
        "color",
        b"blue",
        rev,
    )
    assert entry.operation is None
    with pytest.raises(errors.KeyWrongLastSequenceError):
        await kv.create("color", b"red")
    rev2 = await kv.update("color", b"red", last=rev)
    assert rev2 > rev and (await kv.get("color")).value == b"red"
    with pytest.raises(errors.KeyWrongLastSequenceError) as info:
        await kv.update("color", b"green", last=rev)
    # nats-py's hierarchy: a bad request and a key-value error.
    assert isinstance(info.value, errors.BadRequestError)
    assert isinstance(info.value, errors.KeyValueError)
    assert (await kv.get("color", revision=rev)).value == b"blue"
    assert (await kv.create("fresh", b"1")) > rev2


async def test_delete_purge_and_recreate(kv: KeyValue) -> None:
    rev = await kv.put("k", b"v")
    with pytest.raises(errors.KeyWrongLastSequenceError):
        await kv.delete("k", last=rev + 10)
    assert await kv.delete("k", last=rev)
    with pytest.raises(errors.KeyNotFoundError) as info:
        await kv.get("k")
    assert isinstance(info.value, errors.NotFoundError)
    assert info.value.op == "DEL" and info.value.entry.operation == "DEL"
    # A deleted key may be created again.
    await kv.create("k", b"again")
    assert (await kv.get("k")).value == b"again"
    await kv.purge("k")
    with pytest.raises(errors.KeyNotFoundError):
        await kv.get("k")
    history = await kv.history("k")
    assert [e.operation for e in history] == ["PURGE"]
    with pytest.raises(errors.KeyNotFoundError):
        await kv.get("never")


async def test_history_limit_keys_and_status(js: JetStreamContext, kv: KeyValue) -> None:
    with pytest.raises(errors.NoKeysError):
        await kv.keys()
    with pytest.raises(errors.NoKeysError):
        await kv.history("a")
    for i in range(8):
        await kv.put("a", b"%d" % i)
    await kv.put("b.c", b"x")
    await kv.put("gone", b"x")
    await kv.delete("gone")
    history = await kv.history("a")
    assert [e.value for e in history] == [b"3", b"4", b"5", b"6", b"7"]
    assert [e.revision for e in history] == sorted(e.revision or 0 for e in history)
    assert sorted(await kv.keys()) == ["a", "b.c"]
    assert await kv.keys(filters=["b."]) == ["b.c"]
    status = await kv.status()
    assert (status.bucket, status.history, status.values) == (kv.bucket, 5, 8)
    assert status.ttl is None or status.ttl == 0
    # keys() and history() leave no consumer behind.
    assert (await js.stream_info(kv.stream)).state.consumer_count == 0


async def test_purge_deletes(kv: KeyValue) -> None:
    await kv.put("a", b"1")
    await kv.put("b", b"1")
    await kv.delete("a")
    await kv.purge("b")
    await kv.purge_deletes(olderthan=-1)
    assert (await kv.status()).values == 0
    await kv.put("c", b"1")
    await kv.delete("c")
    await kv.purge_deletes()  # younger than 30 minutes: the marker stays alone
    assert [e.operation for e in await kv.history("c")] == ["DEL"]


async def test_ttl_expiry(js: JetStreamContext, bucket: str) -> None:
    kv = await js.create_key_value(KeyValueConfig(bucket=bucket, ttl=0.5))
    assert (await kv.status()).ttl == pytest.approx(0.5)
    await kv.put("short", b"lived")
    assert (await kv.get("short")).value == b"lived"
    await asyncio.sleep(1.2)
    with pytest.raises(errors.KeyNotFoundError):
        await kv.get("short")


async def test_bucket_errors(js: JetStreamContext, bucket: str) -> None:
    with pytest.raises(errors.BucketNotFoundError):
        await js.key_value(bucket)
    with pytest.raises(errors.NotFoundError):
        await js.key_value(bucket)
    with pytest.raises(errors.InvalidBucketNameError):
        await js.key_value("bad.name")
    with pytest.raises(errors.KeyHistoryTooLargeError):
        await js.create_key_value(bucket=bucket, history=65)
    kv = await js.create_key_value(bucket=bucket)
    for bad in ("", ".a", "a.", "a b", "a*"):
        with pytest.raises(errors.InvalidKeyError):
            await kv.put(bad, b"x")
    await js.add_stream(name=f"KV_{bucket}x", subjects=[f"{bucket}x.>"])
    try:
        with pytest.raises(errors.BadBucketError):
            await js.key_value(f"{bucket}x")
    finally:
        await js.delete_stream(f"KV_{bucket}x")
    assert (await js.key_value(bucket)).bucket == bucket
    assert await js.delete_key_value(bucket)
    with pytest.raises(errors.BucketNotFoundError):
        await js.key_value(bucket)


async def test_direct_get_when_allowed(js: JetStreamContext, bucket: str) -> None:
    kv = await js.create_key_value(bucket=bucket)
    assert (await js.stream_info(kv.stream)).config.allow_direct is True
    plain = await js.create_key_value(bucket=bucket + "p", direct=False)
    try:
        await plain.put("k", b"v")
        assert (await plain.get("k")).value == b"v"
    finally:
        await js.delete_key_value(bucket + "p")


# ------------------------------------------------------------------ interop


async def test_written_by_nats_py_read_by_natswire(
    js: JetStreamContext, peer: Any, bucket: str
) -> None:
    pjs = peer.jetstream()
    pkv = await pjs.create_key_value(bucket=bucket, history=4)
    await pkv.put("a", b"1")
    await pkv.put("a", b"2")
    await pkv.put("b", b"x")
    await pkv.delete("b")
    await pkv.put("c", b"y")
    await pkv.purge("c")
    kv = await js.key_value(bucket)
    assert (await kv.get("a")).value == b"2"
    assert [e.value for e in await kv.history("a")] == [b"1", b"2"]
    with pytest.raises(errors.KeyNotFoundError):
        await kv.get("b")
    with pytest.raises(errors.KeyNotFoundError):
        await kv.get("c")
    assert await kv.keys() == ["a"]
    assert (await kv.status()).history == 4


async def test_written_by_natswire_read_by_nats_py(
    js: JetStreamContext, peer: Any, bucket: str
) -> None:
    kv = await js.create_key_value(bucket=bucket, history=3)
    await kv.put("a", b"1")
    await kv.update("a", b"2", last=1)
    await kv.put("b", b"x")
    await kv.delete("b")
    await kv.put("c", b"y")
    await kv.purge("c")
    await kv.create("d", b"z")
    pkv = await peer.jetstream().key_value(bucket)
    assert (await pkv.get("a")).value == b"2"
    assert [e.value for e in await pkv.history("a")] == [b"1", b"2"]
    with pytest.raises(nats_errors.KeyNotFoundError):
        await pkv.get("b")
    assert [e.operation for e in await pkv.history("c")] == ["PURGE"]
    assert sorted(await pkv.keys()) == ["a", "d"]
    with pytest.raises(nats_errors.KeyWrongLastSequenceError):
        await pkv.create("d", b"again")
    # What nats-py writes now is seen by natswire.
    await pkv.put("a", b"3")
    assert (await kv.get("a")).value == b"3"


async def test_keys_and_bucket_names_with_a_trailing_newline_are_refused(
    js: JetStreamContext, kv: KeyValue
) -> None:
    for key in ("k\n", ".k", "k."):
        with pytest.raises(errors.InvalidKeyError):
            await kv.put(key, b"v")
        with pytest.raises(errors.InvalidKeyError):
            await kv.purge(key)
    with pytest.raises(errors.InvalidBucketNameError):
        await js.key_value("bucket\n")
