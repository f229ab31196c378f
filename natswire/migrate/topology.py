"""RabbitMQ topology -> natswire.amqp topology: read, plan, apply.

The topology is read as RabbitMQ *definitions* (the JSON of ``rabbitmqctl
export_definitions`` and of the management API's ``GET /api/definitions/<vhost>``: the
same format), for one vhost. :func:`make_plan` turns it into the objects natswire.amqp
would create (pure: no I/O), flagging what cannot be mapped and why;
:func:`apply_plan` creates them through the adapter, idempotently (a second run finds
everything in place and changes nothing).

What maps (see ``natswire.amqp``): ``direct``/``topic``/``fanout`` exchanges; durable,
transient and auto-delete queues with ``x-dead-letter-exchange``,
``x-dead-letter-routing-key``, ``x-message-ttl``, ``x-single-active-consumer``,
``x-delivery-limit``, ``x-queue-type`` ``classic``/``quorum``; queue bindings. Policies
that set ``dead-letter-exchange``, ``dead-letter-routing-key``, ``message-ttl`` or
``delivery-limit`` become the same queue arguments (an argument on the queue itself
wins, as in RabbitMQ). Settings with no effect on NATS (``x-queue-mode``, leader
locators, mirroring policies) are noted and ignored. What does not map is a *problem*:
``headers`` and plugin exchange types, exchange-to-exchange bindings, alternate
exchanges, queue length limits, ``x-expires``, priorities, stream queues.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from ..amqp.connection import BUILTIN_EXCHANGES, EXCHANGE_TYPES
from ..amqp.errors import AmqpAdapterError, ChannelError
from ..amqp.names import SubjectMap, consumer_name, meta_stream_name, stream_name
from ..amqp.queues import Binding, QueueSpec, normalize_arguments
from .errors import MigrationError, RabbitSideError

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
    name: str
    type: str
    durable: bool = True
    auto_delete: bool = False
    internal: bool = False
    subject_prefix: str = ""


@dataclass
class PlannedBinding:
    exchange: str
    queue: str
    routing_key: str
    filters: list[str] = field(default_factory=list)
    #: False when NATS filters are wider and the adapter checks each message.
    exact: bool = True


@dataclass
class PlannedQueue:
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
        return [p for p in self.problems if p.fatal]

    @property
    def notes(self) -> list[Problem]:
        return [p for p in self.problems if not p.fatal]

    @property
    def bindings(self) -> list[PlannedBinding]:
        return [b for q in self.queues for b in q.bindings]

    def queue(self, name: str) -> PlannedQueue:
        for queue in self.queues:
            if queue.name == name:
                return queue
        raise KeyError(name)

    def exchange(self, name: str) -> PlannedExchange:
        for exchange in self.exchanges:
            if exchange.name == name:
                return exchange
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
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
        for x in self.exchanges:
            flags = "" if x.durable else " transient"
            flags += " auto-delete" if x.auto_delete else ""
            flags += " internal" if x.internal else ""
            lines.append(
                f"  {x.name}  {x.type}{flags}  ->  subjects {x.subject_prefix}.<routing key>"
            )
        lines += ["", f"Queues ({len(self.queues)}):"]
        for q in self.queues:
            waiting = "" if q.messages is None else f"  ({q.messages} messages in RabbitMQ)"
            lines.append(f"  {q.name}  ->  consumer {q.consumer}{waiting}")
            if not q.durable or q.auto_delete:
                marks = [("transient", not q.durable), ("auto-delete", q.auto_delete)]
                lines.append("      flags: " + ", ".join(m for m, on in marks if on))
            if q.arguments:
                args = ", ".join(
                    f"{k}={v}" + (f" (policy {q.from_policy[k]})" if k in q.from_policy else "")
                    for k, v in sorted(q.arguments.items())
                )
                lines.append(f"      arguments: {args}")
            lines.append(f"      default exchange: {q.subject}")
            for b in q.bindings:
                exact = "" if b.exact else "  (wider filter; checked per message)"
                lines.append(
                    f"      bound to {b.exchange!r} key {b.routing_key!r}: "
                    f"{', '.join(b.filters)}{exact}"
                )
            dlx = q.arguments.get("x-dead-letter-exchange")
            if isinstance(dlx, str):
                key = q.arguments.get("x-dead-letter-routing-key", "(original key)")
                lines.append(f"      dead letters -> exchange {dlx!r} key {key!r}")
        if self.notes:
            lines += ["", "Notes (mapped, with a difference):"]
            lines += [f"  {p}" for p in self.notes]
        if self.fatal:
            lines += ["", "Cannot be mapped:"]
            lines += [f"  {p}" for p in self.fatal]
        lines += [
            "",
            f"Summary: {len(self.exchanges)} exchanges, {len(self.queues)} queues, "
            f"{len(self.bindings)} bindings; {len(self.fatal)} cannot be mapped, "
            f"{len(self.notes)} notes.",
        ]
        return "\n".join(lines)


# ------------------------------------------------------------------- reading


def vhost_of(amqp_url: str) -> str:
    """The vhost an ``amqp://`` URL names (``/`` when none)."""
    path = urlsplit(amqp_url).path
    if not path or path == "/":
        return "/"
    return unquote(path[1:])


