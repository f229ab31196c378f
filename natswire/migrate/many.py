"""Shovelling many queues at once (``natswire migrate shovel --queues REGEX``).

The queues are the RabbitMQ vhost's queues whose names match (read from the management
API or a definitions file, as ``plan`` reads them), moved in either direction to the
queue of the same name on the other side. Up to ``concurrency`` queues move at a time,
each with the one-queue shovel's guarantees (:mod:`natswire.migrate.shovel`) over one
RabbitMQ and one NATS connection shared by all; a queue is done when it is empty
(``until_empty``: a many-queue run always ends that way). Each running queue prints its
own progress line and the run a total line; one queue's failure is reported and the
others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..amqp.connection import Connection
from .broker import connect_nats, connect_rabbitmq
from .errors import MigrationError
from .shovel import MoveOptions, move_to_amqp, move_to_nats
from .stats import ShovelStats

DEFAULT_CONCURRENCY = 8
#: Queues the migration tools own themselves (the bridge's), never shovelled.
OWN_QUEUE_PREFIX = "natswire-bridge."


def matching_queues(definitions: dict[str, Any], vhost: str, pattern: str) -> list[str]:
    """The names of the vhost's queues that match ``pattern`` (``re.search``), sorted;
    server-named (``amq.``) and the bridge's queues left out."""
    selector = re.compile(pattern)
    return sorted(
        q["name"]
        for q in definitions.get("queues", [])
        if q.get("vhost", vhost) == vhost
        and not q["name"].startswith(("amq.", OWN_QUEUE_PREFIX))
        and selector.search(q["name"])
    )


@dataclass
class ManyStats:
    """Per-queue counters of a many-queue shovel, and the failures."""

    queues: list[str]
    done: dict[str, ShovelStats] = field(default_factory=dict)
    running: dict[str, ShovelStats] = field(default_factory=dict)
    #: Stopped before they were empty.
    unfinished: dict[str, ShovelStats] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    def _all(self) -> list[ShovelStats]:
        return [*self.done.values(), *self.running.values(), *self.unfinished.values()]

    @property
    def moved(self) -> int:
        return sum(one.moved for one in self._all())

    @property
    def duplicates(self) -> int:
        return sum(one.duplicates for one in self._all())

    @property
    def remaining(self) -> int:
        """Not yet moved, in the queues counted so far (not started ones: unknown)."""
        return sum(one.remaining or 0 for one in self._all())

    @property
    def elapsed(self) -> float:
        end = self.finished if self.finished is not None else time.monotonic()
        return max(end - self.started, 1e-9)

    def line(self) -> str:
        """The total progress line."""
        return (
            f"total: {len(self.done)}/{len(self.queues)} queues done, "
            f"{len(self.running)} moving, {len(self.failures)} failed; moved {self.moved} "
            f"({self.moved / self.elapsed:.0f} msg/s), remaining {self.remaining} in the "
            "queues started"
        )

    def summary(self) -> str:
        lines = [one.summary() for one in [*self.done.values(), *self.unfinished.values()]]
        lines += [f"{queue}: FAILED: {why}" for queue, why in self.failures.items()]
        not_done = len(self.queues) - len(self.done) - len(self.failures)
        lines.append(
            f"total: {len(self.done)} of {len(self.queues)} queues moved "
            f"({self.moved} messages in {self.elapsed:.1f} s, "
            f"{self.moved / self.elapsed:.0f} msg/s); {len(self.failures)} failed; "
            f"{not_done} not finished; {self.remaining} messages left in the queues started"
        )
        return "\n".join(lines)

    @property
    def complete(self) -> bool:
        """Every queue moved and empty."""
        return not self.failures and len(self.done) == len(self.queues) and self.remaining == 0


async def shovel_many(
    *,
    to_nats: bool,
    amqp_url: str,
    nats_url: str,
    queues: list[str],
    namespace: str = "",
    options: MoveOptions | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> ManyStats:
    """Move each of ``queues`` to the queue of the same name on the other side (RabbitMQ
    -> NATS with ``to_nats``, else back), ``concurrency`` at a time, each until empty.
    ``options.stop`` stops them all; ``options.progress`` gets per-queue lines and a
    total line."""
    options = replace(options or MoveOptions(), until_empty=True)
    stats = ManyStats(list(queues))
    rabbit = await connect_rabbitmq(amqp_url)
    try:
        conn = await connect_nats(nats_url, namespace)
        try:
            move = _mover(to_nats, rabbit, amqp_url, conn, options)
            reporter = asyncio.ensure_future(_report_totals(stats, options))
            try:
                await _run_all(queues, move, stats, options, concurrency)
            finally:
                reporter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reporter
        finally:
            await conn.close()
    finally:
        stats.finished = time.monotonic()
        with contextlib.suppress(Exception):
            await rabbit.close()
    return stats


def _mover(
    to_nats: bool, rabbit: Any, amqp_url: str, conn: Connection, options: MoveOptions
) -> Callable[[str, Callable[[ShovelStats], None]], Awaitable[ShovelStats]]:
    if to_nats:
        return lambda queue, report: move_to_nats(
            rabbit, amqp_url, conn, queue, queue, options, report=report
        )
    return lambda queue, report: move_to_amqp(
        conn, queue, rabbit, amqp_url, queue, options, report=report
    )


async def _run_all(
    queues: list[str],
    move: Callable[[str, Callable[[ShovelStats], None]], Awaitable[ShovelStats]],
    stats: ManyStats,
    options: MoveOptions,
    concurrency: int,
) -> None:
    todo = iter(queues)

    async def work() -> None:
        for queue in todo:
            if options.stop.is_set():
                return
            try:
                result = await move(queue, functools.partial(stats.running.__setitem__, queue))
            except MigrationError as exc:
                stats.failures[queue] = str(exc)
            except Exception as exc:  # a broker error: this queue failed, the rest go on
                stats.failures[queue] = f"{type(exc).__name__}: {exc}"
            else:
                finished = stats.done if result.remaining == 0 else stats.unfinished
                finished[queue] = result
            stats.running.pop(queue, None)

    await asyncio.gather(*(work() for _ in range(max(1, concurrency))))


async def _report_totals(stats: ManyStats, options: MoveOptions) -> None:
    progress = options.progress
    if progress is None:
        return
    while True:
        await asyncio.sleep(progress.interval)
        progress.show(stats.line())


__all__ = ["DEFAULT_CONCURRENCY", "ManyStats", "matching_queues", "shovel_many"]
