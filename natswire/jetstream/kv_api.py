"""The Key-Value store's and Object Store's configurations (nats-py's names and fields)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from .api import Base, Placement, RePublish, StorageType, StreamInfo, StreamSource

#: A bucket name nats.go and nats-py accept.
VALID_BUCKET_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
#: A key nats.go and nats-py accept (no leading or trailing dot).
VALID_KEY_RE = re.compile(r"^[-/_=\.a-zA-Z0-9]+$")

#: The most revisions a Key-Value bucket keeps per key.
KV_MAX_HISTORY = 64


def is_valid_key(key: str) -> bool:
    """Whether ``key`` is a valid Key-Value key (nats.go's rule)."""
    return (
        bool(key) and key[0] != "." and key[-1] != "." and VALID_KEY_RE.fullmatch(key) is not None
    )


@dataclass
class KeyValueConfig(Base):
    """A Key-Value bucket's configuration: ``ttl`` in seconds, ``history`` revisions per
    key (1..64); ``mirror``/``sources`` make it a mirror or an aggregate of buckets."""

    bucket: str
    description: str | None = None
    max_value_size: int | None = None
    history: int = 1
    ttl: float | None = None
    max_bytes: int | None = None
    storage: StorageType | None = None
    replicas: int = 1
    placement: Placement | None = None
    republish: RePublish | None = None
    direct: bool | None = None
    limit_marker_ttl: float | None = None
    mirror: StreamSource | None = None
    sources: list[StreamSource] | None = None

    duration_fields: ClassVar[frozenset[str]] = frozenset({"ttl", "limit_marker_ttl"})
    _nested: ClassVar[dict[str, type[Base]]] = {
        "placement": Placement,
        "republish": RePublish,
        "mirror": StreamSource,
        "sources": StreamSource,
    }
    _enums: ClassVar[dict[str, type[enum.Enum]]] = {"storage": StorageType}

    def as_dict(self) -> dict[str, Any]:
        """nats-py's name for :meth:`as_request`."""
        return self.as_request()


@dataclass
class ObjectStoreConfig(Base):
    """An Object Store bucket's configuration (``ttl`` in seconds)."""

    bucket: str | None = None
    description: str | None = None
    ttl: float | None = None
    max_bytes: int | None = None
    storage: StorageType | None = None
    replicas: int = 1
    placement: Placement | None = None

    duration_fields: ClassVar[frozenset[str]] = frozenset({"ttl"})
    _nested: ClassVar[dict[str, type[Base]]] = {"placement": Placement}
    _enums: ClassVar[dict[str, type[enum.Enum]]] = {"storage": StorageType}

    def as_dict(self) -> dict[str, Any]:
        """nats-py's name for :meth:`as_request`."""
        return self.as_request()


@dataclass(frozen=True)
class BucketStatus:
    """A bucket's state and configuration (nats-py's ``KeyValue.BucketStatus``)."""

    stream_info: StreamInfo
    bucket: str

    @property
    def values(self) -> int:
        """The revisions stored (values and markers)."""
        return self.stream_info.state.messages

    @property
    def history(self) -> int:
        """Revisions kept per key."""
        return self.stream_info.config.max_msgs_per_subject or 0

    @property
    def ttl(self) -> float | None:
        """How long a revision is kept, in seconds (``None``: forever)."""
        return self.stream_info.config.max_age

    @property
    def marker_ttl(self) -> float | None:
        """How long the server's delete markers are kept, in seconds."""
        return self.stream_info.config.subject_delete_marker_ttl


# ------------------------------------------------------------------ objects


@dataclass
class ObjectLink(Base):
    """A link to another bucket (``name`` ``None``) or to one object in it."""

    bucket: str
    name: str | None = None


@dataclass
class ObjectMetaOptions(Base):
    """An object's options: a link, or the chunk size it was written with."""

    link: ObjectLink | None = None
    max_chunk_size: int | None = None

    _nested: ClassVar[dict[str, type[Base]]] = {"link": ObjectLink}


@dataclass
class ObjectMeta(Base):
    """What a writer says about an object: name, description, headers, options."""

    name: str | None = None
    description: str | None = None
    headers: dict[str, Any] | None = None
    options: ObjectMetaOptions | None = None

    _nested: ClassVar[dict[str, type[Base]]] = {"options": ObjectMetaOptions}


@dataclass
class ObjectInfo(Base):
    """An object's metadata as stored on ``$O.<bucket>.M.<base64url name>``: its meta
    plus the chunks' ``nuid``, ``size``, ``chunks`` and ``digest`` (``SHA-256=`` and
    the base64url SHA-256 of the content)."""

    name: str
    bucket: str
    nuid: str
    size: int | None = None
    mtime: str | None = None
    chunks: int | None = None
    digest: str | None = None
    deleted: bool | None = False
    description: str | None = None
    headers: dict[str, Any] | None = None
    options: ObjectMetaOptions | None = None

    _nested: ClassVar[dict[str, type[Base]]] = {"options": ObjectMetaOptions}

    @property
    def meta(self) -> ObjectMeta:
        return ObjectMeta(self.name, self.description, self.headers, self.options)

    def is_link(self) -> bool:
        """Whether this object is a link to another object or bucket."""
        return self.options is not None and self.options.link is not None

    def as_dict(self) -> dict[str, Any]:
        """nats-py's name for :meth:`as_request`."""
        return self.as_request()


__all__ = [
    "BucketStatus",
    "KeyValueConfig",
    "ObjectInfo",
    "ObjectLink",
    "ObjectMeta",
    "ObjectMetaOptions",
    "ObjectStoreConfig",
    "is_valid_key",
]
