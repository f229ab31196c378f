"""Random sequences of put/create/update/delete/purge against a real bucket and a
dictionary model give the same visible values, errors, keys and history."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import natswire
from natswire import errors
from natswire.jetstream.kv import KeyValue
from natswire.server import NatsServer

HISTORY = 3
KEYS = ("a", "b", "c.d")
_buckets = itertools.count(1)

operations = st.lists(
    st.tuples(
        st.sampled_from(["put", "create", "update", "update_stale", "delete", "purge"]),
        st.sampled_from(KEYS),
        st.binary(min_size=1, max_size=8),
    ),
    min_size=1,
    max_size=25,
)


@dataclass
class Model:
    """Each key's revisions, newest last: ``(revision, operation, value)``."""

    revisions: dict[str, list[tuple[int, str | None, bytes]]] = field(default_factory=dict)
    last: int = 0

    def _append(self, key: str, op: str | None, value: bytes) -> int:
        self.last += 1
        kept = self.revisions.setdefault(key, [])
        kept.append((self.last, op, value))
        del kept[:-HISTORY]
        return self.last

    def last_revision(self, key: str) -> int:
        kept = self.revisions.get(key)
        return kept[-1][0] if kept else 0

    def value(self, key: str) -> bytes | None:
        kept = self.revisions.get(key)
        if not kept or kept[-1][1] is not None:
            return None
        return kept[-1][2]

    def apply(self, op: str, key: str, value: bytes) -> int | str:
        """The revision written, or the name of the error expected."""
        if op == "put":
            return self._append(key, None, value)
        if op == "create":
            if self.value(key) is not None:
                return "KeyWrongLastSequenceError"
            return self._append(key, None, value)
        if op == "update":
            return self._append(key, None, value)
        if op == "update_stale":
            return "KeyWrongLastSequenceError"
        if op == "delete":
            return self._append(key, "DEL", b"")
        self.last += 1
        self.revisions[key] = [(self.last, "PURGE", b"")]
        return self.last


async def run(kv: KeyValue, model: Model, op: str, key: str, value: bytes) -> int | str:
    try:
        if op == "put":
            return await kv.put(key, value)
        if op == "create":
            return await kv.create(key, value)
        if op == "update":
            return await kv.update(key, value, last=model.last_revision(key))
        if op == "update_stale":
            return await kv.update(key, value, last=model.last_revision(key) + 1000)
        if op == "delete":
            await kv.delete(key)
        else:
            await kv.purge(key)
        return model.last + 1
    except errors.KeyWrongLastSequenceError:
        return "KeyWrongLastSequenceError"


async def check_sequence(server: NatsServer, steps: list[tuple[str, str, bytes]]) -> None:
    nc = await natswire.connect(server.url)
    js = nc.jetstream(timeout=2.0)
    bucket = f"model{next(_buckets)}"
    kv = await js.create_key_value(bucket=bucket, history=HISTORY)
    try:
        model = Model()
        for op, key, value in steps:
            expected_last = model.last
            got = await run(kv, model, op, key, value)
            expected = model.apply(op, key, value)
            assert got == expected, (op, key, got, expected, expected_last)
        for key in KEYS:
            want = model.value(key)
            try:
                entry = await kv.get(key)
            except errors.KeyNotFoundError:
                assert want is None, key
            else:
                assert (entry.value, entry.revision) == (want, model.last_revision(key))
            if key in model.revisions:
                history = [(e.revision, e.operation, e.value) for e in await kv.history(key)]
                assert history == model.revisions[key], key
        live = sorted(k for k in KEYS if model.value(k) is not None)
        try:
            keys = sorted(await kv.keys())
        except errors.NoKeysError:
            keys = []
        assert keys == live
    finally:
        await js.delete_key_value(bucket)
        await nc.close()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=operations)
def test_bucket_matches_a_dictionary_model(
    server: NatsServer, steps: list[tuple[str, str, bytes]]
) -> None:
    asyncio.run(check_sequence(server, steps))
