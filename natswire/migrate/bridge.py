"""The bridge: during the rollout, mirror what is published to RabbitMQ exchanges onto
the same natswire.amqp exchanges (and, with ``both_ways``, back), so services on either
side see all the traffic while they move one by one.

RabbitMQ -> NATS: a durable RabbitMQ queue ``natswire-bridge.<namespace>.<exchange>``
is bound to the exchange (``#`` for topic, every key for fanout; for a direct exchange,
the routing keys natswire.amqp queues are bound with on NATS, re-read every
``refresh`` seconds, plus ``routing_keys``: a message for any other key would reach no
NATS queue). Its messages are published to the NATS exchange with their routing key,
properties and headers, exactly as the shovel does (stable ``Nats-Msg-Id``, RabbitMQ
ack after JetStream's ack), plus the NATS header ``Natswire-Bridged: rabbitmq``.

NATS -> RabbitMQ (``both_ways``): a durable JetStream consumer
``BRIDGE-<exchange>`` on the namespace's stream, filtered on everything published to
the exchange, republishes each message to the RabbitMQ exchange with its routing key
and the AMQP header ``x-natswire-bridged: nats`` (publisher confirms; the NATS message
is acked after the broker's confirm: at least once).

Loops are prevented by those marks: each direction acks and skips the messages that
carry the other direction's mark, i.e. the copies the bridge itself made. A message
published on either side therefore reaches each side's queues once.

The bridge's RabbitMQ queue and JetStream consumer are durable: stopping the bridge
loses nothing (they keep what arrives meanwhile). The cut-over: once publishers have
moved, ``drain`` runs until both hold nothing not yet copied (ready, in flight, or
delivered to a crashed earlier bridge and due again after the ack wait) and stops;
only then remove them with :func:`remove_bridge` (``natswire migrate bridge
--remove``), which refuses while they still hold messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from ..amqp.connection import Connection
from ..amqp.errors import ExchangeNotFoundError
from ..amqp.names import encode_name
from ..amqp.properties import decode_headers
from ..amqp.queues import QueueSpec
from ..client.errors import TimeoutError as NatsTimeoutError
from ..jetstream.api import AckPolicy, ConsumerConfig, DeliverPolicy
from ..jetstream.errors import ConsumerNotFoundError
from ..jetstream.message import JetStreamMessage
from ..protocol.errors import NatsWireError
from .backlog import Backlog, consumer_backlog
from .broker import amqp_user, connect_nats, connect_rabbitmq, rabbit_queue_count, redact
from .errors import MigrationError, NatsSideError, RabbitSideError
from .messages import BRIDGED_AMQP_HEADER, BRIDGED_NATS_HEADER
from .movers import ToNats, ToRabbit, consume_into
from .shovel import CHECK_INTERVAL, DEFAULT_PREFETCH, EMPTY_READINGS
from .stats import Progress, ShovelStats
from .topology import vhost_of


def bridge_queue_name(namespace: str, exchange: str) -> str:
    """The RabbitMQ queue that feeds the bridge for ``exchange``."""
    return f"natswire-bridge.{namespace or '-'}.{exchange}"


def bridge_consumer_name(exchange: str) -> str:
    """The JetStream consumer that feeds the bridge back to RabbitMQ."""
    return f"BRIDGE-{encode_name(exchange)}"


@dataclass
class BridgeStats:
    to_nats: dict[str, ShovelStats] = field(default_factory=dict)
    to_rabbitmq: dict[str, ShovelStats] = field(default_factory=dict)

    def all(self) -> list[ShovelStats]:
        return [*self.to_nats.values(), *self.to_rabbitmq.values()]

    @property
    def remaining(self) -> int:
        """Messages the bridge holds and has not copied yet, as last counted."""
        return sum(one.remaining or 0 for one in self.all())

    def summary(self) -> str:
        return "\n".join(s.summary() for s in self.all())


async def _nats_keys(conn: Connection, exchange: str) -> set[str]:
    """The routing keys natswire.amqp queues are bound to ``exchange`` with."""
    keys: set[str] = set()
    for info in await conn.js.consumers_info(conn.stream):
        spec = QueueSpec.from_info(info)
        if spec is None:
            continue
        keys.update(b.routing_key for b in spec.bindings if b.exchange == exchange)
    return keys


async def _exchange_kind(conn: Connection, exchange: str) -> str:
    try:
        return await conn.exchange_type(exchange)
    except ExchangeNotFoundError:
        raise NatsSideError(
            f"NATS namespace {conn.namespace or '(none)'!r} has no exchange {exchange!r} "
            "(create it first: natswire migrate apply)"
        ) from None


class _Leg:
    """One exchange's RabbitMQ -> NATS direction."""

    def __init__(
        self,
        conn: Connection,
        channel: Any,
        exchange: str,
        kind: str,
        routing_keys: list[str],
        stats: ShovelStats,
        vhost: str,
    ) -> None:
        self.conn = conn
        self.channel = channel
        self.exchange = exchange
        self.kind = kind
        self.static_keys = set(routing_keys)
        self.bound: set[str] = set()
        self.stats = stats
        self.queue: Any = None
        self.name = bridge_queue_name(conn.namespace, exchange)
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()
        self.mover = ToNats(
            conn,
            stats,
            id_source=f"{vhost}/bridge/{exchange}",
            route=lambda message: (exchange, message.routing_key or ""),
            extra_headers={BRIDGED_NATS_HEADER: "rabbitmq"},
            skip=lambda message: BRIDGED_AMQP_HEADER in (message.headers or {}),
        )

    async def start(self) -> None:
        from aiormq import exceptions as amqp_errors

        try:
            source = await self.channel.get_exchange(self.exchange, ensure=True)
        except amqp_errors.ChannelNotFoundEntity:
            raise RabbitSideError(f"RabbitMQ has no exchange {self.exchange!r}") from None
        self.queue = await self.channel.declare_queue(self.name, durable=True)
        self._source = source
        await self.refresh()
        self.mover.start()
        await consume_into(self.queue, self.inbox)

    async def backlog(self) -> Backlog:
        """The bridge queue's ready messages and the ones this leg holds."""
        ready = await rabbit_queue_count(self.channel, self.name)
        return Backlog(ready, unacked=self.mover.in_flight + self.inbox.qsize())

    async def refresh(self) -> None:
        if self.kind == "topic":
            wanted = {"#"}
        elif self.kind == "fanout":
            wanted = {""}
        else:
            wanted = self.static_keys | await _nats_keys(self.conn, self.exchange)
        for key in sorted(wanted - self.bound):
            await self.queue.bind(self._source, routing_key=key)
            self.bound.add(key)


