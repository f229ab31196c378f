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
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TextIO, TypeVar

from ..amqp.connection import Connection
from ..amqp.properties import BasicProperties, Delivery
from ..jetstream.api import PubAck
from ..protocol.errors import NatsWireError
from .broker import (
    amqp_user,
    connect_nats,
    connect_rabbitmq,
    nats_queue_count,
    rabbit_queue_count,
    redact,
)
from .errors import NatsSideError, RabbitSideError
from .messages import ORIGIN_HEADER, pamqp_properties, properties_from_incoming, stable_id
from .topology import vhost_of

#: How long a publish to NATS may keep failing before the shovel gives up.
DEFAULT_NATS_TIMEOUT = 120.0
DEFAULT_PREFETCH = 500
#: RabbitMQ acks (``multiple``) go out after this many settled messages ...
ACK_BATCH = 100
#: ... or when no more settled for this long.
ACK_DELAY = 0.02


@dataclass
class ShovelStats:
    """Counters of one shovel (or one direction of the bridge)."""

    source: str
    target: str
    moved: int = 0
    #: Already on NATS (a redelivery after a restart): acked, not stored again.
    duplicates: int = 0
    #: Header values JSON cannot carry (timestamps, byte strings), converted.
    converted: int = 0
    #: Bridge only: messages the bridge itself put on this side (loops prevented).
    skipped: int = 0
    remaining: int | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def elapsed(self) -> float:
        end = self.finished if self.finished is not None else time.monotonic()
        return max(end - self.started, 1e-9)

    @property
    def rate(self) -> float:
        return self.moved / self.elapsed

    def line(self) -> str:
        """One progress line."""
        parts = [f"moved {self.moved}", f"{self.rate:.0f} msg/s"]
        if self.remaining is not None:
            parts.append(f"remaining {self.remaining}")
        if self.duplicates:
            parts.append(f"{self.duplicates} duplicates skipped")
        if self.skipped:
            parts.append(f"{self.skipped} bridged copies skipped")
        return f"{self.source} -> {self.target}: " + ", ".join(parts)

    def summary(self) -> str:
        text = (
            f"{self.source} -> {self.target}: moved {self.moved} messages in "
            f"{self.elapsed:.1f} s ({self.rate:.0f} msg/s)"
        )
        if self.duplicates:
            text += f"; {self.duplicates} were already on NATS (duplicates, not stored again)"
        if self.converted:
            text += f"; {self.converted} had header values converted for JSON"
        if self.skipped:
            text += f"; {self.skipped} bridged copies skipped (no loops)"
        if self.remaining is not None:
            text += f"; {self.remaining} left in the source queue"
        return text


class Progress:
    """Prints :meth:`ShovelStats.line` to ``out`` (stderr) every ``interval`` seconds."""

    def __init__(self, out: TextIO | None = None, interval: float = 1.0) -> None:
        self.out = out if out is not None else sys.stderr
        self.interval = interval

    def show(self, text: str) -> None:
        print(text, file=self.out, flush=True)