def management_url_for(amqp_url: str, port: int = 15672) -> str:
    """The management API URL beside a broker: same host and credentials, ``port``."""
    parts = urlsplit(amqp_url)
    scheme = "https" if parts.scheme == "amqps" else "http"
    creds = ""
    if parts.username is not None:
        creds = parts.username + (f":{parts.password}" if parts.password is not None else "")
        creds += "@"
    host = parts.hostname or "localhost"
    return f"{scheme}://{creds}{host}:{port}"


def _http_get_json(url: str, timeout: float) -> Any:
    parts = urlsplit(url)
    netloc = parts.hostname or "localhost"
    if parts.port:
        netloc += f":{parts.port}"
    plain = parts._replace(netloc=netloc).geturl()
    request = urllib.request.Request(plain, headers={"Accept": "application/json"})
    if parts.username is not None:
        token = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        request.add_header("Authorization", "Basic " + base64.b64encode(token.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise RabbitSideError(
                f"the RabbitMQ management API at {plain} refused the credentials (401)"
            ) from None
        if exc.code == 404:
            raise RabbitSideError(
                f"the RabbitMQ management API has no {parts.path!r} (404)"
            ) from None
        raise RabbitSideError(
            f"the RabbitMQ management API answered {exc.code} for {plain}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RabbitSideError(
            f"cannot reach the RabbitMQ management API at {plain}: {reason}"
        ) from None


def fetch_definitions(
    management_url: str, vhost: str = "/", timeout: float = 10.0
) -> dict[str, Any]:
    """The vhost's definitions from the management API (``/api/definitions/<vhost>``),
    with each queue's ``messages`` count added from ``/api/queues/<vhost>``."""
    base = management_url.rstrip("/")
    enc = quote(vhost, safe="")
    definitions = _http_get_json(f"{base}/api/definitions/{enc}", timeout)
    if not isinstance(definitions, dict):
        raise RabbitSideError("the management API returned definitions that are not an object")
    try:
        queues = _http_get_json(f"{base}/api/queues/{enc}?columns=name,messages", timeout)
    except RabbitSideError:
        queues = []
    counts = {
        q.get("name"): q.get("messages")
        for q in queues
        if isinstance(q, dict) and isinstance(q.get("messages"), int)
    }
    for queue in definitions.get("queues") or []:
        if isinstance(queue, dict) and queue.get("name") in counts:
            queue["messages"] = counts[queue["name"]]
    definitions.setdefault("vhost", vhost)
    return definitions


def load_definitions(path: str) -> dict[str, Any]:
    """Definitions from a file (``rabbitmqctl export_definitions FILE``)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise RabbitSideError(f"cannot read definitions file {path!r}: {exc.strerror}") from None
    start = text.find("{")
    try:
        data = json.loads(text[start:] if start >= 0 else text)
    except ValueError as exc:
        raise RabbitSideError(f"definitions file {path!r} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RabbitSideError(f"definitions file {path!r} does not hold a JSON object")
    return data


async def read_definitions(
    *,
    amqp_url: str | None = None,
    management_url: str | None = None,
    definitions_file: str | None = None,
    vhost: str | None = None,
) -> tuple[dict[str, Any], str]:
    """``(definitions, vhost)`` from a file, or else from the management API (given,
    or derived from ``amqp_url``: same host and credentials, port 15672)."""
    if vhost is None:
        vhost = vhost_of(amqp_url) if amqp_url else "/"
    if definitions_file is not None:
        return load_definitions(definitions_file), vhost
    if management_url is None:
        if amqp_url is None:
            raise MigrationError("give --amqp, --management or --definitions")
        management_url = management_url_for(amqp_url)
    url = management_url
    definitions = await asyncio.get_running_loop().run_in_executor(
        None, lambda: fetch_definitions(url, vhost)
    )
    return definitions, vhost


# ------------------------------------------------------------------- planning


def _in_vhost(item: Mapping[str, Any], vhost: str) -> bool:
    # Per-vhost exports have no "vhost" keys; full exports have them everywhere.
    return bool(item.get("vhost", vhost) == vhost)


def _policy_for(queue: str, policies: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    best: Mapping[str, Any] | None = None
    for policy in policies:
        if policy.get("apply-to", "all") not in (
            "all",
            "queues",
            "classic_queues",
            "quorum_queues",
        ):
            continue
        try:
            if re.search(str(policy.get("pattern", "")), queue) is None:
                continue
        except re.error:
            continue
        if best is None or int(policy.get("priority", 0)) > int(best.get("priority", 0)):
            best = policy
    return best


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
    try:
        selector = re.compile(queues) if queues else None
    except re.error as exc:
        raise MigrationError(f"--queues {queues!r} is not a regular expression: {exc}") from None

    def items(key: str) -> list[Mapping[str, Any]]:
        raw = definitions.get(key) or []
        return [x for x in raw if isinstance(x, Mapping) and _in_vhost(x, vhost)]

    policies = items("policies")
    raw_queues = [
        q
        for q in items("queues")
        if not str(q.get("name", "")).startswith("amq.")
        and (selector is None or selector.search(str(q.get("name", ""))))
    ]
    selected = {str(q["name"]) for q in raw_queues}
    raw_exchanges = {
        str(x.get("name", "")): x
        for x in items("exchanges")
        if x.get("name") and not str(x.get("name")).startswith("amq.")
    }
    bindings = items("bindings")

    # Exchanges: all of them, or (with --queues) those the chosen queues use.
    used: set[str] = set()
    for b in bindings:
        if b.get("destination_type", "queue") == "queue" and b.get("destination") in selected:
            used.add(str(b.get("source", "")))
    planned_queues: list[PlannedQueue] = []
    broken_queues: set[str] = set()
    for raw in raw_queues:
        planned = _plan_queue(raw, policies, subjects, plan.problems)
        if planned is None:
            broken_queues.add(str(raw["name"]))
            continue
        dlx = planned.arguments.get("x-dead-letter-exchange")
        if isinstance(dlx, str) and dlx:
            used.add(dlx)
            if dlx not in raw_exchanges and dlx not in BUILTIN_EXCHANGES:
                plan.problems.append(
                    Problem(
                        "queue",
                        planned.name,
                        f"dead-letter exchange {dlx!r} does not exist in RabbitMQ; "
                        "dead letters will be dropped until it is declared",
                        fatal=False,
                    )
                )
        planned_queues.append(planned)

    broken_exchanges: set[str] = set()
    for name, raw in sorted(raw_exchanges.items()):
        if selector is not None and name not in used:
            continue
        kind = str(raw.get("type", "direct"))
        if kind not in EXCHANGE_TYPES:
            broken_exchanges.add(name)
            plan.problems.append(
                Problem(
                    "exchange",
                    name,
                    f"type {kind!r} is not supported by natswire.amqp "
                    "(direct, topic and fanout are)",
                )
            )
            continue
        arguments = raw.get("arguments") or {}
        if isinstance(arguments, Mapping) and arguments.get("alternate-exchange"):
            plan.problems.append(
                Problem(
                    "exchange",
                    name,
                    f"alternate-exchange {arguments['alternate-exchange']!r} is not supported "
                    "(unroutable messages are dropped on NATS)",
                )
            )
            broken_exchanges.add(name)
            continue
        plan.exchanges.append(
            PlannedExchange(
                name,
                kind,
                durable=bool(raw.get("durable", True)),
                auto_delete=bool(raw.get("auto_delete", False)),
                internal=bool(raw.get("internal", False)),
                subject_prefix=subjects.exchange_prefix(name),
            )
        )

    kinds: dict[str, str] = {x.name: x.type for x in plan.exchanges}
    kinds.update(BUILTIN_EXCHANGES)
    by_name = {q.name: q for q in planned_queues}
    for b in bindings:
        source = str(b.get("source", ""))
        dest = str(b.get("destination", ""))
        key = str(b.get("routing_key", ""))
        if b.get("destination_type", "queue") != "queue":
            if selector is None or source in used or dest in used:
                plan.problems.append(
                    Problem(
                        "binding",
                        f"{source} -> {dest}",
                        "exchange-to-exchange bindings are not supported by natswire.amqp",
                    )
                )
            continue
        if dest not in selected or dest in broken_queues:
            continue
        if source == "":
            continue  # the default exchange binds every queue implicitly
        if source in broken_exchanges:
            plan.problems.append(
                Problem(
                    "binding",
                    f"{source} -> {dest} ({key!r})",
                    f"its exchange {source!r} cannot be mapped",
                )
            )
            continue
        source_kind = kinds.get(source)
        if source_kind is None:
            plan.problems.append(
                Problem("binding", f"{source} -> {dest}", f"exchange {source!r} is not defined")
            )
            continue
        if b.get("arguments"):
            plan.problems.append(
                Problem(
                    "binding",
                    f"{source} -> {dest} ({key!r})",
                    "binding arguments are ignored",
                    fatal=False,
                )
            )
        filters, exact = subjects.binding_filters(source, source_kind, key)
        by_name[dest].bindings.append(PlannedBinding(source, dest, key, filters, exact))

    for planned in planned_queues:
        spec = QueueSpec(
            planned.name,
            arguments=dict(planned.arguments),
            bindings=[
                Binding(b.exchange, kinds[b.exchange], b.routing_key, 0, b.exact)
                for b in planned.bindings
            ],
        )
        planned.filters = spec.filters(subjects)
    plan.queues = sorted(planned_queues, key=lambda q: q.name)
    return plan


def _plan_queue(
    raw: Mapping[str, Any],
    policies: list[Mapping[str, Any]],
    subjects: SubjectMap,
    problems: list[Problem],
) -> PlannedQueue | None:
    name = str(raw["name"])
    arguments: dict[str, Any] = dict(raw.get("arguments") or {})
    from_policy: dict[str, str] = {}
    policy = _policy_for(name, policies)
    if policy is not None:
        definition = policy.get("definition") or {}
        for key, value in definition.items():
            arg = POLICY_ARGUMENTS.get(key)
            if arg is None:
                if not key.startswith(IGNORED_POLICY_PREFIXES):
                    problems.append(
                        Problem(
                            "policy",
                            str(policy.get("name")),
                            f"key {key!r} (applies to queue {name!r}) is ignored on NATS",
                            fatal=False,
                        )
                    )
                continue
            if arg not in arguments:
                arguments[arg] = value
                from_policy[arg] = str(policy.get("name"))
    fatal = False
    mapped: dict[str, Any] = {}
    for key, value in sorted(arguments.items()):
        where = f" (from policy {from_policy[key]!r})" if key in from_policy else ""
        if key in IGNORED_ARGUMENTS:
            problems.append(
                Problem(
                    "queue",
                    name,
                    f"{key}={value!r}{where} ignored: {IGNORED_ARGUMENTS[key]}",
                    fatal=False,
                )
            )
            continue
        if key in UNMAPPABLE_ARGUMENTS:
            problems.append(
                Problem(
                    "queue", name, f"argument {key}={value!r}{where}: {UNMAPPABLE_ARGUMENTS[key]}"
                )
            )
            fatal = True
            continue
        if key == "x-queue-type" and value == "stream":
            problems.append(
                Problem(
                    "queue",
                    name,
                    "x-queue-type 'stream': RabbitMQ streams are not "
                    "supported by natswire.amqp (use a JetStream stream directly)",
                )
            )
            fatal = True
            continue
        if key not in MAPPED_ARGUMENTS:
            problems.append(
                Problem(
                    "queue",
                    name,
                    f"argument {key}={value!r}{where} is not supported by natswire.amqp",
                )
            )
            fatal = True
            continue
        mapped[key] = value
    if raw.get("exclusive"):
        problems.append(
            Problem(
                "queue",
                name,
                "exclusive queues belong to one connection; the service declares it again on NATS",
                fatal=False,
            )
        )
        return None
    if fatal:
        return None
    if raw.get("auto_delete"):
        problems.append(
            Problem(
                "queue",
                name,
                "auto-delete: deleted when its last consumer is cancelled, "
                "or after the adapter's orphan_timeout without one",
                fatal=False,
            )
        )
    try:
        normalized = normalize_arguments(mapped)
    except AmqpAdapterError as exc:
        problems.append(Problem("queue", name, str(exc)))
        return None
    planned = PlannedQueue(
        name,
        durable=bool(raw.get("durable", True)),
        auto_delete=bool(raw.get("auto_delete", False)),
        arguments=normalized,
        consumer=consumer_name(name),
        subject=subjects.queue_subject(name),
        messages=raw.get("messages") if isinstance(raw.get("messages"), int) else None,
        from_policy={k: v for k, v in from_policy.items() if k in normalized},
    )
    return planned


# ------------------------------------------------------------------- applying


@dataclass
class ApplyResult:
    exchanges: int = 0
    queues: int = 0
    bindings: int = 0
    failures: list[str] = field(default_factory=list)


async def apply_plan(
    plan: Plan, conn: Any, say: Callable[[str], None] | None = None
) -> ApplyResult:
    """Declare the plan's exchanges, queues and bindings through an adapter connection
    (``natswire.amqp.Connection``). Idempotent: the same declarations succeed again.
    A declaration that conflicts with what exists on NATS (other arguments) is
    reported in ``failures`` (the adapter's PRECONDITION_FAILED) and the rest goes on."""
    result = ApplyResult()
    log = say or (lambda line: None)
    channel = await conn.channel()

    async def run(what: str, coro: Any) -> bool:
        nonlocal channel
        try:
            await coro
            return True
        except ChannelError as exc:
            result.failures.append(f"{what}: {exc}")
            log(f"  FAILED {what}: {exc}")
            channel = await conn.channel()  # a channel error closed the channel
            return False

    try:
        for x in plan.exchanges:
            if await run(
                f"exchange {x.name!r}",
                channel.exchange_declare(
                    x.name,
                    x.type,
                    durable=x.durable,
                    auto_delete=x.auto_delete,
                    internal=x.internal,
                ),
            ):
                result.exchanges += 1
                log(f"  exchange {x.name} ({x.type})")
        for q in plan.queues:
            if not await run(
                f"queue {q.name!r}",
                channel.queue_declare(
                    q.name, durable=q.durable, auto_delete=q.auto_delete, arguments=q.arguments
                ),
            ):
                continue
            result.queues += 1
            log(f"  queue {q.name} -> consumer {q.consumer}")
            for b in q.bindings:
                if await run(
                    f"binding {b.exchange!r} -> {b.queue!r} ({b.routing_key!r})",
                    channel.queue_bind(b.queue, b.exchange, b.routing_key),
                ):
                    result.bindings += 1
                    log(f"  binding {b.exchange} -> {b.queue} ({b.routing_key!r})")
    finally:
        await channel.close()
    return result


__all__ = [
    "ApplyResult",
    "Plan",
    "PlannedBinding",
    "PlannedExchange",
    "PlannedQueue",
    "Problem",
    "apply_plan",
    "fetch_definitions",
    "load_definitions",
    "make_plan",
    "management_url_for",
    "read_definitions",
    "vhost_of",
]