async def run_bridge(
    *,
    amqp_url: str,
    nats_url: str,
    exchanges: list[str],
    namespace: str = "",
    both_ways: bool = False,
    routing_keys: list[str] | None = None,
    prefetch: int = DEFAULT_PREFETCH,
    refresh: float = 2.0,
    progress: Progress | None = None,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
    drain: bool = False,
) -> BridgeStats:
    """Mirror ``exchanges`` from RabbitMQ to NATS (and back with ``both_ways``) until
    ``stop`` is set, or, with ``drain`` (the cut-over), until the bridge's queues hold
    nothing not yet copied. ``ready`` is set once both directions are listening. Each
    direction's ``backlog`` is counted (progress lines, summary)."""
    if not exchanges:
        raise ValueError("name at least one exchange to bridge")
    stop = stop or asyncio.Event()
    vhost = vhost_of(amqp_url)
    stats = BridgeStats()
    conn = await connect_nats(nats_url, namespace)
    rabbit: Any = None
    tasks: list[asyncio.Task[None]] = []
    try:
        kinds = {x: await _exchange_kind(conn, x) for x in exchanges}
        rabbit = await connect_rabbitmq(amqp_url)
        legs: list[_Leg] = []
        backs: list[ToRabbit] = []
        for exchange in exchanges:
            channel = await rabbit.channel()  # one per leg: its acks use ``multiple``
            await channel.set_qos(prefetch_count=prefetch)
            leg_stats = ShovelStats(
                f"rabbitmq {redact(amqp_url)} exchange {exchange!r}",
                f"nats exchange {exchange!r}",
            )
            stats.to_nats[exchange] = leg_stats
            leg = _Leg(
                conn, channel, exchange, kinds[exchange], routing_keys or [], leg_stats, vhost
            )
            await leg.start()
            legs.append(leg)
            tasks.append(asyncio.ensure_future(_run_leg(leg, stop)))
        if both_ways:
            out_channel = await rabbit.channel(publisher_confirms=True, on_return_raises=False)
            underlay = await out_channel.get_underlay_channel()
            for exchange in exchanges:
                back_stats = ShovelStats(
                    f"nats exchange {exchange!r}",
                    f"rabbitmq {redact(amqp_url)} exchange {exchange!r}",
                )
                stats.to_rabbitmq[exchange] = back_stats
                mover = ToRabbit(underlay, back_stats, user=amqp_user(amqp_url), mandatory=False)
                mover.start()
                backs.append(mover)
                pull = await _back_consumer(conn, exchange)
                tasks.append(
                    asyncio.ensure_future(
                        _run_back(conn, pull, exchange, mover, back_stats, prefetch, stop)
                    )
                )
        if ready is not None:
            ready.set()
        loop = asyncio.get_running_loop()
        next_refresh = next_report = next_check = loop.time()
        empty_readings = 0
        while not stop.is_set():
            for task in tasks:
                if task.done():
                    task.result()  # raises the leg's error
                    raise NatsSideError("a bridge direction stopped")
            now = loop.time()
            if now >= next_refresh:
                next_refresh = now + refresh
                for leg in legs:
                    await leg.refresh()
            if (drain and now >= next_check) or (progress is not None and now >= next_report):
                next_check = now + CHECK_INTERVAL
                empty = await _count(conn, legs, backs, stats)
                empty_readings = empty_readings + 1 if empty else 0
                if drain and empty_readings >= EMPTY_READINGS:
                    stop.set()
            if progress is not None and now >= next_report:
                next_report = now + progress.interval
                for one in stats.all():
                    progress.show(one.line())
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)
        for task in tasks:
            await task
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        for one in stats.all():
            one.finished = time.monotonic()
        if rabbit is not None:
            with contextlib.suppress(Exception):
                await rabbit.close()
        await conn.close()
    return stats


