"""Fixtures for the JetStream tests: one nats-server with JetStream per module, and
clients that are always closed."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import nats
import pytest

import natswire
from natswire.jetstream import JetStreamContext
from natswire.server import NatsServer

Connect = Callable[..., Awaitable[natswire.Client]]

_names = itertools.count(1)


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    """One nats-server with JetStream (temporary file store) for the whole module."""
    with NatsServer(jetstream=True) as srv:
        yield srv


@pytest.fixture
async def connect(server: NatsServer) -> AsyncIterator[Connect]:
    """``await connect(url=None, **options)``: a natswire client, closed after the test."""
    clients: list[natswire.Client] = []

    async def _connect(url: str | list[str] | None = None, **options: Any) -> natswire.Client:
        options.setdefault("connect_timeout", 2.0)
        options.setdefault("reconnect_time_wait", 0.1)
        nc = await natswire.connect(url or server.url, **options)
        clients.append(nc)
        return nc

    yield _connect
    for nc in clients:
        await asyncio.wait_for(nc.close(), 5)


@pytest.fixture
async def nc(connect: Connect) -> natswire.Client:
    return await connect()


@pytest.fixture
def js(nc: natswire.Client) -> JetStreamContext:
    return nc.jetstream(timeout=2.0)


@pytest.fixture
def name() -> str:
    """A stream name unique within the test session."""
    return f"S{next(_names)}"


@pytest.fixture
async def stream(js: JetStreamContext, name: str) -> AsyncIterator[str]:
    """A file-storage stream ``name`` on subjects ``<name>.>``, deleted after the test."""
    await js.add_stream(name=name, subjects=[f"{name}.>"])
    yield name
    with contextlib.suppress(natswire.errors.NatsWireError):
        await js.delete_stream(name)


@pytest.fixture
async def peer(server: NatsServer) -> AsyncIterator[Any]:
    """A nats-py client (the interop peer)."""
    nc = await nats.connect(server.url, connect_timeout=2, allow_reconnect=False)
    yield nc
    if not nc.is_closed:
        await asyncio.wait_for(nc.close(), 5)
