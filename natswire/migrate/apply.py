"""Applying a topology plan: declaring its exchanges, queues and bindings on NATS
through a natswire.amqp connection (``natswire migrate apply``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..amqp.errors import ChannelError
from .plan import Plan, PlannedBinding, PlannedExchange, PlannedQueue


@dataclass
class ApplyResult:
    """How many declarations succeeded, and each one that failed (with why)."""

    exchanges: int = 0
    queues: int = 0
    bindings: int = 0
    failures: list[str] = field(default_factory=list)


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

    async def queue(self, q: PlannedQueue) -> None:
        declared = await self.declare(
            f"queue {q.name!r}",
            lambda ch: ch.queue_declare(
                q.name, durable=q.durable, auto_delete=q.auto_delete, arguments=q.arguments
            ),
        )
        if not declared:
            return
        self.result.queues += 1
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
    plan: Plan, conn: Any, say: Callable[[str], None] | None = None
) -> ApplyResult:
    """Declare the plan's exchanges, queues and bindings through an adapter connection
    (``natswire.amqp.Connection``). Idempotent: the same declarations succeed again.
    A declaration that conflicts with what exists on NATS (other arguments) is
    reported in ``failures`` (the adapter's PRECONDITION_FAILED) and the rest goes on."""
    result = ApplyResult()
    declarer = _Declarer(conn, result, say or (lambda line: None))
    await declarer.open()
    try:
        for x in plan.exchanges:
            await declarer.exchange(x)
        for q in plan.queues:
            await declarer.queue(q)
    finally:
        await declarer.close()
    return result


__all__ = ["ApplyResult", "apply_plan"]
