"""The server pool: the order servers are tried in, and discovered servers joining and
leaving (``natswire.client.servers``)."""

from __future__ import annotations

import random

import pytest

from natswire.client.servers import ServerPool, parse_server_url


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


def test_websocket_urls() -> None:
    plain = parse_server_url("ws://example.com")
    assert (plain.host, plain.port, plain.tls, plain.websocket) == ("example.com", 80, False, True)
    assert plain.path == "/" and plain.url == "ws://example.com:80"
    secure = parse_server_url("wss://u:p@[::1]/nats/ws?x=1")
    assert (secure.port, secure.tls, secure.websocket) == (443, True, True)
    assert (secure.user, secure.password) == ("u", "p")
    assert secure.path == "/nats/ws?x=1"
    assert secure.url == "wss://[::1]:443/nats/ws?x=1"
    assert parse_server_url("WS://h:8080").port == 8080
    assert not parse_server_url("tls://h").websocket


def test_websocket_and_other_urls_do_not_mix() -> None:
    message = "nats: mixing of websocket and non websocket URLs is not allowed"
    with pytest.raises(ValueError, match=message):
        ServerPool(["ws://127.0.0.1:8080", "nats://127.0.0.1:4222"])
    with pytest.raises(ValueError, match=message):
        ServerPool(["127.0.0.1:4222", "wss://127.0.0.1:8443"])
    assert len(ServerPool(["ws://a:1", "wss://b:2"])) == 2


def test_discovered_servers_are_reached_as_the_current_one() -> None:
    pool = ServerPool(["wss://127.0.0.1:8443"], randomize=False)
    assert pool.add_discovered(["127.0.0.1:8444"], tls=True, websocket=True)
    found = pool.servers[1]
    assert (found.tls, found.websocket, found.discovered) == (True, True, True)
    assert found.url == "wss://127.0.0.1:8444"
