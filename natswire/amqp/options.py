"""The adapter's options: one frozen object instead of a row of keywords.

:func:`natswire.amqp.connect` builds an :class:`AmqpOptions` from its keywords and the
configuration mapping (keywords win), and passes the rest of its keywords to the NATS
client as :class:`natswire.ConnectOptions` fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..jetstream.api import StorageType
from .names import SubjectMap

#: How long the main stream keeps a message by default: 28 days, Wire's notification TTL.
DEFAULT_MAX_AGE = 28 * 86400.0

#: A hook: a plain or coroutine function.
Hook = Callable[..., Any]


#: How long a consumer's pull request waits when the server reports what drops it early.
LASTING_PULL_EXPIRES = 600.0
#: How long it waits otherwise (streams with one replica on a cluster).
SHORT_PULL_EXPIRES = 30.0


def pull_expires_for(clustered: bool, replicas: int) -> float:
    """The default ``pull_expires``: :data:`SHORT_PULL_EXPIRES` for streams with one
    replica on a cluster (their consumers have no leader elections, so no advisory
    says when a node restart dropped the requests), else :data:`LASTING_PULL_EXPIRES`."""
    return SHORT_PULL_EXPIRES if clustered and replicas == 1 else LASTING_PULL_EXPIRES


@dataclass(frozen=True)
class AmqpOptions:
    """How an adapter connection behaves.

    ``namespace`` prefixes every subject and names the streams; ``subjects`` maps
    exchanges and queues to subjects (default: :meth:`SubjectMap.wire` of the namespace).
    ``max_channels`` bounds the channel pool. Hooks: ``on_new_channel(channel)``,
    ``on_channel_exception(channel, exc)``, ``on_connection_close()``. ``ack_wait``: the
    JetStream ack wait (a crash backstop, s); ``pull_expires``: how long a pull request
    waits (s; ``None``: :data:`LASTING_PULL_EXPIRES` unless the streams have one replica
    on a cluster, where no advisory reports a consumer's node restarting, then
    :data:`SHORT_PULL_EXPIRES`; see :mod:`natswire.amqp.advisories`);
    ``sac_timeout``: how long a crashed single active consumer keeps its pin;
    ``orphan_timeout``: the inactive threshold of exclusive and auto-delete queues;
    ``unlimited_window``: the prefetch of a consumer without one;
    ``expiry_sweep_interval``: how often idle queues with a dead-letter exchange are
    checked for expired heads (``None``: never), with at most ``sweep_requests_per_second``
    JetStream API requests spent on it; ``stream_max_age``: how long the main stream keeps
    a message (s, ``None``: for ever), acked or not (see the module docs);
    ``storage``: the streams' storage; ``replicas``: the replication factor of every
    stream the adapter creates (``None``: ``min(3, cluster size)``, 1 on a single
    server); ``max_queues``: the main stream's consumer limit (one consumer a queue);
    ``queue_state``: where the server keeps each queue's position and acks:
    ``"memory"`` (no file written per delivery or ack; a durable queue lost with a
    server restart is made again from its record and the ack log, see
    :mod:`natswire.amqp.records`; nats-server 2.11 or later) or ``"file"`` (``None``:
    memory on a single server of 2.11 or later, else file: on a cluster a restart of
    every node would reset memory state). Every process of a namespace must use the
    same setting (a process with file state neither logs its acks nor removes records).
    """

    namespace: str = ""
    subjects: SubjectMap | None = None
    max_channels: int = 300
    on_new_channel: Hook | None = None
    on_channel_exception: Hook | None = None
    on_connection_close: Hook | None = None
    ack_wait: float = 30.0
    pull_expires: float | None = None
    sac_timeout: float = 10.0
    orphan_timeout: float = 60.0
    unlimited_window: int = 1000
    expiry_sweep_interval: float | None = 30.0
    sweep_requests_per_second: float = 2.0
    stream_max_age: float | None = DEFAULT_MAX_AGE
    storage: StorageType = StorageType.FILE
    replicas: int | None = None
    max_queues: int = 1_000_000
    queue_state: str | None = None

    def __post_init__(self) -> None:
        if self.max_channels < 1:
            raise ValueError("max_channels must be at least 1")
        if self.replicas is not None and not 1 <= self.replicas <= 5:
            raise ValueError(f"replicas must be 1 to 5, got {self.replicas!r}")
        if self.max_queues < 1:
            raise ValueError(f"max_queues must be at least 1, got {self.max_queues!r}")
        if self.queue_state not in (None, "memory", "file"):
            raise ValueError(f"queue_state must be 'memory' or 'file', got {self.queue_state!r}")
        if self.sweep_requests_per_second <= 0:
            raise ValueError("sweep_requests_per_second must be above 0")
        if self.subjects is not None and self.subjects.namespace != self.namespace:
            raise ValueError("the subject map's namespace differs from the connection's")

    @property
    def subject_map(self) -> SubjectMap:
        """``subjects``, or Wire's map of the namespace when none was given."""
        return self.subjects if self.subjects is not None else SubjectMap.wire(self.namespace)

    @classmethod
    def field_names(cls) -> frozenset[str]:
        """The names of the options (what :func:`connect` takes for this object)."""
        return frozenset(f.name for f in dataclasses.fields(cls))

    @classmethod
    def split(cls, keywords: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``keywords`` split into options of this object and the rest (for the NATS
        client); ``namespace=None`` counts as not given."""
        names = cls.field_names()
        mine: dict[str, Any] = {}
        rest: dict[str, Any] = {}
        for key, value in keywords.items():
            if key not in names:
                rest[key] = value
            elif key != "namespace" or value is not None:
                mine[key] = value
        return mine, rest

    @classmethod
    def from_config(cls, block: Mapping[str, Any], **changes: Any) -> AmqpOptions:
        """Options from a configuration block (its keys named as the fields, e.g.
        ``namespace``), with ``changes`` over them."""
        names = cls.field_names()
        values = {key: value for key, value in block.items() if key in names}
        if "namespace" in values:
            values["namespace"] = str(values["namespace"] or "")
        values.update(changes)
        return cls(**values)

    def with_changes(self, **changes: Any) -> AmqpOptions:
        """A copy with some options changed."""
        return dataclasses.replace(self, **changes)
