"""Quorum queues on a 3-node cluster: with ``replicas=3`` every adapter stream has three
replicas, and kill -9 of the node leading the main stream loses no confirmed message,
stops publishing for at most a few seconds, lets consuming continue and lets a fresh
``amqp.connect()`` in (and look up a queue whose consumer it led) while the node is down."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from amqp_helpers import Collector
from support import eventually, until_answered

import natswire
from natswire import amqp
from natswire.amqp.options import LASTING_PULL_EXPIRES
from natswire.server import NatsCluster

pytestmark = pytest.mark.timeout(150)

EXCHANGE = "user-notifications"
QUEUES = [f"user-notifications.u{i}.c1" for i in range(4)]


async def declare_wire_queues(ch: amqp.Channel) -> None:
    await ch.exchange_declare(EXCHANGE, "direct", durable=True)
    for i, queue in enumerate(QUEUES):
        await ch.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        await ch.queue_bind(queue, EXCHANGE, f"u{i}")


async def test_replicated_adapter_survives_leader_kill() -> None:
    async with NatsCluster(size=3, jetstream=True) as cluster:
        await asyncio.to_thread(cluster.wait_jetstream_ready, 30)
        config = {"namespace": "wire", "replicas": 3}
        options = dict(servers=cluster.urls, reconnect_time_wait=0.1, connect_timeout=2)
        publisher = await until_answered(lambda: amqp.connect(config, **options))
        consumer = await amqp.connect(config, **{**options, "servers": cluster.urls[::-1]})
        observer = await natswire.connect(cluster.urls, connect_timeout=2)
        try:
            js = observer.jetstream(timeout=2)
            for stream in (publisher.stream, publisher.meta_stream):
                info = await js.stream_info(stream)
                assert info.config.num_replicas == 3, stream
                assert info.cluster is not None and len(info.cluster.replicas or []) == 2

            pub_ch = await publisher.channel()
            await declare_wire_queues(pub_ch)
            got = Collector()
            sub_ch = await consumer.channel()
            await sub_ch.basic_qos(50)

            async def on_message(delivery: amqp.Delivery) -> None:
                got(delivery)
                await sub_ch.basic_ack(delivery.delivery_tag)

            await sub_ch.basic_consume(QUEUES[0], on_message)

            confirmed: list[str] = []
            gaps: list[float] = []
            killed = asyncio.Event()
            total = 160

            async def publish() -> None:
                last = time.monotonic()
                for i in range(total):
                    props = amqp.BasicProperties(message_id=f"m{i}", delivery_mode=2)
                    while True:
                        try:
                            await pub_ch.basic_publish(EXCHANGE, "u0", b"%d" % i, props)
                            break
                        except (amqp.AmqpAdapterError, natswire.errors.NatsError, TimeoutError):
                            await asyncio.sleep(0.05)
                    now = time.monotonic()
                    gaps.append(now - last)
                    last = now
                    confirmed.append(f"m{i}")
                    if i == 60:
                        await asyncio.wait_for(killed.wait(), 10)
                        last = time.monotonic()  # the gap counts from the kill

            publishing = asyncio.create_task(publish())
            await eventually(lambda: len(confirmed) > 60, 20)
            info = await js.stream_info(publisher.stream)
            assert info.cluster is not None and info.cluster.leader
            leader = next(s for s in cluster.servers if s.server_name == info.cluster.leader)
            # Look up a queue whose consumer the killed node leads, when there is one: its
            # consumer answers nothing until it has elected a new leader.
            looked_up = QUEUES[1]
            for queue in QUEUES[1:]:
                queue_info = await js.consumer_info(publisher.stream, amqp.consumer_name(queue))
                if queue_info.cluster and queue_info.cluster.leader == leader.server_name:
                    looked_up = queue
            await asyncio.to_thread(leader.kill)
            killed.set()

            started = time.monotonic()
            fresh = await asyncio.wait_for(
                until_answered(lambda: amqp.connect(config, **options)), 10
            )
            assert time.monotonic() - started <= 10
            fresh_ch = await fresh.channel()
            ok = await fresh_ch.queue_declare(looked_up, passive=True)
            assert ok.queue == looked_up
            await fresh.close()

            await asyncio.wait_for(publishing, 90)
            assert len(confirmed) == total
            print(f"longest publish gap {max(gaps):.2f} s")
            assert max(gaps) <= 10, f"longest publish gap {max(gaps):.1f} s"
            await got.wait_for(total, 60)
            ids = [d.properties.message_id for d in got.deliveries]
            assert set(ids) >= set(confirmed), "no confirmed message lost"
        finally:
            await publisher.close()
            await consumer.close()
            await observer.close()


async def test_replicas_mismatch_is_a_clear_error() -> None:
    async with NatsCluster(size=3, jetstream=True) as cluster:
        await asyncio.to_thread(cluster.wait_jetstream_ready, 30)
        options = dict(servers=cluster.urls, connect_timeout=2)
        first = await until_answered(lambda: amqp.connect({"namespace": "mm"}, **options))
        try:
            info = await first.nc.jetstream().stream_info(first.stream)
            assert info.config.num_replicas == 3, "default: min(3, cluster size)"
        finally:
            await first.close()
        with pytest.raises(amqp.AmqpAdapterError) as raised:
            await amqp.connect({"namespace": "mm"}, replicas=1, **options)
        text = str(raised.value)
        assert "replicas" in text and "3" in text and "1" in text


async def test_a_queue_whose_consumer_leader_dies_delivers_before_its_pull_expires() -> None:
    # The pull request waits on the consumer's leader; when that node dies the new leader
    # does not have it. The adapter learns of the new leader (its advisory) and pulls
    # again, instead of waiting for the request's expiry (pull_expires, 10 minutes).
    async with NatsCluster(size=3, jetstream=True) as cluster:
        await asyncio.to_thread(cluster.wait_jetstream_ready, 30)
        stay, doomed = cluster.servers[0], cluster.servers[1]
        config = {"namespace": "ld", "replicas": 3}
        options = dict(servers=[stay.url], reconnect_time_wait=0.1, connect_timeout=2)
        conn = await until_answered(lambda: amqp.connect(config, **options))
        observer = await natswire.connect([stay.url], connect_timeout=2)
        try:
            assert conn.options.pull_expires == LASTING_PULL_EXPIRES  # replicated streams
            ch = await conn.channel()
            await ch.queue_declare("device", durable=True, arguments={"x-queue-type": "quorum"})
            js = observer.jetstream(timeout=5)
            consumer = amqp.consumer_name("device")
            info = await js.consumer_info(conn.stream, consumer)
            if info.cluster is None or info.cluster.leader != doomed.server_name:
                body = json.dumps({"placement": {"preferred": doomed.server_name}}).encode()
                subject = f"$JS.API.CONSUMER.LEADER.STEPDOWN.{conn.stream}.{consumer}"
                await observer.request(subject, body, timeout=5)

                async def led_by_doomed() -> bool:
                    info = await js.consumer_info(conn.stream, consumer)
                    return info.cluster is not None and info.cluster.leader == doomed.server_name

                await eventually(
                    led_by_doomed,
                    timeout=15,
                    what="the consumer's leader moved",
                    retry_on=(natswire.errors.JetStreamError, natswire.errors.TimeoutError),
                    interval=0.2,
                )
            got = Collector()
            await ch.basic_consume("device", got)
            await conn.nc.flush()
            await asyncio.sleep(0.5)  # the pull request waits on the doomed leader
            await asyncio.to_thread(doomed.kill)
            killed = time.monotonic()
            pub_ch = await conn.channel()
            for _ in range(100):  # while the stream elects a leader, if it was the doomed one
                try:
                    await pub_ch.basic_publish("", "device", b"after")
                    break
                except (amqp.AmqpAdapterError, natswire.errors.NatsError, TimeoutError):
                    await asyncio.sleep(0.2)
            await got.wait_for(1, timeout=30)
            assert got.bodies == [b"after"]
            print(f"delivered {time.monotonic() - killed:.1f} s after the kill")
        finally:
            await conn.close()
            await observer.close()