async def _count(
    conn: Connection, legs: list[_Leg], backs: list[ToRabbit], stats: BridgeStats
) -> bool:
    """Count what each direction holds into its stats; True when nothing at all."""
    empty = True
    for leg in legs:
        try:
            stats.to_nats[leg.exchange].backlog = backlog = await leg.backlog()
        except MigrationError:
            raise
        except Exception:  # RabbitMQ not answering now: not empty
            return False
        empty = empty and backlog.total == 0
    for exchange, mover in zip(stats.to_rabbitmq, backs, strict=True):
        try:
            backlog = await consumer_backlog(conn, bridge_consumer_name(exchange))
        except NatsWireError:  # reconnecting: not empty
            return False
        stats.to_rabbitmq[exchange].backlog = backlog
        empty = empty and backlog.total == 0 and mover.in_flight == 0
    return empty


async def _run_leg(leg: _Leg, stop: asyncio.Event) -> None:
    while not stop.is_set():
        leg.mover.check()
        try:
            message = await asyncio.wait_for(leg.inbox.get(), 0.2)
        except asyncio.TimeoutError:
            continue
        await leg.mover.handle(message)
    await leg.mover.finish()


async def _back_consumer(conn: Connection, exchange: str) -> Any:
    name = bridge_consumer_name(exchange)
    try:
        await conn.js.consumer_info(conn.stream, name)
    except ConsumerNotFoundError:
        config = ConsumerConfig(
            durable_name=name,
            deliver_policy=DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=30.0,
            max_deliver=-1,
            filter_subject=f"{conn.subjects.exchange_prefix(exchange)}.>",
        )
        await conn.js.add_consumer(conn.stream, config)
    return await conn.js.pull_subscribe_bind(name, conn.stream)


