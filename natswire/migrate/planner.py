"""Planning: RabbitMQ definitions (one vhost) -> the natswire.amqp topology, as a
:class:`~natswire.migrate.plan.Plan`. Pure: no I/O.

The rule tables below decide what happens to each queue argument and policy key; the
functions only look them up. What maps (see ``natswire.amqp``):
``direct``/``topic``/``fanout`` exchanges; durable, transient and auto-delete queues
with the arguments in :data:`MAPPED_ARGUMENTS`; queue bindings. Policy keys in
:data:`POLICY_ARGUMENTS` become the same queue arguments (an argument on the queue
itself wins, as in RabbitMQ). Settings with no effect on NATS
(:data:`IGNORED_ARGUMENTS`, :data:`IGNORED_POLICY_PREFIXES`) are noted and ignored.
What does not map is a *problem*: ``headers`` and plugin exchange types,
exchange-to-exchange bindings, :data:`UNMAPPABLE_EXCHANGE_ARGUMENTS`,
:data:`UNMAPPABLE_ARGUMENTS`, :data:`UNMAPPABLE_VALUES`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..amqp.errors import AmqpAdapterError
from ..amqp.names import SubjectMap, consumer_name, meta_stream_name, stream_name
from ..amqp.queues import Binding, QueueSpec, normalize_arguments
from ..amqp.topology import BUILTIN_EXCHANGES, EXCHANGE_TYPES
from .errors import MigrationError
from .plan import Plan, PlannedBinding, PlannedExchange, PlannedQueue, Problem

# ------------------------------------------------------------------- rule tables

#: Queue arguments natswire.amqp honours (``x-max-delivery`` is natswire's own).
MAPPED_ARGUMENTS = frozenset(
    {
        "x-dead-letter-exchange",
        "x-dead-letter-routing-key",
        "x-message-ttl",
        "x-single-active-consumer",
        "x-delivery-limit",
        "x-queue-type",
    }
)
#: Arguments that change nothing on NATS: noted, not applied.
IGNORED_ARGUMENTS: dict[str, str] = {
    "x-queue-mode": "JetStream keeps messages on disk anyway",
    "x-queue-master-locator": "JetStream places streams itself",
    "x-queue-leader-locator": "JetStream places streams itself",
    "x-quorum-initial-group-size": "the stream's replicas decide",
    "x-dead-letter-strategy": "natswire dead-letters by publishing, then terminating",
    "x-queue-version": "a RabbitMQ storage detail",
}
#: Arguments natswire.amqp cannot honour, and why.
UNMAPPABLE_ARGUMENTS: dict[str, str] = {
    "x-max-length": "queue length limits are not supported by natswire.amqp "
    "(a JetStream consumer has no length limit of its own)",
    "x-max-length-bytes": "queue length limits are not supported by natswire.amqp",
    "x-overflow": "queue length limits are not supported by natswire.amqp",
    "x-expires": "queue expiry (x-expires) is not supported by natswire.amqp",
    "x-max-priority": "priority queues are not supported by natswire.amqp",
    "x-max-age": "stream queues are not supported by natswire.amqp",
    "x-stream-max-segment-size-bytes": "stream queues are not supported by natswire.amqp",
}
#: Values of mapped arguments natswire.amqp cannot honour: argument -> value -> why.
UNMAPPABLE_VALUES: dict[str, dict[Any, str]] = {
    "x-queue-type": {
        "stream": "x-queue-type 'stream': RabbitMQ streams are not supported by "
        "natswire.amqp (use a JetStream stream directly)",
    },
}
#: Policy keys and the queue argument they stand for.
POLICY_ARGUMENTS = {
    "dead-letter-exchange": "x-dead-letter-exchange",
    "dead-letter-routing-key": "x-dead-letter-routing-key",
    "message-ttl": "x-message-ttl",
    "delivery-limit": "x-delivery-limit",
    "queue-mode": "x-queue-mode",
    "max-length": "x-max-length",
    "max-length-bytes": "x-max-length-bytes",
    "overflow": "x-overflow",
    "expires": "x-expires",
    "max-age": "x-max-age",
    "queue-leader-locator": "x-queue-leader-locator",
    "queue-master-locator": "x-queue-master-locator",
    "dead-letter-strategy": "x-dead-letter-strategy",
}
#: Policy keys ignored on NATS (classic mirroring, federation, ...).
IGNORED_POLICY_PREFIXES = ("ha-", "federation-", "queue-version", "consumer-timeout")
#: Policy ``apply-to`` values that reach queues.
POLICY_QUEUE_TARGETS = ("all", "queues", "classic_queues", "quorum_queues")
#: Exchange arguments natswire.amqp cannot honour, and why.
UNMAPPABLE_EXCHANGE_ARGUMENTS = {
    "alternate-exchange": "is not supported (unroutable messages are dropped on NATS)",
}
#: How an argument found in one of these tables is reported: (table, fatal, reason).
_ARGUMENT_TABLES: tuple[tuple[Mapping[str, str], bool, str], ...] = (
    (IGNORED_ARGUMENTS, False, "{key}={value!r}{where} ignored: {why}"),
    (UNMAPPABLE_ARGUMENTS, True, "argument {key}={value!r}{where}: {why}"),
)
_UNSUPPORTED_ARGUMENT = "argument {key}={value!r}{where} is not supported by natswire.amqp"
_EXCLUSIVE_NOTE = "exclusive queues belong to one connection; the service declares it again on NATS"
_AUTO_DELETE_NOTE = (
    "auto-delete: deleted when its last consumer is cancelled, "
    "or after the adapter's orphan_timeout without one"
)


# ------------------------------------------------------------------- the plan


@dataclass
class _Planning:
    """One :func:`make_plan` run: the vhost's definitions and what is decided so far."""

    plan: Plan
    subjects: SubjectMap
    selector: re.Pattern[str] | None
    policies: list[Mapping[str, Any]]
    raw_queues: list[Mapping[str, Any]]
    raw_exchanges: dict[str, Mapping[str, Any]]
    bindings: list[Mapping[str, Any]]
    #: The chosen queues' names (mappable or not).
    selected: set[str]
    #: Exchanges the chosen queues use (bound to, dead-letter to).
    used: set[str]
    queues: list[PlannedQueue] = field(default_factory=list)
    broken_queues: set[str] = field(default_factory=set)
    broken_exchanges: set[str] = field(default_factory=set)

    def problem(self, kind: str, name: str, reason: str, fatal: bool = True) -> None:
        self.plan.problems.append(Problem(kind, name, reason, fatal))


