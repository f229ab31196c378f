"""The Object Store against a real nats-server: every call, its errors, links, the
digest, objects shared with nats-py both ways, and a large object streamed through
with bounded memory."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import itertools
import json
import os
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import nats.js.api as nats_api
import pytest

from natswire import errors
from natswire.jetstream import JetStreamContext
from natswire.jetstream.kv_api import ObjectMeta
from natswire.jetstream.object_store import ObjectStore

_buckets = itertools.count(1)


@pytest.fixture
async def obs(js: JetStreamContext) -> AsyncIterator[ObjectStore]:
    bucket = f"ob{next(_buckets)}"
    store = await js.create_object_store(bucket)
    yield store
    with contextlib.suppress(errors.NatsWireError):
        await js.delete_object_store(bucket)


def nats_digest(data: bytes) -> str:
    return "SHA-256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode()


async def test_put_get_info_list_delete(js: JetStreamContext, obs: ObjectStore) -> None:
    data = os.urandom(300_000)
    info = await obs.put("dir/a.bin", data, meta=ObjectMeta(description="three chunks"))
    assert (info.size, info.chunks, info.digest) == (300_000, 3, nats_digest(data))
    assert info.description == "three chunks" and info.bucket == obs.bucket
    # Stored exactly where nats.go stores it.
    encoded = base64.urlsafe_b64encode(b"dir/a.bin").decode()
    raw = await js.get_last_msg(f"OBJ_{obs.bucket}", f"$O.{obs.bucket}.M.{encoded}")
    assert json.loads(raw.data)["nuid"] == info.nuid
    assert (await js.stream_info(f"OBJ_{obs.bucket}")).state.messages == 4
    result = await obs.get("dir/a.bin")
    assert result.data == data and result.info.digest == info.digest
    out = io.BytesIO()
    written = await obs.get("dir/a.bin", writeinto=out)
    assert out.getvalue() == data and written.data == b""
    await obs.put("empty", b"")
    assert (await obs.get("empty")).data == b""
    assert sorted(i.name for i in await obs.list()) == ["dir/a.bin", "empty"]
    # A put under the same name replaces the content and purges the old chunks.
    await obs.put("dir/a.bin", "text now")
    assert (await obs.get("dir/a.bin")).data == b"text now"
    await obs.delete("dir/a.bin")
    with pytest.raises(errors.ObjectNotFoundError):
        await obs.get("dir/a.bin")
    with pytest.raises(errors.NotFoundError):
        await obs.get_info("dir/a.bin")
    assert (await obs.get_info("dir/a.bin", show_deleted=True)).deleted
    assert [i.name for i in await obs.list(ignore_deletes=True)] == ["empty"]
    assert len(await obs.list()) == 2
    await obs.delete("empty")
    with pytest.raises(errors.NotFoundError):
        await obs.list(ignore_deletes=True)
    assert (await js.stream_info(f"OBJ_{obs.bucket}")).state.consumer_count == 0


async def test_streams_files_and_async_sources(obs: ObjectStore, tmp_path: Any) -> None:
    data = os.urandom(200_000)
    path = tmp_path / "in.bin"
    path.write_bytes(data)
    with path.open("rb") as f:
        await obs.put("file", f)

    class AsyncReader:
        def __init__(self) -> None:
            self.left = io.BytesIO(data)

        async def read(self, n: int) -> bytes:
            return self.left.read(n)

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 50_000):
            yield data[i : i + 50_000]

    await obs.put("reader", AsyncReader())
    await obs.put("pieces", pieces())
    out = tmp_path / "out.bin"
    for name in ("file", "reader", "pieces"):
        with out.open("wb") as f:
            await obs.get(name, writeinto=f)
        assert out.read_bytes() == data, name
    with pytest.raises(TypeError):
        await obs.put("bad", 17)


async def test_update_meta_links_digest_and_seal(js: JetStreamContext, obs: ObjectStore) -> None:
    await obs.put("a", b"alpha")
    await obs.put("b", b"beta")
    await obs.update_meta("a", ObjectMeta(name="a", description="first"))
    assert (await obs.get_info("a")).description == "first"
    with pytest.raises(errors.ObjectAlreadyExists):
        await obs.update_meta("a", ObjectMeta(name="b"))
    await obs.update_meta("a", ObjectMeta(name="renamed"))
    assert (await obs.get("renamed")).data == b"alpha"
    with pytest.raises(errors.ObjectNotFoundError):
        await obs.get_info("a")
    with pytest.raises(errors.ObjectDeletedError):
        await obs.update_meta("nothing", ObjectMeta(name="x"))
    # Links to an object and to a bucket.
    link = await obs.add_link("link-to-b", await obs.get_info("b"))
    assert link.is_link() and (await obs.get("link-to-b")).data == b"beta"
    await obs.add_bucket_link("whole", obs)
    with pytest.raises(errors.LinkIsABucketError):
        await obs.get("whole")
    # A content that does not match its digest.
    info = await obs.get_info("b")
    info.digest = nats_digest(b"something else")
    encoded = base64.urlsafe_b64encode(b"b").decode()
    await js.publish(
        f"$O.{obs.bucket}.M.{encoded}",
        json.dumps(info.as_request()).encode(),
        headers={"Nats-Rollup": "sub"},
    )
    with pytest.raises(errors.DigestMismatchError):
        await obs.get("b")
    # Sealed: readable, no longer writable.
    await obs.seal()
    status = await obs.status()
    assert status.sealed and status.bucket == obs.bucket and status.size > 0
    assert (await obs.get("renamed")).data == b"alpha"
    with pytest.raises(errors.JetStreamError):
        await obs.put("late", b"no")


async def test_watch(obs: ObjectStore) -> None:
    await obs.put("one", b"1")
    watcher = await obs.watch()
    first = await watcher.updates(timeout=2.0)
    assert getattr(first, "name", None) == "one"
    assert await watcher.updates(timeout=2.0) is None
    await obs.put("two", b"2")
    update = await watcher.updates(timeout=2.0)
    assert getattr(update, "name", None) == "two"
    await watcher.stop()
    live = await obs.watch(updates_only=True)
    await obs.delete("one")
    deleted = await live.updates(timeout=2.0)
    assert getattr(deleted, "deleted", None) is True
    await live.stop()


async def test_bucket_errors(js: JetStreamContext) -> None:
    with pytest.raises(errors.BucketNotFoundError):
        await js.object_store("nobucket")
    with pytest.raises(errors.InvalidBucketNameError):
        await js.object_store("bad.name")
    store = await js.create_object_store(bucket="cfgd", description="d", max_bytes=10_000_000)
    try:
        assert (await js.object_store("cfgd")).bucket == "cfgd"
        assert (await store.status()).description == "d"
    finally:
        assert await js.delete_object_store("cfgd")


async def test_interop_with_nats_py_both_ways(js: JetStreamContext, peer: Any) -> None:
    bucket = "obinterop"
    pobs = await peer.jetstream().create_object_store(bucket)
    try:
        data = os.urandom(400_000)
        meta = nats_api.ObjectMeta(name="from-nats-py", description="d", headers={"k": ["v"]})
        await pobs.put("from-nats-py", data, meta=meta)
        obs = await js.object_store(bucket)
        got = await obs.get("from-nats-py")
        assert got.data == data and got.info.chunks == 4
        assert (got.info.description, got.info.headers) == ("d", {"k": ["v"]})
        mine = os.urandom(333_333)
        await obs.put("from-natswire", mine, meta=ObjectMeta(description="mine"))
        theirs = await pobs.get("from-natswire")
        assert theirs.data == mine and theirs.info.description == "mine"
        assert theirs.info.digest == nats_digest(mine)
        await obs.delete("from-nats-py")
        names = sorted(i.name for i in await pobs.list(ignore_deletes=True))
        assert names == ["from-natswire"]
    finally:
        await js.delete_object_store(bucket)


class Source:
    """A binary file of ``size`` generated bytes, never held whole."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.sha = hashlib.sha256()
        self.block = os.urandom(64 * 1024)

    def read(self, n: int) -> bytes:
        n = min(n, self.left, len(self.block))
        self.left -= n
        chunk = self.block[:n]
        self.sha.update(chunk)
        return chunk


class Sink:
    def __init__(self) -> None:
        self.size = 0
        self.sha = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.size += len(data)
        self.sha.update(data)


async def test_large_object_streams_with_bounded_memory(obs: ObjectStore) -> None:
    size = 32 * 1024 * 1024
    source = Source(size)
    tracemalloc.start()
    try:
        await obs.put("large", source)
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        sink = Sink()
        await obs.get("large", writeinto=sink)
        _, get_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.size == size and sink.sha.digest() == source.sha.digest()
    assert put_peak < 8 * 1024 * 1024, put_peak
    assert get_peak < 8 * 1024 * 1024, get_peak
