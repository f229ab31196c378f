"""The adapter connection: one NATS connection, a pool of channels, the topology."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import inspect
import json
import logging
import os
import secrets
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..client.errors import TimeoutError
from ..client.options import ConnectOptions
from ..jetstream.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
)
from ..jetstream.context import JetStreamContext
from ..jetstream.errors import (
    ConsumerNotFoundError,
    NotFoundError,
    StreamNotFoundError,
    WrongLastSequenceError,
)
from ..jetstream.message import JetStreamMessage
from ..protocol.errors import NatsWireError
from ..protocol.headers import encode_headers
from ..protocol.serializer import publish_subject
from .channel import Channel
from .consumer import PIN_GROUP, Consumer
from .errors import (
    AmqpConnectionClosedError,
    ExchangeNotFoundError,
    NotAllowedError,
    PreconditionFailedError,
    QueueNotFoundError,
    ResourceLockedError,
    TooManyChannelsError,
)
from .names import (
    SubjectMap,
    client_name,
    consumer_name,
    encode_name,
    meta_stream_name,
    stream_name,
)
from .properties import H_EXCHANGE, H_ROUTING_KEY, TRANSIENT, BasicProperties, decode_headers
from .queues import Binding, QueueDeclareOk, QueueSpec, normalize_arguments
from .stats import AdapterStats, QueueCounters

logger = logging.getLogger("natswire.amqp")

EXCHANGE_TYPES = frozenset({"direct", "topic", "fanout"})
#: Exchanges every broker has.
BUILTIN_EXCHANGES = {
    "": "direct",
    "amq.direct": "direct",
    "amq.topic": "topic",
    "amq.fanout": "fanout",
}
#: Publish shapes (exchange, routing key) whose encoded headers are remembered.
_ENCODED_CACHE_ENTRIES = 4096
#: ``expiration: "0"`` means "only if a consumer takes it at once": this long.
ZERO_TTL_GRACE = 0.5

Hook = Callable[..., Any]


def _tls_from_config(block: Mapping[str, Any]) -> ssl.SSLContext | None:
    tls = block.get("tls")
    opts: Mapping[str, Any] = tls if isinstance(tls, Mapping) else block
    if not opts.get("enableTls", isinstance(tls, Mapping) and bool(tls)):
        return None
    context = ssl.create_default_context(cafile=opts.get("caCert") or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if opts.get("insecureSkipVerifyTls"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Connection:
    """An adapter connection (``await natswire.amqp.connect(config)``)."""

    def __init__(
        self,
        nc: Any,
        *,
        namespace: str = "",
        subjects: SubjectMap | None = None,
        max_channels: int = 300,
        on_new_channel: Hook | None = None,
        on_channel_exception: Hook | None = None,
        on_connection_close: Hook | None = None,
        ack_wait: float = 30.0,
        pull_expires: float = 30.0,
        sac_timeout: float = 10.0,
        orphan_timeout: float = 60.0,
        unlimited_window: int = 1000,
        expiry_sweep_interval: float | None = 1.0,
        stream_max_age: float | None = None,
        storage: StorageType = StorageType.FILE,
        owns_client: bool = True,
    ) -> None:
        if max_channels < 1:
            raise ValueError("max_channels must be at least 1")
        self.nc = nc
        self.js: JetStreamContext = JetStreamContext(nc, timeout=5.0)
        self.namespace = namespace
        self.subjects = subjects if subjects is not None else SubjectMap.wire(namespace)
        if self.subjects.namespace != namespace:
            raise ValueError("the subject map's namespace differs from the connection's")
        self.stream = stream_name(namespace)
        self.meta_stream = meta_stream_name(namespace)
        self.max_channels = max_channels
        self.on_new_channel = on_new_channel
        self.on_channel_exception = on_channel_exception
        self.on_connection_close = on_connection_close
        self.ack_wait = ack_wait
        self.pull_expires = pull_expires
        self.sac_timeout = sac_timeout
        self.orphan_timeout = orphan_timeout
        self.unlimited_window = unlimited_window
        self.expiry_sweep_interval = expiry_sweep_interval
        self._stream_max_age = stream_max_age
        self._storage = storage
        self._owns_client = owns_client
        #: Identifies this connection as the owner of its exclusive queues.
        self.id = secrets.token_hex(8)
        self._channels: dict[int, Channel] = {}
        self._next_channel = 1
        self._consumers: set[Consumer] = set()
        self._exchanges: dict[str, str] = dict(BUILTIN_EXCHANGES)
        self._sweep: set[str] = set()  # queues with a DLX, swept for expired heads
        self._keepalive: dict[str, Channel] = {}  # exclusive/auto-delete queues -> channel
        self._topology_lock = asyncio.Lock()
        self._closed = False
        self._tick_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._queue_counters: dict[str, QueueCounters] = {}
        # (exchange, routing key), or the headers' items when there are properties ->
        # (checked subject, encoded header block)
        self._encoded: dict[tuple[Any, ...], tuple[bytes, bytes]] = {}
        self._confirm_callbacks: dict[Channel | None, Callable[[Exception], None]] = {}
        #: Channel pool use and per-queue counters (:class:`AdapterStats`).
        self.stats = AdapterStats(self, self._channels, self._consumers, self._queue_counters)

    def counters(self, queue: str) -> QueueCounters:
        """The live counters of ``queue`` (created at first use)."""
        counters = self._queue_counters.get(queue)
        if counters is None:
            counters = self._queue_counters[queue] = QueueCounters()
        return counters

    # ------------------------------------------------------------------ set up

    async def _setup(self) -> None:
        await self._ensure_stream(
            self.stream,
            self.subjects.stream_subjects(),
            retention=RetentionPolicy.INTEREST,
            max_age=self._stream_max_age,
        )
        await self._ensure_stream(
            self.meta_stream,
            [self.subjects.meta_subject(">")],
            max_msgs_per_subject=1,
        )
        self._tick_task = asyncio.get_running_loop().create_task(self._ticker())

    async def _ensure_stream(self, name: str, subjects: list[str], **config: Any) -> None:
        try:
            info = await self.js.stream_info(name)
        except StreamNotFoundError:
            await self.js.add_stream(
                name=name,
                subjects=subjects,
                storage=self._storage,
                **{k: v for k, v in config.items() if v is not None},
            )
            return
        have = info.config.subjects or []
        missing = [s for s in subjects if s not in have]
        if missing:
            await self.js.update_stream(info.config.evolve(subjects=[*have, *missing]))

    # --------------------------------------------------------------- properties

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def channels(self) -> list[Channel]:
        return list(self._channels.values())

    @property
    def known_exchanges(self) -> Mapping[str, str]:
        """Exchange -> type, for the exchanges this connection has seen (a live view; for
        :class:`Channel`'s publish fast path)."""
        return self._exchanges

    @property
    def encoded_routes(self) -> Mapping[tuple[Any, ...], tuple[bytes, bytes]]:
        """``(exchange, routing key)`` -> (checked subject, encoded header block) of the
        routes published before (a live view; for :class:`Channel`'s publish fast path)."""
        return self._encoded

    def add_consumer(self, consumer: Consumer) -> None:
        """For :class:`Channel`: ``consumer`` started (it gets the connection's upkeep)."""
        self._consumers.add(consumer)

    def discard_consumer(self, consumer: Consumer) -> None:
        """For :class:`Channel`: ``consumer`` stopped or was cancelled."""
        self._consumers.discard(consumer)

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
        return consumer_name(queue)

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
        self._confirm_callbacks.pop(channel, None)
        for queue, owner in list(self._keepalive.items()):
            if owner is channel:
                del self._keepalive[queue]

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
            task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
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

    def handle_reconnected(self) -> None:
        """The NATS connection is back: consumers renew their pull requests at once."""
        for consumer in list(self._consumers):
            consumer.reset_requests()
            self.spawn(consumer.pump())

    def spawn(self, coro: Any) -> None:
        """Run ``coro`` in the background (a failure is logged at debug level)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._spawned_done)

    def _spawned_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.debug("natswire.amqp: background step failed: %s", task.exception())

    # ---------------------------------------------------------------- publishing

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: BasicProperties | None = None,
        *,
        confirm: bool = True,
        msg_id: str | None = None,
        channel: Channel | None = None,
    ) -> None:
        if confirm or msg_id is not None:
            subject = self.subjects.publish_subject(exchange, routing_key)
            if properties is None:
                headers = {H_EXCHANGE: exchange, H_ROUTING_KEY: routing_key}
            else:
                headers = properties.to_headers(exchange, routing_key)
            if confirm:
                await self.js.publish(subject, body, headers=headers, msg_id=msg_id)
                return
            future = await self.js.publish_async(subject, body, headers=headers, msg_id=msg_id)
            future.add_done_callback(self._confirm_callback(channel))
            return
        # Publishers repeat their subjects and properties: the subject is checked and
        # the header block encoded once per shape.
        if properties is None:
            cached = self._encoded.get((exchange, routing_key))
            if cached is None:
                cached = self._encode((exchange, routing_key), None)
        else:
            headers = properties.to_headers(exchange, routing_key)
            shape = tuple(headers.items())
            cached = self._encoded.get(shape)
            if cached is None:
                cached = self._encode(shape, headers)
        await self.js.publish_async_encoded(
            cached[0], body, cached[1], on_error=self.confirm_failure_reporter(channel)
        )

    def _encode(self, key: tuple[Any, ...], headers: dict[str, str] | None) -> tuple[bytes, bytes]:
        """The checked subject and the encoded header block of a publish, remembered
        under ``key``: the route, or (with properties) every header."""
        if headers is None:
            headers = {H_EXCHANGE: key[0], H_ROUTING_KEY: key[1]}
        subject = self.subjects.publish_subject(headers[H_EXCHANGE], headers[H_ROUTING_KEY])
        encoded = (publish_subject(subject), encode_headers(headers))
        cache = self._encoded
        if len(cache) >= _ENCODED_CACHE_ENTRIES:
            cache.clear()
        cache[key] = encoded
        return encoded

    def _confirm_callback(self, channel: Channel | None) -> Callable[[asyncio.Future[Any]], None]:
        def callback(fut: asyncio.Future[Any]) -> None:
            if not fut.cancelled() and fut.exception() is not None:
                self.report(channel, fut.exception())  # type: ignore[arg-type]

        return callback

    def confirm_failure_reporter(self, channel: Channel | None) -> Callable[[Exception], None]:
        """What reports a failed ``confirm=False`` publish of ``channel`` to the hook,
        from the event loop (one callable per channel, called only on failure)."""
        found = self._confirm_callbacks.get(channel)
        if found is not None:
            return found

        def failed(exc: Exception) -> None:
            asyncio.get_running_loop().call_soon(self.report, channel, exc)

        self._confirm_callbacks[channel] = failed
        return failed

    def route_of(self, msg: JetStreamMessage) -> tuple[str, str]:
        headers = msg.headers
        if headers is None:
            return "", ""
        return headers.get(H_EXCHANGE, ""), headers.get(H_ROUTING_KEY, "")

    # ------------------------------------------------------- expiry, dead letters

    def is_expired(self, msg: JetStreamMessage, stored_ns: int, queue_ttl: int | None) -> bool:
        headers = msg.headers
        expiration = headers.get("Amqp-Expiration") if headers is not None else None
        ttl = queue_ttl
        if expiration is not None:
            try:
                value = int(expiration)
            except ValueError:
                value = None
            if value is not None and (ttl is None or value < ttl):
                ttl = value
        if ttl is None:
            return False
        age = (time.time_ns() - stored_ns) / 1e9
        limit = ttl / 1000 if ttl else ZERO_TTL_GRACE
        return age >= limit

    async def expire(self, spec: QueueSpec, msg: JetStreamMessage) -> None:
        """An expired message: dead-lettered (reason ``expired``) unless transient."""
        headers = msg.headers
        mode = headers.get("Amqp-Delivery-Mode") if headers is not None else None
        if mode == str(TRANSIENT):
            await msg.term("expired")
            self.counters(spec.name).dropped += 1
            return
        await self.dead_letter(spec, msg, "expired")

    async def dead_letter(self, spec: QueueSpec, msg: JetStreamMessage, reason: str) -> None:
        """Republish to the queue's dead-letter exchange with ``x-death`` headers (if it
        has one), then terminate the original. Without a DLX the message is dropped."""
        dlx = spec.dead_letter_exchange
        if dlx is None:
            await msg.term(reason)
            self.counters(spec.name).dropped += 1
            return
        exchange, routing_key, props = decode_headers(msg.headers)
        meta = msg.metadata
        headers = dict(props.headers or {})
        deaths = headers.get("x-death")
        deaths = (
            [dict(d) for d in deaths if isinstance(d, dict)] if isinstance(deaths, list) else []
        )
        now = int(time.time())
        found = None
        for death in deaths:
            if death.get("queue") == spec.name and death.get("reason") == reason:
                found = death
                break
        if found is not None:
            deaths.remove(found)
            found["count"] = int(found.get("count", 1)) + 1
            found["time"] = now
        else:
            found = {
                "count": 1,
                "reason": reason,
                "queue": spec.name,
                "time": now,
                "exchange": exchange,
                "routing-keys": [routing_key],
            }
            if props.expiration is not None:
                found["original-expiration"] = props.expiration
        deaths.insert(0, found)
        headers["x-death"] = deaths
        headers.setdefault("x-first-death-queue", spec.name)
        headers.setdefault("x-first-death-reason", reason)
        headers.setdefault("x-first-death-exchange", exchange)
        headers["x-last-death-queue"] = spec.name
        headers["x-last-death-reason"] = reason
        headers["x-last-death-exchange"] = exchange
        new_props = props.copy(headers=headers, expiration=None)
        key = spec.dead_letter_routing_key
        await self.publish(
            dlx,
            routing_key if key is None else key,
            msg.data,
            new_props,
            msg_id=f"dlx:{encode_name(spec.name)}:{meta.sequence.stream}:{meta.num_delivered}",
        )
        await msg.term(reason)
        self.counters(spec.name).dead_lettered += 1

    async def nak_all(self, msgs: list[JetStreamMessage]) -> None:
        """Hand messages back for immediate redelivery, in this order.

        Naks are plain publishes (the server keeps their order; naks sent as requests
        are not redelivered in order). Right after a server restart JetStream may not
        listen yet and a nak sent then would be lost (the message would wait for the
        ack wait), so this first waits (up to 5 s) until JetStream answers.
        """
        pending = [m for m in msgs if m.reply]
        if not pending:
            return
        if self.nc.is_connected:
            with contextlib.suppress(NatsWireError):
                await self.wait_ready(5.0)
        # While disconnected, the client buffers these and sends them once reconnected.
        for msg in pending:
            with contextlib.suppress(Exception):
                await self.nc.publish(msg.reply, b"-NAK")
        if self.nc.is_connected:
            with contextlib.suppress(Exception):
                await self.nc.flush(2.0)

    # --------------------------------------------------------------- exchanges

    def _exchange_subject(self, exchange: str) -> str:
        return self.subjects.meta_subject("x", encode_name(exchange))

    async def _read_exchange(self, exchange: str) -> dict[str, Any] | None:
        try:
            raw = await self.js.get_last_msg(self.meta_stream, self._exchange_subject(exchange))
        except NotFoundError:
            return None
        try:
            record = json.loads(raw.data)
        except ValueError:
            return None
        return record if isinstance(record, dict) and record.get("type") else None

    async def exchange_type(self, exchange: str) -> str:
        """The type of ``exchange``; :class:`ExchangeNotFoundError` when it does not
        exist."""
        kind = self._exchanges.get(exchange)
        if kind is not None:
            return kind
        record = await self._read_exchange(exchange)
        if record is None:
            raise ExchangeNotFoundError(f"NOT_FOUND - no exchange {exchange!r}")
        kind = str(record["type"])
        self._exchanges[exchange] = kind
        return kind

    async def declare_exchange(
        self,
        exchange: str,
        kind: str,
        passive: bool,
        durable: bool,
        auto_delete: bool,
        internal: bool,
        arguments: dict[str, Any],
    ) -> None:
        """``exchange.declare``, for :class:`Channel`."""
        if passive:
            await self.exchange_type(exchange)
            return
        if kind not in EXCHANGE_TYPES:
            raise NotAllowedError(
                f"exchange type {kind!r} is not supported (direct, topic, fanout)"
            )
        builtin = BUILTIN_EXCHANGES.get(exchange)
        if builtin is not None or exchange.startswith("amq."):
            if builtin != kind:
                raise NotAllowedError(f"ACCESS_REFUSED - exchange name {exchange!r} is reserved")
            return
        want = {"type": kind, "durable": durable, "auto_delete": auto_delete, "internal": internal}
        subject = self._exchange_subject(exchange)
        for _ in range(3):
            record = await self._read_exchange(exchange)
            if record is not None:
                for key, value in want.items():
                    if record.get(key) != value:
                        raise PreconditionFailedError(
                            f"PRECONDITION_FAILED - inequivalent arg {key!r} for exchange "
                            f"{exchange!r}: received {value!r} but current is "
                            f"{record.get(key)!r}"
                        )
                self._exchanges[exchange] = kind
                return
            try:
                await self.js.publish(
                    subject,
                    json.dumps({**want, "arguments": arguments}).encode(),
                    expected_last_subject_seq=0,
                )
            except WrongLastSequenceError:
                continue  # declared meanwhile: compare with that
            self._exchanges[exchange] = kind
            return
        raise PreconditionFailedError(f"exchange {exchange!r} keeps changing")

    async def delete_exchange(self, exchange: str, if_unused: bool) -> None:
        """``exchange.delete``, for :class:`Channel`."""
        if exchange in BUILTIN_EXCHANGES or exchange.startswith("amq."):
            raise NotAllowedError(f"ACCESS_REFUSED - exchange {exchange!r} is reserved")
        async with self._topology_lock:
            bound: list[tuple[Any, QueueSpec]] = []
            for info in await self.js.consumers_info(self.stream):
                spec = QueueSpec.from_info(info)
                if spec is not None and any(b.exchange == exchange for b in spec.bindings):
                    bound.append((info, spec))
            if if_unused and bound:
                raise PreconditionFailedError(f"PRECONDITION_FAILED - exchange {exchange!r} in use")
            for info, spec in bound:
                spec.bindings = [b for b in spec.bindings if b.exchange != exchange]
                await self._store_spec(info.config, spec)
            await self.js.purge_stream(self.meta_stream, subject=self._exchange_subject(exchange))
            self._exchanges.pop(exchange, None)

    # ------------------------------------------------------------------ queues

    async def _consumer_info(self, queue: str) -> tuple[Any, QueueSpec] | None:
        try:
            info = await self.js.consumer_info(self.stream, consumer_name(queue))
        except ConsumerNotFoundError:
            return None
        spec = QueueSpec.from_info(info)
        if spec is None:
            return None
        return info, spec

    def _check_owner(self, spec: QueueSpec) -> None:
        """RESOURCE_LOCKED for an exclusive queue of another connection."""
        if spec.exclusive and spec.owner != self.id:
            raise ResourceLockedError(
                f"RESOURCE_LOCKED - cannot obtain exclusive access to locked queue {spec.name!r}"
            )

    async def queue_spec(self, queue: str) -> QueueSpec:
        """The description of ``queue``, for :class:`Channel` to consume it: NOT_FOUND,
        or RESOURCE_LOCKED for an exclusive queue of another connection."""
        found = await self._consumer_info(queue)
        if found is None:
            raise QueueNotFoundError(f"NOT_FOUND - no queue {queue!r}")
        spec = found[1]
        self._check_owner(spec)
        return spec

    async def queue_missing(self, queue: str) -> bool:
        try:
            return await self._consumer_info(queue) is None
        except NatsWireError:
            return False

    async def declare_queue(
        self,
        channel: Channel,
        queue: str,
        passive: bool,
        durable: bool,
        exclusive: bool,
        auto_delete: bool,
        arguments: dict[str, Any] | None,
    ) -> QueueDeclareOk:
        """``queue.declare`` on ``channel``, for :class:`Channel`."""
        if not queue:
            if passive:
                raise QueueNotFoundError("NOT_FOUND - no queue ''")
            queue = f"amq.gen-{secrets.token_urlsafe(16)}"
        elif queue.startswith("amq.") and not passive:
            raise NotAllowedError(f"ACCESS_REFUSED - queue name {queue!r} is reserved")
        args = normalize_arguments(arguments)
        found = await self._consumer_info(queue)
        if found is not None:
            info, spec = found
            self._check_owner(spec)
            if not passive:
                for what, have, want in (
                    ("durable", spec.durable, durable),
                    ("exclusive", spec.exclusive, exclusive),
                    ("auto_delete", spec.auto_delete, auto_delete),
                ):
                    if have != want:
                        raise PreconditionFailedError(
                            f"PRECONDITION_FAILED - inequivalent arg {what!r} for queue "
                            f"{queue!r}: received {want!r} but current is {have!r}"
                        )
                keys = set(spec.arguments) | set(args)
                for key in sorted(keys):
                    if spec.arguments.get(key) != args.get(key):
                        raise PreconditionFailedError(
                            f"PRECONDITION_FAILED - inequivalent arg {key!r} for queue "
                            f"{queue!r}: received {args.get(key)!r} but current is "
                            f"{spec.arguments.get(key)!r}"
                        )
            self._remember(channel, spec)
            return QueueDeclareOk(queue, info.num_pending, info.num_waiting)
        if passive:
            raise QueueNotFoundError(f"NOT_FOUND - no queue {queue!r}")
        last_seq = (await self.js.stream_info(self.stream)).state.last_seq
        spec = QueueSpec(
            name=queue,
            durable=durable,
            exclusive=exclusive,
            auto_delete=auto_delete,
            owner=self.id if exclusive else "",
            arguments=args,
            created_seq=last_seq,
        )
        extra: dict[str, Any] = {}
        if spec.single_active_consumer:
            extra = {
                "priority_groups": [PIN_GROUP],
                "priority_policy": "pinned_client",
                "priority_timeout": int(self.sac_timeout * 1e9),
            }
        config = ConsumerConfig(
            durable_name=consumer_name(queue),
            deliver_policy=DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_deliver=-1,
            max_ack_pending=-1,
            filter_subjects=spec.filters(self.subjects),
            mem_storage=True if not durable else None,
            inactive_threshold=self.orphan_timeout if (exclusive or auto_delete) else None,
            metadata=spec.metadata(),
            extra=extra,
        )
        await self.js.add_consumer(self.stream, config)
        if exclusive:
            channel.own_exclusive(queue)
        self._remember(channel, spec)
        return QueueDeclareOk(queue, 0, 0)

    def _remember(self, channel: Channel, spec: QueueSpec) -> None:
        if spec.dead_letter_exchange is not None:
            self._sweep.add(spec.name)
        if spec.exclusive or spec.auto_delete:
            self._keepalive[spec.name] = channel

    async def _store_spec(self, config: ConsumerConfig, spec: QueueSpec) -> None:
        updated = config.evolve(
            filter_subjects=spec.filters(self.subjects),
            filter_subject=None,
            metadata=spec.metadata(),
        )
        await self.js.add_consumer(self.stream, updated)
        for consumer in self._consumers:
            if consumer.queue == spec.name:
                consumer.update_spec(spec)

    async def bind_queue(self, queue: str, exchange: str, routing_key: str, bind: bool) -> None:
        """``queue.bind`` (``bind``) or ``queue.unbind``, for :class:`Channel`."""
        if exchange == "":
            raise NotAllowedError(
                "ACCESS_REFUSED - operation not permitted on the default exchange"
            )
        kind = await self.exchange_type(exchange)
        async with self._topology_lock:
            found = await self._consumer_info(queue)
            if found is None:
                raise QueueNotFoundError(f"NOT_FOUND - no queue {queue!r}")
            info, spec = found
            present = [
                b for b in spec.bindings if b.exchange == exchange and b.routing_key == routing_key
            ]
            if bind:
                if present:
                    return
                _, exact = self.subjects.binding_filters(exchange, kind, routing_key)
                since = (await self.js.stream_info(self.stream)).state.last_seq
                spec.bindings.append(Binding(exchange, kind, routing_key, since, exact))
            else:
                if not present:
                    return
                spec.bindings = [b for b in spec.bindings if b not in present]
            await self._store_spec(info.config, spec)

    async def delete_queue(self, queue: str, if_unused: bool, if_empty: bool) -> int:
        """``queue.delete``, for :class:`Channel`: the number of messages it held."""
        found = await self._consumer_info(queue)
        if found is None:
            return 0
        info, _ = found
        if if_empty and (info.num_pending or info.num_ack_pending):
            raise PreconditionFailedError(f"PRECONDITION_FAILED - queue {queue!r} not empty")
        if if_unused and (info.num_waiting or any(c.queue == queue for c in self._consumers)):
            raise PreconditionFailedError(f"PRECONDITION_FAILED - queue {queue!r} in use")
        try:
            await self.js.delete_consumer(self.stream, consumer_name(queue))
        except ConsumerNotFoundError:
            return 0
        self._sweep.discard(queue)
        self._keepalive.pop(queue, None)
        for consumer in list(self._consumers):
            if consumer.queue == queue:
                await consumer.channel.consumer_gone(consumer)
        return int(info.num_pending)

    async def purge_queue(self, queue: str) -> int:
        """``queue.purge``, for :class:`Channel`: the number of messages removed."""
        found = await self._consumer_info(queue)
        if found is None:
            raise QueueNotFoundError(f"NOT_FOUND - no queue {queue!r}")
        spec = found[1]
        purged = 0
        while True:
            msgs = await self._pull_once(spec, 256)
            if not msgs:
                return purged
            for msg in msgs:
                await msg.ack()
                purged += 1

    async def after_consumer_gone(self, consumer: Consumer) -> None:
        """For :class:`Channel`: delete an auto-delete queue when its last consumer
        (here) is gone."""
        if not consumer.spec.auto_delete or consumer.cancelled:
            return
        if any(c.queue == consumer.queue for c in self._consumers):
            return
        try:
            await self.delete_queue(consumer.queue, False, False)
        except NatsWireError as exc:
            logger.debug("natswire.amqp: auto-delete %s: %s", consumer.queue, exc)

    async def ping_queue(self, spec: QueueSpec) -> None:
        """A pull request that can deliver nothing: the server sweeps the queue's
        waiting list (forgetting pullers that went away), and an idle exclusive or
        auto-delete queue is kept from its inactive threshold."""
        await self._pull_once(spec, 1, ping=True)

    async def _pull_once(
        self, spec: QueueSpec, batch: int, ping: bool = False
    ) -> list[JetStreamMessage]:
        """One ``no_wait`` pull request from the queue's consumer (purge, sweep)."""
        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox)
        body: dict[str, Any] = {"batch": batch, "no_wait": True}
        if ping:
            body = {"batch": 1, "max_bytes": 1, "expires": 50_000_000}
        if spec.single_active_consumer:
            body["group"] = PIN_GROUP
        msgs: list[JetStreamMessage] = []
        try:
            await self.nc.publish(
                f"{self.js.prefix}.CONSUMER.MSG.NEXT.{self.stream}.{consumer_name(spec.name)}",
                json.dumps(body).encode(),
                inbox,
            )
            while len(msgs) < batch:
                try:
                    msg = await sub.next_msg(2.0)
                except TimeoutError:
                    break
                if msg.status is not None:
                    break
                msgs.append(JetStreamMessage.from_message(self.nc, msg))
        finally:
            await sub.unsubscribe()
        return msgs

    # ---------------------------------------------------------------- upkeep

    async def _ticker(self) -> None:
        last_sweep = last_keepalive = time.monotonic()
        touch_every = self.ack_wait / 3
        while not self._closed:
            await asyncio.sleep(0.25)
            if not self.nc.is_connected:
                continue
            now = time.monotonic()
            try:
                for consumer in list(self._consumers):
                    await consumer.tick(now)
                for channel in list(self._channels.values()):
                    await channel.touch(now, touch_every)
                if now - last_keepalive >= self.orphan_timeout / 4:
                    last_keepalive = now
                    await self._keep_alive()
                interval = self.expiry_sweep_interval
                if interval is not None and now - last_sweep >= interval:
                    last_sweep = now
                    await self._sweep_expired()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.debug("natswire.amqp: upkeep: %s", exc)

    async def _keep_alive(self) -> None:
        """Exclusive and auto-delete queues without a consumer here are kept from the
        consumer's inactive threshold by a pull request that can deliver nothing."""
        consumed = {c.queue for c in self._consumers}
        for queue in list(self._keepalive):
            if queue in consumed:
                continue
            found = await self._consumer_info(queue)
            if found is None:
                self._keepalive.pop(queue, None)
                continue
            await self.ping_queue(found[1])

    async def _sweep_expired(self) -> None:
        """Dead-letter expired messages at the head of queues nobody here consumes
        (RabbitMQ, too, expires messages when they reach the head of the queue)."""
        consumed = {c.queue for c in self._consumers}
        for queue in list(self._sweep):
            if queue in consumed:
                continue
            found = await self._consumer_info(queue)
            if found is None:
                self._sweep.discard(queue)
                continue
            info, spec = found
            if not (info.num_pending or info.num_ack_pending) or info.num_waiting:
                continue  # empty, or consumed elsewhere (that consumer expires lazily)
            for _ in range(100):
                if not await self._head_expired(info, spec):
                    break
                msgs = await self._pull_once(spec, 1)
                if not msgs:
                    break
                msg = msgs[0]
                meta = msg.metadata
                if self.is_expired(msg, meta.timestamp_ns, spec.message_ttl):
                    await self.expire(spec, msg)
                else:
                    await msg.nak()
                    break

    async def _head_expired(self, info: Any, spec: QueueSpec) -> bool:
        """Whether the first message the queue would deliver (read without delivering
        it) has expired; ``False`` when there is none."""
        floor = info.ack_floor.stream_seq if info.ack_floor is not None else 0
        start = max(floor, spec.created_seq) + 1
        best: Any = None
        for subject in info.config.filter_subjects or []:
            try:
                raw = await self.js.get_msg(self.stream, seq=start, subject=subject, next=True)
            except NotFoundError:
                continue
            if raw.seq is not None and (best is None or raw.seq < best.seq):
                best = raw
        if best is None:
            return False
        msg = JetStreamMessage(self.nc, best.subject or "", best.data, None, best.headers)
        return self.is_expired(msg, _parse_time_ns(best.time), spec.message_ttl)

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
        if self._tick_task is not None:
            self._tick_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._tick_task
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


