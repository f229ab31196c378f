"""The reconnect policy: backoff, the reconnect buffer, auth errors, retrying the first
connect, and the status a client reports (the server pool's order: client/test_servers)."""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from pathlib import Path

import pytest
import uvloop
from certs import make_tls_files

import natswire
from natswire.client.failover import Backoff
from natswire.client.servers import ServerPool
from natswire.errors import AuthorizationError, NoServersError, OutboundBufferFullError
from natswire.server import NatsServer, free_port

pytestmark = pytest.mark.timeout(60)


async def test_backoff_grows_only_when_asked_for_and_the_callback_overrides_it() -> None:
    constant = natswire.ConnectOptions(reconnect_time_wait=0.1, reconnect_jitter=0)
    assert [Backoff(constant, random.Random()).delay(n) for n in range(6)] == [0.1] * 6
    options = natswire.ConnectOptions(
        reconnect_time_wait=0.1, reconnect_time_wait_max=0.8, reconnect_jitter=0
    )
    server = ServerPool(["nats://127.0.0.1:4222"]).servers[0]
    delays = []
    for attempts in range(6):
        server.attempts = attempts
        delays.append(Backoff(options, random.Random()).delay(server.attempts))
    assert delays == [0.1, 0.2, 0.4, 0.8, 0.8, 0.8]
    options = options.with_changes(reconnect_delay_cb=lambda attempt: 0.05 * attempt)
    server.attempts = 3
    assert Backoff(options, random.Random()).delay(server.attempts) == pytest.approx(0.15)


async def test_the_reconnect_buffer_fills_then_publish_raises() -> None:
    async with NatsServer() as server:
        nc = await natswire.connect(
            server.url, pending_size=4096, reconnect_time_wait=5, max_reconnect_attempts=-1
        )
        try:
            await nc.flush()
            server.kill()
            for _ in range(100):
                if nc.is_reconnecting:
                    break
                await asyncio.sleep(0.02)
            accepted = 0
            with pytest.raises(OutboundBufferFullError, match="pending_size"):
                for _ in range(1000):
                    await nc.publish("buffered", b"x" * 100)
                    accepted += 1
            assert 0 < accepted < 41
            assert nc.pending_data_size <= 4096
        finally:
            await nc.close()


async def test_retry_on_failed_connect_waits_for_the_server() -> None:
    port = free_port()
    connected = asyncio.Event()
    nc = await natswire.connect(
        f"nats://127.0.0.1:{port}",
        retry_on_failed_connect=True,
        reconnect_time_wait=0.05,
        reconnect_time_wait_max=0.1,
        max_reconnect_attempts=-1,
        reconnected_cb=connected.set,
    )
    try:
        assert nc.status is natswire.client.client.Status.RECONNECTING
        with NatsServer(port=port):
            await asyncio.wait_for(connected.wait(), 10)
            assert nc.is_connected
    finally:
        await nc.close()

    with pytest.raises(NoServersError):
        await natswire.connect(f"nats://127.0.0.1:{free_port()}", connect_timeout=0.5)


async def test_same_auth_error_twice_skips_the_server() -> None:
    port = free_port()
    errors: list[Exception] = []
    closed = asyncio.Event()
    server = NatsServer(port=port, user="alice", password="right")
    server.start()
    try:
        nc = await natswire.connect(
            server.url,
            user="alice",
            password="right",
            reconnect_time_wait=0.05,
            reconnect_time_wait_max=0.1,
            max_reconnect_attempts=-1,
            error_cb=errors.append,
            closed_cb=closed.set,
        )
        server.stop()
        # The same port now wants another password: every attempt is refused.
        server = NatsServer(port=port, user="alice", password="changed")
        server.start()
        started = time.monotonic()
        await asyncio.wait_for(closed.wait(), 10)
        auth_errors = [e for e in errors if isinstance(e, AuthorizationError)]
        assert len(auth_errors) == 2
        assert time.monotonic() - started < 5
        assert nc.is_closed
    finally:
        server.stop()


async def test_status_follows_the_life_of_the_client() -> None:
    status = natswire.client.client.Status
    async with NatsServer() as server:
        nc = await natswire.connect(server.url, reconnect_time_wait=0.05)
        assert nc.status is status.CONNECTED
        server.kill()
        for _ in range(100):
            if nc.status is status.RECONNECTING:
                break
            await asyncio.sleep(0.01)
        assert nc.status is status.RECONNECTING
        await asyncio.to_thread(server.restart)
        for _ in range(300):
            if nc.status is status.CONNECTED:
                break
            await asyncio.sleep(0.02)
        assert nc.status is status.CONNECTED
        await nc.drain()
        assert nc.status is status.CLOSED


def test_tls_reconnect_under_uvloop(tmp_path: Path) -> None:
    files = make_tls_files(tmp_path)

    async def scenario() -> bytes:
        with NatsServer(tls_cert=files.server_cert, tls_key=files.server_key) as server:
            reconnected = asyncio.Event()
            context = ssl.create_default_context(cafile=str(files.ca))
            nc = await natswire.connect(
                server.url, tls=context, reconnect_time_wait=0.05, reconnected_cb=reconnected.set
            )
            try:
                sub = await nc.subscribe("uv.tls")
                await nc.flush()
                await asyncio.to_thread(server.restart)
                await asyncio.wait_for(reconnected.wait(), 10)
                await nc.publish("uv.tls", b"uvloop and tls")
                return (await sub.next_msg(timeout=2)).data
            finally:
                await nc.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(scenario()) == b"uvloop and tls"
