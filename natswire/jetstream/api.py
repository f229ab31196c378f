"""JetStream API objects: configurations and the server's answers, as dataclasses.

Field names are the server's JSON keys (and nats-py's attribute names). Durations are
seconds (``float``) on the Python side and nanoseconds on the wire. Fields the server
sends that a dataclass does not know are kept in ``extra`` and sent back by
:meth:`Base.as_request`, so a configuration read from a newer server survives an
update made by this client.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from ..protocol.headers import Headers

_NANOS = 1_000_000_000

B = TypeVar("B", bound="Base")
_FIELD_NAMES: dict[type, frozenset[str]] = {}
_REQUIRED_NAMES: dict[type, tuple[str, ...]] = {}


class Header(str, enum.Enum):
    """Header names JetStream reads or writes."""

    MSG_ID = "Nats-Msg-Id"
    EXPECTED_STREAM = "Nats-Expected-Stream"
    EXPECTED_LAST_SEQUENCE = "Nats-Expected-Last-Sequence"
    EXPECTED_LAST_SUBJECT_SEQUENCE = "Nats-Expected-Last-Subject-Sequence"
    EXPECTED_LAST_MSG_ID = "Nats-Expected-Last-Msg-Id"
    MSG_TTL = "Nats-TTL"
    ROLLUP = "Nats-Rollup"
    LAST_CONSUMER = "Nats-Last-Consumer"
    LAST_STREAM = "Nats-Last-Stream"
    CONSUMER_STALLED = "Nats-Consumer-Stalled"
    PENDING_MESSAGES = "Nats-Pending-Messages"
    PENDING_BYTES = "Nats-Pending-Bytes"
    STREAM = "Nats-Stream"
    SUBJECT = "Nats-Subject"
    SEQUENCE = "Nats-Sequence"
    TIME_STAMP = "Nats-Time-Stamp"


class RetentionPolicy(str, enum.Enum):
    LIMITS = "limits"
    INTEREST = "interest"
    WORK_QUEUE = "workqueue"


class StorageType(str, enum.Enum):
    FILE = "file"
    MEMORY = "memory"


class DiscardPolicy(str, enum.Enum):
    OLD = "old"
    NEW = "new"


class StoreCompression(str, enum.Enum):
    NONE = "none"
    S2 = "s2"


class AckPolicy(str, enum.Enum):
    NONE = "none"
    ALL = "all"
    EXPLICIT = "explicit"


class DeliverPolicy(str, enum.Enum):
    ALL = "all"
    LAST = "last"
    NEW = "new"
    BY_START_SEQUENCE = "by_start_sequence"
    BY_START_TIME = "by_start_time"
    LAST_PER_SUBJECT = "last_per_subject"


class ReplayPolicy(str, enum.Enum):
    INSTANT = "instant"
    ORIGINAL = "original"


def _to_nanos(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return round(value * _NANOS)


def _from_nanos(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    return value / _NANOS


def _encode_time(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        value = value.astimezone(datetime.timezone.utc)
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


@dataclass
class Base:
    """Conversion between a dataclass and the server's JSON."""

    #: Fields in seconds here and nanoseconds on the wire (lists are converted item-wise).
    duration_fields: ClassVar[frozenset[str]] = frozenset()
    #: Fields holding another :class:`Base` (or a list of them).
    _nested: ClassVar[dict[str, type[Base]]] = {}
    #: Fields holding an enum; a value this client does not know stays a plain string.
    _enums: ClassVar[dict[str, type[enum.Enum]]] = {}
    #: Fields holding a time, sent as RFC 3339 when given a ``datetime``.
    time_fields: ClassVar[frozenset[str]] = frozenset()

    #: Fields the server sent that this class does not know, sent back unchanged.
    extra: dict[str, Any] = field(default_factory=dict, kw_only=True, repr=False, compare=False)

    @classmethod
    def _field_names(cls) -> frozenset[str]:
        names = _FIELD_NAMES.get(cls)
        if names is None:
            names = frozenset(f.name for f in dataclasses.fields(cls) if f.name != "extra")
            _FIELD_NAMES[cls] = names
        return names

    @classmethod
    def _required_names(cls) -> tuple[str, ...]:
        """Fields without a default: set to ``None`` when the server leaves them out."""
        names = _REQUIRED_NAMES.get(cls)
        if names is None:
            names = tuple(
                f.name
                for f in dataclasses.fields(cls)
                if f.name != "extra"
                and f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING
            )
            _REQUIRED_NAMES[cls] = names
        return names

    @classmethod
    def from_response(cls: type[B], data: dict[str, Any]) -> B:
        """Build from the server's JSON object; unknown keys go to ``extra``."""
        names = cls._field_names()
        known: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            if key not in names:
                extra[key] = value
                continue
            if value is not None:
                if key in cls.duration_fields:
                    value = (
                        [_from_nanos(v) for v in value]
                        if isinstance(value, list)
                        else _from_nanos(value)
                    )
                elif key in cls._nested:
                    nested = cls._nested[key]
                    if isinstance(value, list):
                        value = [
                            nested.from_response(v) if isinstance(v, dict) else v for v in value
                        ]
                    elif isinstance(value, dict):
                        value = nested.from_response(value)
                elif key in cls._enums:
                    with contextlib.suppress(ValueError):
                        value = cls._enums[key](value)
            known[key] = value
        for name in cls._required_names():
            if name not in known:
                known[name] = None
        obj = cls(**known)
        obj.extra = extra
        return obj

    def as_request(self) -> dict[str, Any]:
        """The JSON object to send: fields that are not ``None``, plus ``extra``."""
        out: dict[str, Any] = dict(self.extra)
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if value is None:
                continue
            out[f.name] = _encode_value(self, f.name, value)
        return out

    def evolve(self: B, **changes: Any) -> B:
        """A copy with ``changes`` applied (nats-py's name)."""
        unknown = set(changes) - self._field_names() - {"extra"}
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(sorted(unknown))}")
        copy = dataclasses.replace(self, **changes)
        if "extra" not in changes:
            copy.extra = dict(self.extra)
        return copy


