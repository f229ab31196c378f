"""The two client sides of the amqp-scale workload (see wl_amqp_scale.py): natswire.amqp
through its public API, and RabbitMQ through aio-pika, doing the same AMQP calls."""

from __future__ import annotations

import zlib
from typing import Any

import natswire
from natswire import amqp

from .wl_amqp_scale import (
    EXCHANGE,
    PREFETCH,
    QUEUE_ARGUMENTS,
    DeliveryTally,
    Device,
    describe,
)


class NatswireScaleClient:
    """natswire.amqp: ``amqp.connect({"namespace"}, servers=...)``, then channels.

    With ``shards`` > 1 the devices are split over that many namespaces by user id (the
    partitioning an application can do itself, see docs/scaling.md): one NATS
    connection, an adapter connection per namespace on it (``client=nc``), and each
    worker's operation on its own channel of the device's namespace.
    """

    name = "natswire.amqp"

    def __init__(self, servers: list[str], namespace: str, shards: int = 1) -> None:
        self.servers = servers
        self.namespace = namespace
        self.shards = shards
        #: Errors the adapter reported through ``on_channel_exception``.
        self.reported: list[str] = []
        self._nc: natswire.Client | None = None
        self._conns: list[amqp.Connection] = []
        #: Per shard, per worker.
        self._channels: list[list[amqp.Channel]] = []

    def _on_channel_exception(self, channel: Any, exc: BaseException) -> None:
        self.reported.append(f"channel {getattr(channel, 'channel_number', '?')}: {describe(exc)}")

    async def open(self, channels: int) -> None:
        if self.shards == 1:
            namespaces = [self.namespace]
        else:
            self._nc = await natswire.connect(servers=self.servers)
            namespaces = [f"{self.namespace}-s{i}" for i in range(self.shards)]
        for namespace in namespaces:
            conn = await amqp.connect(
                {"namespace": namespace},
                servers=self.servers,
                client=self._nc,
                on_channel_exception=self._on_channel_exception,
            )
            self._conns.append(conn)
            shard: list[amqp.Channel] = []
            for _ in range(channels):
                ch = await conn.channel()
                await ch.basic_qos(PREFETCH)
                shard.append(ch)
            await shard[0].exchange_declare(EXCHANGE, "direct", durable=True)
            self._channels.append(shard)

    def _channel(self, worker: int, device: Device) -> amqp.Channel:
        shard = zlib.crc32(device.user.encode()) % self.shards if self.shards > 1 else 0
        return self._channels[shard][worker]

    async def declare(self, worker: int, device: Device) -> None:
        ch = self._channel(worker, device)
        await ch.queue_declare(device.queue, durable=True, arguments=dict(QUEUE_ARGUMENTS))
        await ch.queue_bind(device.queue, EXCHANGE, device.user)

    async def consume(self, worker: int, device: Device, tally: DeliveryTally) -> None:
        ch = self._channel(worker, device)
        ack = ch.basic_ack

        async def on_message(delivery: amqp.Delivery) -> None:
            tally.received(device, delivery.body, delivery.redelivered)
            await ack(delivery.delivery_tag)
            tally.acked()

        await ch.basic_consume(device.queue, on_message)

    async def publish(self, worker: int, device: Device) -> None:
        await self._channel(worker, device).basic_publish(EXCHANGE, device.user, device.body)

    async def close(self) -> None:
        try:
            for conn in self._conns:
                await conn.close()
        finally:
            if self._nc is not None:
                await self._nc.close()


class RabbitScaleClient:
    """RabbitMQ through aio-pika: one connection, channels with publisher confirms."""

    name = "RabbitMQ"

    def __init__(self, url: str) -> None:
        self.url = url
        #: Channels the broker closed (with its reason).
        self.reported: list[str] = []
        self._closing = False
        self._conn: Any = None
        self._channels: list[Any] = []
        self._exchanges: list[Any] = []

    def _on_close(self, channel: Any, exc: BaseException | None) -> None:
        if exc is not None and not self._closing:
            self.reported.append(f"channel {getattr(channel, 'number', '?')}: {describe(exc)}")

    async def open(self, channels: int) -> None:
        import aio_pika

        self._conn = await aio_pika.connect(self.url)
        for _ in range(channels):
            ch = await self._conn.channel(publisher_confirms=True)
            await ch.set_qos(prefetch_count=PREFETCH)
            ch.close_callbacks.add(self._on_close)
            self._channels.append(ch)
            self._exchanges.append(
                await ch.declare_exchange(EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True)
            )

    async def declare(self, worker: int, device: Device) -> None:
        queue = await self._channels[worker].declare_queue(
            device.queue, durable=True, arguments=dict(QUEUE_ARGUMENTS)
        )
        await queue.bind(self._exchanges[worker], routing_key=device.user)

    async def consume(self, worker: int, device: Device, tally: DeliveryTally) -> None:
        queue = await self._channels[worker].get_queue(device.queue, ensure=False)

        async def on_message(message: Any) -> None:
            tally.received(device, message.body, message.redelivered)
            await message.ack()
            tally.acked()

        await queue.consume(on_message, no_ack=False)

    async def publish(self, worker: int, device: Device) -> None:
        import aio_pika

        message = aio_pika.Message(device.body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        await self._exchanges[worker].publish(message, routing_key=device.user)

    async def close(self) -> None:
        self._closing = True
        if self._conn is not None:
            await self._conn.close()
