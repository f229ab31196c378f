"""The amqp-scale workload done with JetStream alone: what any client could reach with
natswire.amqp's layout, measured in the same run as the two brokers (see amqp_scale.py).

:class:`JetStreamScaleClient` keeps what the adapter gives the server and drops what it
adds: one limits-retention stream per shard (the devices split by user id as
``--shards`` splits them over namespaces); per device a durable pull consumer with the
adapter's two literal filter subjects (the queue's own subject and its binding's),
created in one request where the adapter declares and then binds; one pull request of
:data:`~benchmarks.wl_amqp_scale.PREFETCH` per consumer that outlasts the run, where the
adapter renews them; each delivery acked at once with a bare ``PUB`` to its ack subject;
publishes to the binding subject, each awaiting its publisher ack. No queue records, no
AMQP properties in headers, no delivery tags.

``memory_state`` gives the consumers ``mem_storage``: their positions are kept in memory,
never written to disk, and lost with a restart of the server. The adapter does not do
this (see docs/scaling.md, "Consumer state in memory"); the column shows what it would
buy on this machine's disk.
"""

from __future__ import annotations

import json
import zlib

import natswire
from natswire.amqp.options import DEFAULT_MAX_AGE
from natswire.jetstream.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy
from natswire.jetstream.errors import NotJSMessageError
from natswire.jetstream.message import parse_metadata

from .wl_amqp_scale import PREFETCH, DeliveryTally, Device, describe

#: How long every pull request waits (s): longer than any run.
PULL_EXPIRES = 6 * 3600.0
#: The subject prefix of the deliveries' reply subjects.
INBOX = "ceiling.in"


class JetStreamScaleClient:
    """The workload through natswire's core client and JetStream API only (see the
    module docs). The ``worker`` arguments are ignored: every operation is one request
    on the one connection."""

    def __init__(self, servers: list[str], shards: int = 1, memory_state: bool = False) -> None:
        self.servers = servers
        self.shards = shards
        self.memory_state = memory_state
        self.name = "JetStream alone" + (", memory state" if memory_state else "")
        #: Pull request statuses and undecodable deliveries.
        self.reported: list[str] = []
        self._nc: natswire.Client | None = None
        self._js: natswire.JetStreamContext | None = None
        self._consumers: dict[Device, int] = {}
        #: By consumer name, once its device is consumed.
        self._targets: dict[str, tuple[Device, DeliveryTally]] = {}

    def _shard(self, device: Device) -> tuple[str, str]:
        """(stream, subject prefix) of the device's shard, split by user id."""
        k = zlib.crc32(device.user.encode()) % self.shards
        return f"CEILING-{k}", f"ceiling.s{k}."

    def _filters(self, device: Device) -> list[str]:
        _, prefix = self._shard(device)
        return [f"{prefix}q.{device.user}.{device.client}", f"{prefix}x.{device.user}"]

    def _consumer(self, device: Device) -> str:
        """The name of the device's consumer (numbered as declared)."""
        return f"q{self._consumers[device]}"

    def _context(self) -> natswire.JetStreamContext:
        assert self._js is not None, "open() first"
        return self._js

    async def open(self, channels: int) -> None:
        self._nc = await natswire.connect(servers=self.servers)
        js = self._js = self._nc.jetstream(timeout=30)
        for k in range(self.shards):
            await js.add_stream(
                name=f"CEILING-{k}",
                subjects=[f"ceiling.s{k}.>"],
                retention=RetentionPolicy.LIMITS,
                max_age=DEFAULT_MAX_AGE,
                max_consumers=1_000_000,
            )
        await self._nc.subscribe(f"{INBOX}.>", cb=self._on_delivery)

    async def declare(self, worker: int, device: Device) -> None:
        self._consumers.setdefault(device, len(self._consumers))
        stream, _ = self._shard(device)
        await self._context().add_consumer(
            stream,
            ConsumerConfig(
                durable_name=self._consumer(device),
                deliver_policy=DeliverPolicy.NEW,
                ack_policy=AckPolicy.EXPLICIT,
                max_deliver=-1,
                max_ack_pending=-1,
                filter_subjects=self._filters(device),
                mem_storage=self.memory_state or None,
            ),
        )

    async def consume(self, worker: int, device: Device, tally: DeliveryTally) -> None:
        assert self._nc is not None, "open() first"
        name = self._consumer(device)
        self._targets[name] = (device, tally)
        stream, _ = self._shard(device)
        request = json.dumps({"batch": PREFETCH, "expires": int(PULL_EXPIRES * 1e9)})
        await self._nc.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{name}", request.encode(), reply=f"{INBOX}.{name}"
        )

    def _on_delivery(self, msg: natswire.Msg) -> None:
        assert self._nc is not None
        if not msg.reply:
            # Each consumer has one pull request meant to outlast the run: any status
            # (408 expired, 409 ended...) leaves its device undelivered, so it is an error.
            self.reported.append(f"{msg.subject}: pull request status {msg.status} {msg.data!r}")
            return
        try:
            meta = parse_metadata(msg.reply)
            device, tally = self._targets[meta.consumer]
        except (NotJSMessageError, KeyError) as exc:
            self.reported.append(f"{msg.subject}: undecodable delivery: {describe(exc)}")
            return
        tally.received(device, msg.data, meta.num_delivered > 1)
        self._nc.publish_trusted_nowait(msg.reply.encode(), b"")
        tally.acked()

    async def publish(self, worker: int, device: Device) -> None:
        _, prefix = self._shard(device)
        await self._context().publish(f"{prefix}x.{device.user}", device.body)

    async def close(self) -> None:
        if self._nc is not None:
            await self._nc.close()
