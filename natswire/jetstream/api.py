"""JetStream API objects: configurations and the server's answers, as dataclasses.

Field names are the server's JSON keys (and nats-py's attribute names). Durations are
seconds (``float``) on the Python side and nanoseconds on the wire. Fields the server
sends that a dataclass does not know are kept in ``extra`` and sent back by
:meth:`Base.as_request`, so a configuration read from a newer server survives an
update made by this client.
"""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..protocol.headers import Headers
from .apibase import Base, parse_time


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
    #: Atomic batch publish (nats-server 2.12, ADR-50).
    BATCH_ID = "Nats-Batch-Id"
    BATCH_SEQUENCE = "Nats-Batch-Sequence"
    BATCH_COMMIT = "Nats-Batch-Commit"
    #: A message counter's increment, as ``"+5"`` or ``"-2"`` (nats-server 2.12, ADR-49).
    INCR = "Nats-Incr"
    COUNTER_SOURCES = "Nats-Counter-Sources"


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


class PersistMode(str, enum.Enum):
    """How a stream persists writes (nats-server 2.12, ADR-56)."""

    DEFAULT = "default"
    ASYNC = "async"


class AckPolicy(str, enum.Enum):
    NONE = "none"
    ALL = "all"
    EXPLICIT = "explicit"
    #: The durable push consumer a stream sources from (nats-server 2.14, ADR-60): the
    #: sourcing stream's flow-control replies ack it.
    FLOW_CONTROL = "flow_control"


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
class StreamConsumerSource(Base):
    """The durable push consumer a source or mirror reads through (nats-server 2.14,
    ADR-60), made beforehand on the sourced stream with ``ack_policy=FLOW_CONTROL``,
    ``flow_control``, ``idle_heartbeat`` and ``deliver_subject``."""

    name: str | None = None
    deliver_subject: str | None = None


@dataclass
class StreamSource(Base):
    """A stream to source or mirror from. With ``consumer``, the server reads through
    that consumer instead of one it makes itself (then the start and filter belong to
    the consumer's configuration, not here)."""

    name: str | None = None
    opt_start_seq: int | None = None
    opt_start_time: datetime.datetime | str | None = None
    filter_subject: str | None = None
    external: ExternalStream | None = None
    subject_transforms: list[SubjectTransform] | None = None
    consumer: StreamConsumerSource | None = None

    _nested: ClassVar[dict[str, type[Base]]] = {
        "external": ExternalStream,
        "subject_transforms": SubjectTransform,
        "consumer": StreamConsumerSource,
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
    template_owner: str | None = None
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
    #: nats-server 2.12: atomic batch publish, scheduled messages, persistence.
    allow_atomic: bool | None = None
    allow_batched: bool | None = None
    allow_msg_schedules: bool | None = None
    persist_mode: PersistMode | None = None
    #: nats-server 2.12 (ADR-49): every subject is a counter, published with ``Nats-Incr``.
    allow_msg_counter: bool | None = None

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
        "persist_mode": PersistMode,
    }

    def as_request(self) -> dict[str, Any]:
        """As :meth:`Base.as_request`, after nats-py's checks: a known compression and
        metadata as a mapping raise ``ValueError`` here, before anything is sent."""
        if self.compression is not None and self.compression not in (
            StoreCompression.NONE,
            StoreCompression.S2,
        ):
            raise ValueError(f"invalid store compression type: {self.compression!r}")
        if self.metadata is not None and not isinstance(self.metadata, dict):
            raise ValueError(f"invalid metadata format: {self.metadata!r}")
        return super().as_request()


@dataclass
class LostStreamData(Base):
    """Messages the server found missing from its store when it started (a damaged or
    missing block): their sequences and how many bytes they held."""

    msgs: list[int] | None = None
    bytes: int | None = None


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
    #: Filled when ``stream_info`` is asked for ``deleted_details`` and data was lost.
    lost: LostStreamData | None = None

    _nested: ClassVar[dict[str, type[Base]]] = {"lost": LostStreamData}


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
    leader_since: datetime.datetime | None = None
    traffic_acc: str | None = None

    _nested: ClassVar[dict[str, type[Base]]] = {"replicas": PeerInfo}
    time_fields: ClassVar[frozenset[str]] = frozenset({"leader_since"})


@dataclass
class StreamSourceInfo(Base):
    name: str | None = None
    lag: int | None = None
    active: int | None = None
    error: dict[str, Any] | None = None


@dataclass
class StreamInfo(Base):
    """A stream's configuration and state; equal when both are (the response time
    ``ts`` is left out of the comparison, as nats-py has none)."""

    config: StreamConfig
    state: StreamState
    created: datetime.datetime | None = None
    ts: datetime.datetime | None = field(default=None, compare=False)
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
    time_fields: ClassVar[frozenset[str]] = frozenset({"created", "ts"})


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
    pause_until: str | None = None

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
    last_active: datetime.datetime | None = None

    time_fields: ClassVar[frozenset[str]] = frozenset({"last_active"})


