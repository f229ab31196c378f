"""Fault injection against a real nats-server: process kills, frozen and split links,
servers that never come back, and close/drain/cancel during a reconnect."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from faultproxy import FaultProxy

import natswire
from natswire.client.client import PAUSED_BUFFER_LIMIT
from natswire.errors import ConnectionClosedError, StaleConnectionError
from natswire.server import NatsServer

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def server() -> AsyncIterator[NatsServer]:
    async with NatsServer() as srv:
        yield srv


def sequence_numbers(received: list[bytes]) -> list[int]:
    return [int(data.split(b":", 1)[0]) for data in received]


async def test_kill_and_restart_during_steady_publishing(server: NatsServer) -> None:
    """Every message published after the disconnect was noticed arrives, once, in order."""
    disconnected_at: list[int] = []
    reconnected = asyncio.Event()
    published = 0

    def on_disconnect() -> None:
        disconnected_at.append(published)

    nc = await natswire.connect(
        server.url,
        reconnect_time_wait=0.05,
        max_reconnect_attempts=-1,
        disconnected_cb=on_disconnect,
        reconnected_cb=reconnected.set,
    )
    watcher = await natswire.connect(server.url, reconnect_time_wait=0.05)
    try:
        received: list[bytes] = []
        watched: list[bytes] = []
        await nc.subscribe("steady", cb=lambda msg: received.append(msg.data))
        await watcher.subscribe("steady", cb=lambda msg: watched.append(msg.data))
        await nc.flush()
        await watcher.flush()
        total = 3000
        killed = False
        started = time.monotonic()
        while published < total and time.monotonic() - started < 30:
            await nc.publish("steady", b"%d:%b" % (published, b"x" * 64))
            published += 1
            if published == 1000 and not killed:
                killed = True
                server.kill()
                await asyncio.sleep(0.3)
                await asyncio.to_thread(server.restart)
            if published % 50 == 0:
                await asyncio.sleep(0.001)
        await asyncio.wait_for(reconnected.wait(), 10)
        await nc.flush(timeout=5)
        await asyncio.sleep(0.3)

        assert published == total
        assert disconnected_at, "the disconnect was never noticed"
        noticed = disconnected_at[0]
        numbers = sequence_numbers(received)
        assert numbers == sorted(numbers), "messages were reordered"
        assert len(numbers) == len(set(numbers)), "messages were duplicated"
        after_notice = [n for n in numbers if n >= noticed]
        assert after_notice == list(range(noticed, total)), "a buffered message was lost"
        watched_numbers = sequence_numbers(watched)
        assert watched_numbers == sorted(watched_numbers)
        assert len(watched_numbers) == len(set(watched_numbers))
        lost = total - len(numbers)
        print(
            f"\nkill -9 at message 1000: disconnect noticed at {noticed}, "
            f"{lost} messages lost before it, {total - noticed} buffered and delivered"
        )
    finally:
        await nc.close()
        await watcher.close()


async def test_frozen_link_is_detected_within_the_ping_bound(proxy: FaultProxy) -> None:
    ping_interval, max_outstanding = 0.4, 2
    errors: list[Exception] = []
    disconnected = asyncio.Event()
    nc = await natswire.connect(
        proxy.url,
        ping_interval=ping_interval,
        max_outstanding_pings=max_outstanding,
        reconnect_time_wait=0.1,
        error_cb=errors.append,
        disconnected_cb=disconnected.set,
    )
    try:
        proxy.freeze()
        frozen_at = time.monotonic()
        payload = b"y" * 4096
        while not disconnected.is_set() and time.monotonic() - frozen_at < 10:
            await nc.publish("heavy", payload)
            await asyncio.sleep(0)
        detected_after = time.monotonic() - frozen_at
        bound = ping_interval * (max_outstanding + 1)
        assert disconnected.is_set()
        assert detected_after <= bound + 0.5, f"stale link found after {detected_after:.2f}s"
        assert any(isinstance(error, StaleConnectionError) for error in errors)
        proxy.thaw()
        await nc.flush(timeout=5)
        assert nc.is_connected
        print(f"\nfrozen link detected after {detected_after:.2f}s (bound {bound:.2f}s)")
    finally:
        await nc.close()


async def test_publisher_yielding_every_message_waits_on_a_frozen_link(proxy: FaultProxy) -> None:
    """Back-pressure holds for a publisher that yields after each publish (each is then
    the first of its event-loop pass): it waits once the buffer is full, it does not
    buffer without bound."""
    nc = await natswire.connect(proxy.url, ping_interval=60)
    try:
        proxy.freeze()
        payload = b"z" * 4096
        blocked_at = None
        for published in range(16384):  # 64 MiB if nothing ever waits
            try:
                await asyncio.wait_for(nc.publish("frozen", payload), 1.0)
            except asyncio.TimeoutError:
                blocked_at = published
                break
            await asyncio.sleep(0)
        assert blocked_at is not None, "no publish waited on a frozen link"
        assert nc.pending_data_size <= PAUSED_BUFFER_LIMIT + len(payload) + 64 * 1024
        proxy.thaw()
        await nc.flush(timeout=10)
    finally:
        await nc.close()


async def test_server_stream_split_into_single_bytes(proxy: FaultProxy) -> None:
    proxy.split_server_stream = True
    nc = await natswire.connect(proxy.url)
    publisher = await natswire.connect(proxy.url)
    try:
        sub = await nc.subscribe("split")
        await nc.flush()
        count = 2000
        for index in range(count):
            await publisher.publish(
                "split",
                b"payload %d \r\n MSG end" % index,
                headers={"Index": str(index), "Multi": ["a", "b"]},
            )
        await publisher.flush()
        for index in range(count):
            msg = await sub.next_msg(timeout=10)
            assert msg.data == b"payload %d \r\n MSG end" % index
            assert msg.headers is not None
            assert msg.headers["index"] == str(index)
            assert msg.headers.get_all("Multi") == ["a", "b"]
    finally:
        await nc.close()
        await publisher.close()


async def test_all_servers_down_closes_within_the_attempt_bound() -> None:
    async with NatsServer() as first, NatsServer() as second:
        closed = asyncio.Event()
        nc = await natswire.connect(
            [first.url, second.url],
            max_reconnect_attempts=2,
            reconnect_time_wait=0.1,
            reconnect_time_wait_max=0.2,
            connect_timeout=0.5,
            closed_cb=closed.set,
        )
        first.kill()
        second.kill()
        started = time.monotonic()
        # 2 servers x 2 attempts, each waiting at most the capped backoff plus jitter.
        await asyncio.wait_for(closed.wait(), 5)
        assert time.monotonic() - started < 3
        assert nc.is_closed
        with pytest.raises(ConnectionClosedError):
            await nc.publish("after", b"x")
        with pytest.raises(ConnectionClosedError):
            await nc.subscribe("after")
        with pytest.raises(ConnectionClosedError):
            await nc.flush()


async def test_close_and_drain_during_reconnect_do_not_hang(server: NatsServer) -> None:
    for action in ("close", "drain"):
        nc = await natswire.connect(server.url, reconnect_time_wait=5, max_reconnect_attempts=-1)
        await nc.subscribe("pending")
        server.kill()
        for _ in range(100):
            if nc.is_reconnecting:
                break
            await asyncio.sleep(0.02)
        assert nc.is_reconnecting
        if action == "close":
            await asyncio.wait_for(nc.close(), 3)
        else:
            await asyncio.wait_for(nc.drain(), 3)
        assert nc.is_closed
        await asyncio.to_thread(server.restart)


async def test_flush_during_reconnect_waits_for_the_new_connection(server: NatsServer) -> None:
    nc = await natswire.connect(server.url, reconnect_time_wait=0.05)
    try:
        sub = await nc.subscribe("flush.reconnect")
        server.kill()
        for _ in range(100):
            if nc.is_reconnecting:
                break
            await asyncio.sleep(0.02)
        await nc.publish("flush.reconnect", b"buffered")
        flushing = asyncio.create_task(nc.flush(timeout=10))
        await asyncio.sleep(0.1)
        assert not flushing.done()
        await asyncio.to_thread(server.restart)
        await asyncio.wait_for(flushing, 10)
        assert (await sub.next_msg(timeout=2)).data == b"buffered"
    finally:
        await nc.close()


async def test_cancelled_request_leaves_the_client_healthy(server: NatsServer) -> None:
    nc = await natswire.connect(server.url)
    try:
        await nc.subscribe("slow.svc", cb=lambda msg: None)
        task = asyncio.create_task(nc.request("slow.svc", b"x", timeout=5))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        async def answer(msg: natswire.Message) -> None:
            await msg.respond(b"ok")

        await nc.subscribe("fast.svc", cb=answer)
        assert (await nc.request("fast.svc", b"x", timeout=2)).data == b"ok"
        assert nc.pending_requests == 0
    finally:
        await nc.close()
