"""Fixtures for the admin tests: one nats-server for the session with monitoring,
JetStream and a system account (``SYS``: user ``sys``; applications in ``APP``: users
``app`` and ``app2``), and natswire clients that are always closed."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from admin_helpers import ACCOUNTS, AmqpConnect, Connect

import natswire
from natswire import amqp
from natswire.admin import Monitor, NatsAdmin
from natswire.server import NatsServer

_namespaces = itertools.count(1)


@pytest.fixture(scope="session")
def server() -> Iterator[NatsServer]:
    with NatsServer(http_port=-1, jetstream=True, config_extra=ACCOUNTS) as srv:
        yield srv


@pytest.fixture
def monitor(server: NatsServer) -> Monitor:
    assert server.monitor_url is not None
    return Monitor(server.monitor_url, timeout=5.0)


@pytest.fixture
def namespace() -> str:
    return f"adm{next(_namespaces)}"


@pytest.fixture
async def connect(server: NatsServer) -> AsyncIterator[Connect]:
    """``await connect(user="app", **options)``: a natswire client, closed after."""
    clients: list[natswire.Client] = []

    async def _connect(user: str = "app", **options: Any) -> natswire.Client:
        options.setdefault("connect_timeout", 2.0)
        options.setdefault("reconnect_time_wait", 0.1)
        nc = await natswire.connect(server.url, user=user, password=user, **options)
        clients.append(nc)
        return nc

    yield _connect
    for nc in clients:
        await asyncio.wait_for(nc.close(), 5)


@pytest.fixture
async def amqp_connect(server: NatsServer, namespace: str) -> AsyncIterator[AmqpConnect]:
    """``await amqp_connect(**options)``: an adapter connection (user ``app``) on this
    test's namespace, closed after."""
    conns: list[amqp.Connection] = []

    async def _connect(**options: Any) -> amqp.Connection:
        options.setdefault("servers", server.url)
        options.setdefault("namespace", namespace)
        options.setdefault("connect_timeout", 2.0)
        options.setdefault("user", "app")
        options.setdefault("password", "app")
        conn = await amqp.connect(**options)
        conns.append(conn)
        return conn

    yield _connect
    for conn in conns:
        await asyncio.wait_for(conn.close(), 10)


@pytest.fixture
async def app_nc(connect: Connect) -> natswire.Client:
    return await connect("app", name="admin-tests-app")


@pytest.fixture
async def sys_nc(connect: Connect) -> natswire.Client:
    return await connect("sys", name="admin-tests-sys")


@pytest.fixture
def admin(app_nc: natswire.Client, monitor: Monitor, namespace: str) -> NatsAdmin:
    return NatsAdmin(app_nc, monitor, namespace=namespace)
