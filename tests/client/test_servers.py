"""The server pool: the order servers are tried in, and discovered servers joining and
leaving (``natswire.client.servers``)."""

from __future__ import annotations

import random

from natswire.client.servers import ServerPool


def test_server_order_is_shuffled_by_the_injected_random_source() -> None:
    urls = [f"nats://127.0.0.1:{port}" for port in range(4000, 4010)]
    first = [s.url for s in ServerPool(urls, rng=random.Random(7)).servers]
    again = [s.url for s in ServerPool(urls, rng=random.Random(7)).servers]
    other = [s.url for s in ServerPool(urls, rng=random.Random(8)).servers]
    assert first == again
    assert first != other
    assert sorted(first) == sorted(urls)
    kept = [s.url for s in ServerPool(urls, randomize=False).servers]
    assert kept == urls


def test_discovered_servers_come_and_go_explicit_ones_stay() -> None:
    pool = ServerPool(["nats://127.0.0.1:4222"], randomize=False)
    assert pool.add_discovered(["127.0.0.1:4223", "127.0.0.1:4224"], tls=False)
    assert [s.port for s in pool.servers] == [4222, 4223, 4224]
    assert not pool.add_discovered(["127.0.0.1:4222", "127.0.0.1:4224"], tls=False)
    assert [s.port for s in pool.servers] == [4222, 4224]
    pool.add_discovered([], tls=False)
    assert [s.port for s in pool.servers] == [4222]
