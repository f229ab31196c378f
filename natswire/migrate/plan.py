"""The plan of a topology migration: what ``natswire migrate apply`` creates on NATS.

Plain dataclasses, no I/O: the planner (:mod:`natswire.migrate.planner`) fills them in,
the applier (:mod:`natswire.migrate.apply`) reads them, and :meth:`Plan.to_json` and
:meth:`Plan.render` are what ``natswire migrate plan`` prints (``--json`` or text).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Problem:
    """Something that cannot be mapped (``fatal``) or is mapped with a caveat."""

    kind: str  # "exchange", "queue", "binding", "policy"
    name: str
    reason: str
    fatal: bool = True

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r}: {self.reason}"


@dataclass
class PlannedExchange:
    """An exchange to declare through natswire.amqp, and its subjects' prefix."""

    name: str
    type: str
    durable: bool = True
    auto_delete: bool = False
    internal: bool = False
    subject_prefix: str = ""


@dataclass
class PlannedBinding:
    """A queue binding and the NATS filter subjects it becomes."""

    exchange: str
    queue: str
    routing_key: str
    filters: list[str] = field(default_factory=list)
    #: False when NATS filters are wider and the adapter checks each message.
    exact: bool = True


@dataclass
class PlannedQueue:
    """A queue to declare (a JetStream consumer), with its arguments and bindings."""

    name: str
    durable: bool = True
    auto_delete: bool = False
    arguments: dict[str, Any] = field(default_factory=dict)
    consumer: str = ""
    subject: str = ""
    filters: list[str] = field(default_factory=list)
    bindings: list[PlannedBinding] = field(default_factory=list)
    #: Messages waiting in RabbitMQ (from the management API), when known.
    messages: int | None = None
    #: Where the arguments came from: policy name per argument.
    from_policy: dict[str, str] = field(default_factory=dict)


@dataclass
class Plan:
    """What ``apply`` creates for one vhost in one NATS namespace."""

    vhost: str
    namespace: str
    stream: str
    meta_stream: str
    exchanges: list[PlannedExchange] = field(default_factory=list)
    queues: list[PlannedQueue] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def fatal(self) -> list[Problem]:
        """The problems that keep objects from being mapped."""
        return [p for p in self.problems if p.fatal]

    @property
    def notes(self) -> list[Problem]:
        """The objects mapped with a difference."""
        return [p for p in self.problems if not p.fatal]

    @property
    def bindings(self) -> list[PlannedBinding]:
        """Every queue's bindings."""
        return [b for q in self.queues for b in q.bindings]

    def queue(self, name: str) -> PlannedQueue:
        """The planned queue ``name`` (``KeyError`` when there is none)."""
        for queue in self.queues:
            if queue.name == name:
                return queue
        raise KeyError(name)

    def exchange(self, name: str) -> PlannedExchange:
        """The planned exchange ``name`` (``KeyError`` when there is none)."""
        for exchange in self.exchanges:
            if exchange.name == name:
                return exchange
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON-ready data (what ``natswire migrate plan --json`` prints)."""
        out = asdict(self)
        out["problems"] = [asdict(p) for p in self.problems]
        return out

    def render(self) -> str:
        """The plan as text (what ``natswire migrate plan`` prints)."""
        ns = self.namespace or "(none)"
        lines = [
            f"RabbitMQ vhost {self.vhost!r} -> NATS namespace {ns!r}: "
            f"stream {self.stream} (messages), {self.meta_stream} (exchange declarations)",
            "",
            f"Exchanges ({len(self.exchanges)}):",
        ]
        lines += [_exchange_line(x) for x in self.exchanges]
        lines += ["", f"Queues ({len(self.queues)}):"]
        for q in self.queues:
            lines += _queue_lines(q)
        lines += _problem_lines("Notes (mapped, with a difference):", self.notes)
        lines += _problem_lines("Cannot be mapped:", self.fatal)
        lines += [
            "",
            f"Summary: {len(self.exchanges)} exchanges, {len(self.queues)} queues, "
            f"{len(self.bindings)} bindings; {len(self.fatal)} cannot be mapped, "
            f"{len(self.notes)} notes.",
        ]
        return "\n".join(lines)


def _exchange_line(x: PlannedExchange) -> str:
    flags = "" if x.durable else " transient"
    flags += " auto-delete" if x.auto_delete else ""
    flags += " internal" if x.internal else ""
    return f"  {x.name}  {x.type}{flags}  ->  subjects {x.subject_prefix}.<routing key>"


def _queue_lines(q: PlannedQueue) -> list[str]:
    waiting = "" if q.messages is None else f"  ({q.messages} messages in RabbitMQ)"
    lines = [f"  {q.name}  ->  consumer {q.consumer}{waiting}"]
    if not q.durable or q.auto_delete:
        marks = [("transient", not q.durable), ("auto-delete", q.auto_delete)]
        lines.append("      flags: " + ", ".join(m for m, on in marks if on))
    if q.arguments:
        lines.append(f"      arguments: {_arguments_text(q)}")
    lines.append(f"      default exchange: {q.subject}")
    lines += [_binding_line(b) for b in q.bindings]
    dlx = q.arguments.get("x-dead-letter-exchange")
    if isinstance(dlx, str):
        key = q.arguments.get("x-dead-letter-routing-key", "(original key)")
        lines.append(f"      dead letters -> exchange {dlx!r} key {key!r}")
    return lines


def _arguments_text(q: PlannedQueue) -> str:
    return ", ".join(
        f"{k}={v}" + (f" (policy {q.from_policy[k]})" if k in q.from_policy else "")
        for k, v in sorted(q.arguments.items())
    )


def _binding_line(b: PlannedBinding) -> str:
    exact = "" if b.exact else "  (wider filter; checked per message)"
    return f"      bound to {b.exchange!r} key {b.routing_key!r}: {', '.join(b.filters)}{exact}"


def _problem_lines(title: str, problems: list[Problem]) -> list[str]:
    if not problems:
        return []
    return ["", title, *(f"  {p}" for p in problems)]


__all__ = ["Plan", "PlannedBinding", "PlannedExchange", "PlannedQueue", "Problem"]