def _encode_value(obj: Base, name: str, value: Any) -> Any:
    if isinstance(value, Base):
        return value.as_request()
    if isinstance(value, enum.Enum):
        return value.value
    if name in obj.duration_fields:
        return [_to_nanos(v) for v in value] if isinstance(value, list) else _to_nanos(value)
    if name in obj.time_fields:
        return _encode_time(value)
    if isinstance(value, list):
        return [v.as_request() if isinstance(v, Base) else v for v in value]
    return value


# ---------------------------------------------------------------------- streams


@dataclass
class Placement(Base):
    cluster: str | None = None
    tags: list[str] | None = None


@dataclass
class ExternalStream(Base):
    api: str | None = None
    deliver: str | None = None


@dataclass
class SubjectTransform(Base):
    src: str | None = None
    dest: str | None = None


@dataclass
class StreamSource(Base):
    name: str | None = None
    opt_start_seq: int | None = None
    opt_start_time: datetime.datetime | str | None = None
    filter_subject: str | None = None
    external: ExternalStream | None = None
    subject_transforms: list[SubjectTransform] | None = None

    _nested: ClassVar[dict[str, type[Base]]] = {
        "external": ExternalStream,
        "subject_transforms": SubjectTransform,
    }
    time_fields: ClassVar[frozenset[str]] = frozenset({"opt_start_time"})


@dataclass
class RePublish(Base):
    src: str | None = None
    dest: str | None = None
    headers_only: bool | None = None


@dataclass
class StreamConsumerLimits(Base):
    inactive_threshold: float | None = None
    max_ack_pending: int | None = None

    duration_fields: ClassVar[frozenset[str]] = frozenset({"inactive_threshold"})