class RateLimiter:
    """At most ``rate`` messages per second (None: no limit)."""

    def __init__(self, rate: float | None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be positive, got {rate!r}")
        self.rate = rate
        self._next = 0.0

    async def wait(self) -> None:
        if self.rate is None:
            return
        now = time.monotonic()
        at = max(self._next, now)
        self._next = at + 1.0 / self.rate
        if at > now:
            await asyncio.sleep(at - now)


# ------------------------------------------------------------------ to NATS


_Item = TypeVar("_Item")


@dataclass
class _Pending:
    message: Any  # aio-pika IncomingMessage
    subject: str
    body: bytes
    headers: dict[str, str]
    msg_id: str
    future: asyncio.Future[PubAck]


_FLUSH: Any = object()


class _OrderedMover(Generic[_Item]):
    """Hands publishes to a settler task through a queue, in order; the settler acks the
    source once the destination confirmed. ``None`` on the queue ends the settler."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue()
        self._settler: asyncio.Task[None] | None = None
        self.in_flight = 0

    def start(self) -> None:
        self._settler = asyncio.get_running_loop().create_task(self._settle_all())

    async def finish(self) -> None:
        """Wait until everything handed over is settled."""
        self._queue.put_nowait(None)
        if self._settler is not None:
            await self._settler

    def check(self) -> None:
        """Raise the settler's error, if it failed."""
        task = self._settler
        if task is not None and task.done() and not task.cancelled():
            exc = task.exception()
            if exc is not None:
                raise exc

    async def _settle_all(self) -> None:
        raise NotImplementedError


class ToNats(_OrderedMover[_Pending]):
    """Publishes RabbitMQ deliveries to NATS in order and acks each in RabbitMQ once
    JetStream has it (used by the shovel and by the bridge). The deliveries must all
    come from one channel that feeds nothing else (acks use ``multiple``)."""

    def __init__(
        self,
        conn: Connection,
        stats: ShovelStats,
        *,
        id_source: str,
        route: Callable[[Any], tuple[str, str]],
        extra_headers: dict[str, str] | None = None,
        skip: Callable[[Any], bool] | None = None,
        nats_timeout: float = DEFAULT_NATS_TIMEOUT,
    ) -> None:
        self.conn = conn
        self.stats = stats
        self.id_source = id_source
        self.route = route
        self.extra_headers = extra_headers or {}
        self.skip = skip
        self.nats_timeout = nats_timeout
        super().__init__()

    async def handle(self, message: Any) -> None:
        """Publish one delivery (returns once it is sent, not acknowledged)."""
        if self.skip is not None and self.skip(message):
            await message.ack()
            self.stats.skipped += 1
            return
        props, converted = properties_from_incoming(message)
        if converted:
            self.stats.converted += 1
        exchange, key = self.route(message)
        body = bytes(message.body)
        msg_id = stable_id(
            self.id_source,
            f"{exchange}/{key}",
            message.exchange or "",
            message.routing_key or "",
            props,
            body,
        )
        headers = props.to_headers(exchange, key)
        headers.update(self.extra_headers)
        subject = self.conn.subjects.publish_subject(exchange, key)
        try:
            future = await self.conn.js.publish_async(subject, body, headers=headers, msg_id=msg_id)
        except (NatsWireError, OSError) as exc:
            future = asyncio.get_running_loop().create_future()
            future.set_exception(exc)
        self.in_flight += 1
        self._queue.put_nowait(_Pending(message, subject, body, headers, msg_id, future))

    async def _settle_all(self) -> None:
        # In order. The RabbitMQ acks of settled messages go out as one ``multiple``
        # ack per run (every earlier delivery of the channel is settled by then: the
        # channel must feed only this mover): after ACK_BATCH messages, or when nothing
        # more arrived for ACK_DELAY seconds. Fewer acks matter: each one is a log entry
        # in a quorum queue.
        last: _Pending | None = None
        unacked = 0
        while True:
            if not self._queue.empty():
                item = self._queue.get_nowait()
            elif last is None:  # nothing to ack: wait as long as it takes
                item = await self._queue.get()
            else:
                try:
                    item = await asyncio.wait_for(self._queue.get(), ACK_DELAY)
                except asyncio.TimeoutError:
                    item = _FLUSH
            if item is _FLUSH or item is None or unacked >= ACK_BATCH:
                if last is not None:
                    await last.message.ack(multiple=True)
                    self.in_flight -= unacked
                    last, unacked = None, 0
                if item is None:
                    return
                if item is _FLUSH:
                    continue
            assert item is not None and item is not _FLUSH
            ack = await self._confirm(item)
            if ack.duplicate:
                self.stats.duplicates += 1
            else:
                self.stats.moved += 1
            last = item
            unacked += 1

    async def _confirm(self, item: _Pending) -> PubAck:
        maybe_stored = False
        try:
            ack = await item.future
        except (NatsWireError, OSError, asyncio.TimeoutError):
            maybe_stored = True
            ack = await self._publish(item, item.msg_id)
        suffix = 0
        while ack.duplicate and not maybe_stored and not item.message.redelivered:
            # Never delivered before, so never published before: a different message
            # with identical content moved within the duplicate window. Keep both.
            suffix += 1
            ack, maybe_stored = await self._publish_fresh(item, f"{item.msg_id}.{suffix}")
        return ack

    async def _publish_fresh(self, item: _Pending, msg_id: str) -> tuple[PubAck, bool]:
        try:
            return await self.conn.js.publish(
                item.subject,
                item.body,
                headers=item.headers,
                msg_id=msg_id,
                retry_attempts=0,
            ), False
        except (NatsWireError, OSError, asyncio.TimeoutError):
            return await self._publish(item, msg_id), True

    async def _publish(self, item: _Pending, msg_id: str) -> PubAck:
        """Publish until JetStream acknowledges (same id: safe to repeat)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.nats_timeout
        delay = 0.1
        while True:
            try:
                await self.conn.wait_ready(max(0.5, min(5.0, deadline - loop.time())))
                return await self.conn.js.publish(
                    item.subject,
                    item.body,
                    headers=item.headers,
                    msg_id=msg_id,
                    timeout=5.0,
                    retry_attempts=0,
                )
            except (NatsWireError, OSError, asyncio.TimeoutError) as exc:
                if loop.time() >= deadline:
                    raise NatsSideError(
                        f"NATS did not acknowledge a publish for {self.nats_timeout:.0f} s "
                        f"(last error: {type(exc).__name__}: {exc}); unacknowledged "
                        "messages stay in RabbitMQ"
                    ) from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)


async def consume_into(queue: Any, inbox: asyncio.Queue[Any]) -> str:
    """Consume RabbitMQ ``queue`` (an aio-pika queue, acknowledged explicitly) into
    ``inbox``; return the consumer tag."""

    async def on_message(message: Any) -> None:
        inbox.put_nowait(message)

    tag: str = await queue.consume(on_message, no_ack=False)
    return tag


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
    target = to_queue or queue
    vhost = vhost_of(amqp_url)
    stats = ShovelStats(
        f"rabbitmq {redact(amqp_url)} queue {queue!r}",
        f"nats namespace {namespace or '(none)'!r} queue {target!r}",
    )
    limiter = RateLimiter(rate)
    stop = stop or asyncio.Event()
    # Both ends are checked before anything is consumed.
    rabbit = await connect_rabbitmq(amqp_url)
    try:
        channel = await rabbit.channel()
        stats.remaining = await rabbit_queue_count(channel, queue, vhost)
        conn = await connect_nats(nats_url, namespace)
        try:
            await nats_queue_count(conn, target)
            await channel.set_qos(prefetch_count=prefetch)
            source = await channel.get_queue(queue, ensure=False)
            mover = ToNats(
                conn,
                stats,
                id_source=f"{vhost}/{queue}",
                route=lambda message: ("", target),
                extra_headers={ORIGIN_HEADER: f"rabbitmq:{vhost}/{queue}"},
                nats_timeout=nats_timeout,
            )
            mover.start()
            inbox: asyncio.Queue[Any] = asyncio.Queue()
            tag = await consume_into(source, inbox)
            try:
                await _pump(
                    inbox,
                    mover.handle,
                    limiter,
                    stop,
                    until_empty,
                    lambda: rabbit_queue_count(channel, queue, vhost),
                    mover,
                    stats,
                    progress,
                )
                with contextlib.suppress(Exception):
                    await source.cancel(tag)
                await mover.finish()
                with contextlib.suppress(Exception):
                    stats.remaining = await rabbit_queue_count(channel, queue, vhost)
            finally:
                stats.finished = time.monotonic()
        finally:
            await conn.close()
    finally:
        with contextlib.suppress(Exception):
            await rabbit.close()
    return stats


async def _pump(
    inbox: asyncio.Queue[Any],
    handle: Callable[[Any], Any],
    limiter: RateLimiter,
    stop: asyncio.Event,
    until_empty: bool,
    count: Callable[[], Any],
    mover: _OrderedMover[Any],
    stats: ShovelStats,
    progress: Progress | None,
) -> None:
    """The main loop: hand deliveries over in order; show progress; stop when asked or
    (``until_empty``) when the source is empty twice in a row with nothing in flight."""
    loop = asyncio.get_running_loop()
    next_report = loop.time()  # a first line at once, then every interval
    idle_checks = 0
    last_count = 0.0
    while not stop.is_set():
        mover.check()
        now = loop.time()
        if progress is not None and now >= next_report:
            next_report = now + progress.interval
            with contextlib.suppress(NatsWireError):
                stats.remaining = int(await count()) + inbox.qsize() + mover.in_flight
            progress.show(stats.line())
        try:
            item = inbox.get_nowait()
        except asyncio.QueueEmpty:
            item = None
        if item is None:
            if until_empty and mover.in_flight == 0 and loop.time() - last_count >= 0.2:
                last_count = loop.time()
                if int(await count()) == 0 and inbox.empty():
                    idle_checks += 1
                    if idle_checks >= 3:
                        return
                else:
                    idle_checks = 0
            try:
                item = await asyncio.wait_for(inbox.get(), 0.1)
            except asyncio.TimeoutError:
                continue
        idle_checks = 0
        await limiter.wait()
        await handle(item)


# ------------------------------------------------------------------ to RabbitMQ


class ToRabbit(_OrderedMover[tuple[asyncio.Future[Any], Callable[[], Any]]]):
    """Publishes NATS messages to RabbitMQ in order with publisher confirms, and acks
    each on NATS once the broker confirmed it (the rollback shovel, the bridge)."""

    def __init__(self, channel: Any, stats: ShovelStats, *, user: str, mandatory: bool) -> None:
        self.channel = channel  # an aiormq channel with publisher confirms
        self.stats = stats
        self.user = user
        self.mandatory = mandatory
        super().__init__()

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        props: BasicProperties,
        *,
        message_id: str,
        ack: Callable[[], Any],
        extra_headers: dict[str, Any] | None = None,
    ) -> None:
        properties = pamqp_properties(
            props, message_id=message_id, extra_headers=extra_headers, user=self.user
        )
        task = asyncio.ensure_future(
            self.channel.basic_publish(
                body,
                exchange=exchange,
                routing_key=routing_key,
                properties=properties,
                mandatory=self.mandatory,
            )
        )
        await asyncio.sleep(0)  # let it take the channel's lock: publishes stay in order
        self.in_flight += 1
        self._queue.put_nowait((task, ack))

    async def _settle_all(self) -> None:
        from pamqp.commands import Basic

        while True:
            entry = await self._queue.get()
            if entry is None:
                return
            task, ack = entry
            try:
                result = await task
            except Exception as exc:
                raise RabbitSideError(
                    f"RabbitMQ did not take a message: {type(exc).__name__}: {exc}; "
                    "unacknowledged messages stay on NATS"
                ) from None
            if not isinstance(result, Basic.Ack):
                raise RabbitSideError(
                    f"RabbitMQ refused a message ({type(result).__name__}); "
                    "unacknowledged messages stay on NATS"
                )
            result = ack()
            if asyncio.iscoroutine(result):
                await result
            self.in_flight -= 1
            self.stats.moved += 1


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
) -> ShovelStats:
    """Move the messages of natswire.amqp queue ``queue`` into RabbitMQ queue
    ``to_queue`` (default: the same name): the rollback direction (at least once)."""
    target = to_queue or queue
    vhost = vhost_of(amqp_url)
    stats = ShovelStats(
        f"nats namespace {namespace or '(none)'!r} queue {queue!r}",
        f"rabbitmq {redact(amqp_url)} queue {target!r}",
    )
    limiter = RateLimiter(rate)
    stop = stop or asyncio.Event()
    rabbit = await connect_rabbitmq(amqp_url)
    try:
        check_channel = await rabbit.channel()
        await rabbit_queue_count(check_channel, target, vhost)
        channel = await rabbit.channel(publisher_confirms=True, on_return_raises=True)
        underlay = await channel.get_underlay_channel()
        conn = await connect_nats(nats_url, namespace)
        try:
            stats.remaining = await nats_queue_count(conn, queue)
            mover = ToRabbit(underlay, stats, user=amqp_user(amqp_url), mandatory=True)
            mover.start()
            nats_channel = await conn.channel()
            await nats_channel.basic_qos(prefetch)
            inbox: asyncio.Queue[Delivery] = asyncio.Queue()
            await nats_channel.basic_consume(queue, inbox.put_nowait)

            async def handle(delivery: Delivery) -> None:
                # The stream sequence: a stable fallback id.
                sequence = delivery.stream_sequence
                await mover.publish(
                    "",
                    target,
                    delivery.body,
                    delivery.properties,
                    message_id=f"natswire-{conn.stream}-{sequence}",
                    ack=delivery.ack,
                )

            try:
                await _pump(
                    inbox,
                    handle,
                    limiter,
                    stop,
                    until_empty,
                    lambda: nats_queue_count(conn, queue),
                    mover,
                    stats,
                    progress,
                )
                await mover.finish()
                await conn.nc.flush(5.0)
                with contextlib.suppress(Exception):
                    stats.remaining = await nats_queue_count(conn, queue)
            finally:
                stats.finished = time.monotonic()
        finally:
            await conn.close()
    finally:
        with contextlib.suppress(Exception):
            await rabbit.close()
    return stats


__all__ = [
    "DEFAULT_NATS_TIMEOUT",
    "DEFAULT_PREFETCH",
    "Progress",
    "RateLimiter",
    "ShovelStats",
    "ToNats",
    "ToRabbit",
    "consume_into",
    "shovel_to_amqp",
    "shovel_to_nats",
]
