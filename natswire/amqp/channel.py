"""Channels: the AMQP ``exchange``, ``queue`` and ``basic`` methods."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from ..jetstream.errors import APIError
from .consumer import Consumer, OnCancel, OnMessage
from .errors import (
    AmqpAdapterError,
    ChannelClosedError,
    ChannelError,
    NotAllowedError,
    server_refusal,
)
from .ledger import DeliveryLedger, hand_back
from .properties import BasicProperties
from .queues import QueueDeclareOk

if TYPE_CHECKING:
    from .connection import Connection

logger = logging.getLogger("natswire.amqp")

T = TypeVar("T")


class Channel:
    """A channel on an adapter :class:`~natswire.amqp.Connection`.

    Open with ``await conn.channel()``. A channel error (PRECONDITION_FAILED,
    NOT_FOUND, RESOURCE_LOCKED, an unknown delivery tag, a refusal of the server)
    closes the channel, as in AMQP: the call raises, ``on_channel_exception`` is
    called, and later calls raise :class:`ChannelClosedError`. Closing a channel hands
    its unacknowledged messages back to their queues at once, cancels its consumers and
    deletes the exclusive queues it declared.
    """

    def __init__(self, connection: Connection, number: int) -> None:
        self.connection = connection
        self.channel_number = number
        self.prefetch_count = 0
        self._open = True
        self._closing: asyncio.Task[None] | None = None
        self._ledger = DeliveryLedger(self)
        self._consumers: dict[str, Consumer] = {}
        self._topology = connection.topology
        self._publisher = connection.publisher
        self._dead_letters = connection.dead_letters
        self._js = connection.js
        #: Reports a failed ``confirm=False`` publish of this channel.
        self._confirm_failed = self._publisher.confirm_failure_reporter(self)
        # The connection's live tables, read by basic_publish's fast path.
        self._known_exchanges = self._topology.known_exchanges
        self._encoded_routes = self._publisher.encoded_routes
        self._exclusive: list[str] = []
        self._next_consumer = 0
        self.close_reason: BaseException | None = None

    def __repr__(self) -> str:
        state = "open" if self._open else "closed"
        return f"<Channel {self.channel_number} {state} unacked={len(self._ledger)}>"

    @property
    def is_open(self) -> bool:
        """Whether the channel (and its connection) is open."""
        return self._open and not self.connection.is_closed

    @property
    def is_closed(self) -> bool:
        """Whether the channel (or its connection) is closed."""
        return not self.is_open

    @property
    def consumer_tags(self) -> list[str]:
        """The tags of this channel's consumers."""
        return list(self._consumers)

    @property
    def unacked_count(self) -> int:
        """Deliveries of this channel not yet acknowledged or rejected."""
        return len(self._ledger)

    def _check_open(self) -> None:
        if not self._open:
            raise ChannelClosedError(
                f"channel {self.channel_number} is closed"
                + (f": {self.close_reason}" if self.close_reason else "")
            )
        if self.connection.is_closed:
            raise ChannelClosedError("the connection is closed")

    async def _fail(self, exc: ChannelError) -> NoReturn:
        """A channel exception: close the channel, tell the hook, raise."""
        if self._open:
            self.close_reason = exc
            self.connection.report(self, exc)
            await self.close()
        raise exc

    async def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a channel method's work: a channel error (or a refusal of the server, as
        a :class:`ServerRefusedError`) closes the channel."""
        try:
            self._check_open()
        except ChannelClosedError:
            coro.close()
            raise
        try:
            return await coro
        except ChannelError as exc:
            await self._fail(exc)
        except APIError as exc:
            refusal = server_refusal(exc)
            refusal.__cause__ = exc
            await self._fail(refusal)

    # ---------------------------------------------------------------- exchanges

    async def exchange_declare(
        self,
        exchange: str,
        exchange_type: str = "direct",
        passive: bool = False,
        durable: bool = True,
        auto_delete: bool = False,
        internal: bool = False,
        arguments: dict[str, Any] | None = None,
        *,
        type: str | None = None,
    ) -> None:
        """Declare an exchange (``type`` is an alias of ``exchange_type``): ``direct``,
        ``topic`` or ``fanout``. Redeclaring with another type or durability raises
        :class:`PreconditionFailedError`."""
        kind = type or exchange_type
        await self._run(
            self._topology.declare_exchange(
                exchange, kind, passive, durable, auto_delete, internal, arguments or {}
            )
        )

    async def exchange_delete(self, exchange: str, if_unused: bool = False) -> None:
        """Delete an exchange and its bindings."""
        await self._run(self._topology.delete_exchange(exchange, if_unused))

    # ------------------------------------------------------------------- queues

    async def queue_declare(
        self,
        queue: str = "",
        passive: bool = False,
        durable: bool = True,
        exclusive: bool = False,
        auto_delete: bool = False,
        arguments: dict[str, Any] | None = None,
    ) -> QueueDeclareOk:
        """Declare a queue; ``""`` gets a generated name (``amq.gen-...``).

        Arguments: ``x-dead-letter-exchange``, ``x-dead-letter-routing-key``,
        ``x-message-ttl`` (ms), ``x-single-active-consumer``, ``x-max-delivery``
        (deliveries per message; ``x-delivery-limit`` = redeliveries), and
        ``x-queue-type`` (``quorum``/``classic``, recorded). Redeclaring with other
        flags or arguments raises :class:`PreconditionFailedError`; the same
        declaration is idempotent.
        """
        return await self._run(
            self._topology.declare_queue(
                self, queue, passive, durable, exclusive, auto_delete, arguments
            )
        )

    async def queue_bind(
        self,
        queue: str,
        exchange: str,
        routing_key: str = "",
        arguments: dict[str, Any] | None = None,
    ) -> None:
        """Bind ``queue`` to ``exchange`` with a binding key (a pattern for topic
        exchanges: ``*`` one word, ``#`` zero or more)."""
        await self._run(self._topology.bind_queue(queue, exchange, routing_key, True))

    async def queue_unbind(
        self,
        queue: str,
        exchange: str,
        routing_key: str = "",
        arguments: dict[str, Any] | None = None,
    ) -> None:
        """Remove a binding of ``queue`` to ``exchange`` (nothing if there is none)."""
        await self._run(self._topology.bind_queue(queue, exchange, routing_key, False))

    async def queue_delete(
        self, queue: str, if_unused: bool = False, if_empty: bool = False
    ) -> int:
        """Delete a queue; its consumers (in any process) get ``on_cancel``. Returns the
        number of messages it held."""
        return await self._run(self._topology.delete_queue(queue, if_unused, if_empty))

    async def queue_purge(self, queue: str) -> int:
        """Remove the queue's ready messages (not the unacknowledged ones); return how
        many."""
        return await self._run(self._topology.purge_queue(queue))

    # -------------------------------------------------------------------- basic

    async def basic_qos(
        self, prefetch_count: int = 0, prefetch_size: int = 0, global_qos: bool = False
    ) -> None:
        """Unacknowledged deliveries each consumer started afterwards may hold
        (0: no limit, in practice the connection's ``unlimited_window``)."""
        self._check_open()
        if not isinstance(prefetch_count, int) or prefetch_count < 0:
            raise ValueError(f"prefetch_count must be an int >= 0, got {prefetch_count!r}")
        self.prefetch_count = prefetch_count

    async def basic_publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: BasicProperties | None = None,
        mandatory: bool = False,
        *,
        confirm: bool = True,
    ) -> None:
        """Publish. ``""`` is the default exchange (routing key = queue name). A message
        no queue is bound for is dropped, as in AMQP.

        With ``confirm=True`` (the default) the call returns when JetStream has stored
        the message (a publisher confirm); ``confirm=False`` returns at once (a failure
        is reported to ``on_channel_exception``; :meth:`wait_for_confirms` waits).
        """
        # A closed connection closed its channels first: the channel's flag is enough.
        if not self._open:
            self._check_open()
        if exchange and exchange not in self._known_exchanges:
            await self._run(self._topology.exchange_type(exchange))
        if not confirm and properties is None:
            # A pipelined publish of a route seen before: straight to JetStream with the
            # remembered subject and header block (Publisher.publish does the rest).
            encoded = self._encoded_routes.get((exchange, routing_key))
            if encoded is not None:
                await self._js.publish_async_encoded(
                    encoded[0], body, encoded[1], None, None, self._confirm_failed
                )
                return
        try:
            await self._publisher.publish(
                exchange, routing_key, body, properties, confirm=confirm, channel=self
            )
        except ChannelError as exc:
            await self._fail(exc)

    async def wait_for_confirms(self, timeout: float | None = None) -> None:
        """Wait until every ``confirm=False`` publish is stored (or failed)."""
        await self._js.publish_async_completed(timeout)

    async def basic_consume(
        self,
        queue: str,
        on_message: OnMessage,
        auto_ack: bool = False,
        consumer_tag: str | None = None,
        on_cancel: OnCancel | None = None,
        arguments: dict[str, Any] | None = None,
    ) -> str:
        """Start delivering the queue's messages to ``on_message(delivery)`` (a plain
        or coroutine function, called for one delivery at a time, in order). Returns
        the consumer tag. ``on_cancel(consumer_tag)`` is called when the queue is
        deleted. With a single-active-consumer queue, only one consumer (across all
        processes) receives at a time."""
        self._check_open()
        registry = self.connection.consumers
        tag = consumer_tag or self._new_consumer_tag()
        if tag in self._consumers:
            await self._fail(NotAllowedError(f"consumer tag {tag!r} is in use on this channel"))
        spec = await self._run(self._topology.queue_spec(queue))
        consumer = Consumer(
            self, self._ledger, spec, tag, on_message, auto_ack, on_cancel, self.prefetch_count
        )
        self._consumers[tag] = consumer
        registry.add(consumer)
        try:
            await consumer.start()
        except BaseException:
            self._consumers.pop(tag, None)
            registry.discard(consumer)
            await consumer.stop()
            self._ledger.close_account(consumer)
            raise
        return tag

    def _new_consumer_tag(self) -> str:
        self._next_consumer += 1
        return f"ctag{self.channel_number}.{self._next_consumer}-{secrets.token_hex(4)}"

    async def basic_cancel(self, consumer_tag: str) -> None:
        """Stop a consumer. Its unacknowledged deliveries stay with the channel (ack
        or reject them; they return to the queue when the channel closes)."""
        self._check_open()
        consumer = self._consumers.pop(consumer_tag, None)
        if consumer is None:
            return
        self.connection.consumers.discard(consumer)
        await consumer.stop()
        self._ledger.close_account(consumer)
        await consumer.release_pin()
        await self._topology.after_consumer_gone(consumer)

    async def consumer_gone(self, consumer: Consumer) -> None:
        """The queue was deleted under ``consumer`` (of this channel): cancel it and tell
        the application. For :class:`Consumer` and :class:`Topology`."""
        if not consumer.cancel_by_server():
            return
        self._consumers.pop(consumer.consumer_tag, None)
        self.connection.consumers.discard(consumer)
        self._ledger.forget_consumer(consumer)
        if consumer.on_cancel is not None:
            try:
                result = consumer.on_cancel(consumer.consumer_tag)
                if asyncio.iscoroutine(result):
                    await result
            except Exception as exc:
                logger.exception("natswire.amqp: on_cancel raised")
                self.connection.report(self, exc)
        sub = consumer.subscription
        if sub is not None:
            self.connection.spawn(sub.unsubscribe())

    # ----------------------------------------------------------------- settling

    async def _settle(self, tag: int, multiple: bool, how: str) -> None:
        self._check_open()
        ledger = self._ledger
        try:
            tags = ledger.tags_upto(tag, multiple)
        except ChannelError as exc:
            await self._fail(exc)
            return
        consumers: set[Consumer] = set()
        for one in tags:
            delivery = ledger.release(one)
            if delivery is None:
                continue
            consumer = delivery.consumer
            consumers.add(consumer)
            msg = delivery.message
            if how == "ack":
                if consumer.ack_log is not None:
                    await consumer.log_settled(delivery.stream_sequence)
                await msg.ack()
                consumer.counters.acked += 1
                continue
            consumer.counters.nacked += 1
            if how == "requeue":
                limit = consumer.spec.max_delivery
                if limit is None or msg.metadata.num_delivered < limit:
                    await msg.nak()
                    continue
                reason = "delivery_limit"
            else:
                reason = "rejected"
            try:
                await self._dead_letters.dead_letter(consumer.spec, msg, reason)
            except ChannelError as exc:
                with contextlib.suppress(Exception):
                    await msg.nak()  # back to the queue, as the closing channel's others
                await self._fail(exc)
        for consumer in consumers:
            if consumer.wants_pull():
                await consumer.pump()
            elif not consumer.active:
                await consumer.release_pin()

    async def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        """Acknowledge a delivery; with ``multiple``, every outstanding one up to it."""
        # A closed connection closed its channels first: the channel's flag is enough.
        if not multiple and self._open:
            # One delivery, the common case: what _settle does, without its lists.
            delivery = self._ledger.release(delivery_tag)
            if delivery is not None:
                consumer = delivery.consumer
                if consumer.ack_log is not None:
                    await consumer.log_settled(delivery.stream_sequence)
                await delivery.message.ack()
                consumer.counters.acked += 1
                if consumer.wants_pull():
                    await consumer.pump()
                elif not consumer.active:
                    await consumer.release_pin()
                return
        await self._settle(delivery_tag, multiple, "ack")

    async def basic_nack(
        self, delivery_tag: int, multiple: bool = False, requeue: bool = True
    ) -> None:
        """Reject one or (``multiple``) several deliveries: back to the queue at once
        (``requeue``), else to the queue's dead-letter exchange if it has one, else
        dropped. A message over the queue's delivery limit is dead-lettered."""
        await self._settle(delivery_tag, multiple, "requeue" if requeue else "reject")

    async def basic_reject(self, delivery_tag: int, requeue: bool = True) -> None:
        """Reject one delivery: as :meth:`basic_nack` without ``multiple``."""
        await self._settle(delivery_tag, False, "requeue" if requeue else "reject")

    async def basic_recover(self, requeue: bool = True) -> None:
        """Hand every unacknowledged delivery back to its queue."""
        self._check_open()
        if len(self._ledger):
            await self._settle(0, True, "requeue")

    async def touch(self, now: float, every: float) -> None:
        """Keep held deliveries from being redelivered by the ack wait (``+WPI``): those
        not kept alive for ``every`` seconds. For the connection's upkeep."""
        await self._ledger.touch(now, every)

    # -------------------------------------------------------------------- close

    async def close(self) -> None:
        """Close: stop consumers, requeue unacknowledged deliveries at once, delete the
        exclusive queues declared here and the auto-delete queues left unused."""
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        self._open = False
        conn = self.connection
        ledger = self._ledger
        consumers = list(self._consumers.values())
        self._consumers.clear()
        for consumer in consumers:
            conn.consumers.discard(consumer)
            await consumer.stop()
            ledger.close_account(consumer)
        # Consumers no longer pull (the server dropped their requests with their
        # inboxes), so what we hand back goes to the other consumers at once, in order.
        holders = ledger.holders()  # cancelled consumers included
        if holders and conn.nc.is_connected:
            # The server forgets a puller that went away only when it next looks at its
            # waiting list: a message handed back before that is tried on our dead pull
            # request and requeued behind the others. A short pull request that cannot
            # deliver (max_bytes 1, 50 ms) makes it sweep the list first.
            specs = {id(c.spec): c.spec for c in holders}
            for spec in specs.values():
                with contextlib.suppress(Exception):
                    await self._topology.ping_queue(spec)
        handed_back = ledger.release_all()
        # A single active consumer hands its pin over first: while the pin is ours, a
        # message handed back would be tried on the waiting (unpinned) consumer and
        # requeued behind the others.
        for consumer in {id(c): c for c in [*consumers, *holders]}.values():
            await consumer.unpin()
        if handed_back:
            await hand_back(conn.nc, handed_back, conn.wait_ready)
        for consumer in consumers:
            await self._topology.after_consumer_gone(consumer)
        for queue in self._exclusive:
            try:
                await self._topology.delete_queue(queue, False, False)
            except AmqpAdapterError:
                pass
            except Exception as exc:
                logger.debug("natswire.amqp: deleting exclusive queue %s: %s", queue, exc)
        self._exclusive.clear()
        conn.channel_closed(self)

    def own_exclusive(self, queue: str) -> None:
        """For :class:`Topology`: ``queue`` is an exclusive queue this channel declared;
        it is deleted when the channel closes."""
        self._exclusive.append(queue)

    async def __aenter__(self) -> Channel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


__all__ = ["Channel"]
