"""The blocking client behind the fault proxy (which runs on the test's event loop, so
every blocking call here goes to a worker thread): a frozen link is noticed by the
reader thread's PINGs and replaced, and a publisher blocked on it is released."""

from __future__ import annotations

import asyncio
import threading

import pytest
from faultproxy import FaultProxy
from support import eventually

import natswire.sync
from natswire.errors import StaleConnectionError
from natswire.server import NatsServer

pytestmark = pytest.mark.timeout(60)


async def test_frozen_link_is_stale_and_replaced(server: NatsServer) -> None:
    events: list[str] = []
    async with FaultProxy("127.0.0.1", server.port) as proxy:
        nc = await asyncio.to_thread(
            natswire.sync.connect,
            proxy.url,
            ping_interval=0.2,
            max_outstanding_pings=2,
            reconnect_time_wait=0.05,
            disconnected_cb=lambda: events.append("disconnected"),
            reconnected_cb=lambda: events.append("reconnected"),
        )
        try:
            sub = await asyncio.to_thread(nc.subscribe, "frozen.x")
            await asyncio.to_thread(nc.flush)
            proxy.freeze()
            await eventually(lambda: "disconnected" in events, 5)
            assert isinstance(nc.last_error, (StaleConnectionError, OSError))
            proxy.thaw()
            await eventually(lambda: events == ["disconnected", "reconnected"], 5)
            await asyncio.to_thread(nc.publish, "frozen.x", b"after")
            msg = await asyncio.to_thread(sub.next_msg, 3)
            assert msg.data == b"after"
        finally:
            await asyncio.to_thread(nc.close)


async def test_close_releases_a_publisher_blocked_on_a_frozen_link(server: NatsServer) -> None:
    async with FaultProxy("127.0.0.1", server.port) as proxy:
        nc = await asyncio.to_thread(natswire.sync.connect, proxy.url, ping_interval=30.0)
        proxy.freeze()
        stopped = threading.Event()

        def flood() -> None:
            try:
                while True:
                    nc.publish("frozen.flood", b"x" * 65536)
            except Exception:
                stopped.set()

        publisher = threading.Thread(target=flood, daemon=True)
        publisher.start()
        await asyncio.sleep(0.5)  # the kernel buffers fill; the publisher blocks writing
        await asyncio.wait_for(asyncio.to_thread(nc.close), 5)
        assert await asyncio.to_thread(stopped.wait, 5)
        assert nc.is_closed
        proxy.thaw()
