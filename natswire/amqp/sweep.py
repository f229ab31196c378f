"""The expiry sweep: expired messages at the head of queues nobody consumes here.

Expiry is checked when a message is about to be delivered, so a consumed queue needs no
sweep. A queue with a dead-letter exchange that this connection declared or found, and
that nobody consumes (here or elsewhere), is looked at every ``expiry_sweep_interval``:
its head message is read without delivering it and, once expired, dead-lettered
(RabbitMQ, too, expires messages when they reach the head of a queue).

What it costs the server is bounded whatever the number of queues: the sweep spends at
most ``sweep_requests_per_second`` JetStream API requests, so a round over many queues
takes longer instead of costing more. A queue whose head carries no TTL (and whose
queue has none) is not read again until its head moves, and one whose head expires
later is not read again before then: expiry work goes to queues with TTLs that are due.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..jetstream.context import JetStreamContext
from ..jetstream.errors import NotFoundError
from ..jetstream.message import JetStreamMessage
from ..protocol.errors import NatsWireError
from .expiry import DeadLetters, expires_at_ns, is_expired, parse_time_ns

if TYPE_CHECKING:
    from .._client import Client
    from .acklog import AckLog
    from .channel import Channel
    from .queues import QueueSpec
    from .topology import Topology

logger = logging.getLogger("natswire.amqp")

#: Expired messages dead-lettered per queue and round at most.
SWEEP_BATCH = 100


class RequestBudget:
    """At most ``rate`` requests a second: :meth:`take` waits for the next slot."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = 1.0 / rate
        self._clock = clock
        self._next = 0.0

    def delay(self) -> float:
        """Take the next slot; how long to wait for it (s)."""
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self._interval
        return slot - now

    async def take(self) -> None:
        """Wait for the next slot."""
        wait = self.delay()
        if wait > 0:
            await asyncio.sleep(wait)


class ExpirySweep:
    """The sweep of one adapter connection, in a task of its own."""

    def __init__(
        self,
        nc: Client,
        js: JetStreamContext,
        stream: str,
        dead_letters: DeadLetters,
        interval: float | None,
        requests_per_second: float,
        acklog: AckLog | None = None,
    ) -> None:
        self._nc = nc
        self._acklog = acklog
        self._js = js
        self._stream = stream
        self._dead_letters = dead_letters
        self._interval = interval
        self._budget = RequestBudget(requests_per_second)
        self._queues: set[str] = set()
        #: queue -> (ack floor, time before which its head needs no look).
        self._quiet_until: dict[str, tuple[int, float]] = {}
        #: restored queue -> (its restore mark, what the ack log lists up to it).
        self._settled: dict[str, tuple[int, set[int]]] = {}

    # ------------------------------------------------------------ queue watch

    def queue_seen(self, spec: QueueSpec, channel: Channel) -> None:
        """A queue declared or found through this connection: swept if it has a
        dead-letter exchange."""
        if spec.dead_letter_exchange is not None:
            self._queues.add(spec.name)

    def queue_gone(self, queue: str) -> None:
        """``queue`` was deleted: no longer swept."""
        self._queues.discard(queue)
        self._quiet_until.pop(queue, None)
        self._settled.pop(queue, None)

    # ------------------------------------------------------------------- task

    async def run(self, topology: Topology, consumed: Callable[[str], bool]) -> None:
        """Sweep every interval until cancelled (the connection runs this as one of its
        background tasks; nothing to do when the interval is ``None``)."""
        interval = self._interval
        if interval is None:
            return
        while True:
            await asyncio.sleep(interval)
            if not self._nc.is_connected:
                continue
            try:
                await self.sweep(topology, consumed)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.debug("natswire.amqp: expiry sweep: %s", exc)

    # ------------------------------------------------------------------ round

    async def sweep(self, topology: Topology, consumed: Callable[[str], bool]) -> None:
        """One round over the swept queues that nobody here consumes (``consumed(queue)``
        is asked when the round reaches the queue)."""
        for queue in list(self._queues):
            if consumed(queue) or queue not in self._queues:
                continue
            await self._budget.take()
            try:
                found = await topology.find_queue(queue)
            except NatsWireError as exc:
                logger.debug("natswire.amqp: sweep %s: %s", queue, exc)
                continue
            if found is None:
                self.queue_gone(queue)
                continue
            info, spec = found
            if not (info.num_pending or info.num_ack_pending) or info.num_waiting:
                continue  # empty, or consumed elsewhere (that consumer expires lazily)
            floor = info.ack_floor.stream_seq if info.ack_floor is not None else 0
            quiet = self._quiet_until.get(queue)
            if quiet is not None and quiet[0] == floor and time.time() < quiet[1]:
                continue  # the same head, not due yet
            await self._expire_head(topology, info, spec, floor)

    async def _expire_head(
        self, topology: Topology, info: Any, spec: QueueSpec, floor: int
    ) -> None:
        settled = await self._settled_of(spec, floor)
        for _ in range(SWEEP_BATCH):
            found, due = await self._head_due(info, spec, floor)
            if not found:
                return  # nothing readable at the head now: looked at again next round
            if due is None or due > time.time():
                self._quiet_until[spec.name] = (floor, float("inf") if due is None else due)
                return
            await self._budget.take()
            msgs = await topology.pull_once(spec, 1)
            if not msgs:
                return
            msg = msgs[0]
            if msg.metadata.sequence.stream in settled:
                await msg.ack()
                floor = msg.metadata.sequence.stream
                continue
            if not is_expired(msg, msg.metadata.timestamp_ns, spec.message_ttl):
                await msg.nak()
                return
            await self._dead_letters.expire(spec, msg)
            floor = msg.metadata.sequence.stream

    async def _settled_of(self, spec: QueueSpec, floor: int) -> set[int]:
        """For a restored queue not yet consumed past its restore: what the ack log says
        left it before (read once per restore), to be passed, not expired again."""
        if self._acklog is None or spec.restored_at <= floor:
            self._settled.pop(spec.name, None)
            return set()
        known = self._settled.get(spec.name)
        if known is not None and known[0] == spec.restored_at:
            return known[1]
        await self._budget.take()
        settled = await self._acklog.settled(spec.name, spec.restored_at, spec.created_seq)
        self._settled[spec.name] = (spec.restored_at, settled)
        return settled

    async def _head_due(self, info: Any, spec: QueueSpec, floor: int) -> tuple[bool, float | None]:
        """Whether the queue has a first message to deliver (read without delivering it),
        and when it expires, as a wall-clock time (``None``: never)."""
        start = max(floor, spec.created_seq) + 1
        best: Any = None
        for subject in info.config.filter_subjects or []:
            await self._budget.take()
            try:
                raw = await self._js.get_msg(self._stream, seq=start, subject=subject, next=True)
            except NotFoundError:
                continue
            if raw.seq is not None and (best is None or raw.seq < best.seq):
                best = raw
        if best is None:
            return False, None
        msg = JetStreamMessage(self._nc, best.subject or "", best.data, None, best.headers)
        deadline_ns = expires_at_ns(msg, parse_time_ns(best.time), spec.message_ttl)
        return True, None if deadline_ns is None else deadline_ns / 1e9