def make_plan(
    definitions: Mapping[str, Any],
    *,
    vhost: str = "/",
    namespace: str = "",
    queues: str | None = None,
    subjects: SubjectMap | None = None,
) -> Plan:
    """The natswire.amqp topology for ``definitions`` (one vhost), restricted to the
    queues whose names match the regular expression ``queues`` (``re.search``) and the
    exchanges they use."""
    subjects = subjects if subjects is not None else SubjectMap.wire(namespace)
    plan = Plan(vhost, namespace, stream_name(namespace), meta_stream_name(namespace))
    run = _start(definitions, vhost, _selector(queues), plan, subjects)
    for raw in run.raw_queues:
        _add_queue(run, raw)
    for name, raw in sorted(run.raw_exchanges.items()):
        _add_exchange(run, name, raw)
    kinds: dict[str, str] = {x.name: x.type for x in plan.exchanges}
    kinds.update(BUILTIN_EXCHANGES)
    by_name = {q.name: q for q in run.queues}
    for raw in run.bindings:
        _add_binding(run, raw, kinds, by_name)
    for planned in run.queues:
        planned.filters = _filters(planned, kinds, subjects)
    plan.queues = sorted(run.queues, key=lambda q: q.name)
    return plan


def _selector(queues: str | None) -> re.Pattern[str] | None:
    try:
        return re.compile(queues) if queues else None
    except re.error as exc:
        raise MigrationError(f"--queues {queues!r} is not a regular expression: {exc}") from None


def _start(
    definitions: Mapping[str, Any],
    vhost: str,
    selector: re.Pattern[str] | None,
    plan: Plan,
    subjects: SubjectMap,
) -> _Planning:
    def items(key: str) -> list[Mapping[str, Any]]:
        raw = definitions.get(key) or []
        # Per-vhost exports have no "vhost" keys; full exports have them everywhere.
        return [x for x in raw if isinstance(x, Mapping) and x.get("vhost", vhost) == vhost]

    policies = items("policies")
    raw_queues = [q for q in items("queues") if _queue_chosen(str(q.get("name", "")), selector)]
    selected = {str(q["name"]) for q in raw_queues}
    raw_exchanges = {
        str(x.get("name", "")): x
        for x in items("exchanges")
        if x.get("name") and not str(x.get("name")).startswith("amq.")
    }
    bindings = items("bindings")
    used = {
        str(b.get("source", ""))
        for b in bindings
        if b.get("destination_type", "queue") == "queue" and b.get("destination") in selected
    }
    return _Planning(
        plan, subjects, selector, policies, raw_queues, raw_exchanges, bindings, selected, used
    )


