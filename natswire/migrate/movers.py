"""The movers: each takes messages from one side, publishes them to the other in order and
acknowledges the source only once the destination confirmed (the shovel and the bridge
use them). See :mod:`natswire.migrate.shovel` for the guarantees this gives."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..amqp.connection import Connection
from ..amqp.properties import BasicProperties
from ..jetstream.api import PubAck
from ..protocol.errors import NatsWireError
from .errors import NatsSideError, RabbitSideError
from .messages import pamqp_properties, properties_from_incoming, stable_id
from .stats import ShovelStats

#: How long a publish to NATS may keep failing before the shovel gives up.
DEFAULT_NATS_TIMEOUT = 120.0
#: RabbitMQ acks (``multiple``) go out after this many settled messages ...
ACK_BATCH = 100
#: ... or when no more settled for this long.
ACK_DELAY = 0.02

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


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


async def consume_into(queue: Any, inbox: asyncio.Queue[Any]) -> str:
    """Consume RabbitMQ ``queue`` (an aio-pika queue, acknowledged explicitly) into
    ``inbox``; return the consumer tag."""

    async def on_message(message: Any) -> None:
        inbox.put_nowait(message)

    tag: str = await queue.consume(on_message, no_ack=False)
    return tag


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
        # After a failure the settler stops awaiting: the rest must not log as unretrieved.
        task.add_done_callback(_retrieve)
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


__all__ = [
    "ACK_BATCH",
    "ACK_DELAY",
    "DEFAULT_NATS_TIMEOUT",
    "ToNats",
    "ToRabbit",
    "consume_into",
]
