"""Buckets that mirror or source other buckets, configured as nats.go and ADR-57 do: a
mirror reads and writes under its origin's subjects, a sourcing bucket gets the origin's
keys mapped into its own."""

from __future__ import annotations

import pytest
from support import eventually

from natswire import errors
from natswire.jetstream import JetStreamContext, StreamSource, SubjectTransform
from natswire.jetstream.kv import KeyValue, kv_stream_config
from natswire.jetstream.kv_api import KeyValueConfig


def test_stream_configs_of_mirrors_and_sources() -> None:
    mirror = kv_stream_config(KeyValueConfig(bucket="M", mirror=StreamSource(name="ORIG")))
    assert mirror.subjects is None and mirror.mirror_direct is True
    assert mirror.mirror is not None and mirror.mirror.name == "KV_ORIG"
    given = StreamSource(name="KV_A")
    config = KeyValueConfig(
        bucket="AGG",
        sources=[
            given,
            StreamSource(name="B"),
            StreamSource(
                name="EVENTS",
                subject_transforms=[SubjectTransform(src="ev.>", dest="$KV.AGG.>")],
            ),
        ],
    )
    agg = kv_stream_config(config)
    assert agg.subjects == ["$KV.AGG.>"] and agg.mirror is None
    assert agg.sources is not None
    a, b, events = agg.sources
    assert (a.name, b.name, events.name) == ("KV_A", "KV_B", "EVENTS")
    assert a.subject_transforms == [SubjectTransform(src="$KV.A.>", dest="$KV.AGG.>")]
    assert b.subject_transforms == [SubjectTransform(src="$KV.B.>", dest="$KV.AGG.>")]
    assert events.subject_transforms == [SubjectTransform(src="ev.>", dest="$KV.AGG.>")]
    assert given.subject_transforms is None  # the caller's config is not changed


async def _value(kv: KeyValue, key: str) -> bytes | None:
    try:
        return (await kv.get(key)).value
    except errors.KeyNotFoundError:
        return None


async def test_a_mirror_is_read_and_written_under_its_origin(js: JetStreamContext) -> None:
    origin = await js.create_key_value(bucket="origin1")
    try:
        await origin.put("color", b"blue")
        mirror = await js.create_key_value(bucket="mirror1", mirror=StreamSource(name="origin1"))
        try:
            assert (await js.stream_info("KV_mirror1")).config.mirror_direct
            await eventually(lambda: _is(mirror, "color", b"blue"), 10, what="mirrored")
            # A write through the mirror goes to the origin, and comes back mirrored.
            await mirror.put("size", b"L")
            assert (await origin.get("size")).value == b"L"
            await eventually(lambda: _is(mirror, "size", b"L"), 10, what="mirrored back")
            bound = await js.key_value("mirror1")
            assert sorted(await bound.keys()) == ["color", "size"]
            assert (await bound.get("color")).key == "color"
        finally:
            await js.delete_key_value("mirror1")
    finally:
        await js.delete_key_value("origin1")


async def test_a_sourcing_bucket_gets_the_origin_keys_as_its_own(js: JetStreamContext) -> None:
    origin = await js.create_key_value(bucket="origin2")
    try:
        await origin.put("a", b"1")
        agg = await js.create_key_value(bucket="agg2", sources=[StreamSource(name="origin2")])
        try:
            await eventually(lambda: _is(agg, "a", b"1"), 10, what="sourced")
            await origin.put("b", b"2")
            await eventually(lambda: _is(agg, "b", b"2"), 10, what="sourced later")
            await agg.put("own", b"3")  # a sourcing bucket has subjects of its own
            assert (await agg.get("own")).value == b"3"
            with pytest.raises(errors.KeyNotFoundError):
                await origin.get("own")  # it stays in the sourcing bucket
        finally:
            await js.delete_key_value("agg2")
    finally:
        await js.delete_key_value("origin2")


async def _is(kv: KeyValue, key: str, value: bytes) -> bool:
    return await _value(kv, key) == value
