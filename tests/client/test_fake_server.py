"""Client edge cases a real nats-server never produces, against the in-memory fake server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from client_helpers import ErrorLog
from fakeserver import FakeConnection, FakeServer
from support import eventually

import natswire
from natswire.errors import (
    AuthorizationError,
    MaxConnectionsExceededError,
    NoServersError,
    PermissionsViolationError,
    RemoteProtocolError,
    StaleConnectionError,
)
from natswire.protocol import PONG, Pub, encode_msg

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    async with FakeServer() as srv:
        yield srv


@pytest.fixture
async def clients() -> AsyncIterator[list[natswire.Client]]:
    """Clients to close after the test, whatever happened."""
    opened: list[natswire.Client] = []
    yield opened
    for nc in opened:
        await asyncio.wait_for(nc.close(), 5)


async def connect(
    clients: list[natswire.Client], srv: FakeServer, **options: Any
) -> natswire.Client:
    options.setdefault("connect_timeout", 2)
    options.setdefault("reconnect_time_wait", 0.05)
    options.setdefault("reconnect_jitter", 0)
    nc = await natswire.connect(srv.url, **options)
    clients.append(nc)
    return nc


async def roundtrip(nc: natswire.Client, subject: str = "rt") -> None:
    """A message goes through the fake server and comes back."""
    sub = await nc.subscribe(subject)
    await nc.publish(subject, b"ping " + subject.encode())
    assert (await sub.next_msg(timeout=2)).data == b"ping " + subject.encode()
    await sub.unsubscribe()


# ------------------------------------------------------------------------------ handshake


async def test_connect_fields(fake: FakeServer, clients: list[natswire.Client]) -> None:
    nc = await connect(clients, fake, name="fake-test", no_echo=True)
    conn = await fake.ready()
    assert conn.connect is not None
    fields = conn.connect
    assert fields["verbose"] is False and fields["pedantic"] is False
    assert fields["lang"] == "python"
    assert fields["protocol"] == 1
    assert fields["headers"] is True and fields["no_responders"] is True
    assert fields["echo"] is False
    assert fields["name"] == "fake-test"
    assert nc.client_id == 1
    assert nc.connected_server_version == "2.99.0"
    await roundtrip(nc)


async def test_info_arrives_late(clients: list[natswire.Client]) -> None:
    async with FakeServer(info_delay=0.3) as srv:
        loop = asyncio.get_running_loop()
        start = loop.time()
        nc = await connect(clients, srv, connect_timeout=2)
        assert loop.time() - start >= 0.25
        assert nc.is_connected
        await roundtrip(nc)


async def test_info_never_arrives(clients: list[natswire.Client]) -> None:
    async with FakeServer(info_delay=None) as srv:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(NoServersError) as info:
            await natswire.connect(srv.url, connect_timeout=0.3)
        assert 0.25 <= loop.time() - start < 2
        assert isinstance(info.value.__cause__, natswire.errors.TimeoutError)
        conn = await srv.connection(0)
        await asyncio.wait_for(conn.closed, 2)


async def test_authorization_violation_during_handshake() -> None:
    def refuse(conn: FakeConnection) -> None:
        conn.send_err("Authorization Violation")
        conn.close()

    async with FakeServer(on_connect=refuse) as srv:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(AuthorizationError, match="Authorization Violation"):
            await natswire.connect(srv.url, connect_timeout=5, user="u", password="p")
        assert loop.time() - start < 1
        assert srv.connections[0].connect is not None
        assert srv.connections[0].connect["user"] == "u"
        assert len(srv.connections) == 1, "an auth failure must not be retried"


async def test_authorization_violation_without_close(clients: list[natswire.Client]) -> None:
    """The client gives up on its own even when the server keeps the socket open."""

    async with FakeServer(on_connect=lambda conn: conn.send_err("Authorization Violation")) as srv:
        with pytest.raises(AuthorizationError):
            await natswire.connect(srv.url, connect_timeout=5)
        await asyncio.wait_for(srv.connections[0].closed, 2)


# ---------------------------------------------------------------------------- async INFO


async def test_async_info_updates_servers(fake: FakeServer, clients: list[natswire.Client]) -> None:
    discovered = asyncio.Event()
    nc = await connect(clients, fake, discovered_server_cb=discovered.set)
    conn = await fake.ready()
    assert nc.discovered_servers == []
    conn.send_info(connect_urls=["127.0.0.1:4333", "10.0.0.2:4222"])
    await asyncio.wait_for(discovered.wait(), 2)
    assert set(nc.discovered_servers) == {"nats://127.0.0.1:4333", "nats://10.0.0.2:4222"}
    assert fake.url in nc.servers and len(nc.servers) == 3

    # Repeated INFO: the list is replaced, a larger max_payload is taken on.
    discovered.clear()
    conn.send_info(connect_urls=["10.0.0.3:4222"], max_payload=2 * 1024 * 1024)
    await eventually(lambda: nc.discovered_servers == ["nats://10.0.0.3:4222"])
    assert discovered.is_set()
    assert nc.max_payload == 2 * 1024 * 1024
    assert nc.is_connected
    await roundtrip(nc)


async def test_async_info_lame_duck(fake: FakeServer, clients: list[natswire.Client]) -> None:
    ldm = asyncio.Event()
    nc = await connect(clients, fake, lame_duck_mode_cb=ldm.set)
    conn = await fake.ready()
    conn.send_info(ldm=True)
    await asyncio.wait_for(ldm.wait(), 2)
    assert nc.is_connected


async def test_smaller_max_payload_by_async_info(
    fake: FakeServer, clients: list[natswire.Client]
) -> None:
    nc = await connect(clients, fake)
    conn = await fake.ready()
    conn.send_info(max_payload=100)
    await eventually(lambda: nc.max_payload == 100)
    with pytest.raises(natswire.errors.MaxPayloadError):
        await nc.publish("x", b"y" * 101)
    await roundtrip(nc)


# ------------------------------------------------------------------------ -ERR mid-stream


async def test_non_fatal_err_goes_to_error_cb(
    fake: FakeServer, clients: list[natswire.Client]
) -> None:
    errors = ErrorLog()
    nc = await connect(clients, fake, error_cb=errors)
    conn = await fake.ready()
    conn.send_err('Permissions Violation for Publish to "secret"')
    error = await errors.wait_for(PermissionsViolationError)
    assert "secret" in str(error)
    assert nc.is_connected
    assert nc.stats.errors_received == 1
    await roundtrip(nc)
    assert not conn.is_closed
    assert len(fake.connections) == 1


async def test_fatal_err_without_reconnect_closes(
    fake: FakeServer, clients: list[natswire.Client]
) -> None:
    errors = ErrorLog()
    closed = asyncio.Event()
    nc = await connect(clients, fake, error_cb=errors, allow_reconnect=False, closed_cb=closed.set)
    conn = await fake.ready()
    conn.send_err("Maximum Connections Exceeded")  # and the fake keeps the socket open
    await asyncio.wait_for(closed.wait(), 3)
    assert nc.is_closed
    assert len(errors.of_type(MaxConnectionsExceededError)) == 1
    await asyncio.wait_for(conn.closed, 2)


async def test_fatal_err_with_reconnect_reconnects(
    fake: FakeServer, clients: list[natswire.Client]
) -> None:
    errors = ErrorLog()
    reconnected = asyncio.Event()
    nc = await connect(clients, fake, error_cb=errors, reconnected_cb=reconnected.set)
    sub = await nc.subscribe("after.fatal")
    conn = await fake.ready()
    await conn.wait_sub("after.fatal")
    conn.send_err("Stale Connection")
    conn.close()
    await asyncio.wait_for(reconnected.wait(), 5)
    assert len(errors.of_type(StaleConnectionError)) == 1
    assert nc.stats.reconnects == 1
    second = await fake.ready(1)
    sid = await second.wait_sub("after.fatal")
    second.send_msg("after.fatal", sid, b"resubscribed")
    assert (await sub.next_msg(timeout=2)).data == b"resubscribed"


# -------------------------------------------------------------------------- bad frames


@pytest.mark.parametrize(
    "garbage",
    [
        b"XYZZY\r\n",
        b"MSG only.two.args 1\r\n",
        b"MSG foo 1 -5\r\n",
        b"MSG foo 1 3\r\nabcXX",  # payload not followed by CRLF
        b"HMSG foo 1 10 5\r\n",  # header size above total size
        b"INFO {not json}\r\n",
    ],
)
async def test_malformed_frame(
    fake: FakeServer, clients: list[natswire.Client], garbage: bytes
) -> None:
    errors = ErrorLog()
    closed = asyncio.Event()
    disconnected = asyncio.Event()
    nc = await connect(
        clients,
        fake,
        error_cb=errors,
        allow_reconnect=False,
        closed_cb=closed.set,
        disconnected_cb=disconnected.set,
    )
    sub = await nc.subscribe("foo")
    conn = await fake.ready()
    await conn.wait_sub("foo")
    conn.send(garbage)
    await asyncio.wait_for(closed.wait(), 3)
    assert disconnected.is_set()
    assert nc.is_closed
    assert len(errors.of_type(RemoteProtocolError)) == 1
    assert len(errors.errors) == 1, errors.errors
    assert sub.pending_msgs == 0
    await asyncio.wait_for(conn.closed, 2)
    # Nothing hangs: the subscription's consumers end.
    assert [m async for m in sub.messages] == []


async def test_malformed_frame_then_reconnect(
    fake: FakeServer, clients: list[natswire.Client]
) -> None:
    errors = ErrorLog()
    reconnected = asyncio.Event()
    nc = await connect(clients, fake, error_cb=errors, reconnected_cb=reconnected.set)
    sub = await nc.subscribe("foo")
    conn = await fake.ready()
    sid = await conn.wait_sub("foo")
    # One write: the intact message and the bad frame reach the client in one read.
    conn.send(encode_msg("foo", sid, b"before") + b"MSG foo " + sid + b" 3\r\nabc!!\r\n")
    await asyncio.wait_for(reconnected.wait(), 5)
    assert len(errors.of_type(RemoteProtocolError)) == 1
    assert nc.stats.reconnects == 1
    second = await fake.ready(1)
    sid2 = await second.wait_sub("foo")
    second.send_msg("foo", sid2, b"after")
    assert (await sub.next_msg(timeout=2)).data == b"before"
    assert (await sub.next_msg(timeout=2)).data == b"after"
    await roundtrip(nc)


async def test_a_big_read_with_a_bad_frame_in_the_middle(
    fake: FakeServer, clients: list[natswire.Client]
) -> None:
    """Reads past the dispatch window are parsed a window at a time: every message
    before the bad frame arrives once and in order, the error is reported once, and
    nothing after it is delivered from that connection."""
    errors = ErrorLog()
    reconnected = asyncio.Event()
    nc = await connect(clients, fake, error_cb=errors, reconnected_cb=reconnected.set)
    received: list[bytes] = []
    await nc.subscribe("foo", cb=lambda msg: received.append(msg.data))
    conn = await fake.ready()
    sid = await conn.wait_sub("foo")
    good = b"".join(encode_msg("foo", sid, b"%05d" % n) for n in range(3000))
    big = encode_msg("foo", sid, bytes(range(256)) * 400)
    bad = b"MSG foo " + sid + b" 3\r\nabc!!\r\n"
    conn.send(good + big + good + bad + good)
    await asyncio.wait_for(reconnected.wait(), 5)
    expected = [b"%05d" % n for n in range(3000)]
    assert received == [*expected, bytes(range(256)) * 400, *expected]
    assert len(errors.of_type(RemoteProtocolError)) == 1
    assert len(errors.errors) == 1, errors.errors
    await roundtrip(nc)


async def test_connection_closed_mid_frame(
    fake: FakeServer, clients: list[natswire.Client]
) -> None:
    disconnected = asyncio.Event()
    reconnected = asyncio.Event()
    errors = ErrorLog()
    nc = await connect(
        clients,
        fake,
        error_cb=errors,
        disconnected_cb=disconnected.set,
        reconnected_cb=reconnected.set,
    )
    sub = await nc.subscribe("cut")
    conn = await fake.ready()
    sid = await conn.wait_sub("cut")
    conn.send_msg("cut", sid, b"whole")
    conn.send(b"MSG cut " + sid + b" 10\r\nhalf")
    await asyncio.sleep(0.05)
    conn.close()
    await asyncio.wait_for(disconnected.wait(), 3)
    await asyncio.wait_for(reconnected.wait(), 5)
    second = await fake.ready(1)
    sid2 = await second.wait_sub("cut")
    # The new connection's parser starts clean: no leftover half frame.
    second.send_msg("cut", sid2, b"next")
    assert (await sub.next_msg(timeout=2)).data == b"whole"
    assert (await sub.next_msg(timeout=2)).data == b"next"
    with pytest.raises(natswire.errors.TimeoutError):
        await sub.next_msg(timeout=0.05)
    assert sub.delivered == 2
    assert errors.of_type(RemoteProtocolError) == []


async def test_frames_split_byte_by_byte(fake: FakeServer, clients: list[natswire.Client]) -> None:
    nc = await connect(clients, fake)
    sub = await nc.subscribe("split")
    conn = await fake.ready()
    sid = await conn.wait_sub("split")
    data = b"".join(
        [
            b"MSG split " + sid + b" 7\r\nab\r\ncd!\r\n",
            b"PING\r\n",
            b"HMSG split " + sid + b" re.ply 18 21\r\nNATS/1.0\r\nK: v\r\n\r\nxyz\r\n",
        ]
    )
    for i in range(len(data)):
        conn.send(data[i : i + 1])
        if i % 16 == 0:
            await asyncio.sleep(0)
    first = await sub.next_msg(timeout=2)
    second = await sub.next_msg(timeout=2)
    assert first.data == b"ab\r\ncd!"
    assert (second.data, second.reply) == (b"xyz", "re.ply")
    assert second.headers is not None and second.headers["K"] == "v"
    await conn.wait_for(lambda: PONG in conn.frames)  # the server PING was answered
    assert nc.is_connected


# -------------------------------------------------------------------------- ping/pong


async def test_server_ping_is_answered(fake: FakeServer, clients: list[natswire.Client]) -> None:
    await connect(clients, fake)
    conn = await fake.ready()
    for _ in range(3):
        conn.send_ping()
    await conn.wait_for(lambda: conn.pongs_received == 3)


async def test_client_pings_on_interval(clients: list[natswire.Client]) -> None:
    async with FakeServer() as srv:
        nc = await connect(clients, srv, ping_interval=0.05, max_outstanding_pings=2)
        conn = await srv.ready()
        await conn.wait_for(lambda: conn.pings_received >= 5, timeout=3)
        assert nc.is_connected
        assert len(srv.connections) == 1


async def test_stale_connection_detected(clients: list[natswire.Client]) -> None:
    errors = ErrorLog()
    disconnected = asyncio.Event()
    reconnected = asyncio.Event()
    async with FakeServer(answer_pings=False) as srv:
        nc = await connect(
            clients,
            srv,
            ping_interval=0.1,
            max_outstanding_pings=2,
            error_cb=errors,
            disconnected_cb=disconnected.set,
            reconnected_cb=reconnected.set,
        )
        conn = await srv.ready()
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.wait_for(disconnected.wait(), 3)
        assert 0.2 <= loop.time() - start < 1.5
        assert len(errors.of_type(StaleConnectionError)) == 1
        assert 1 + 2 <= conn.pings_received <= 1 + 3
        await asyncio.wait_for(conn.closed, 2)
        # Handled as a disconnect: the client reconnects.
        await asyncio.wait_for(reconnected.wait(), 3)
        assert nc.stats.reconnects == 1
        assert nc.is_connected


async def test_stale_connection_without_reconnect_closes(clients: list[natswire.Client]) -> None:
    closed = asyncio.Event()
    errors = ErrorLog()
    async with FakeServer(answer_pings=False) as srv:
        nc = await connect(
            clients,
            srv,
            ping_interval=0.05,
            max_outstanding_pings=1,
            allow_reconnect=False,
            closed_cb=closed.set,
            error_cb=errors,
        )
        await asyncio.wait_for(closed.wait(), 3)
        assert nc.is_closed
        assert len(errors.of_type(StaleConnectionError)) == 1


async def test_flush_waits_for_pong(clients: list[natswire.Client]) -> None:
    async with FakeServer(answer_pings=False) as srv:
        nc = await connect(clients, srv)
        conn = await srv.ready()
        with pytest.raises(natswire.errors.FlushTimeoutError):
            await nc.flush(timeout=0.1)
        assert nc.is_connected
        task = asyncio.ensure_future(nc.flush(timeout=2))
        await conn.wait_for(lambda: conn.pings_received >= 3)
        assert not task.done()
        # Answer both outstanding PINGs (the timed-out one and the waiting one), in order.
        conn.send(b"PONG\r\nPONG\r\n")
        await asyncio.wait_for(task, 2)


async def test_published_frames_are_well_formed(
    fake: FakeServer, clients: list[natswire.Client]
) -> None:
    nc = await connect(clients, fake)
    conn = await fake.ready()
    payloads = [b"", b"\r\n", b"MSG x 1 2\r\n", bytes(range(256)) * 100]
    for payload in payloads:
        await nc.publish("wf", payload, reply="wf.reply")
    await nc.publish("wf", b"h", headers={"A": "1"})
    await nc.flush()
    pubs = [f for f in conn.frames if isinstance(f, Pub)]
    assert [(p.subject, p.reply, p.payload) for p in pubs] == [
        (b"wf", b"wf.reply", p) for p in payloads
    ]


def test_parser_error_keeps_frames_before_the_bad_bytes() -> None:
    """What the client relies on to deliver intact messages that precede garbage."""
    from natswire.protocol import PING, Msg, Parser, Role

    parser = Parser(Role.CLIENT)
    with pytest.raises(RemoteProtocolError) as info:
        parser.receive_data(b"PING\r\nMSG a 1 2\r\nok\r\nMSG a 1 1\r\nxYY")
    assert info.value.frames == [PING, Msg(b"a", b"1", None, b"ok")]
