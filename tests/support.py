"""Test support shared by every test directory: a pytest plugin (``tests/conftest.py``
registers it) and the helpers that tests import by name (``tests`` is on ``sys.path``).

Fixtures, each closing what it opened:

- ``server``: a plain nats-server per module. Directories that need JetStream, accounts
  or monitoring define their own ``server``; the fixtures below connect to whichever
  ``server`` the test's directory provides.
- ``connect`` / ``nc``: natswire clients.
- ``connect_peer`` / ``peer``: nats-py clients, the independent interop peer.
- ``amqp_connect``: AMQP adapter connections on the test's ``namespace`` (a fixture the
  directories that use it define).

Helpers: the ``Connect``, ``ConnectPeer`` and ``AmqpConnect`` types of those factories,
``eventually`` (wait for a condition), and ``natswire_cli`` / ``start_cli`` /
``stop_process`` (the command line run as a user runs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, overload

import nats
import pytest
from faultproxy import FaultProxy

import natswire
from natswire import amqp, errors
from natswire.server import NatsServer

T = TypeVar("T")

Connect = Callable[..., Awaitable[natswire.Client]]
ConnectPeer = Callable[..., Awaitable[Any]]
AmqpConnect = Callable[..., Awaitable[amqp.Connection]]


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    """One plain nats-server for the whole module."""
    with NatsServer() as srv:
        yield srv


@pytest.fixture
async def connect(server: NatsServer) -> AsyncIterator[Connect]:
    """``await connect(url=None, **options)``: a natswire client (of ``server`` unless
    ``url`` says otherwise), closed after the test."""
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
    """A natswire client connected to ``server``."""
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
    """A nats-py client connected to ``server``."""
    return await connect_peer()


@pytest.fixture
async def amqp_connect(server: NatsServer, namespace: str) -> AsyncIterator[AmqpConnect]:
    """``await amqp_connect(**options)``: an adapter connection to ``server`` on this
    test's ``namespace``, closed after the test."""
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


# ------------------------------------------------------------------------------ waiting


@overload
async def eventually(
    check: Callable[[], Awaitable[T]],
    timeout: float = ...,
    *,
    what: str = ...,
    retry_on: tuple[type[Exception], ...] = ...,
    interval: float = ...,
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T],
    timeout: float = ...,
    *,
    what: str = ...,
    retry_on: tuple[type[Exception], ...] = ...,
    interval: float = ...,
) -> T: ...


async def eventually(
    check: Callable[[], Any],
    timeout: float = 5.0,
    *,
    what: str = "",
    retry_on: tuple[type[Exception], ...] = (),
    interval: float = 0.02,
) -> Any:
    """Call ``check`` every ``interval`` seconds until it gives a true value; return it.

    ``check`` is a predicate, or returns an awaitable (a coroutine call), which is awaited.
    Exceptions of the ``retry_on`` types count as "not yet" (for calls that fail until a
    restarted server answers again); any other exception fails at once. After ``timeout``
    seconds the test fails with an ``AssertionError`` naming ``what`` was awaited (by
    default the check's name and source line) and the last retried error.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        error: Exception | None = None
        try:
            value = check()
            if inspect.isawaitable(value):
                value = await value
        except retry_on as exc:
            error = exc
        else:
            if value:
                return value
        if loop.time() > deadline:
            last = f"; last error: {error!r}" if error is not None else ""
            raise AssertionError(
                f"not reached within {timeout} s: {what or _describe(check)}{last}"
            ) from error
        await asyncio.sleep(interval)


def _describe(check: Callable[[], Any]) -> str:
    """``<lambda> at test_x.py:42`` for a function, the ``repr`` of anything else."""
    code = getattr(check, "__code__", None)
    if code is None:
        return repr(check)
    name = getattr(check, "__name__", "check")
    return f"{name} at {Path(code.co_filename).name}:{code.co_firstlineno}"


# ------------------------------------------------------------------------ command line

_CLI = [sys.executable, "-m", "natswire"]


#: ``await until_answered(call)``: ``call()``'s result once JetStream answers again (after
#: a restart, a frozen link or a leader election).
until_answered = functools.partial(
    eventually,
    timeout=20.0,
    retry_on=(errors.JetStreamError, errors.TimeoutError, errors.NoRespondersError),
    interval=0.1,
)


@pytest.fixture
async def proxy(server: NatsServer) -> AsyncIterator[FaultProxy]:
    """A fault proxy (freeze, cut, reset) in front of the directory's ``server``."""
    async with FaultProxy("127.0.0.1", server.port) as fault_proxy:
        yield fault_proxy


async def peer_sync(peer: Any) -> None:
    """Make sure a nats-py client's earlier SUBs reached the server.

    nats-py writes a flush's PING straight to the transport, ahead of commands still
    queued for its flusher task (such as a SUB just made), so one ``flush()`` does not
    prove the server has the subscription. The first PONG comes back only after the
    flusher has run, so a second flush's PING follows the SUB.
    """
    await peer.flush()
    await peer.flush()


def _cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def natswire_cli(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run ``python -m natswire ARGS`` to the end (at most ``timeout`` seconds); the
    result carries the exit status and the output as text."""
    return subprocess.run(
        [*_CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=_cli_env(),
    )


def start_cli(*args: str) -> subprocess.Popen[str]:
    """Start ``python -m natswire ARGS`` in the background, stdout and stderr piped."""
    return subprocess.Popen(
        [*_CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_cli_env(),
    )


def stop_process(proc: subprocess.Popen[str]) -> None:
    """Kill ``proc`` if it still runs, and collect it."""
    if proc.poll() is None:
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=10)
