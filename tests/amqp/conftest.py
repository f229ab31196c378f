"""Fixtures for the AMQP adapter tests: one nats-server with JetStream per module, and
adapter connections on a namespace of their own per test (so each test has its own
stream and queues), always closed."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from natswire import amqp
from natswire.server import NatsServer

Connect = Callable[..., Awaitable[amqp.Connection]]

_namespaces = itertools.count(1)


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer(jetstream=True) as srv:
        yield srv


@pytest.fixture
def namespace() -> str:
    return f"t{next(_namespaces)}"


@pytest.fixture
async def connect(server: NatsServer, namespace: str) -> AsyncIterator[Connect]:
    """``await connect(**options)``: an adapter connection on this test's namespace."""
    conns: list[amqp.Connection] = []

    async def _connect(**options: Any) -> amqp.Connection:
        options.setdefault("servers", server.url)
        options.setdefault("namespace", namespace)
        options.setdefault("connect_timeout", 2.0)
        conn = await amqp.connect(**options)
        conns.append(conn)
        return conn

    yield _connect
    for conn in conns:
        await asyncio.wait_for(conn.close(), 10)


@pytest.fixture
async def conn(connect: Connect) -> amqp.Connection:
    return await connect()


@pytest.fixture
async def ch(conn: amqp.Connection) -> amqp.Channel:
    return await conn.channel()