def _queue_chosen(name: str, selector: re.Pattern[str] | None) -> bool:
    return not name.startswith("amq.") and (selector is None or bool(selector.search(name)))


def _filters(planned: PlannedQueue, kinds: Mapping[str, str], subjects: SubjectMap) -> list[str]:
    spec = QueueSpec(
        planned.name,
        arguments=dict(planned.arguments),
        bindings=[
            Binding(b.exchange, kinds[b.exchange], b.routing_key, 0, b.exact)
            for b in planned.bindings
        ],
    )
    return spec.filters(subjects)


# ------------------------------------------------------------------- queues


def _add_queue(run: _Planning, raw: Mapping[str, Any]) -> None:
    planned = _plan_queue(raw, run.policies, run.subjects, run.plan.problems)
    if planned is None:
        run.broken_queues.add(str(raw["name"]))
        return
    dlx = planned.arguments.get("x-dead-letter-exchange")
    if isinstance(dlx, str) and dlx:
        run.used.add(dlx)
        if dlx not in run.raw_exchanges and dlx not in BUILTIN_EXCHANGES:
            run.problem(
                "queue",
                planned.name,
                f"dead-letter exchange {dlx!r} does not exist in RabbitMQ; "
                "dead letters will be dropped until it is declared",
                fatal=False,
            )
    run.queues.append(planned)


def _plan_queue(
    raw: Mapping[str, Any],
    policies: list[Mapping[str, Any]],
    subjects: SubjectMap,
    problems: list[Problem],
) -> PlannedQueue | None:
    """The queue as planned, or None when it is not mapped (``problems`` say why)."""
    name = str(raw["name"])
    arguments, from_policy = _queue_arguments(name, raw, _policy_for(name, policies), problems)
    mapped, fatal = _mapped_arguments(name, arguments, from_policy, problems)
    if not _queue_kept(name, raw, fatal, problems):
        return None
    try:
        normalized = normalize_arguments(mapped)
    except AmqpAdapterError as exc:
        problems.append(Problem("queue", name, str(exc)))
        return None
    messages = raw.get("messages")
    return PlannedQueue(
        name,
        durable=bool(raw.get("durable", True)),
        auto_delete=bool(raw.get("auto_delete", False)),
        arguments=normalized,
        consumer=consumer_name(name),
        subject=subjects.queue_subject(name),
        messages=messages if isinstance(messages, int) else None,
        from_policy={k: v for k, v in from_policy.items() if k in normalized},
    )


