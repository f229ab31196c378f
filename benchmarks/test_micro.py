"""pytest-benchmark micro-benchmarks of natswire's hot paths (nats-py alongside where the
same operation exists). Run with ``make bench-micro`` (``pytest -q benchmarks
--benchmark-only``); plain ``pytest`` does not collect this directory (testpaths = tests).

Each benchmark handles a batch of BATCH messages per call, so per-message cost is the
reported time / BATCH.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from natswire.protocol import Parser, encode_pub

from .common import payload
from .parsebench import VARIANTS, _StubNC

BATCH = 1000
SUBJECT = "bench.micro"
DATA16 = payload(16)


def _frames(variant: str) -> bytes:
    return VARIANTS[variant] * BATCH


# --------------------------------------------------------------------------- parse


@pytest.mark.benchmark(group="parse MSG 16 B x1000")
def test_parse_msg16_natswire(benchmark: Any) -> None:
    data = _frames("msg16")
    parser = Parser()
    frames = benchmark(parser.receive_data, data)
    assert len(frames) == BATCH


@pytest.mark.benchmark(group="parse MSG 16 B x1000")
def test_parse_msg16_natspy(benchmark: Any) -> None:
    from nats.protocol.parser import Parser as PyParser

    data = _frames("msg16")
    nc = _StubNC()
    parser = PyParser(nc)

    def parse() -> None:
        with contextlib.suppress(StopIteration):
            parser.parse(data).send(None)

    benchmark(parse)
    assert nc.count >= BATCH


@pytest.mark.benchmark(group="parse HMSG 16 B x1000")
def test_parse_hmsg_natswire(benchmark: Any) -> None:
    data = _frames("hmsg")
    parser = Parser()
    frames = benchmark(parser.receive_data, data)
    assert len(frames) == BATCH


@pytest.mark.benchmark(group="parse MSG 1 KiB x1000")
def test_parse_msg1k_natswire(benchmark: Any) -> None:
    data = _frames("msg1k")
    parser = Parser()
    frames = benchmark(parser.receive_data, data)
    assert len(frames) == BATCH


# --------------------------------------------------------------------------- serialize


@pytest.mark.benchmark(group="encode PUB 16 B x1000")
def test_encode_pub(benchmark: Any) -> None:
    def encode() -> bytes:
        out = b""
        for _ in range(BATCH):
            out = encode_pub(SUBJECT, DATA16)
        return out

    assert benchmark(encode).endswith(DATA16 + b"\r\n")


@pytest.mark.benchmark(group="encode PUB 16 B x1000")
def test_encode_pub_with_reply(benchmark: Any) -> None:
    def encode() -> bytes:
        out = b""
        for _ in range(BATCH):
            out = encode_pub(SUBJECT, DATA16, "_INBOX.abc.1")
        return out

    assert benchmark(encode).endswith(DATA16 + b"\r\n")


# --------------------------------------------------------------------------- message objects


@pytest.mark.benchmark(group="build a message x1000")
def test_message_constructor(benchmark: Any) -> None:
    from natswire import Message

    def build() -> Any:
        msg = None
        for _ in range(BATCH):
            msg = Message(SUBJECT, DATA16)
        return msg

    assert benchmark(build).data == DATA16


# --------------------------------------------------------------------------- with a server


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    from natswire.server import NatsServer

    with NatsServer() as server:
        yield server.url


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.mark.benchmark(group="receive path: bytes -> Message -> callback x1000")
def test_deliver_natswire(benchmark: Any, server_url: str, loop: asyncio.AbstractEventLoop) -> None:
    """MSG bytes through the connection's data_received: parse, look up the subscription,
    build the Message, call a plain-function callback (no server round trip)."""
    import natswire

    received = [0]

    def cb(msg: Any) -> None:
        received[0] += 1

    async def setup() -> tuple[Any, Any]:
        nc = await natswire.connect(server_url)
        sub = await nc.subscribe(SUBJECT, cb=cb)
        await nc.flush()
        return nc, sub

    nc, sub = loop.run_until_complete(setup())
    conn = getattr(nc, "_conn", None)
    if conn is None or not hasattr(conn, "data_received"):
        pytest.skip("natswire's connection object is not reachable")
    data = (b"MSG %b %d 16\r\n" % (SUBJECT.encode(), sub.sid) + DATA16 + b"\r\n") * BATCH
    benchmark(conn.data_received, data)
    assert received[0] >= BATCH
    loop.run_until_complete(nc.close())


@pytest.mark.benchmark(group="publish into the buffer 16 B x1000")
def test_publish_natswire(benchmark: Any, server_url: str, loop: asyncio.AbstractEventLoop) -> None:
    import natswire

    nc = loop.run_until_complete(natswire.connect(server_url))

    async def batch() -> None:
        publish = nc.publish
        for _ in range(BATCH):
            await publish(SUBJECT, DATA16)

    benchmark(lambda: loop.run_until_complete(batch()))
    loop.run_until_complete(nc.flush())
    loop.run_until_complete(nc.close())


@pytest.mark.benchmark(group="publish into the buffer 16 B x1000")
def test_publish_natspy(benchmark: Any, server_url: str, loop: asyncio.AbstractEventLoop) -> None:
    import nats

    nc = loop.run_until_complete(nats.connect(server_url))

    async def batch() -> None:
        publish = nc.publish
        for _ in range(BATCH):
            await publish(SUBJECT, DATA16)

    benchmark(lambda: loop.run_until_complete(batch()))
    loop.run_until_complete(nc.flush())
    loop.run_until_complete(nc.close())
