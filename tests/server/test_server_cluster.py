"""NatsCluster: nodes routed to each other on loopback (the real binary, no mocks)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from server_helpers import read_info

from natswire.httpjson import get_json
from natswire.server import NatsCluster, NatsServer
from natswire.server import cluster as cluster_mod
from natswire.server import free_ports as real_free_ports

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaked_servers")]


def _connect_url_ports(server: NatsServer) -> set[int]:
    urls = read_info(server.port).get("connect_urls") or []
    return {int(url.rsplit(":", 1)[1]) for url in urls}


def _wait_connect_urls(server: NatsServer, expected: set[int]) -> set[int]:
    deadline = time.monotonic() + 10
    while True:
        ports = _connect_url_ports(server)
        if expected <= ports or time.monotonic() > deadline:
            return ports
        time.sleep(0.1)


def test_three_node_cluster_connect_urls() -> None:
    with NatsCluster(3) as cluster:
        servers = cluster.servers
        assert len(servers) == 3
        assert cluster.urls == [s.url for s in servers]
        ports = {s.port for s in servers}
        assert len(ports) == 3
        assert len({s.cluster_port for s in servers}) == 3
        assert len({s.server_name for s in servers}) == 3
        for server in servers:
            others = ports - {server.port}
            assert others <= _wait_connect_urls(server, others)
    assert not any(s.is_running for s in servers)


def test_cluster_node_kill_and_restart() -> None:
    with NatsCluster(3) as cluster:
        first, second, _third = cluster.servers
        cluster_port = first.cluster_port
        first.kill()
        deadline = time.monotonic() + 10
        while first.port in _connect_url_ports(second):
            assert time.monotonic() < deadline, "killed node still advertised"
            time.sleep(0.1)
        first.restart()
        assert first.cluster_port == cluster_port
        cluster.wait_routes(10)
        assert first.port in _wait_connect_urls(second, {first.port})


def test_cluster_retries_when_a_cluster_port_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    picks: list[list[int]] = []
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()

        def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
            ports = real_free_ports(count, host)
            if not picks:
                ports[-1] = blocker.getsockname()[1]
            picks.append(ports)
            return ports

        # NatsCluster picks its cluster ports with the free_ports its module imported.
        monkeypatch.setattr(cluster_mod, "free_ports", free_ports)
        with NatsCluster(2) as cluster:
            assert all(s.is_running for s in cluster.servers)
    assert len(picks) == 2


def test_cluster_without_monitoring_waits_via_info() -> None:
    with NatsCluster(2, http_port=None) as cluster:
        first, second = cluster.servers
        assert first.http_port is None
        assert second.port in _wait_connect_urls(first, {second.port})


async def test_jetstream_cluster_ready() -> None:
    async with NatsCluster(3, jetstream=True) as cluster:
        await asyncio.to_thread(cluster.wait_jetstream_ready, 20)
        stores = {s.store_dir for s in cluster.servers}
        assert len(stores) == 3
        for server in cluster.servers:
            jsz = get_json(f"{server.monitor_url}/jsz")
            assert jsz["meta_cluster"]["leader"]
            assert jsz["meta_cluster"]["cluster_size"] == 3


def test_cluster_start_returns_the_cluster() -> None:
    cluster = NatsCluster(2, http_port=None).start()
    try:
        assert isinstance(cluster, NatsCluster)
        assert all(s.is_running for s in cluster.servers)
    finally:
        cluster.stop()
    assert cluster.servers == []
