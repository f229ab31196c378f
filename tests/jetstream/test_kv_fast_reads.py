"""The read fast paths behind ``kv.get`` and ``obs.get``: a Direct Get answer read in one
pass when the stored message has no headers of its own (and in full otherwise), and an
object's chunks hashed and handed out in order, and its fetcher closed when a get fails."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import pytest

import natswire
from natswire import errors
from natswire.jetstream import JetStreamContext
from natswire.jetstream.direct import plain_stored
from natswire.jetstream.object_chunks import digest_chunks


async def test_direct_get_answers_read_in_one_pass_or_in_full(
    nc: natswire.Client, js: JetStreamContext
) -> None:
    kv = await js.create_key_value(bucket="fastreads", history=5, direct=True)
    try:
        plain_rev = await kv.put("plain", b"one")
        # A value stored with headers of its own, and a delete marker: the full path.
        await nc.publish("$KV.fastreads.extra", b"two", headers={"X-Extra": "yes"})
        await nc.flush()
        await kv.put("gone", b"x")
        await kv.delete("gone")

        api = f"{js.prefix}.DIRECT.GET.KV_fastreads.$KV.fastreads."
        answer = await nc.request(api + "plain", b"", timeout=2.0)
        assert plain_stored(answer) == ("$KV.fastreads.plain", plain_rev)
        assert plain_stored(await nc.request(api + "extra", b"", timeout=2.0)) is None
        assert plain_stored(await nc.request(api + "gone", b"", timeout=2.0)) is None
        assert plain_stored(await nc.request(api + "missing", b"", timeout=2.0)) is None

        entry = await kv.get("plain")
        assert (entry.key, entry.value, entry.revision, entry.operation) == (
            "plain",
            b"one",
            plain_rev,
            None,
        )
        assert (await kv.get("extra")).value == b"two"
        with pytest.raises(errors.KeyNotFoundError) as deleted:
            await kv.get("gone")
        assert deleted.value.op == "DEL"
        with pytest.raises(errors.KeyNotFoundError):
            await kv.get("missing")
        # Keys are checked before any request, as on every other path.
        for bad in ("", ".a", "a.", "a b", "a*"):
            with pytest.raises(errors.InvalidKeyError):
                await kv.get(bad)
        # By revision: the Get by sequence, not the fast path, gives the same entry.
        assert (await kv.get("plain", revision=plain_rev)).value == b"one"
    finally:
        await js.delete_key_value("fastreads")


async def test_digest_of_the_chunks_in_order() -> None:
    pieces = [os.urandom(1000 + i) for i in range(37)]

    async def chunks() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    written: list[bytes] = []
    digest = await digest_chunks(chunks(), written.append)
    assert digest == hashlib.sha256(b"".join(pieces)).digest()
    assert written == pieces


async def test_a_get_that_fails_while_writing_leaves_no_consumer(js: JetStreamContext) -> None:
    obs = await js.create_object_store("fastreadsobj")
    try:
        await obs.put("big", os.urandom(40 * 128 * 1024))

        class Failing:
            def __init__(self) -> None:
                self.calls = 0

            def write(self, data: bytes) -> None:
                self.calls += 1
                if self.calls == 3:
                    raise OSError("disk full")

        with pytest.raises(OSError, match="disk full"):
            await obs.get("big", writeinto=Failing())
        info = await js.stream_info("OBJ_fastreadsobj")
        assert info.state.consumer_count == 0
        assert (await obs.get("big")).info.chunks == 40
    finally:
        await js.delete_object_store("fastreadsobj")
