"""Fixtures for the blocking client's tests: ``driver``, one scenario run against the
asyncio and the blocking client (see ``sync_drivers``), and ``sync_connect``, blocking
clients closed after the test (the server and the nats-py ``peer`` come from
``support``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sync_drivers import Driver, SyncConnect, open_driver

import natswire.sync
from natswire.server import NatsServer


@pytest.fixture(params=["asyncio", "blocking"])
async def driver(request: pytest.FixtureRequest, server: NatsServer) -> AsyncIterator[Driver]:
    opened = await open_driver(request.param, server.url)
    yield opened
    await asyncio.wait_for(opened.close(), 10)


@pytest.fixture
def sync_connect(server: NatsServer) -> Iterator[SyncConnect]:
    """``sync_connect(url=None, **options)``: a blocking client, closed after the test."""
    clients: list[natswire.sync.Client] = []

    def _connect(url: str | list[str] | None = None, **options: Any) -> natswire.sync.Client:
        options.setdefault("connect_timeout", 2.0)
        options.setdefault("reconnect_time_wait", 0.1)
        nc = natswire.sync.connect(url or server.url, **options)
        clients.append(nc)
        return nc

    yield _connect
    for nc in clients:
        nc.close()
