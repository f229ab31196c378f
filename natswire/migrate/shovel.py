"""The shovel: move a queue's messages between RabbitMQ and natswire.amqp, losing none.

RabbitMQ -> NATS (:func:`shovel_to_nats`), exactly once within JetStream's duplicate
window:

1. Consume the RabbitMQ queue with manual acks (prefetch bounds what is in flight).
2. Publish each message, in order, into the natswire.amqp queue (the default exchange,
   routing key = the queue: only that queue gets it) with the same body, properties and
   headers, and a ``Nats-Msg-Id`` that is a digest of source, target, route, properties
   and body (:func:`~natswire.migrate.messages.stable_id`): the same RabbitMQ message
   always gets the same id, whichever run of the shovel moves it.
3. Ack the RabbitMQ message only after JetStream acknowledged the publish (its PubAck),
   in order. A failed or unanswered publish is sent again with the same id until it is
   acknowledged (NATS down: for up to ``nats_timeout`` seconds, then the shovel stops
   and RabbitMQ takes back what was not acked).

A crash at any point leaves each message either unacked in RabbitMQ (it is delivered
again, marked redelivered, and its second publish is dropped by JetStream as a
duplicate: counted, not stored) or acked after its publish was stored. Two distinct
messages with byte-identical content and properties and no ``message_id`` get the same
digest: when a never-delivered message meets a duplicate answer, it is published again
under a suffixed id, so such messages are all moved; only a redelivered one (after a
crash) is taken as already moved. Give messages a ``message_id`` to rule that out.

NATS -> RabbitMQ (:func:`shovel_to_amqp`, the rollback): consume the natswire.amqp
queue, publish each message to the RabbitMQ queue with publisher confirms
(``mandatory``: an unroutable message is an error, not a loss), ack the NATS delivery
after the broker confirmed. RabbitMQ has no duplicate window, so this direction is at
least once: a crash can repeat the messages that were in flight (at most the prefetch).
A message without ``message_id`` gets ``natswire-<stream>-<sequence>``, stable across
runs, so consumers can drop such repeats.

Done means done (``until_empty``): a run ends only when the source holds nothing that is
not yet moved (:mod:`natswire.migrate.backlog`): on NATS no message ready, none
delivered and unacked (to this run, to a crashed earlier run, to anyone) and none
waiting for redelivery; on RabbitMQ no message ready and none held by this run (the
broker requeues a dead connection's unacked messages itself). Messages a crashed
earlier run held on NATS come back after the queue's ack wait; meanwhile the progress
line counts down to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..amqp.connection import Connection
from ..amqp.properties import Delivery
from ..protocol.errors import NatsWireError
from .backlog import AckWaitCountdown, Backlog, nats_backlog
from .broker import (
    amqp_user,
    connect_nats,
    connect_rabbitmq,
    rabbit_failures,
    rabbit_queue_count,
    redact,
)
from .errors import NatsSideError, RabbitSideError
from .messages import ORIGIN_HEADER
from .movers import DEFAULT_NATS_TIMEOUT, ToNats, ToRabbit, consume_into
from .stats import Progress, RateLimiter, ShovelStats
from .topology import vhost_of

DEFAULT_PREFETCH = 500
#: How often, at most, an idle shovel reads the source's backlog.
CHECK_INTERVAL = 0.2
#: ``until_empty``: this many empty readings in a row end the run.
EMPTY_READINGS = 3


@dataclass
class MoveOptions:
    """How a shovel runs (shared by the queues of a many-queue shovel: one rate limit,
    one stop)."""

    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(None))
    until_empty: bool = False
    prefetch: int = DEFAULT_PREFETCH
    progress: Progress | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    #: How long NATS may stay unusable before the shovel gives up.
    nats_timeout: float = DEFAULT_NATS_TIMEOUT


# ------------------------------------------------------------------ to NATS


async def shovel_to_nats(
    *,
    amqp_url: str,
    queue: str,
    nats_url: str,
    namespace: str = "",
    to_queue: str | None = None,
    rate: float | None = None,
    until_empty: bool = False,
    prefetch: int = DEFAULT_PREFETCH,
    progress: Progress | None = None,
    stop: asyncio.Event | None = None,
    nats_timeout: float = DEFAULT_NATS_TIMEOUT,
) -> ShovelStats:
    """Move the messages of RabbitMQ queue ``queue`` into natswire.amqp queue
    ``to_queue`` (default: the same name). Runs until ``stop`` is set, or, with
    ``until_empty``, until the RabbitMQ queue is empty. See the module docs."""
    options = MoveOptions(
        RateLimiter(rate), until_empty, prefetch, progress, stop or asyncio.Event(), nats_timeout
    )
    # Both ends are checked before anything is consumed.
    rabbit = await connect_rabbitmq(amqp_url)
    try:
        channel = await rabbit.channel()
        await rabbit_queue_count(channel, queue, vhost_of(amqp_url))
        conn = await connect_nats(nats_url, namespace)
        try:
            return await move_to_nats(rabbit, amqp_url, conn, queue, to_queue or queue, options)
        finally:
            await conn.close()
    finally:
        with contextlib.suppress(Exception):
            await rabbit.close()


async def move_to_nats(
    rabbit: Any,
    amqp_url: str,
    conn: Connection,
    queue: str,
    target: str,
    options: MoveOptions,
    report: Callable[[ShovelStats], None] | None = None,
) -> ShovelStats:
    """Move RabbitMQ queue ``queue`` into natswire.amqp queue ``target`` over open
    connections (``rabbit``: an aio-pika connection to ``amqp_url``); a channel of its
    own on each side. ``report`` gets the live stats at the start."""
    vhost = vhost_of(amqp_url)
    stats = ShovelStats(
        f"rabbitmq {redact(amqp_url)} queue {queue!r}",
        f"nats namespace {conn.namespace or '(none)'!r} queue {target!r}",
    )
    if report is not None:
        report(stats)
    channel = await rabbit.channel()  # its own: the mover's acks use ``multiple``
    try:
        ready = await rabbit_queue_count(channel, queue, vhost)
        stats.backlog = Backlog(ready)
        await nats_backlog(conn, target)
        await channel.set_qos(prefetch_count=options.prefetch)
        source = await channel.get_queue(queue, ensure=False)
        mover = ToNats(
            conn,
            stats,
            id_source=f"{vhost}/{queue}",
            route=lambda message: ("", target),
            extra_headers={ORIGIN_HEADER: f"rabbitmq:{vhost}/{queue}"},
            nats_timeout=options.nats_timeout,
        )
        mover.start()
        inbox: asyncio.Queue[Any] = asyncio.Queue()

        async def backlog() -> Backlog:
            # RabbitMQ counts ready messages; what this run holds is the rest.
            ready = await rabbit_queue_count(channel, queue, vhost)
            return Backlog(ready, unacked=mover.in_flight + inbox.qsize())

        tag = await consume_into(source, inbox)
        try:
            try:
                await _pump(inbox, mover.handle, backlog, mover, stats, options)
                with contextlib.suppress(Exception):
                    await source.cancel(tag)
                await mover.finish()
            except rabbit_failures() as exc:
                raise RabbitSideError(
                    f"lost RabbitMQ mid-shovel ({type(exc).__name__}: {exc}); what was not "
                    "acknowledged stays in RabbitMQ, and moving it again stores nothing twice"
                ) from None
            with contextlib.suppress(Exception):
                await _final_backlog(backlog, stats)
        finally:
            stats.finished = time.monotonic()
    finally:
        with contextlib.suppress(Exception):
            await channel.close()
    return stats


async def _pump(
    inbox: asyncio.Queue[Any],
    handle: Callable[[Any], Awaitable[None]],
    backlog: Callable[[], Awaitable[Backlog]],
    mover: ToNats | ToRabbit,
    stats: ShovelStats,
    options: MoveOptions,
) -> None:
    """The main loop: hand deliveries over in order; show progress; stop when asked or
    (``until_empty``) when the source's whole backlog reads 0 several times in a row
    with nothing in flight here."""
    loop = asyncio.get_running_loop()
    countdown = AckWaitCountdown()
    reader = _BacklogReader(backlog, stats, options.nats_timeout)
    progress = options.progress
    next_report = loop.time()  # a first line at once, then every interval
    empty_readings = 0
    last_check = 0.0
    while not options.stop.is_set():
        mover.check()
        now = loop.time()
        idle = mover.in_flight == 0 and inbox.empty()
        if progress is not None and now >= next_report:
            next_report = now + progress.interval
            current = await reader.read()
            line = stats.line()
            if idle and current is not None and current.ready == 0 and current.unacked:
                line += "; " + countdown.line(current)
            progress.show(line)
        try:
            item = inbox.get_nowait()
        except asyncio.QueueEmpty:
            item = None
        if item is None:
            if options.until_empty and idle and now - last_check >= CHECK_INTERVAL:
                last_check = now
                current = await reader.read()
                empty = current is not None and current.total == 0 and inbox.empty()
                empty_readings = empty_readings + 1 if empty else 0
                if empty_readings >= EMPTY_READINGS:
                    return
            try:
                item = await asyncio.wait_for(inbox.get(), 0.1)
            except asyncio.TimeoutError:
                continue
        empty_readings = 0
        await options.limiter.wait()
        await handle(item)


class _BacklogReader:
    """Reads the source's backlog into ``stats``; None while the source cannot answer
    (NATS reconnecting), :class:`NatsSideError` after ``timeout`` seconds of that."""

    def __init__(
        self, backlog: Callable[[], Awaitable[Backlog]], stats: ShovelStats, timeout: float
    ) -> None:
        self.backlog = backlog
        self.stats = stats
        self.timeout = timeout
        self.failing_since: float | None = None

    async def read(self) -> Backlog | None:
        try:
            current = await self.backlog()
        except (NatsWireError, OSError, asyncio.TimeoutError) as exc:
            if isinstance(exc, NatsSideError):
                raise
            now = time.monotonic()
            if self.failing_since is None:
                self.failing_since = now
            elif now - self.failing_since >= self.timeout:
                raise NatsSideError(
                    f"cannot read the source queue's backlog for {self.timeout:.0f} s "
                    f"(last error: {type(exc).__name__}: {exc})"
                ) from None
            return None
        self.failing_since = None
        self.stats.backlog = current
        return current


# ------------------------------------------------------------------ to RabbitMQ


async def shovel_to_amqp(
    *,
    nats_url: str,
    queue: str,
    amqp_url: str,
    namespace: str = "",
    to_queue: str | None = None,
    rate: float | None = None,
    until_empty: bool = False,
    prefetch: int = DEFAULT_PREFETCH,
    progress: Progress | None = None,
    stop: asyncio.Event | None = None,
    nats_timeout: float = DEFAULT_NATS_TIMEOUT,
) -> ShovelStats:
    """Move the messages of natswire.amqp queue ``queue`` into RabbitMQ queue
    ``to_queue`` (default: the same name): the rollback direction (at least once)."""
    target = to_queue or queue
    options = MoveOptions(
        RateLimiter(rate), until_empty, prefetch, progress, stop or asyncio.Event(), nats_timeout
    )
    rabbit = await connect_rabbitmq(amqp_url)
    try:
        check_channel = await rabbit.channel()
        await rabbit_queue_count(check_channel, target, vhost_of(amqp_url))
        conn = await connect_nats(nats_url, namespace)
        try:
            return await move_to_amqp(conn, queue, rabbit, amqp_url, target, options)
        finally:
            await conn.close()
    finally:
        with contextlib.suppress(Exception):
            await rabbit.close()


async def move_to_amqp(
    conn: Connection,
    queue: str,
    rabbit: Any,
    amqp_url: str,
    target: str,
    options: MoveOptions,
    report: Callable[[ShovelStats], None] | None = None,
) -> ShovelStats:
    """Move natswire.amqp queue ``queue`` into RabbitMQ queue ``target`` over open
    connections; a channel of its own on each side. ``report`` gets the live stats at
    the start."""
    stats = ShovelStats(
        f"nats namespace {conn.namespace or '(none)'!r} queue {queue!r}",
        f"rabbitmq {redact(amqp_url)} queue {target!r}",
    )
    if report is not None:
        report(stats)
    stats.backlog = await nats_backlog(conn, queue)
    channel = await rabbit.channel(publisher_confirms=True, on_return_raises=True)
    nats_channel = await conn.channel()
    try:
        underlay = await channel.get_underlay_channel()
        mover = ToRabbit(underlay, stats, user=amqp_user(amqp_url), mandatory=True)
        mover.start()
        await nats_channel.basic_qos(options.prefetch)
        inbox: asyncio.Queue[Delivery] = asyncio.Queue()
        await nats_channel.basic_consume(queue, inbox.put_nowait)

        async def handle(delivery: Delivery) -> None:
            await mover.publish(
                "",
                target,
                delivery.body,
                delivery.properties,
                # The stream sequence: a stable fallback id.
                message_id=f"natswire-{conn.stream}-{delivery.stream_sequence}",
                ack=delivery.ack,
            )

        try:
            await _pump(inbox, handle, lambda: nats_backlog(conn, queue), mover, stats, options)
            await mover.finish()
            # Deliveries taken but not handed over (a stop) go back to the queue.
            await nats_channel.close()
            with contextlib.suppress(NatsWireError):
                await conn.nc.flush(5.0)
            await _final_backlog(lambda: nats_backlog(conn, queue), stats)
        finally:
            stats.finished = time.monotonic()
    finally:
        with contextlib.suppress(Exception):
            if nats_channel.is_open:
                await nats_channel.close()
        with contextlib.suppress(Exception):
            await channel.close()
    return stats


async def _final_backlog(backlog: Callable[[], Awaitable[Backlog]], stats: ShovelStats) -> None:
    """The backlog for the summary. JetStream applies acks a moment after they arrive:
    a count that is not yet 0 is read again for up to a second."""
    for _ in range(10):
        try:
            stats.backlog = await backlog()
        except (NatsWireError, OSError, asyncio.TimeoutError):
            return  # the summary keeps the last count read
        if stats.backlog.total == 0:
            return
        await asyncio.sleep(0.1)


__all__ = [
    "DEFAULT_NATS_TIMEOUT",
    "DEFAULT_PREFETCH",
    "MoveOptions",
    "Progress",
    "RateLimiter",
    "ShovelStats",
    "ToNats",
    "ToRabbit",
    "consume_into",
    "move_to_amqp",
    "move_to_nats",
    "shovel_to_amqp",
    "shovel_to_nats",
]
