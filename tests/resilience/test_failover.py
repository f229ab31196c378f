"""Three-node clusters on loopback: failover to a discovered node, lame duck mode."""

from __future__ import annotations

import asyncio
import time

import pytest
from support import eventually

import natswire
from natswire.server import NatsCluster

pytestmark = pytest.mark.timeout(90)


async def test_failover_to_a_discovered_node() -> None:
    with NatsCluster(size=3) as cluster:
        node_a, _, node_c = cluster.servers
        failed_over = asyncio.Event()
        discovered: list[bool] = []
        nc = await natswire.connect(
            node_a.url,
            reconnect_time_wait=0.05,
            reconnected_cb=failed_over.set,
            discovered_server_cb=lambda: discovered.append(True),
        )
        listener = await natswire.connect(node_c.url)
        try:
            await eventually(lambda: len(nc.servers) == 3, timeout=10)
            assert set(nc.discovered_servers) == {
                f"nats://127.0.0.1:{s.port}" for s in cluster.servers[1:]
            }
            received: list[bytes] = []
            await listener.subscribe("failover", cb=lambda msg: received.append(msg.data))
            await listener.flush()
            await asyncio.sleep(0.2)  # let the interest reach every node
            await nc.publish("failover", b"before")
            await nc.flush()

            node_a.kill()
            killed_at = time.monotonic()
            await asyncio.wait_for(failed_over.wait(), 10)
            failover_time = time.monotonic() - killed_at
            assert nc.connected_url != node_a.url
            assert nc.connected_url in {s.url for s in cluster.servers[1:]}

            await nc.publish("failover", b"after")
            await nc.flush()
            await eventually(lambda: received == [b"before", b"after"], 5)
            assert nc.stats.reconnects == 1
            print(f"\nfailover to a discovered node took {failover_time * 1000:.0f} ms")
        finally:
            await nc.close()
            await listener.close()


async def test_lame_duck_moves_to_another_node_before_the_old_one_closes() -> None:
    extra = 'lame_duck_duration: "30s"\nlame_duck_grace_period: "1s"\n'
    with NatsCluster(size=3, config_extra=extra) as cluster:
        node_a = cluster.servers[0]
        events: list[str] = []
        nc = await natswire.connect(
            node_a.url,
            dont_randomize=True,
            lame_duck_mode_cb=lambda: events.append("lame duck"),
            reconnected_cb=lambda: events.append("reconnected"),
            disconnected_cb=lambda: events.append("disconnected"),
        )
        publisher = await natswire.connect(cluster.servers[2].url)
        try:
            await eventually(lambda: len(nc.servers) == 3, timeout=10)
            sub = await nc.subscribe("ldm.check")
            await nc.flush()
            node_a.enter_lame_duck_mode()
            await eventually(lambda: nc.connected_url not in (None, node_a.url), 5)
            assert node_a.is_running, "the client moved only after the node closed"
            assert events[:2] == ["lame duck", "reconnected"]
            assert "disconnected" not in events
            await asyncio.sleep(0.2)
            await publisher.publish("ldm.check", b"on the new node")
            await publisher.flush()
            assert (await sub.next_msg(timeout=3)).data == b"on the new node"
        finally:
            await nc.close()
            await publisher.close()
