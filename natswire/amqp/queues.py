"""Queues as JetStream consumers: arguments, bindings, the stored description.

A queue is a durable pull consumer ``Q-<name>`` on the namespace's stream. Its
description lives in the consumer's ``metadata`` (``amqp.*`` keys), so any process
can read it back with one ``CONSUMER.INFO``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..jetstream.api import ConsumerInfo
from .errors import NotAllowedError, PreconditionFailedError
from .names import SubjectMap, minimal_filters, topic_matches

#: Queue arguments the adapter honours (and ``x-queue-type``, accepted and recorded).
SUPPORTED_ARGUMENTS = frozenset(
    {
        "x-dead-letter-exchange",
        "x-dead-letter-routing-key",
        "x-message-ttl",
        "x-single-active-consumer",
        "x-max-delivery",
        "x-delivery-limit",
        "x-queue-type",
    }
)
QUEUE_TYPES = frozenset({"classic", "quorum"})

MD_QUEUE = "amqp.queue"
MD_FLAGS = "amqp.flags"
MD_OWNER = "amqp.owner"
MD_ARGS = "amqp.args"
MD_BINDINGS = "amqp.bindings"
MD_CREATED = "amqp.created"
MD_RESTORED = "amqp.restored"


def normalize_arguments(arguments: dict[str, Any] | None) -> dict[str, Any]:
    """Validate queue arguments; return them with canonical types."""
    out: dict[str, Any] = {}
    for key, value in (arguments or {}).items():
        if key not in SUPPORTED_ARGUMENTS:
            raise NotAllowedError(
                f"queue argument {key!r} is not supported by the NATS adapter "
                f"(supported: {', '.join(sorted(SUPPORTED_ARGUMENTS))})"
            )
        if key in ("x-dead-letter-exchange", "x-dead-letter-routing-key"):
            if not isinstance(value, str):
                raise PreconditionFailedError(f"{key} must be a string, got {value!r}")
        elif key == "x-message-ttl":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise PreconditionFailedError(f"x-message-ttl must be an int >= 0, got {value!r}")
        elif key == "x-single-active-consumer":
            if not isinstance(value, bool):
                raise PreconditionFailedError(
                    f"x-single-active-consumer must be a bool, got {value!r}"
                )
        elif key in ("x-max-delivery", "x-delivery-limit"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise PreconditionFailedError(f"{key} must be an int >= 0, got {value!r}")
            if key == "x-max-delivery" and value < 1:
                raise PreconditionFailedError("x-max-delivery must be at least 1")
        elif key == "x-queue-type" and value not in QUEUE_TYPES:
            raise NotAllowedError(
                f"x-queue-type {value!r} is not supported (use 'quorum' or 'classic')"
            )
        out[key] = value
    if "x-max-delivery" in out and "x-delivery-limit" in out:
        raise PreconditionFailedError("give x-max-delivery or x-delivery-limit, not both")
    if "x-dead-letter-routing-key" in out and "x-dead-letter-exchange" not in out:
        raise PreconditionFailedError("x-dead-letter-routing-key needs x-dead-letter-exchange")
    return out


@dataclass
class Binding:
    exchange: str
    exchange_type: str
    routing_key: str
    #: The stream's last sequence when the binding was made: older messages do not match.
    since: int
    #: Whether the NATS filters express the binding exactly.
    exact: bool

    def matches(self, exchange: str, routing_key: str, seq: int) -> bool:
        """Whether a message (exchange, routing key, stream sequence) matches the binding."""
        if exchange != self.exchange or seq <= self.since:
            return False
        if self.exchange_type == "fanout":
            return True
        if self.exchange_type == "topic":
            return topic_matches(self.routing_key, routing_key)
        return routing_key == self.routing_key

    def as_list(self) -> list[Any]:
        """The binding as stored in the queue's metadata."""
        return [self.exchange, self.exchange_type, self.routing_key, self.since, self.exact]


