"""The topology: exchanges, queues and bindings as JetStream records and consumers.

Exchanges are records in the metadata stream (one subject each, written with an
expected-last-sequence check so concurrent declarations agree); a queue is a durable
pull consumer on the message stream whose ``metadata`` holds its :class:`QueueSpec`
and whose filters express its bindings. With ``queue_state="memory"`` the consumer's
state is in the server's memory, and a durable queue also has a record
(:mod:`natswire.amqp.records`) from which a consumer lost with a server restart is made
again when the queue is next looked up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ..client.errors import TimeoutError
from ..jetstream.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from ..jetstream.context import JetStreamContext
from ..jetstream.errors import (
    ConsumerExistsError,
    ConsumerNotFoundError,
    NotFoundError,
    ServiceUnavailableError,
    WrongLastSequenceError,
)
from ..jetstream.message import JetStreamMessage
from ..protocol.errors import NatsWireError
from .consumer import PIN_GROUP, ConsumerSet
from .errors import (
    SERVICE_UNAVAILABLE,
    ExchangeNotFoundError,
    NotAllowedError,
    PreconditionFailedError,
    QueueNotFoundError,
    ResourceLockedError,
    ServerUnavailableError,
)
from .names import consumer_name, encode_name
from .options import AmqpOptions
from .queues import Binding, QueueDeclareOk, QueueSpec, check_equivalent, normalize_arguments
from .records import QueueRecord, QueueRecords, created_stamp

if TYPE_CHECKING:
    from .._client import Client
    from .acklog import AckLog
    from .channel import Channel
    from .consumer import Consumer

logger = logging.getLogger("natswire.amqp")

#: How long a channel method waits for a queue's consumer to answer (a consumer
#: leader election on a cluster takes a few seconds after its leader is lost).
LOOKUP_PATIENCE = 10.0
#: How long each of those lookups waits.
LOOKUP_REQUEST_TIMEOUT = 2.0

EXCHANGE_TYPES = frozenset({"direct", "topic", "fanout"})
#: Exchanges every broker has.
BUILTIN_EXCHANGES = {
    "": "direct",
    "amq.direct": "direct",
    "amq.topic": "topic",
    "amq.fanout": "fanout",
}


class QueueWatcher(Protocol):
    """What follows the queues this connection declares or finds (expiry, upkeep)."""

    def queue_seen(self, spec: QueueSpec, channel: Channel) -> None:
        """``spec`` was declared or found on ``channel``."""

    def queue_gone(self, queue: str) -> None:
        """``queue`` was deleted."""


class Topology:
    """Exchanges, queues and bindings of one namespace, for one connection."""

    def __init__(
        self,
        nc: Client,
        js: JetStreamContext,
        options: AmqpOptions,
        stream: str,
        meta_stream: str,
        owner: str,
        consumers: ConsumerSet,
        records: QueueRecords | None = None,
        acklog: AckLog | None = None,
    ) -> None:
        self._nc = nc
        self._js = js
        self._options = options
        self._subjects = options.subject_map
        self._stream = stream
        self._meta_stream = meta_stream
        self._owner = owner
        self._consumers = consumers
        self._records = records
        self._acklog = acklog
        self._exchanges: dict[str, str] = dict(BUILTIN_EXCHANGES)
        self._watchers: list[QueueWatcher] = []
        self._lock = asyncio.Lock()  # exchange deletion
        self._queue_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def add_watcher(self, watcher: QueueWatcher) -> None:
        """Tell ``watcher`` of every queue declared or found, and of every deletion."""
        self._watchers.append(watcher)

    @property
    def known_exchanges(self) -> Mapping[str, str]:
        """Exchange -> type, for the exchanges this connection has seen (a live view; for
        :class:`Channel`'s publish fast path)."""
        return self._exchanges

    # --------------------------------------------------------------- exchanges

    def _exchange_subject(self, exchange: str) -> str:
        return self._subjects.meta_subject("x", encode_name(exchange))

    async def _read_exchange(self, exchange: str) -> dict[str, Any] | None:
        try:
            raw = await self._js.get_last_msg(self._meta_stream, self._exchange_subject(exchange))
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
        """``exchange.declare``: :class:`PreconditionFailedError` when it exists with
        other settings, :class:`NotAllowedError` for a reserved name or unknown type."""
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
                await self._js.publish(
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
        """``exchange.delete``: the exchange and every binding to it."""
        if exchange in BUILTIN_EXCHANGES or exchange.startswith("amq."):
            raise NotAllowedError(f"ACCESS_REFUSED - exchange {exchange!r} is reserved")
        async with self._lock:
            bound: list[tuple[ConsumerInfo, QueueSpec]] = []
            for info in await self._js.consumers_info(self._stream):
                spec = QueueSpec.from_info(info)
                if spec is not None and any(b.exchange == exchange for b in spec.bindings):
                    bound.append((info, spec))
            if if_unused and bound:
                raise PreconditionFailedError(f"PRECONDITION_FAILED - exchange {exchange!r} in use")
            for info, spec in bound:
                async with self._queue_lock(spec.name):
                    found = await self.find_queue(spec.name)
                    if found is None:
                        continue
                    info, spec = found
                    spec.bindings = [b for b in spec.bindings if b.exchange != exchange]
                    # A consumer lost meanwhile is restored without the binding.
                    with contextlib.suppress(ConsumerNotFoundError, WrongLastSequenceError):
                        await self._store_spec(info, spec)
            await self._js.purge_stream(self._meta_stream, subject=self._exchange_subject(exchange))
            self._exchanges.pop(exchange, None)

    # ------------------------------------------------------------------ queues

    async def find_queue(
        self, queue: str, patience: float = 0.0
    ) -> tuple[ConsumerInfo, QueueSpec] | None:
        """The consumer info and description of ``queue``; ``None`` if there is none.

        With ``patience``, a lookup that gets no answer (the queue's consumer is
        electing a leader on a cluster) is tried again for that many seconds before
        raising :class:`ServerUnavailableError`. A durable queue whose consumer was
        lost with a server restart is made again from its record.
        """
        name = consumer_name(queue)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        while True:
            try:
                info = await self._js.consumer_info(
                    self._stream, name, timeout=LOOKUP_REQUEST_TIMEOUT if patience else None
                )
                break
            except ConsumerNotFoundError:
                if self._records is None:
                    return None
                record = await self._records.read(queue)
                return None if record is None else await self._restore(record)
            except (TimeoutError, ServiceUnavailableError) as exc:
                if not patience:
                    raise
                if loop.time() >= deadline:
                    raise ServerUnavailableError(
                        f"SERVICE_UNAVAILABLE - queue {queue!r} could not be looked up "
                        f"within {patience} s: {exc}",
                        SERVICE_UNAVAILABLE,
                        None,
                    ) from exc
                await asyncio.sleep(0.1)
        spec = QueueSpec.from_info(info)
        if spec is None:
            return None
        if spec.restored_at and _ack_floor(info) >= spec.restored_at:
            spec.restored_at = 0  # every message up to the restore is settled now
        return info, spec

    def _check_owner(self, spec: QueueSpec) -> None:
        """RESOURCE_LOCKED for an exclusive queue of another connection."""
        if spec.exclusive and spec.owner != self._owner:
            raise ResourceLockedError(
                f"RESOURCE_LOCKED - cannot obtain exclusive access to locked queue {spec.name!r}"
            )

    async def queue_spec(self, queue: str) -> QueueSpec:
        """The description of ``queue``, to consume it: NOT_FOUND, or RESOURCE_LOCKED
        for an exclusive queue of another connection."""
        found = await self.find_queue(queue, LOOKUP_PATIENCE)
        if found is None:
            raise QueueNotFoundError(f"NOT_FOUND - no queue {queue!r}")
        spec = found[1]
        self._check_owner(spec)
        return spec

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
        """``queue.declare`` on ``channel`` (which owns the exclusive queues it
        creates)."""
        if not queue:
            if passive:
                raise QueueNotFoundError("NOT_FOUND - no queue ''")
            queue = f"amq.gen-{secrets.token_urlsafe(16)}"
        elif queue.startswith("amq.") and not passive:
            raise NotAllowedError(f"ACCESS_REFUSED - queue name {queue!r} is reserved")
        args = normalize_arguments(arguments)
        if passive:
            found = await self.find_queue(queue, LOOKUP_PATIENCE)
            if found is None:
                raise QueueNotFoundError(f"NOT_FOUND - no queue {queue!r}")
            info, spec = found
            self._check_owner(spec)
            self._seen(spec, channel)
            return QueueDeclareOk(queue, info.num_pending, info.num_waiting)
        spec = QueueSpec(
            name=queue,
            durable=durable,
            exclusive=exclusive,
            auto_delete=auto_delete,
            owner=self._owner if exclusive else "",
            arguments=args,
        )
        # A queue with a record exists, even when a restart lost its consumer. Otherwise
        # create first (Wire declares thousands): an existing consumer answers "exists"
        # unless its configuration is the same.
        restorable = self._restorable(spec)
        if await self._has_record(queue):
            found = await self._existing_queue(queue)
        else:
            try:
                info = await self._js.create_consumer(self._stream, self._consumer_config(spec))
                found = await self._record_new(spec, info) if restorable else None
            except ConsumerExistsError:
                found = await self._existing_queue(queue)
        if found is not None:
            info, existing = found
            self._check_owner(existing)
            check_equivalent(existing, durable, exclusive, auto_delete, args)
            self._seen(existing, channel)
            return QueueDeclareOk(queue, info.num_pending, info.num_waiting)
        if exclusive:
            channel.own_exclusive(queue)
        self._seen(spec, channel)
        return QueueDeclareOk(queue, info.num_pending, info.num_waiting)

    async def _existing_queue(self, queue: str) -> tuple[ConsumerInfo, QueueSpec]:
        found = await self.find_queue(queue, LOOKUP_PATIENCE)
        if found is None:
            raise PreconditionFailedError(
                f"PRECONDITION_FAILED - queue {queue!r} is being deleted or is not a queue"
            )
        return found

    async def _has_record(self, queue: str) -> bool:
        """Whether ``queue`` has a record (generated names never do)."""
        if self._records is None or queue.startswith("amq.gen-"):
            return False
        return await self._records.read(queue) is not None

    async def _record_new(
        self, spec: QueueSpec, info: ConsumerInfo
    ) -> tuple[ConsumerInfo, QueueSpec] | None:
        """Write the record of a queue whose consumer was just created; ``None`` when
        that consumer is the queue. When a record appeared meanwhile and names another
        consumer (one lost with a server restart), the one just made started too late:
        unless it was replaced meanwhile, the queue is made again from the record."""
        assert self._records is not None
        spec.created_seq = _ack_floor(info)
        created = created_stamp(info.created)
        if await self._records.create(spec, created):
            return None
        record = await self._records.read(spec.name)
        if record is None or record.consumer_created == created:
            return None  # declared at the same time by another connection
        name = consumer_name(spec.name)
        with contextlib.suppress(ConsumerNotFoundError):
            if created_stamp((await self._js.consumer_info(self._stream, name)).created) == created:
                await self._js.delete_consumer(self._stream, name)
        return await self.find_queue(spec.name)

    async def _restore(self, record: QueueRecord) -> tuple[ConsumerInfo, QueueSpec] | None:
        """Make a lost queue's consumer again from its record: from the sequence after
        its creation, marked with the stream's last sequence now (up to which the ack
        log says what not to deliver again). ``None`` when it vanished meanwhile."""
        spec = record.spec
        spec.restored_at = (await self._js.stream_info(self._stream)).state.last_seq
        # Bindings to exchanges deleted while the queue was missing go (the deletion
        # could not reach the lost consumer); read afresh, another process may have
        # deleted one this connection knows.
        exists: dict[str, bool] = {}
        for binding in spec.bindings:
            name = binding.exchange
            if name not in exists:
                exists[name] = name in BUILTIN_EXCHANGES or (
                    await self._read_exchange(name) is not None
                )
                if not exists[name]:
                    self._exchanges.pop(name, None)
        spec.bindings = [b for b in spec.bindings if exists[b.exchange]]
        config = self._consumer_config(spec).evolve(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=spec.created_seq + 1
        )
        try:
            info = await self._js.create_consumer(self._stream, config)
        except ConsumerExistsError:  # restored or declared meanwhile
            try:
                info = await self._js.consumer_info(self._stream, consumer_name(spec.name))
            except ConsumerNotFoundError:
                return None
            found = QueueSpec.from_info(info)
            return None if found is None else (info, found)
        logger.info(
            "natswire.amqp: queue %r restored from its record (its consumer was lost)",
            spec.name,
        )
        return info, spec

    def _consumer_config(self, spec: QueueSpec) -> ConsumerConfig:
        options = self._options
        extra: dict[str, Any] = {}
        if spec.single_active_consumer:
            extra = {
                "priority_groups": [PIN_GROUP],
                "priority_policy": "pinned_client",
                "priority_timeout": int(options.sac_timeout * 1e9),
            }
        return ConsumerConfig(
            durable_name=consumer_name(spec.name),
            deliver_policy=DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=options.ack_wait,
            max_deliver=-1,
            max_ack_pending=-1,
            filter_subjects=spec.filters(self._subjects),
            mem_storage=True if (self._restorable(spec) or not spec.durable) else None,
            inactive_threshold=(
                options.orphan_timeout if (spec.exclusive or spec.auto_delete) else None
            ),
            metadata=spec.metadata(),
            extra=extra,
        )

    def _restorable(self, spec: QueueSpec) -> bool:
        """Whether the queue has a record and its consumer's state is in memory
        (:attr:`QueueSpec.restorable` queues with ``queue_state="memory"``; the others
        keep the state in files)."""
        return self._records is not None and spec.restorable

    def _queue_lock(self, queue: str) -> asyncio.Lock:
        """The lock serializing this connection's changes of ``queue``'s bindings."""
        lock = self._queue_locks.get(queue)
        if lock is None:
            lock = self._queue_locks[queue] = asyncio.Lock()
        return lock

    def _seen(self, spec: QueueSpec, channel: Channel) -> None:
        for watcher in self._watchers:
            watcher.queue_seen(spec, channel)

    async def _store_spec(self, info: ConsumerInfo, spec: QueueSpec) -> None:
        """Update the queue's consumer (and record) with ``spec``;
        :class:`ConsumerNotFoundError` when the consumer is gone, and
        :class:`WrongLastSequenceError` when its record changed or went meanwhile (a
        deletion, another process's bind): look the queue up and try again."""
        records = self._records if self._restorable(spec) else None
        record_seq = 0
        if records is not None:
            # Everything up to the ack floor is settled: a safe start for a restore.
            spec.created_seq = max(spec.created_seq, _ack_floor(info))
            record = await records.read(spec.name)
            record_seq = record.seq if record is not None else 0
        updated = info.config.evolve(
            filter_subjects=spec.filters(self._subjects),
            filter_subject=None,
            metadata=spec.metadata(),
        )
        # An update, not a create: a consumer lost meanwhile is not made afresh.
        stored = await self._js.update_consumer(self._stream, updated)
        if records is not None:
            await records.write(spec, created_stamp(stored.created), record_seq)
        for consumer in self._consumers.of_queue(spec.name):
            consumer.update_spec(spec)

    async def bind_queue(self, queue: str, exchange: str, routing_key: str, bind: bool) -> None:
        """``queue.bind`` (``bind``) or ``queue.unbind``."""
        if exchange == "":
            raise NotAllowedError(
                "ACCESS_REFUSED - operation not permitted on the default exchange"
            )
        kind = await self.exchange_type(exchange)
        async with self._queue_lock(queue):
            for attempt in range(2):
                try:
                    await self._bind_once(queue, exchange, kind, routing_key, bind)
                    return
                except (ConsumerNotFoundError, WrongLastSequenceError):
                    if attempt:
                        raise  # changed twice in a row: let the channel report it

    async def _bind_once(
        self, queue: str, exchange: str, kind: str, routing_key: str, bind: bool
    ) -> None:
        """One attempt at a bind or unbind; :class:`ConsumerNotFoundError` when the
        queue's consumer went away meanwhile (a restart: the next lookup restores it)."""
        found = await self.find_queue(queue)
        if found is None:
            raise QueueNotFoundError(f"NOT_FOUND - no queue {queue!r}")
        info, spec = found
        present = [
            b for b in spec.bindings if b.exchange == exchange and b.routing_key == routing_key
        ]
        if bind:
            if present:
                return
            _, exact = self._subjects.binding_filters(exchange, kind, routing_key)
            since = (await self._js.stream_info(self._stream)).state.last_seq
            spec.bindings.append(Binding(exchange, kind, routing_key, since, exact))
        else:
            if not present:
                return
            spec.bindings = [b for b in spec.bindings if b not in present]
        await self._store_spec(info, spec)

    async def delete_queue(self, queue: str, if_unused: bool, if_empty: bool) -> int:
        """``queue.delete``: the number of messages it held. Its consumers here are
        cancelled (``on_cancel``)."""
        found = await self.find_queue(queue)
        if found is None:
            return 0
        info, _ = found
        if if_empty and (info.num_pending or info.num_ack_pending):
            raise PreconditionFailedError(f"PRECONDITION_FAILED - queue {queue!r} not empty")
        if if_unused and (info.num_waiting or self._consumers.of_queue(queue)):
            raise PreconditionFailedError(f"PRECONDITION_FAILED - queue {queue!r} in use")
        restorable = self._restorable(found[1])
        log_end = 0
        if restorable:
            assert self._records is not None and self._acklog is not None
            await self._records.delete(queue)
            log_end = await self._acklog.end()
        try:
            await self._js.delete_consumer(self._stream, consumer_name(queue))
        except ConsumerNotFoundError:
            return 0
        if restorable:
            assert self._acklog is not None
            # Only what was logged before: a queue declared again meanwhile keeps its own.
            await self._acklog.forget(queue, log_end)
        for watcher in self._watchers:
            watcher.queue_gone(queue)
        for consumer in self._consumers.of_queue(queue):
            await consumer.channel.consumer_gone(consumer)
        return int(info.num_pending)

    async def purge_queue(self, queue: str) -> int:
        """``queue.purge``: the number of messages removed."""
        found = await self.find_queue(queue, LOOKUP_PATIENCE)
        if found is None:
            raise QueueNotFoundError(f"NOT_FOUND - no queue {queue!r}")
        spec = found[1]
        log = self._acklog if self._restorable(spec) else None
        log_subject = log.subject(queue) if log is not None else b""
        purged = 0
        while True:
            msgs = await self.pull_once(spec, 256)
            if not msgs:
                return purged
            for msg in msgs:
                if log is not None:
                    await log.record(log_subject, msg.metadata.sequence.stream)
                await msg.ack()
                purged += 1

    async def after_consumer_gone(self, consumer: Consumer) -> None:
        """Delete an auto-delete queue when its last consumer (here) is gone."""
        if not consumer.spec.auto_delete or consumer.cancelled:
            return
        if self._consumers.of_queue(consumer.queue):
            return
        try:
            await self.delete_queue(consumer.queue, False, False)
        except NatsWireError as exc:
            logger.debug("natswire.amqp: auto-delete %s: %s", consumer.queue, exc)

    # ----------------------------------------------------------------- pulls

    async def ping_queue(self, spec: QueueSpec) -> None:
        """A pull request that can deliver nothing: the server sweeps the queue's
        waiting list (forgetting pullers that went away), and an idle exclusive or
        auto-delete queue is kept from its inactive threshold."""
        await self.pull_once(spec, 1, ping=True)

    async def pull_once(
        self, spec: QueueSpec, batch: int, ping: bool = False
    ) -> list[JetStreamMessage]:
        """One ``no_wait`` pull request from the queue's consumer (purge, sweep)."""
        nc = self._nc
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        body: dict[str, Any] = {"batch": batch, "no_wait": True}
        if ping:
            body = {"batch": 1, "max_bytes": 1, "expires": 50_000_000}
        if spec.single_active_consumer:
            body["group"] = PIN_GROUP
        msgs: list[JetStreamMessage] = []
        try:
            await nc.publish(
                f"{self._js.prefix}.CONSUMER.MSG.NEXT.{self._stream}.{consumer_name(spec.name)}",
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
                msgs.append(JetStreamMessage.from_message(nc, msg))
        finally:
            await sub.unsubscribe()
        return msgs


def _ack_floor(info: ConsumerInfo) -> int:
    """The consumer's ack floor (stream sequence): everything up to it is settled."""
    return info.ack_floor.stream_seq if info.ack_floor is not None else 0
