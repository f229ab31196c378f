"""The adapter connection: one NATS connection, the channel pool, the hooks.

The connection puts the adapter's parts together and owns what they share: the
channel pool, the started consumers, the per-queue counters and the hooks. The parts
each own one concern: :class:`~natswire.amqp.topology.Topology` (exchanges, queues,
bindings), :class:`~natswire.amqp.publisher.Publisher` (publishing and confirms),
:class:`~natswire.amqp.expiry.DeadLetters` (dead-lettering and expiry) and
:class:`~natswire.amqp.upkeep.Upkeep` (the periodic duties). :func:`natswire.amqp.connect`
opens one.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import secrets
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from ..client.errors import TimeoutError
from ..jetstream.context import JetStreamContext
from ..protocol.errors import NatsWireError
from .acklog import AckLog
from .advisories import ConsumerAdvisories
from .channel import Channel
from .consumer import Consumer, ConsumerSet
from .errors import AmqpConnectionClosedError, TooManyChannelsError
from .expiry import DeadLetters
from .names import acklog_stream_name, consumer_name, meta_stream_name, stream_name
from .options import AmqpOptions, Hook
from .publisher import Publisher
from .records import QueueRecords
from .stats import AdapterStats, QueueCounters
from .sweep import ExpirySweep
from .topology import Topology
from .upkeep import Upkeep

if TYPE_CHECKING:
    from .._client import Client

logger = logging.getLogger("natswire.amqp")

#: How many consumers look their queues up at once after a server restart.
RECOVERY_CONCURRENCY = 32


class Connection:
    """An adapter connection (``await natswire.amqp.connect(config)``).

    Open channels with :meth:`channel`; close with :meth:`close` (or ``async with``).
    The hooks (``on_new_channel``, ``on_channel_exception``, ``on_connection_close``)
    start as the options say and may be replaced. ``nc`` is the NATS client, ``js`` its
    JetStream context; ``stream`` and ``meta_stream`` the namespace's streams.
    """

    def __init__(self, nc: Client, options: AmqpOptions, *, owns_client: bool = True) -> None:
        self.nc = nc
        # A confirmed publish that no stream answers (a leader election on a cluster)
        # is tried again for about 14 s (0.25 s doubling to 1 s, 15 times).
        self.js = JetStreamContext(nc, timeout=5.0, publish_retry_attempts=15)
        self.options = options
        self.namespace = options.namespace
        self.subjects = options.subject_map
        self.stream = stream_name(options.namespace)
        self.meta_stream = meta_stream_name(options.namespace)
        self.max_channels = options.max_channels
        self.on_new_channel: Hook | None = options.on_new_channel
        self.on_channel_exception: Hook | None = options.on_channel_exception
        self.on_connection_close: Hook | None = options.on_connection_close
        self._owns_client = owns_client
        #: Identifies this connection as the owner of its exclusive queues.
        self.id = secrets.token_hex(8)
        self._channels: dict[int, Channel] = {}
        self._next_channel = 1
        self._closed = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._queue_counters: dict[str, QueueCounters] = {}
        #: The started consumers of every channel.
        self.consumers = ConsumerSet()
        memory = options.queue_state == "memory"
        #: What left each queue, with ``queue_state="memory"`` (else ``None``).
        self.acklog = (
            AckLog(nc, self.js, acklog_stream_name(options.namespace), self.subjects)
            if memory
            else None
        )
        records = QueueRecords(self.js, self.meta_stream, self.subjects) if memory else None
        #: Exchanges, queues and bindings.
        self.topology = Topology(
            nc,
            self.js,
            options,
            self.stream,
            self.meta_stream,
            self.id,
            self.consumers,
            records,
            self.acklog,
        )
        #: Publishing and publisher confirms.
        self.publisher = Publisher(self.js, self.subjects, self.report)
        #: Dead-lettering and expiry.
        self.dead_letters = DeadLetters(
            nc, self.js, self.stream, self.publisher, self.counters, self.acklog
        )
        self._upkeep = Upkeep(nc, options, self.consumers, self._channels.values, self.topology)
        #: The expiry sweep of idle queues with a dead-letter exchange.
        self.sweep = ExpirySweep(
            nc,
            self.js,
            self.stream,
            self.dead_letters,
            options.expiry_sweep_interval,
            options.sweep_requests_per_second,
            self.acklog,
        )
        self.topology.add_watcher(self.sweep)
        self.topology.add_watcher(self._upkeep)
        self._advisories = ConsumerAdvisories(nc, self.stream, self.consumers, self.spawn)
        self._server_id = nc.server_info.get("server_id")
        # Consumers looking up their queues at once after a server restart.
        self._recoveries = asyncio.Semaphore(RECOVERY_CONCURRENCY)
        #: Channel pool use and per-queue counters (:class:`AdapterStats`).
        self.stats = AdapterStats(self, self._channels, self.consumers, self._queue_counters)

    async def start(self) -> None:
        """Listen to the consumers' advisories, start the periodic upkeep and the expiry
        sweep (:func:`connect` does, once the streams exist)."""
        await self._advisories.start()
        self.nc.disconnect_listeners.append(self.handle_link_lost)
        self.nc.reconnect_listeners.append(self.handle_reconnected)
        self._upkeep.start()
        self.spawn(self.sweep.run(self.topology, self.consumers.consumes))

    def counters(self, queue: str) -> QueueCounters:
        """The live counters of ``queue`` (created at first use)."""
        counters = self._queue_counters.get(queue)
        if counters is None:
            counters = self._queue_counters[queue] = QueueCounters()
        return counters

    # --------------------------------------------------------------- properties

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def channels(self) -> list[Channel]:
        """The open channels."""
        return list(self._channels.values())

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until the NATS connection is up and JetStream answers (after a server
        restart JetStream needs a moment to recover its streams)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.nc.is_connected:
                try:
                    await self.js.account_info()
                    return
                except NatsWireError:
                    pass
            if loop.time() >= deadline:
                raise TimeoutError(f"JetStream not ready within {timeout} s")
            await asyncio.sleep(0.1)

    def consumer_name(self, queue: str) -> str:
        """The JetStream consumer that holds ``queue``."""
        return consumer_name(queue)

    async def exchange_type(self, exchange: str) -> str:
        """The type of ``exchange``; :class:`ExchangeNotFoundError` when it does not
        exist."""
        return await self.topology.exchange_type(exchange)

    # ----------------------------------------------------------------- channels

    async def channel(self) -> Channel:
        """Open a channel; :class:`TooManyChannelsError` when ``max_channels`` are open."""
        if self._closed:
            raise AmqpConnectionClosedError("the connection is closed")
        if len(self._channels) >= self.max_channels:
            raise TooManyChannelsError(
                f"too many channels: {len(self._channels)} of {self.max_channels} open"
            )
        number = self._next_channel
        self._next_channel += 1
        channel = Channel(self, number)
        self._channels[number] = channel
        self._call_hook(self.on_new_channel, channel)
        return channel

    def channel_closed(self, channel: Channel) -> None:
        """For :class:`Channel`: ``channel`` has closed; its number is free."""
        self._channels.pop(channel.channel_number, None)
        self.publisher.forget_channel(channel)
        self._upkeep.channel_closed(channel)

    # ------------------------------------------------------------------- hooks

    def _call_hook(self, hook: Hook | None, *args: Any) -> None:
        if hook is None:
            return
        try:
            result = hook(*args)
        except Exception:
            logger.exception("natswire.amqp: hook %r raised", hook)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._hook_done)

    def _hook_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("natswire.amqp: hook raised", exc_info=task.exception())

    def report(self, channel: Channel | None, exc: BaseException) -> None:
        """An error for ``on_channel_exception(channel, exc)`` (or the log)."""
        if self.on_channel_exception is None:
            logger.warning("natswire.amqp: channel %s: %s", channel, exc)
            return
        self._call_hook(self.on_channel_exception, channel, exc)

    def handle_disconnected(self) -> None:
        """The NATS connection dropped (:func:`connect` wires this to the client)."""
        self._call_hook(self.on_connection_close)

    def handle_link_lost(self) -> None:
        """The NATS link dropped (a disconnect listener of the client): consumers forget
        their inboxes before the reconnect could subscribe them again."""
        for consumer in self.consumers:
            self.spawn(consumer.drop_inbox())

    def handle_reconnected(self) -> None:
        """The NATS connection is back: consumers renew their pull requests at once
        (a reconnect listener of the client, whoever opened it). After a restart of a
        server that kept queue state in memory, they first look their queues up (which
        restores lost ones, and says what the ack log holds for them)."""
        server_id = self.nc.server_info.get("server_id")
        restarted = server_id != self._server_id
        self._server_id = server_id
        for consumer in self.consumers:
            if restarted and self.acklog is not None:
                self.recover(consumer)
            else:
                self.spawn(consumer.renew())

    def recover(self, consumer: Consumer) -> None:
        """Have ``consumer`` look its queue up and pull again, in the background
        (:meth:`Consumer.recover`; at most :data:`RECOVERY_CONCURRENCY` at once)."""
        consumer.recovery_pending()
        self.spawn(self._recover(consumer))

    async def _recover(self, consumer: Consumer) -> None:
        async with self._recoveries:
            await consumer.recover()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in the background (a failure is logged at debug level)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._spawned_done)

    def _spawned_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.debug("natswire.amqp: background step failed: %s", task.exception())

    # ------------------------------------------------------------------ close

    async def close(self) -> None:
        """Close every channel (requeueing their unacknowledged messages), then the
        NATS connection when this object opened it."""
        if self._closed:
            return
        for channel in list(self._channels.values()):
            try:
                await channel.close()
            except Exception as exc:
                logger.debug("natswire.amqp: closing channel: %s", exc)
        self._closed = True
        with contextlib.suppress(ValueError):
            self.nc.disconnect_listeners.remove(self.handle_link_lost)
        with contextlib.suppress(ValueError):
            self.nc.reconnect_listeners.remove(self.handle_reconnected)
        await self._upkeep.stop()
        await self._advisories.stop()
        for task in list(self._tasks):
            task.cancel()
        if self._owns_client:
            await self.nc.close()
        else:
            self._call_hook(self.on_connection_close)

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
