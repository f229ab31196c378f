"""Fixtures for the migration tools: one real RabbitMQ broker (management plugin on) and
one nats-server with JetStream for the whole session; each test gets its own RabbitMQ
vhost and its own NATS namespace.

RabbitMQ is Debian's ``rabbitmq-server``, installed by ``scripts/ensure-rabbitmq``
(``make unit`` runs it first), started on free loopback ports with its own directories
and epmd, stopped by PID. When it is not installed the tests skip, saying why."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from natswire.server import NatsServer

pytest.importorskip("aio_pika", reason="aio-pika is not installed (pip install -e '.[dev]')")

from natswire.migrate.rabbit import (
    RabbitMqNotFoundError,
    RabbitMqServer,
    ensure_rabbitmq,
)

_ids = itertools.count(1)


@pytest.fixture(scope="session")
def rabbit() -> Iterator[RabbitMqServer]:
    try:
        ensure_rabbitmq()
    except RabbitMqNotFoundError as exc:
        pytest.skip(f"RabbitMQ is not available: {exc}")
    server = RabbitMqServer(management=True)
    server.start()
    try:
        yield server
    finally:
        server.stop(timeout=2.0)


@pytest.fixture(scope="session")
def nats() -> Iterator[NatsServer]:
    with NatsServer(jetstream=True) as srv:
        yield srv


@pytest.fixture
def vhost(rabbit: RabbitMqServer) -> str:
    name = f"v{os.getpid()}-{next(_ids)}"
    rabbit.add_vhost(name)
    return name


@pytest.fixture
def amqp_url(rabbit: RabbitMqServer, vhost: str) -> str:
    return rabbit.url_for(vhost)


@pytest.fixture
def namespace() -> str:
    return f"m{next(_ids)}"


@pytest.fixture
def mgmt(rabbit: RabbitMqServer) -> str:
    """The management API URL (``--management``)."""
    url = rabbit.management_url
    assert url is not None
    return url