@dataclass
class StreamConfig(Base):
    """A stream's configuration. Durations (``max_age``, ``duplicate_window``) in seconds."""

    name: str | None = None
    description: str | None = None
    subjects: list[str] | None = None
    retention: RetentionPolicy | None = None
    max_consumers: int | None = None
    max_msgs: int | None = None
    max_bytes: int | None = None
    discard: DiscardPolicy | None = None
    discard_new_per_subject: bool | None = None
    max_age: float | None = None
    max_msgs_per_subject: int | None = None
    max_msg_size: int | None = None
    storage: StorageType | None = None
    num_replicas: int | None = None
    no_ack: bool | None = None
    duplicate_window: float | None = None
    placement: Placement | None = None
    mirror: StreamSource | None = None
    sources: list[StreamSource] | None = None
    sealed: bool | None = None
    deny_delete: bool | None = None
    deny_purge: bool | None = None
    allow_rollup_hdrs: bool | None = None
    allow_direct: bool | None = None
    mirror_direct: bool | None = None
    republish: RePublish | None = None
    subject_transform: SubjectTransform | None = None
    compression: StoreCompression | None = None
    first_seq: int | None = None
    allow_msg_ttl: bool | None = None
    subject_delete_marker_ttl: float | None = None
    consumer_limits: StreamConsumerLimits | None = None
    metadata: dict[str, str] | None = None

    duration_fields: ClassVar[frozenset[str]] = frozenset(
        {"max_age", "duplicate_window", "subject_delete_marker_ttl"}
    )
    _nested: ClassVar[dict[str, type[Base]]] = {
        "placement": Placement,
        "mirror": StreamSource,
        "sources": StreamSource,
        "republish": RePublish,
        "subject_transform": SubjectTransform,
        "consumer_limits": StreamConsumerLimits,
    }
    _enums: ClassVar[dict[str, type[enum.Enum]]] = {
        "retention": RetentionPolicy,
        "discard": DiscardPolicy,
        "storage": StorageType,
        "compression": StoreCompression,
    }


@dataclass
class StreamState(Base):
    messages: int = 0
    bytes: int = 0
    first_seq: int = 0
    last_seq: int = 0
    consumer_count: int = 0
    first_ts: str | None = None
    last_ts: str | None = None
    deleted: list[int] | None = None
    num_deleted: int | None = None
    num_subjects: int | None = None
    subjects: dict[str, int] | None = None


@dataclass
class PeerInfo(Base):
    name: str | None = None
    current: bool | None = None
    offline: bool | None = None
    active: int | None = None
    lag: int | None = None


@dataclass
class ClusterInfo(Base):
    name: str | None = None
    leader: str | None = None
    replicas: list[PeerInfo] | None = None
    raft_group: str | None = None

    _nested: ClassVar[dict[str, type[Base]]] = {"replicas": PeerInfo}


@dataclass
class StreamSourceInfo(Base):
    name: str | None = None
    lag: int | None = None
    active: int | None = None
    error: dict[str, Any] | None = None


@dataclass
class StreamInfo(Base):
    config: StreamConfig
    state: StreamState
    created: str | None = None
    ts: str | None = None
    cluster: ClusterInfo | None = None
    mirror: StreamSourceInfo | None = None
    sources: list[StreamSourceInfo] | None = None
    did_create: bool | None = None

    _nested: ClassVar[dict[str, type[Base]]] = {
        "config": StreamConfig,
        "state": StreamState,
        "cluster": ClusterInfo,
        "mirror": StreamSourceInfo,
        "sources": StreamSourceInfo,
    }


# -------------------------------------------------------------------- consumers


@dataclass
class ConsumerConfig(Base):
    """A consumer's configuration. Durations (``ack_wait``, ``backoff``,
    ``inactive_threshold``, ``idle_heartbeat``, ``max_expires``) in seconds."""

    name: str | None = None
    durable_name: str | None = None
    description: str | None = None
    deliver_policy: DeliverPolicy | None = None
    opt_start_seq: int | None = None
    opt_start_time: datetime.datetime | str | None = None
    ack_policy: AckPolicy | None = AckPolicy.EXPLICIT
    ack_wait: float | None = None
    max_deliver: int | None = None
    backoff: list[float] | None = None
    filter_subject: str | None = None
    filter_subjects: list[str] | None = None
    replay_policy: ReplayPolicy | None = None
    rate_limit_bps: int | None = None
    sample_freq: str | None = None
    max_waiting: int | None = None
    max_ack_pending: int | None = None
    flow_control: bool | None = None
    idle_heartbeat: float | None = None
    headers_only: bool | None = None
    max_batch: int | None = None
    max_expires: float | None = None
    max_bytes: int | None = None
    deliver_subject: str | None = None
    deliver_group: str | None = None
    inactive_threshold: float | None = None
    num_replicas: int | None = None
    mem_storage: bool | None = None
    metadata: dict[str, str] | None = None

    duration_fields: ClassVar[frozenset[str]] = frozenset(
        {"ack_wait", "backoff", "idle_heartbeat", "inactive_threshold", "max_expires"}
    )
    _enums: ClassVar[dict[str, type[enum.Enum]]] = {
        "deliver_policy": DeliverPolicy,
        "ack_policy": AckPolicy,
        "replay_policy": ReplayPolicy,
    }
    time_fields: ClassVar[frozenset[str]] = frozenset({"opt_start_time"})