def _policy_for(queue: str, policies: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The policy that applies to ``queue``: the first of the highest priority."""
    best: Mapping[str, Any] | None = None
    for policy in policies:
        if _policy_applies(policy, queue) and (
            best is None or int(policy.get("priority", 0)) > int(best.get("priority", 0))
        ):
            best = policy
    return best


def _policy_applies(policy: Mapping[str, Any], queue: str) -> bool:
    if policy.get("apply-to", "all") not in POLICY_QUEUE_TARGETS:
        return False
    try:
        return re.search(str(policy.get("pattern", "")), queue) is not None
    except re.error:
        return False


def _queue_arguments(
    name: str,
    raw: Mapping[str, Any],
    policy: Mapping[str, Any] | None,
    problems: list[Problem],
) -> tuple[dict[str, Any], dict[str, str]]:
    """The queue's own arguments with its policy's added, and which came from it."""
    arguments: dict[str, Any] = dict(raw.get("arguments") or {})
    from_policy: dict[str, str] = {}
    if policy is None:
        return arguments, from_policy
    policy_name = str(policy.get("name"))
    for key, value in (policy.get("definition") or {}).items():
        argument = POLICY_ARGUMENTS.get(key)
        if argument is None and not key.startswith(IGNORED_POLICY_PREFIXES):
            reason = f"key {key!r} (applies to queue {name!r}) is ignored on NATS"
            problems.append(Problem("policy", policy_name, reason, fatal=False))
        elif argument is not None and argument not in arguments:
            arguments[argument] = value
            from_policy[argument] = policy_name
    return arguments, from_policy


def _mapped_arguments(
    name: str, arguments: dict[str, Any], from_policy: dict[str, str], problems: list[Problem]
) -> tuple[dict[str, Any], bool]:
    """The arguments natswire.amqp takes (in key order), and whether any is fatal."""
    mapped: dict[str, Any] = {}
    fatal = False
    for key, value in sorted(arguments.items()):
        where = f" (from policy {from_policy[key]!r})" if key in from_policy else ""
        judged = _argument_problem(key, value, where)
        if judged is None:
            mapped[key] = value
            continue
        reason, is_fatal = judged
        problems.append(Problem("queue", name, reason, fatal=is_fatal))
        fatal = fatal or is_fatal
    return mapped, fatal


def _argument_problem(key: str, value: Any, where: str) -> tuple[str, bool] | None:
    """``(reason, fatal)`` when the rule tables say the argument does not simply map."""
    for table, fatal, reason in _ARGUMENT_TABLES:
        if key in table:
            return reason.format(key=key, value=value, where=where, why=table[key]), fatal
    if key not in MAPPED_ARGUMENTS:
        return _UNSUPPORTED_ARGUMENT.format(key=key, value=value, where=where), True
    for bad, why in UNMAPPABLE_VALUES.get(key, {}).items():
        if value == bad:
            return why, True
    return None


def _queue_kept(name: str, raw: Mapping[str, Any], fatal: bool, problems: list[Problem]) -> bool:
    """Whether the queue is planned, noting its flags' differences on NATS."""
    if raw.get("exclusive"):
        problems.append(Problem("queue", name, _EXCLUSIVE_NOTE, fatal=False))
        return False
    if fatal:
        return False
    if raw.get("auto_delete"):
        problems.append(Problem("queue", name, _AUTO_DELETE_NOTE, fatal=False))
    return True


# ------------------------------------------------------------------- exchanges


def _add_exchange(run: _Planning, name: str, raw: Mapping[str, Any]) -> None:
    if run.selector is not None and name not in run.used:
        return
    reason = _exchange_problem(raw)
    if reason is not None:
        run.broken_exchanges.add(name)
        run.problem("exchange", name, reason)
        return
    run.plan.exchanges.append(
        PlannedExchange(
            name,
            str(raw.get("type", "direct")),
            durable=bool(raw.get("durable", True)),
            auto_delete=bool(raw.get("auto_delete", False)),
            internal=bool(raw.get("internal", False)),
            subject_prefix=run.subjects.exchange_prefix(name),
        )
    )


def _exchange_problem(raw: Mapping[str, Any]) -> str | None:
    """Why the exchange cannot be mapped, or None."""
    kind = str(raw.get("type", "direct"))
    if kind not in EXCHANGE_TYPES:
        return f"type {kind!r} is not supported by natswire.amqp (direct, topic and fanout are)"
    arguments = raw.get("arguments") or {}
    if not isinstance(arguments, Mapping):
        return None
    for key, why in UNMAPPABLE_EXCHANGE_ARGUMENTS.items():
        if arguments.get(key):
            return f"{key} {arguments[key]!r} {why}"
    return None


# ------------------------------------------------------------------- bindings


def _add_binding(
    run: _Planning,
    raw: Mapping[str, Any],
    kinds: Mapping[str, str],
    by_name: Mapping[str, PlannedQueue],
) -> None:
    source = str(raw.get("source", ""))
    dest = str(raw.get("destination", ""))
    key = str(raw.get("routing_key", ""))
    if raw.get("destination_type", "queue") != "queue":
        if run.selector is None or source in run.used or dest in run.used:
            reason = "exchange-to-exchange bindings are not supported by natswire.amqp"
            run.problem("binding", f"{source} -> {dest}", reason)
        return
    kind = _binding_source_kind(run, source, dest, key, kinds)
    if kind is None:
        return
    if raw.get("arguments"):
        run.problem(
            "binding", f"{source} -> {dest} ({key!r})", "binding arguments are ignored", False
        )
    filters, exact = run.subjects.binding_filters(source, kind, key)
    by_name[dest].bindings.append(PlannedBinding(source, dest, key, filters, exact))


def _binding_source_kind(
    run: _Planning, source: str, dest: str, key: str, kinds: Mapping[str, str]
) -> str | None:
    """The type of the exchange a queue binding is planned from; None when the binding
    is not planned (with the problem, if it is one)."""
    if dest not in run.selected or dest in run.broken_queues:
        return None
    if source == "":
        return None  # the default exchange binds every queue implicitly
    if source in run.broken_exchanges:
        reason = f"its exchange {source!r} cannot be mapped"
        run.problem("binding", f"{source} -> {dest} ({key!r})", reason)
        return None
    kind = kinds.get(source)
    if kind is None:
        run.problem("binding", f"{source} -> {dest}", f"exchange {source!r} is not defined")
    return kind


__all__ = [
    "IGNORED_ARGUMENTS",
    "IGNORED_POLICY_PREFIXES",
    "MAPPED_ARGUMENTS",
    "POLICY_ARGUMENTS",
    "POLICY_QUEUE_TARGETS",
    "UNMAPPABLE_ARGUMENTS",
    "UNMAPPABLE_EXCHANGE_ARGUMENTS",
    "UNMAPPABLE_VALUES",
    "make_plan",
]
