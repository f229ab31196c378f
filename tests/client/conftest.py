"""Fixtures for the client tests: a real nats-server per module, and client factories
that always close what they opened (natswire and nats-py, the independent peer)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import nats
import pytest
from client_helpers import ErrorLog

import natswire
from natswire.server import NatsServer

Connect = Callable[..., Awaitable[natswire.Client]]
ConnectPeer = Callable[..., Awaitable[Any]]


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    """One plain nats-server for the whole module."""
    with NatsServer() as srv:
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
    """A natswire client connected to the module's server."""
    return await connect()


@pytest.fixture
async def connect_peer(server: NatsServer) -> AsyncIterator[ConnectPeer]:
    """``await connect_peer(url=None, **options)``: a nats-py client, closed after."""
    clients: list[Any] = []

    async def _connect(url: str | None = None, **options: Any) -> Any:
        options.setdefault("connect_timeout", 2)
        options.setdefault("allow_reconnect", False)
        peer = await nats.connect(url or server.url, **options)
        clients.append(peer)
        return peer

    yield _connect
    for peer in clients:
        if not peer.is_closed:
            await asyncio.wait_for(peer.close(), 5)


@pytest.fixture
async def peer(connect_peer: ConnectPeer) -> Any:
    """A nats-py client connected to the module's server."""
    return await connect_peer()


@pytest.fixture
def error_log() -> ErrorLog:
    return ErrorLog()
