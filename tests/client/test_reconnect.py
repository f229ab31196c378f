"""Reconnect basics against a real nats-server that restarts on the same port."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from support import eventually

import natswire
from natswire.errors import ConnectionClosedError, NoServersError
from natswire.server import NatsServer

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def own_server() -> Iterator[NatsServer]:
    """A server of the test's own, free to restart."""
    with NatsServer() as srv:
        yield srv


async def test_restart_reconnects_and_resubscribes(own_server: NatsServer) -> None:
    disconnected = asyncio.Event()
    reconnected = asyncio.Event()
    events: list[str] = []

    def on_disconnect() -> None:
        events.append("disconnected")
        disconnected.set()

    async def on_reconnect() -> None:
        events.append("reconnected")
        reconnected.set()

    nc = await natswire.connect(
        own_server.url,
        reconnect_time_wait=0.05,
        reconnect_time_wait_max=0.2,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
    )
    try:
        sub = await nc.subscribe("re.x")
        queued = await nc.subscribe("re.q", queue="g")
        auto = await nc.subscribe("re.auto", max_msgs=3)
        await nc.publish("re.auto", b"0")
        await nc.flush()
        await eventually(lambda: auto.delivered == 1)
        first_id = nc.client_id

        await own_server.arestart()
        await asyncio.wait_for(disconnected.wait(), 5)
        await asyncio.wait_for(reconnected.wait(), 10)
        assert events == ["disconnected", "reconnected"]
        assert nc.is_connected
        assert nc.stats.reconnects == 1
        assert nc.connected_url == own_server.url
        assert nc.client_id is not None and first_id is not None

        # Subscriptions are back: messages published after the reconnect arrive,
        # from this client and from a new one.
        await nc.publish("re.x", b"self")
        other = await natswire.connect(own_server.url)
        try:
            await other.publish("re.x", b"other")
            await other.publish("re.q", b"queued")
            for i in range(1, 6):
                await other.publish("re.auto", b"%d" % i)
            await other.flush()
        finally:
            await other.close()
        got = {(await sub.next_msg(timeout=2)).data for _ in range(2)}
        assert got == {b"self", b"other"}
        assert (await queued.next_msg(timeout=2)).data == b"queued"
        # The auto-unsubscribe limit survived with what remained of it (3 in all).
        assert [m.data async for m in auto.messages] == [b"0", b"1", b"2"]
    finally:
        await nc.close()


async def test_publish_while_disconnected_is_sent_after_reconnect(
    own_server: NatsServer,
) -> None:
    reconnected = asyncio.Event()
    nc = await natswire.connect(
        own_server.url, reconnect_time_wait=0.05, reconnected_cb=reconnected.set
    )
    try:
        sub = await nc.subscribe("re.buffered")
        await nc.flush()
        own_server.kill()  # keeps the port for the restart
        await eventually(lambda: nc.is_reconnecting)
        for i in range(10):
            await nc.publish("re.buffered", b"%d" % i)
        assert nc.pending_data_size > 0
        await own_server.astart()
        await asyncio.wait_for(reconnected.wait(), 10)
        got = [(await sub.next_msg(timeout=2)).data for _ in range(10)]
        assert got == [b"%d" % i for i in range(10)]
    finally:
        await nc.close()


async def test_reconnect_gives_up_and_closes(own_server: NatsServer) -> None:
    closed = asyncio.Event()
    nc = await natswire.connect(
        own_server.url,
        reconnect_time_wait=0.05,
        reconnect_time_wait_max=0.05,
        max_reconnect_attempts=2,
        closed_cb=closed.set,
    )
    sub = await nc.subscribe("re.gone")
    own_server.stop()
    await asyncio.wait_for(closed.wait(), 10)
    assert nc.is_closed
    assert isinstance(nc.last_error, NoServersError)
    with pytest.raises(ConnectionClosedError):
        await nc.publish("re.gone", b"")
    # An iterator over a subscription of the dead connection ends.
    assert [m async for m in sub.messages] == []


async def test_no_reconnect_closes_on_disconnect(own_server: NatsServer) -> None:
    closed = asyncio.Event()
    disconnected = asyncio.Event()
    nc = await natswire.connect(
        own_server.url,
        allow_reconnect=False,
        closed_cb=closed.set,
        disconnected_cb=disconnected.set,
    )
    own_server.stop()
    await asyncio.wait_for(closed.wait(), 5)
    assert disconnected.is_set()
    assert nc.is_closed
    assert nc.stats.reconnects == 0


async def test_listeners_hear_the_link_drop_before_the_reconnect_and_not_on_close(
    own_server: NatsServer,
) -> None:
    events: list[str] = []
    nc = await natswire.connect(
        own_server.url, reconnect_time_wait=0.05, reconnect_time_wait_max=0.2
    )
    sub = await nc.subscribe("kept")

    def link_lost() -> None:
        # Not connected any more; a subscription dropped now is not restored.
        events.append(f"lost connected={nc.is_connected}")

    nc.disconnect_listeners.append(link_lost)
    nc.reconnect_listeners.append(lambda: events.append("back"))
    await own_server.arestart()
    await eventually(lambda: "back" in events, timeout=10, what="the reconnect")
    assert events == ["lost connected=False", "back"]
    await nc.publish("kept", b"still subscribed")
    assert (await sub.next_msg(timeout=2)).data == b"still subscribed"
    await nc.close()
    assert events == ["lost connected=False", "back"]  # closing is not a lost link