@dataclass
class SequenceInfo(Base):
    consumer_seq: int = 0
    stream_seq: int = 0
    last_active: str | None = None


@dataclass
class ConsumerInfo(Base):
    name: str
    stream_name: str
    config: ConsumerConfig
    created: str | None = None
    ts: str | None = None
    delivered: SequenceInfo | None = None
    ack_floor: SequenceInfo | None = None
    num_ack_pending: int = 0
    num_redelivered: int = 0
    num_waiting: int = 0
    num_pending: int = 0
    cluster: ClusterInfo | None = None
    push_bound: bool | None = None

    _nested: ClassVar[dict[str, type[Base]]] = {
        "config": ConsumerConfig,
        "delivered": SequenceInfo,
        "ack_floor": SequenceInfo,
        "cluster": ClusterInfo,
    }


# ---------------------------------------------------------------------- account


@dataclass
class AccountLimits(Base):
    max_memory: int = 0
    max_storage: int = 0
    max_streams: int = 0
    max_consumers: int = 0
    max_ack_pending: int | None = None
    memory_max_stream_bytes: int | None = None
    storage_max_stream_bytes: int | None = None
    max_bytes_required: bool | None = None


@dataclass
class APIStats(Base):
    total: int = 0
    errors: int = 0
    level: int | None = None


@dataclass
class AccountInfo(Base):
    memory: int = 0
    storage: int = 0
    streams: int = 0
    consumers: int = 0
    limits: AccountLimits | None = None
    api: APIStats | None = None
    domain: str | None = None

    _nested: ClassVar[dict[str, type[Base]]] = {"limits": AccountLimits, "api": APIStats}


# ---------------------------------------------------------------------- publish


@dataclass
class PubAck(Base):
    """The stream's answer to a publish: where the message was stored."""

    stream: str
    seq: int
    duplicate: bool = False
    domain: str | None = None


@dataclass
class RawStreamMsg(Base):
    """A message read directly from a stream (``get_msg``)."""

    subject: str | None = None
    seq: int | None = None
    data: bytes = b""
    headers: Headers | None = None
    time: str | None = None
    stream: str | None = None


__all__ = [
    "APIStats",
    "AccountInfo",
    "AccountLimits",
    "AckPolicy",
    "Base",
    "ClusterInfo",
    "ConsumerConfig",
    "ConsumerInfo",
    "DeliverPolicy",
    "DiscardPolicy",
    "ExternalStream",
    "Header",
    "PeerInfo",
    "Placement",
    "PubAck",
    "RawStreamMsg",
    "RePublish",
    "ReplayPolicy",
    "RetentionPolicy",
    "SequenceInfo",
    "StorageType",
    "StoreCompression",
    "StreamConfig",
    "StreamConsumerLimits",
    "StreamInfo",
    "StreamSource",
    "StreamSourceInfo",
    "StreamState",
    "SubjectTransform",
]


# ----------------------------------------------- consumer pause (push/ordered work)


@dataclass
class ConsumerPause(Base):
    """A consumer's pause state after ``pause_consumer`` or ``resume_consumer``
    (nats-server 2.11+). ``pause_until`` is the RFC 3339 time the server echoes,
    ``pause_remaining`` the seconds left."""

    paused: bool = False
    pause_until: str | None = None
    pause_remaining: float | None = None

    duration_fields: ClassVar[frozenset[str]] = frozenset({"pause_remaining"})


__all__ += ["ConsumerPause"]
from .kv_api import (  # noqa: E402, F401
    KeyValueConfig,
    ObjectInfo,
    ObjectLink,
    ObjectMeta,
    ObjectMetaOptions,
    ObjectStoreConfig,
)
