"""What is not yet moved out of a source queue: the shovel's and the bridge's end condition.

A queue is empty only when nothing in it is waiting anywhere: not ready, not delivered
to some consumer and waiting for its ack, not waiting to be redelivered. On NATS a
natswire.amqp queue is a durable JetStream consumer (``Connection.consumer_name(queue)``
on the connection's stream), and its consumer info says all of it: ``num_pending``
(ready), ``num_ack_pending`` (delivered and not acked, to any client: this run, a
crashed earlier run, a service) and ``num_redelivered`` (of those, the ones delivered
more than once; they are part of ``num_ack_pending``). A message delivered to a client
that died comes back after the consumer's ack wait: :class:`AckWaitCountdown` says how
long that can take at most.

On RabbitMQ a passive declare gives the ready messages only; a dead connection's
unacknowledged messages are requeued by the broker at once, so the rest is what this
run holds itself (passed in by the caller).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..amqp.connection import Connection
from ..jetstream.api import ConsumerInfo
from ..jetstream.errors import StreamNotFoundError
from .errors import NatsSideError


@dataclass(frozen=True)
class Backlog:
    """The messages of a source queue that are not yet moved."""

    #: Waiting to be delivered.
    ready: int
    #: Delivered (to this run or to any other consumer) and not yet acknowledged.
    unacked: int = 0
    #: Of ``ready + unacked``: delivered more than once and still not acknowledged.
    redelivered: int = 0
    #: The source's ack wait in seconds (NATS), after which an unacked delivery of a
    #: dead client is delivered again; None for RabbitMQ (it requeues at once).
    ack_wait: float | None = None

    @property
    def total(self) -> int:
        """Every message not yet moved."""
        return self.ready + self.unacked

    def describe(self) -> str:
        """``12`` or ``12 (3 ready, 9 delivered unacked, 2 redelivered)``."""
        if not self.unacked and not self.redelivered:
            return str(self.total)
        parts = [f"{self.ready} ready", f"{self.unacked} delivered unacked"]
        if self.redelivered:
            parts.append(f"{self.redelivered} redelivered")
        return f"{self.total} ({', '.join(parts)})"


async def nats_backlog(conn: Connection, queue: str) -> Backlog:
    """The backlog of natswire.amqp queue ``queue``, from its JetStream consumer's info
    (looked up as the adapter does: a queue whose consumer a server restart lost is made
    again from its record); :class:`NatsSideError` when there is no such queue."""
    try:
        found = await conn.topology.find_queue(queue)
    except StreamNotFoundError:
        found = None
    if found is None:
        ns = conn.namespace or "(none)"
        raise NatsSideError(
            f"NATS namespace {ns!r} has no queue {queue!r} "
            "(create it first: natswire migrate apply)"
        )
    return _backlog(found[0])


async def consumer_backlog(conn: Connection, consumer: str) -> Backlog:
    """The backlog of JetStream consumer ``consumer`` on the connection's stream (a
    queue's, or the bridge's)."""
    return _backlog(await conn.js.consumer_info(conn.stream, consumer))


def _backlog(info: ConsumerInfo) -> Backlog:
    return Backlog(
        ready=info.num_pending,
        unacked=info.num_ack_pending,
        redelivered=info.num_redelivered,
        ack_wait=info.config.ack_wait,
    )


class AckWaitCountdown:
    """How long messages held by another consumer can take to come back.

    Whatever a crashed earlier run held was delivered to it before this run started, so
    JetStream delivers it again at the latest one ack wait after this run's start (the
    ``since`` given, monotonic). Past that, the holder is alive (another shovel, a
    service consuming the queue) and keeps the messages until it acks or dies.
    """

    def __init__(self, since: float | None = None) -> None:
        self.since = time.monotonic() if since is None else since

    def left(self, ack_wait: float, now: float | None = None) -> float:
        """Seconds until every earlier delivery is due again (0 when past)."""
        now = time.monotonic() if now is None else now
        return max(0.0, self.since + ack_wait - now)

    def line(self, backlog: Backlog, now: float | None = None) -> str:
        """A progress line for a source whose only backlog is held elsewhere."""
        held = backlog.unacked
        if backlog.ack_wait is None:
            return f"waiting for {held} messages another consumer holds"
        left = self.left(backlog.ack_wait, now)
        if left > 0:
            return (
                f"waiting for {held} messages delivered to another consumer (a crashed "
                f"earlier run?): due again in at most {left:.0f} s (ack wait "
                f"{backlog.ack_wait:.0f} s)"
            )
        return (
            f"waiting for {held} messages another consumer still holds past the ack wait "
            f"({backlog.ack_wait:.0f} s): is another shovel or a service consuming "
            "this queue?"
        )


__all__ = ["AckWaitCountdown", "Backlog", "consumer_backlog", "nats_backlog"]