def _parse_time_ns(value: datetime.datetime | str | None) -> int:
    """A stored message's time (a ``datetime``, or RFC 3339 with nanoseconds,
    ``2026-01-02T03:04:05.123456789Z``) to ns."""
    if not value:
        return time.time_ns()
    if isinstance(value, datetime.datetime):
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return (value - epoch) // datetime.timedelta(microseconds=1) * 1000

    text = value.rstrip("Z")
    main, _, frac = text.partition(".")
    stamp = datetime.datetime.fromisoformat(main).replace(tzinfo=datetime.timezone.utc)
    nanos = int((frac + "000000000")[:9]) if frac else 0
    return int(stamp.timestamp()) * 1_000_000_000 + nanos


async def connect(
    config: Mapping[str, Any] | None = None,
    *,
    client: Any = None,
    servers: str | list[str] | None = None,
    namespace: str | None = None,
    subjects: SubjectMap | None = None,
    max_channels: int = 300,
    on_new_channel: Hook | None = None,
    on_channel_exception: Hook | None = None,
    on_connection_close: Hook | None = None,
    ack_wait: float = 30.0,
    pull_expires: float = 30.0,
    sac_timeout: float = 10.0,
    orphan_timeout: float = 60.0,
    unlimited_window: int = 1000,
    expiry_sweep_interval: float | None = 1.0,
    stream_max_age: float | None = None,
    environ: Mapping[str, str] | None = None,
    **options: Any,
) -> Connection:
    """Connect the adapter.

    ``config`` is the migration plan's block ``{"host", "port", "namespace"}`` (or a
    mapping holding it under ``"nats"``), optionally with TLS as in Wire's RabbitMQ
    configuration (``"tls": {"enableTls", "caCert", "insecureSkipVerifyTls"}`` or those
    keys beside ``host``); credentials come from ``NATS_USERNAME``/``NATS_PASSWORD``.
    ``servers`` overrides host and port; ``client`` uses an existing natswire client
    (left open by :meth:`Connection.close`). Other keywords are
    :class:`natswire.ConnectOptions` fields. The NATS connection reconnects for ever
    with Wire's policy (full-jitter backoff from 1 ms, capped at 5 s).
    """
    block: Mapping[str, Any] = {}
    if config is not None:
        nested = config.get("nats")
        block = nested if isinstance(nested, Mapping) else config
    ns = namespace if namespace is not None else str(block.get("namespace") or "")
    if client is None:
        from .. import connect as nats_connect

        conn_options = ConnectOptions.from_config(
            block, environ=os.environ if environ is None else environ
        )
        if servers is not None:
            options["servers"] = [servers] if isinstance(servers, str) else servers
        tls = _tls_from_config(block)
        if tls is not None:
            options.setdefault("tls", tls)
        import random

        rng = random.Random()
        options.setdefault("max_reconnect_attempts", -1)
        options.setdefault(
            "reconnect_delay_cb", lambda attempt: rng.uniform(0, min(5.0, 0.001 * 2**attempt))
        )
        options.setdefault("name", client_name(ns, "natswire-amqp"))
        holder: dict[str, Connection] = {}

        def chained(
            own: Callable[[Connection], None], user: Hook | None
        ) -> Callable[[], Awaitable[None]]:
            """A NATS callback telling the adapter connection (once made), then the
            caller's own callback."""

            async def callback() -> None:
                if "conn" in holder:
                    own(holder["conn"])
                if user is not None:
                    result = user()
                    if inspect.isawaitable(result):
                        await result

            return callback

        for key, own in (
            ("disconnected_cb", Connection.handle_disconnected),
            ("reconnected_cb", Connection.handle_reconnected),
        ):
            options[key] = chained(own, options.pop(key, None))
        nc = await nats_connect(options=conn_options, **options)
        owns = True
    else:
        nc = client
        owns = False
    conn = Connection(
        nc,
        namespace=ns,
        subjects=subjects,
        max_channels=max_channels,
        on_new_channel=on_new_channel,
        on_channel_exception=on_channel_exception,
        on_connection_close=on_connection_close,
        ack_wait=ack_wait,
        pull_expires=pull_expires,
        sac_timeout=sac_timeout,
        orphan_timeout=orphan_timeout,
        unlimited_window=unlimited_window,
        expiry_sweep_interval=expiry_sweep_interval,
        stream_max_age=stream_max_age,
        owns_client=owns,
    )
    if client is None:
        holder["conn"] = conn
    try:
        await conn._setup()  # friend: connect() is this class's factory
    except BaseException:
        if owns:
            await nc.close()
        raise
    return conn