@dataclass
class ConsumerInfo(Base):
    """A consumer's configuration and state; the response time ``ts`` is left out of
    the comparison, as nats-py has none."""

    name: str
    stream_name: str
    config: ConsumerConfig
    created: datetime.datetime | None = None
    ts: datetime.datetime | None = field(default=None, compare=False)
    delivered: SequenceInfo | None = None
    ack_floor: SequenceInfo | None = None
    num_ack_pending: int = 0
    num_redelivered: int = 0
    num_waiting: int = 0
    num_pending: int = 0
    cluster: ClusterInfo | None = None
    push_bound: bool | None = None
    paused: bool | None = None
    pause_remaining: float | None = None

    duration_fields: ClassVar[frozenset[str]] = frozenset({"pause_remaining"})
    _nested: ClassVar[dict[str, type[Base]]] = {
        "config": ConsumerConfig,
        "delivered": SequenceInfo,
        "ack_floor": SequenceInfo,
        "cluster": ClusterInfo,
    }
    time_fields: ClassVar[frozenset[str]] = frozenset({"created", "ts"})


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
class Tier(Base):
    """An account's usage and limits in one JetStream tier (``R1``, ``R3`` ...)."""

    memory: int = 0
    storage: int = 0
    streams: int = 0
    consumers: int = 0
    limits: AccountLimits | None = None

    _nested: ClassVar[dict[str, type[Base]]] = {"limits": AccountLimits}


@dataclass
class AccountInfo(Base):
    memory: int = 0
    storage: int = 0
    streams: int = 0
    consumers: int = 0
    limits: AccountLimits | None = None
    api: APIStats | None = None
    domain: str | None = None
    #: Usage per tier, when the account has tiered limits.
    tiers: dict[str, Tier] | None = None

    _nested: ClassVar[dict[str, type[Base]]] = {"limits": AccountLimits, "api": APIStats}

    @classmethod
    def from_response(cls, data: dict[str, Any]) -> AccountInfo:
        tiers = data.get("tiers")
        info = super().from_response({k: v for k, v in data.items() if k != "tiers"})
        if isinstance(tiers, dict):
            info.tiers = {
                name: Tier.from_response(tier)
                for name, tier in tiers.items()
                if isinstance(tier, dict)
            }
        return info


# ---------------------------------------------------------------------- publish


@dataclass
class PubAck(Base):
    """The stream's answer to a publish: where the message was stored.

    The commit of an atomic batch also names the batch (``batch_id``) and how many
    messages it stored (``batch_size``); a publish to a counter stream carries the
    counter's new value as the server's text (``val``; ``int(ack.val)``), as nats-py.
    """

    stream: str
    seq: int
    duplicate: bool = False
    domain: str | None = None
    batch_id: str | None = None
    batch_size: int | None = None
    val: str | None = None

    #: The server's JSON keys of the batch fields (ADR-50), as nats-py maps them.
    _wire_names: ClassVar[dict[str, str]] = {"batch": "batch_id", "count": "batch_size"}

    @classmethod
    def from_response(cls, data: dict[str, Any]) -> PubAck:
        renamed = {cls._wire_names.get(key, key): value for key, value in data.items()}
        return super().from_response(renamed)

    def as_request(self) -> dict[str, Any]:
        out = super().as_request()
        for wire, python in self._wire_names.items():
            if python in out:
                out[wire] = out.pop(python)
        return out


@dataclass
class RawStreamMsg(Base):
    """A message read directly from a stream (``get_msg``). ``headers`` are parsed;
    ``hdrs`` is the header block base64-encoded, as the ``STREAM.MSG.GET`` answer
    carries it (as nats-py keeps it; ``None`` after a Direct Get, as in nats-py)."""

    subject: str | None = None
    seq: int | None = None
    data: bytes = b""
    headers: Headers | None = None
    time: datetime.datetime | None = None
    stream: str | None = None
    hdrs: str | None = None

    time_fields: ClassVar[frozenset[str]] = frozenset({"time"})

    def __post_init__(self) -> None:
        # get_msg builds it from the server's answer: its time is RFC 3339 text.
        self.time = parse_time(self.time)


__all__ = [
    "APIStats",
    "AccountInfo",
    "AccountLimits",
    "AckPolicy",
    "Base",
    "ClusterInfo",
    "ConsumerConfig",
    "ConsumerInfo",
    "ConsumerPause",
    "ConsumerReset",
    "DeliverPolicy",
    "DiscardPolicy",
    "ExternalStream",
    "Header",
    "KeyValueConfig",
    "LostStreamData",
    "ObjectStoreConfig",
    "PeerInfo",
    "PersistMode",
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
    "StreamConsumerSource",
    "StreamInfo",
    "StreamPurgeRequest",
    "StreamSource",
    "StreamSourceInfo",
    "StreamState",
    "StreamsListIterator",
    "SubjectTransform",
    "Tier",
    "parse_time",
]


# The answers and requests of single operations, and the Key-Value and Object Store
# configurations, live in their own modules.
from .api_ops import (  # noqa: E402
    ConsumerPause,
    ConsumerReset,
    StreamPurgeRequest,
    StreamsListIterator,
)
from .kv_api import (  # noqa: E402, F401
    KeyValueConfig,
    ObjectInfo,
    ObjectLink,
    ObjectMeta,
    ObjectMetaOptions,
    ObjectStoreConfig,
)