@dataclass
class QueueSpec:
    """What a queue is: its flags, arguments and bindings."""

    name: str
    durable: bool = True
    exclusive: bool = False
    auto_delete: bool = False
    owner: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)
    bindings: list[Binding] = field(default_factory=list)
    #: The stream sequence from which the queue's own subject counts (creation).
    created_seq: int = 0
    #: For a queue restored from its record after its consumer was lost: the stream's
    #: last sequence then. Messages up to it the ack log lists are not delivered again.
    restored_at: int = 0

    # ------------------------------------------------------------ arguments

    @property
    def dead_letter_exchange(self) -> str | None:
        """``x-dead-letter-exchange``, if set."""
        value = self.arguments.get("x-dead-letter-exchange")
        return value if isinstance(value, str) else None

    @property
    def dead_letter_routing_key(self) -> str | None:
        """``x-dead-letter-routing-key``, if set."""
        value = self.arguments.get("x-dead-letter-routing-key")
        return value if isinstance(value, str) else None

    @property
    def message_ttl(self) -> int | None:
        """``x-message-ttl`` (ms), if set."""
        value = self.arguments.get("x-message-ttl")
        return value if isinstance(value, int) else None

    @property
    def single_active_consumer(self) -> bool:
        """Whether ``x-single-active-consumer`` is on."""
        return bool(self.arguments.get("x-single-active-consumer"))

    @property
    def restorable(self) -> bool:
        """Whether the queue outlives its connection and consumers (durable, neither
        exclusive nor auto-delete): with queue state in memory, such a queue has a
        record and an ack log, and is made again after a server restart."""
        return self.durable and not self.exclusive and not self.auto_delete

    @property
    def max_delivery(self) -> int | None:
        """Deliveries allowed per message; one more dead-letters it (reason
        ``delivery_limit``). ``x-delivery-limit`` (RabbitMQ's: redeliveries) + 1."""
        value = self.arguments.get("x-max-delivery")
        if isinstance(value, int):
            return value
        value = self.arguments.get("x-delivery-limit")
        if isinstance(value, int):
            return value + 1
        return None

    # ------------------------------------------------------------- matching

    @property
    def checks_floor(self) -> int:
        """Messages above this stream sequence need no per-message binding check
        (when every binding is exact)."""
        return max((b.since for b in self.bindings), default=0)

    @property
    def all_exact(self) -> bool:
        """Whether the NATS filters express every binding exactly."""
        return all(b.exact for b in self.bindings)

    def routes(self, exchange: str, routing_key: str, seq: int) -> bool:
        """Whether a message published to ``exchange`` with ``routing_key`` at stream
        sequence ``seq`` belongs to this queue (the adapter-side check)."""
        if exchange == "" and routing_key == self.name:
            return seq > self.created_seq
        return any(b.matches(exchange, routing_key, seq) for b in self.bindings)

    def filters(self, subjects: SubjectMap) -> list[str]:
        """The consumer's filter subjects: the queue's own subject and its bindings'."""
        out = [subjects.queue_subject(self.name)]
        for binding in self.bindings:
            filters, _ = subjects.binding_filters(
                binding.exchange, binding.exchange_type, binding.routing_key
            )
            out.extend(filters)
        return minimal_filters(out)

    # ------------------------------------------------------------- storage

    def metadata(self) -> dict[str, str]:
        """The description as the consumer's ``metadata``."""
        flags = ",".join(
            name
            for name, on in (
                ("durable", self.durable),
                ("exclusive", self.exclusive),
                ("auto_delete", self.auto_delete),
            )
            if on
        )
        return {
            MD_QUEUE: self.name,
            MD_FLAGS: flags,
            MD_OWNER: self.owner,
            MD_ARGS: json.dumps(self.arguments, sort_keys=True, separators=(",", ":")),
            MD_BINDINGS: json.dumps([b.as_list() for b in self.bindings], separators=(",", ":")),
            MD_CREATED: str(self.created_seq),
            **({MD_RESTORED: str(self.restored_at)} if self.restored_at else {}),
        }

    @classmethod
    def from_info(cls, info: ConsumerInfo) -> QueueSpec | None:
        """The description stored on a consumer; ``None`` for a consumer that is no queue."""
        return cls.from_metadata(info.config.metadata or {})

    @classmethod
    def from_metadata(cls, md: Mapping[str, str]) -> QueueSpec | None:
        """The description :meth:`metadata` wrote; ``None`` when ``md`` holds none."""
        name = md.get(MD_QUEUE)
        if name is None:
            return None
        flags = set(md.get(MD_FLAGS, "").split(","))
        try:
            arguments = json.loads(md.get(MD_ARGS) or "{}")
            bindings = [Binding(*item) for item in json.loads(md.get(MD_BINDINGS) or "[]")]
            created = int(md.get(MD_CREATED) or 0)
            restored = int(md.get(MD_RESTORED) or 0)
        except (ValueError, TypeError):
            return None
        return cls(
            name=name,
            durable="durable" in flags,
            exclusive="exclusive" in flags,
            auto_delete="auto_delete" in flags,
            owner=md.get(MD_OWNER, ""),
            arguments=arguments if isinstance(arguments, dict) else {},
            bindings=bindings,
            created_seq=created,
            restored_at=restored,
        )


@dataclass(frozen=True)
class QueueDeclareOk:
    """``queue.declare-ok``: the queue's name (generated when asked for ``""``), the
    messages ready in it and its consumers (pull requests waiting on it)."""

    queue: str
    message_count: int
    consumer_count: int


def check_equivalent(
    spec: QueueSpec, durable: bool, exclusive: bool, auto_delete: bool, args: dict[str, Any]
) -> None:
    """PRECONDITION_FAILED when a redeclaration differs from the queue."""
    flags: Sequence[tuple[str, bool, bool]] = (
        ("durable", spec.durable, durable),
        ("exclusive", spec.exclusive, exclusive),
        ("auto_delete", spec.auto_delete, auto_delete),
    )
    for what, have, want in flags:
        if have != want:
            raise PreconditionFailedError(
                f"PRECONDITION_FAILED - inequivalent arg {what!r} for queue "
                f"{spec.name!r}: received {want!r} but current is {have!r}"
            )
    for key in sorted(set(spec.arguments) | set(args)):
        if spec.arguments.get(key) != args.get(key):
            raise PreconditionFailedError(
                f"PRECONDITION_FAILED - inequivalent arg {key!r} for queue "
                f"{spec.name!r}: received {args.get(key)!r} but current is "
                f"{spec.arguments.get(key)!r}"
            )
