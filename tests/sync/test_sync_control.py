"""What a real nats-server rarely does on cue, scripted with the in-memory fake server
(tests/client/fakeserver.py): its PINGs answered, its silence noticed as a stale link,
-ERR fatal and not, INFO announcing more servers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from client.fakeserver import FakeServer
from support import eventually

import natswire.sync
from natswire.errors import (
    PermissionsViolationError,
    RemoteProtocolError,
    StaleConnectionError,
)
from natswire.protocol import encode_msg

pytestmark = pytest.mark.timeout(60)


async def connect(url: str, **options: Any) -> natswire.sync.Client:
    options.setdefault("reconnect_time_wait", 0.05)
    return await asyncio.to_thread(natswire.sync.connect, url, **options)


async def test_answers_the_servers_pings() -> None:
    async with FakeServer() as srv:
        nc = await connect(srv.url)
        try:
            conn = await srv.ready()
            for _ in range(3):
                conn.send_ping()
            await conn.wait_for(lambda: conn.pongs_received == 3)
        finally:
            await asyncio.to_thread(nc.close)


async def test_a_server_that_stops_answering_is_stale_and_replaced() -> None:
    errors: list[Exception] = []
    async with FakeServer(answer_pings=False) as srv:
        nc = await connect(
            srv.url, ping_interval=0.1, max_outstanding_pings=2, error_cb=errors.append
        )
        try:
            first = await srv.ready()
            await first.wait_for(lambda: first.is_closed, 5)
            assert first.pings_received >= 3  # the handshake's, then the unanswered ones
            await srv.ready(1)
            await eventually(lambda: nc.is_connected and nc.reconnects == 1)
            assert any(isinstance(e, StaleConnectionError) for e in errors)
        finally:
            await asyncio.to_thread(nc.close)


async def test_err_fatal_or_not() -> None:
    errors: list[Exception] = []
    async with FakeServer() as srv:
        nc = await connect(srv.url, error_cb=errors.append)
        try:
            conn = await srv.ready()
            conn.send_err("Permissions Violation for Publish to foo")
            await eventually(lambda: errors)
            assert isinstance(errors[0], PermissionsViolationError)
            assert nc.is_connected and not conn.is_closed
            conn.send_err("Authorization Violation")
            await srv.ready(1)  # the link was dropped and a new one made
            await eventually(lambda: nc.reconnects == 1)
        finally:
            await asyncio.to_thread(nc.close)


async def test_info_announcing_servers_grows_the_pool() -> None:
    discovered: list[str] = []
    async with FakeServer() as srv:
        nc = await connect(srv.url, discovered_server_cb=lambda: discovered.append("new"))
        try:
            conn = await srv.ready()
            conn.send_info(connect_urls=["127.0.0.1:1", "127.0.0.1:2"])
            await eventually(lambda: discovered == ["new"])
            assert nc.server_info["connect_urls"] == ["127.0.0.1:1", "127.0.0.1:2"]
        finally:
            await asyncio.to_thread(nc.close)


async def test_frames_before_bad_bytes_are_delivered_then_the_link_is_replaced() -> None:
    errors: list[Exception] = []
    async with FakeServer() as srv:
        nc = await connect(srv.url, error_cb=errors.append)
        try:
            got: list[bytes] = []
            await asyncio.to_thread(nc.subscribe, "intact", cb=lambda m: got.append(m.data))
            await asyncio.to_thread(nc.flush)
            conn = await srv.ready()
            sid = await conn.wait_sub("intact")
            conn.send(encode_msg("intact", sid, b"one") + encode_msg("intact", sid, b"two"))
            conn.send(b"BOGUS nonsense\r\n")
            await eventually(lambda: got == [b"one", b"two"])
            await srv.ready(1)  # the bad link was dropped and a new one made
            assert any(isinstance(e, RemoteProtocolError) for e in errors)
        finally:
            await asyncio.to_thread(nc.close)
