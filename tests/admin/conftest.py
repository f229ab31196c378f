"""Fixtures for the admin tests: one nats-server for the session with monitoring,
JetStream and a system account (``SYS``: user ``sys``; applications in ``APP``: users
``app`` and ``app2``), and the shared client factories of ``support`` connecting as
those users."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from admin_helpers import ACCOUNTS
from support import AmqpConnect, Connect

import natswire
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
def connect(connect: Connect) -> Connect:
    """``await connect(user="app", **options)``: the shared ``connect`` (from ``support``)
    as one of the accounts' users; passwords equal user names."""

    async def connect_as(user: str = "app", **options: Any) -> natswire.Client:
        return await connect(user=user, password=user, **options)

    return connect_as


@pytest.fixture
def amqp_connect(amqp_connect: AmqpConnect) -> AmqpConnect:
    """The shared ``amqp_connect`` (from ``support``) as user ``app`` unless told
    otherwise."""
    return functools.partial(amqp_connect, user="app", password="app")


@pytest.fixture
async def app_nc(connect: Connect) -> natswire.Client:
    return await connect("app", name="admin-tests-app")


@pytest.fixture
async def sys_nc(connect: Connect) -> natswire.Client:
    return await connect("sys", name="admin-tests-sys")


@pytest.fixture
def admin(app_nc: natswire.Client, monitor: Monitor, namespace: str) -> NatsAdmin:
    return NatsAdmin(app_nc, monitor, namespace=namespace)
