"""Applying a topology plan: declaring its exchanges, queues and bindings on NATS
through a natswire.amqp connection (``natswire migrate apply``).

Resumable at scale: the queues already on NATS are listed once (their JetStream
consumers); a queue whose consumer already has every planned filter subject is
declared again (the adapter checks its arguments are the same: nothing is created
twice) but its bindings are not redone. So a rerun after a kill goes fast over what was
done and continues where it stopped. Queues are declared by several workers at once,
each on a channel of its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..amqp.errors import ChannelError
from ..jetstream.errors import StreamNotFoundError
from .plan import Plan, PlannedBinding, PlannedExchange, PlannedQueue

#: Queues declared at once (one channel each).
DEFAULT_CONCURRENCY = 8


@dataclass
class ApplyResult:
    """How many declarations succeeded, and each one that failed (with why)."""

    exchanges: int = 0
    queues: int = 0
    bindings: int = 0
    failures: list[str] = field(default_factory=list)
    #: Of ``queues``: found complete on NATS (bindings already there), not redone.
    in_place: int = 0
    #: Queues of the plan handled so far (declared, found in place, or failed).
    done: int = 0
    total: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        """Queues handled per second."""
        return self.done / max(time.monotonic() - self.started, 1e-9)

    def line(self) -> str:
        """A progress line: ``queues 1200/20000 (300 already in place), 450 queues/s``."""
        text = f"apply: queues {self.done}/{self.total}"
        if self.in_place:
            text += f" ({self.in_place} already in place)"
        text += f", {self.rate:.0f} queues/s"
        if self.failures:
            text += f", {len(self.failures)} failed"
        return text


class _Declarer:
    """Runs declarations on one channel, opening another when an error closes it."""

    def __init__(self, conn: Any, result: ApplyResult, log: Callable[[str], None]) -> None:
        self.conn = conn
        self.result = result
        self.log = log
        self.channel: Any = None

    async def open(self) -> None:
        self.channel = await self.conn.channel()

    async def close(self) -> None:
        await self.channel.close()

    async def declare(self, what: str, call: Callable[[Any], Awaitable[Any]]) -> bool:
        """``call(channel)``; True when it succeeded, else the failure is recorded."""
        try:
            await call(self.channel)
            return True
        except ChannelError as exc:
            self.result.failures.append(f"{what}: {exc}")
            self.log(f"  FAILED {what}: {exc}")
            self.channel = await self.conn.channel()  # a channel error closed the channel
            return False

    async def exchange(self, x: PlannedExchange) -> None:
        declared = await self.declare(
            f"exchange {x.name!r}",
            lambda ch: ch.exchange_declare(
                x.name, x.type, durable=x.durable, auto_delete=x.auto_delete, internal=x.internal
            ),
        )
        if declared:
            self.result.exchanges += 1
            self.log(f"  exchange {x.name} ({x.type})")

    async def queue(self, q: PlannedQueue, complete: bool) -> None:
        """Declare ``q`` and its bindings; ``complete``: its consumer already has every
        filter of the plan, so the bindings are in place."""
        declared = await self.declare(
            f"queue {q.name!r}",
            lambda ch: ch.queue_declare(
                q.name, durable=q.durable, auto_delete=q.auto_delete, arguments=q.arguments
            ),
        )
        self.result.done += 1
        if not declared:
            return
        self.result.queues += 1
        if complete:
            self.result.in_place += 1
            self.result.bindings += len(q.bindings)
            return
        self.log(f"  queue {q.name} -> consumer {q.consumer}")
        for b in q.bindings:
            await self.binding(b)

    async def binding(self, b: PlannedBinding) -> None:
        declared = await self.declare(
            f"binding {b.exchange!r} -> {b.queue!r} ({b.routing_key!r})",
            lambda ch: ch.queue_bind(b.queue, b.exchange, b.routing_key),
        )
        if declared:
            self.result.bindings += 1
            self.log(f"  binding {b.exchange} -> {b.queue} ({b.routing_key!r})")


async def apply_plan(
    plan: Plan,
    conn: Any,
    say: Callable[[str], None] | None = None,
    *,
    progress: Callable[[ApplyResult], None] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> ApplyResult:
    """Declare the plan's exchanges, queues and bindings through an adapter connection
    (``natswire.amqp.Connection``). Idempotent: the same declarations succeed again,
    and queues found complete are not re-bound (see the module docs). A declaration
    that conflicts with what exists on NATS (other arguments) is reported in
    ``failures`` (the adapter's PRECONDITION_FAILED) and the rest goes on.
    ``progress(result)`` is called after each queue."""
    result = ApplyResult(total=len(plan.queues))
    log = say or (lambda line: None)
    existing = await _existing_filters(conn)
    declarer = _Declarer(conn, result, log)
    await declarer.open()
    try:
        for x in plan.exchanges:
            await declarer.exchange(x)
    finally:
        await declarer.close()
    todo = iter(plan.queues)

    async def work() -> None:
        worker = _Declarer(conn, result, log)
        await worker.open()
        try:
            for q in todo:
                have = existing.get(conn.consumer_name(q.name))
                await worker.queue(q, have is not None and set(q.filters) <= have)
                if progress is not None:
                    progress(result)
        finally:
            await worker.close()

    await asyncio.gather(*(work() for _ in range(max(1, concurrency))))
    return result


async def _existing_filters(conn: Any) -> dict[str, set[str]]:
    """Consumer name -> its filter subjects, for every consumer on the adapter's stream."""
    try:
        infos = await conn.js.consumers_info(conn.stream)
    except StreamNotFoundError:
        return {}
    found: dict[str, set[str]] = {}
    for info in infos:
        config = info.config
        subjects = set(config.filter_subjects or [])
        if config.filter_subject:
            subjects.add(config.filter_subject)
        found[info.name] = subjects
    return found


__all__ = ["DEFAULT_CONCURRENCY", "ApplyResult", "apply_plan"]
