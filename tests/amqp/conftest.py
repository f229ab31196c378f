"""Fixtures for the AMQP adapter tests: one nats-server with JetStream per module, and a
namespace of its own per test (so each test has its own stream and queues) for the
adapter connections ``amqp_connect`` (from ``support``) makes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from support import AmqpConnect

from natswire import amqp
from natswire.server import NatsServer

_namespaces = itertools.count(1)


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer(jetstream=True) as srv:
        yield srv


@pytest.fixture
def namespace() -> str:
    return f"t{next(_namespaces)}"


@pytest.fixture
async def conn(amqp_connect: AmqpConnect) -> amqp.Connection:
    # Idle queues are swept for expired heads every 0.5 s here (the default is 30 s), so
    # the expiry tests see the sweep within their time.
    return await amqp_connect(expiry_sweep_interval=0.5)


@pytest.fixture
async def ch(conn: amqp.Connection) -> amqp.Channel:
    return await conn.channel()