async def _run_back(
    conn: Connection,
    pull: Any,
    exchange: str,
    mover: ToRabbit,
    stats: ShovelStats,
    prefetch: int,
    stop: asyncio.Event,
) -> None:
    while not stop.is_set():
        mover.check()
        room = max(1, prefetch - mover.in_flight)
        try:
            msgs: list[JetStreamMessage] = await pull.fetch(min(room, 256), timeout=0.5)
        except NatsTimeoutError:
            continue
        except NatsWireError:
            await asyncio.sleep(0.2)  # reconnecting; the consumer is durable
            continue
        for msg in msgs:
            headers = msg.headers
            if headers is not None and headers.get(BRIDGED_NATS_HEADER):
                await msg.ack()
                stats.skipped += 1
                continue
            _, routing_key, props = decode_headers(headers)
            await mover.publish(
                exchange,
                routing_key,
                msg.data,
                props,
                message_id=f"natswire-{conn.stream}-{msg.metadata.sequence.stream}",
                ack=msg.ack,
                extra_headers={BRIDGED_AMQP_HEADER: "nats"},
            )
    await mover.finish()
    with contextlib.suppress(NatsWireError):
        await conn.nc.flush(5.0)


async def remove_bridge(
    *,
    amqp_url: str,
    nats_url: str,
    exchanges: list[str],
    namespace: str = "",
    force: bool = False,
) -> list[str]:
    """Delete the bridge's RabbitMQ queues and JetStream consumers; return what went.
    While they still hold messages not copied (see ``run_bridge(drain=True)``) this
    raises :class:`MigrationError` and deletes nothing, unless ``force``."""
    removed: list[str] = []
    conn = await connect_nats(nats_url, namespace)
    try:
        if not force:
            await _refuse_if_holding(conn, amqp_url, exchanges, namespace)
        for exchange in exchanges:
            name = bridge_consumer_name(exchange)
            with contextlib.suppress(ConsumerNotFoundError):
                await conn.js.delete_consumer(conn.stream, name)
                removed.append(f"nats consumer {name}")
    finally:
        await conn.close()
    rabbit = await connect_rabbitmq(amqp_url)
    try:
        channel = await rabbit.channel()
        for exchange in exchanges:
            name = bridge_queue_name(namespace, exchange)
            await channel.queue_delete(name)
            removed.append(f"rabbitmq queue {name}")
    finally:
        await rabbit.close()
    return removed


async def _refuse_if_holding(
    conn: Connection, amqp_url: str, exchanges: list[str], namespace: str
) -> None:
    held: list[str] = []
    for exchange in exchanges:
        with contextlib.suppress(ConsumerNotFoundError):
            backlog = await consumer_backlog(conn, bridge_consumer_name(exchange))
            if backlog.total:
                held.append(
                    f"{backlog.describe()} in nats consumer {bridge_consumer_name(exchange)}"
                )
    rabbit = await connect_rabbitmq(amqp_url)
    try:
        for exchange in exchanges:
            name = bridge_queue_name(namespace, exchange)
            channel = await rabbit.channel()
            with contextlib.suppress(RabbitSideError):  # no such queue: nothing held
                ready = await rabbit_queue_count(channel, name)
                if ready:
                    held.append(f"{ready} in rabbitmq queue {name}")
    finally:
        with contextlib.suppress(Exception):
            await rabbit.close()
    if held:
        raise MigrationError(
            "the bridge still holds messages not copied: "
            + "; ".join(held)
            + " (run the bridge with --drain first, or --force to drop them)"
        )


__all__ = [
    "BridgeStats",
    "bridge_consumer_name",
    "bridge_queue_name",
    "remove_bridge",
    "run_bridge",
]
