"""The bugs a nats-py user would hit first (issue 20), each against a real nats-server:
connecting again after close, failover timing, concurrent ``next_msg`` waiters, a bytes
``inbox_prefix``, error texts, empty header names and ``respond`` headers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from support import Connect, ConnectPeer, peer_sync

import natswire
from natswire.errors import BadSubjectError
from natswire.server import NatsServer

pytestmark = pytest.mark.timeout(30)


async def test_connect_after_close_gives_a_working_client(server: NatsServer) -> None:
    nc = natswire.Client()
    for _ in range(3):
        await nc.connect(server.url)
        assert nc.is_connected
        sub = await nc.subscribe("again", cb=lambda msg: asyncio.ensure_future(msg.respond(b"ok")))
        reply = await nc.request("again", b"", timeout=1)
        assert reply.data == b"ok"
        await nc.flush()
        await sub.unsubscribe()
        await nc.close()
        assert nc.is_closed
    await nc.connect(server.url)
    try:
        await nc.drain()
        await nc.connect(server.url)
        await nc.subscribe("again", cb=lambda msg: asyncio.ensure_future(msg.respond(b"ok")))
        assert (await nc.request("again", b"", timeout=1)).data == b"ok"
    finally:
        await nc.close()


@pytest.fixture
def two_servers() -> Iterator[tuple[NatsServer, NatsServer]]:
    with NatsServer() as first, NatsServer() as second:
        yield first, second


async def test_failover_goes_to_the_next_server_at_once(
    two_servers: tuple[NatsServer, NatsServer],
) -> None:
    first, second = two_servers
    reconnected = asyncio.Event()
    nc = await natswire.connect(
        [first.url, second.url],
        dont_randomize=True,
        reconnect_time_wait=2,
        reconnected_cb=reconnected.set,
    )
    try:
        assert nc.connected_url == first.url
        sub = await nc.subscribe("fo", cb=lambda msg: asyncio.ensure_future(msg.respond(b"ok")))
        del sub
        lost = time.monotonic()
        first.stop()
        await asyncio.wait_for(reconnected.wait(), 5)
        # Not the lost server again after reconnect_time_wait (2 s): the next one now.
        assert time.monotonic() - lost < 1.0
        assert nc.connected_url == second.url
        assert (await nc.request("fo", b"", timeout=1)).data == b"ok"
    finally:
        await nc.close()


async def test_the_same_server_is_retried_every_reconnect_time_wait_without_growing() -> None:
    with NatsServer() as srv:
        reconnected = asyncio.Event()
        nc = await natswire.connect(
            srv.url, reconnect_time_wait=0.1, reconnected_cb=reconnected.set
        )
        try:
            srv.kill()
            await asyncio.sleep(2.0)
            srv.start()
            back = time.monotonic()
            await asyncio.wait_for(reconnected.wait(), 5)
            # Doubling the wait per attempt (the attempts at 0.1, 0.3, 0.7, 1.5, 3.1 s)
            # would wait for the one at 3.1 s.
            assert time.monotonic() - back < 0.5
        finally:
            await nc.close()


async def test_concurrent_next_msg_waiters_each_get_their_own_outcome(nc: natswire.Client) -> None:
    sub = await nc.subscribe("waiters")
    short = asyncio.ensure_future(sub.next_msg(timeout=0.2))
    long = asyncio.ensure_future(sub.next_msg(timeout=5))
    with pytest.raises(natswire.errors.TimeoutError):
        await short
    await nc.publish("waiters", b"for the long one")
    assert (await long).data == b"for the long one"
    # First come, first served.
    first = asyncio.ensure_future(sub.next_msg(timeout=5))
    second = asyncio.ensure_future(sub.next_msg(timeout=5))
    await asyncio.sleep(0.01)
    await nc.publish("waiters", b"1")
    await nc.publish("waiters", b"2")
    assert [(await first).data, (await second).data] == [b"1", b"2"]


async def test_a_bytes_inbox_prefix_makes_text_inboxes(
    connect: Connect, connect_peer: ConnectPeer
) -> None:
    nc = await connect(inbox_prefix=b"_INBOX")
    assert nc.new_inbox().startswith("_INBOX.")
    peer = await connect_peer()
    seen: list[str] = []

    async def answer(msg: natswire.Message) -> None:
        seen.append(msg.reply)
        await peer.publish(msg.reply, b"pong")

    await peer.subscribe("inbox.check", cb=answer)
    await peer_sync(peer)
    assert (await nc.request("inbox.check", b"", timeout=3)).data == b"pong"
    assert seen[0].startswith("_INBOX.")


async def test_error_texts_name_subjects_as_text(nc: natswire.Client) -> None:
    with pytest.raises(BadSubjectError) as info:
        await nc.publish(b"bad subject", b"")
    assert "'bad subject'" in str(info.value)
    assert "b'" not in str(info.value)
    with pytest.raises(BadSubjectError) as info:
        await nc.subscribe(b"a.>.b")
    assert "subject 'a.>.b'" in str(info.value)


async def test_empty_header_names_are_dropped_and_respond_sends_the_headers_back(
    nc: natswire.Client,
) -> None:
    sub = await nc.subscribe("hdr.empty")
    await nc.publish("hdr.empty", b"x", headers={"": "dropped", "Kept": "1"})
    msg = await sub.next_msg(timeout=1)
    assert msg.headers is not None
    assert dict(msg.headers) == {"Kept": "1"}

    await nc.subscribe("hdr.echo", cb=lambda msg: asyncio.ensure_future(msg.respond(b"ok")))
    reply = await nc.request("hdr.echo", b"", timeout=1, headers={"Trace": "abc"})
    assert reply.headers is not None
    assert reply.headers["Trace"] == "abc"
