"""Fixtures for the JetStream tests: one nats-server with JetStream per module (the
clients, ``connect``, ``nc`` and the nats-py ``peer``, come from ``support``), a
JetStream context, and streams that are always deleted."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Iterator

import pytest

import natswire
from natswire.jetstream import JetStreamContext
from natswire.server import NatsServer

_names = itertools.count(1)


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    """One nats-server with JetStream (temporary file store) for the whole module."""
    with NatsServer(jetstream=True) as srv:
        yield srv


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
