"""The Key-Value store's and Object Store's calls have nats-py 2.16's signatures:
parameter names, kinds and defaults (annotations aside)."""

from __future__ import annotations

import inspect
from typing import Any

import nats.js.client as nats_client
import nats.js.kv as nats_kv
import nats.js.object_store as nats_object_store
import pytest

from natswire.jetstream import JetStreamContext
from natswire.jetstream.kv import KeyValue
from natswire.jetstream.kv_watch import KeyWatcher
from natswire.jetstream.object_store import ObjectStore

CALLS: list[tuple[Any, Any, str]] = [
    *(
        (nats_client.JetStreamContext, JetStreamContext, name)
        for name in (
            "key_value",
            "create_key_value",
            "delete_key_value",
            "object_store",
            "create_object_store",
            "delete_object_store",
        )
    ),
    *(
        (nats_kv.KeyValue, KeyValue, name)
        for name in (
            "get",
            "put",
            "create",
            "update",
            "delete",
            "purge",
            "purge_deletes",
            "status",
            "watch",
            "watchall",
            "keys",
            "history",
        )
    ),
    *((nats_kv.KeyValue.KeyWatcher, KeyWatcher, name) for name in ("stop", "updates")),
    *(
        (nats_object_store.ObjectStore, ObjectStore, name)
        for name in (
            "get_info",
            "get",
            "put",
            "status",
            "seal",
            "update_meta",
            "watch",
            "delete",
            "list",
        )
    ),
]


def shape(func: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(func).parameters.values()]


@pytest.mark.parametrize(
    ("theirs", "ours", "name"), CALLS, ids=[f"{c[1].__name__}.{c[2]}" for c in CALLS]
)
def test_signature_matches_nats_py(theirs: Any, ours: Any, name: str) -> None:
    assert shape(getattr(ours, name)) == shape(getattr(theirs, name))


def test_nested_names_as_nats_py() -> None:
    assert KeyValue.Entry is not None and KeyValue.BucketStatus is not None
    assert KeyValue.KeyWatcher is KeyWatcher
    for name in ("ObjectResult", "ObjectStoreStatus", "ObjectWatcher"):
        assert isinstance(getattr(ObjectStore, name), type)
