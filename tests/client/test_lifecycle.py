"""Connect, auth, properties, options, close and drain against a real nats-server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from support import Connect

import natswire
from natswire import ConnectOptions
from natswire.errors import (
    AuthorizationError,
    ConnectionClosedError,
    ConnectionDrainingError,
    NoServersError,
)
from natswire.server import NatsServer, free_port

pytestmark = pytest.mark.timeout(30)

USER, PASSWORD, TOKEN = "wire", "s3cr:et@/x", "tok3n"


@pytest.fixture(scope="module")
def auth_server() -> Iterator[NatsServer]:
    with NatsServer(user=USER, password=PASSWORD) as srv:
        yield srv


@pytest.fixture(scope="module")
def token_server() -> Iterator[NatsServer]:
    with NatsServer(token=TOKEN) as srv:
        yield srv


async def roundtrip(nc: natswire.Client, subject: str = "rt") -> None:
    """Prove the connection works: a message goes out and comes back."""
    sub = await nc.subscribe(subject)
    await nc.publish(subject, b"alive")
    assert (await sub.next_msg(timeout=2)).data == b"alive"
    await sub.unsubscribe()


# ------------------------------------------------------------------- connect and properties


async def test_connect_properties(server: NatsServer, connect: Connect) -> None:
    nc = await connect(name="props")
    assert nc.is_connected
    assert not nc.is_closed
    assert nc.connected_url == server.url
    assert nc.max_payload == 1024 * 1024
    assert isinstance(nc.client_id, int) and nc.client_id > 0
    assert nc.servers == [server.url]
    await roundtrip(nc)


async def test_single_url_string_and_list(server: NatsServer, connect: Connect) -> None:
    a = await natswire.connect(server.url)
    b = await natswire.connect(servers=[server.url])
    try:
        assert a.connected_url == b.connected_url == server.url
        assert a.client_id != b.client_id
    finally:
        await a.close()
        await b.close()


async def test_close_is_idempotent_and_publish_after_close_raises(connect: Connect) -> None:
    closed_calls: list[int] = []
    nc = await connect(closed_cb=lambda: closed_calls.append(1))
    await nc.close()
    await nc.close()
    assert nc.is_closed and not nc.is_connected
    assert nc.connected_url is None
    assert closed_calls == [1]
    with pytest.raises(ConnectionClosedError):
        await nc.publish("x", b"")
    with pytest.raises(ConnectionClosedError):
        await nc.subscribe("x")
    with pytest.raises(ConnectionClosedError):
        await nc.flush()
    with pytest.raises(ConnectionClosedError):
        await nc.request("x", b"", timeout=0.5)


async def test_close_fails_pending_next_msg_and_requests(connect: Connect) -> None:
    nc = await connect()
    silent = await connect()
    await silent.subscribe("lc.silent")
    await silent.flush()
    sub = await nc.subscribe("lc.none")
    waiting = asyncio.ensure_future(sub.next_msg(timeout=10))
    request = asyncio.ensure_future(nc.request("lc.silent", b"", timeout=10))
    await asyncio.sleep(0.05)
    await asyncio.wait_for(nc.close(), 3)
    with pytest.raises(ConnectionClosedError):
        await asyncio.wait_for(waiting, 2)
    with pytest.raises(ConnectionClosedError):
        await asyncio.wait_for(request, 2)


async def test_async_with_closes(server: NatsServer) -> None:
    async with await natswire.connect(server.url) as nc:
        assert nc.is_connected
        await roundtrip(nc)
    assert nc.is_closed


async def test_drain_then_closed(connect: Connect) -> None:
    nc = await connect()
    await nc.subscribe("lc.drain")
    task = asyncio.ensure_future(nc.drain())
    await asyncio.sleep(0)
    assert nc.is_draining
    with pytest.raises(ConnectionDrainingError):
        await nc.subscribe("lc.more")
    await asyncio.wait_for(task, 5)
    assert nc.is_closed
    with pytest.raises(ConnectionClosedError):
        await nc.drain()


async def test_connection_refused_gives_no_servers_error() -> None:
    port = free_port()
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(NoServersError):
        await natswire.connect(f"nats://127.0.0.1:{port}", connect_timeout=1)
    assert loop.time() - start < 2


async def test_unknown_connect_keyword(server: NatsServer) -> None:
    with pytest.raises(TypeError, match="reconect_time_wait"):
        await natswire.connect(server.url, reconect_time_wait=1)


@pytest.mark.parametrize(
    "options",
    [
        {"connect_timeout": 0},
        {"connect_timeout": -1},
        {"ping_interval": 0},
        {"max_outstanding_pings": 0},
    ],
)
async def test_bad_connect_option_values(server: NatsServer, options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        await natswire.connect(server.url, **options)


# ----------------------------------------------------------------------------- options


async def test_connect_options_object(server: NatsServer) -> None:
    options = ConnectOptions(servers=[server.url], name="typed", connect_timeout=1.5)
    nc = await natswire.connect(options=options)
    try:
        assert nc.options.name == "typed"
        assert nc.options.connect_timeout == 1.5
        await roundtrip(nc)
    finally:
        await nc.close()
    # Keywords override the object.
    nc = await natswire.connect(options=options, name="override")
    try:
        assert nc.options.name == "override"
        assert options.name == "typed"
    finally:
        await nc.close()


async def test_connect_options_from_config_with_env_credentials(auth_server: NatsServer) -> None:
    options = ConnectOptions.from_config(
        {"host": auth_server.host, "port": auth_server.port, "namespace": "wire"},
        environ={"NATS_USERNAME": USER, "NATS_PASSWORD": PASSWORD},
    )
    assert options.namespace == "wire"
    assert options.user == USER and options.password == PASSWORD
    nc = await natswire.connect(options=options)
    try:
        await roundtrip(nc)
    finally:
        await nc.close()
    # The same block nested under "nats", without credentials, is refused.
    bare = ConnectOptions.from_config(
        {"nats": {"host": auth_server.host, "port": auth_server.port}}, environ={}
    )
    assert bare.user is None
    with pytest.raises(AuthorizationError):
        await natswire.connect(options=bare)


# -------------------------------------------------------------------------------- auth


async def test_user_password(auth_server: NatsServer) -> None:
    nc = await natswire.connect(auth_server.url, user=USER, password=PASSWORD)
    try:
        await roundtrip(nc)
    finally:
        await nc.close()


async def test_user_password_in_url(auth_server: NatsServer) -> None:
    from urllib.parse import quote

    url = f"nats://{USER}:{quote(PASSWORD, safe='')}@{auth_server.host}:{auth_server.port}"
    nc = await natswire.connect(url)
    try:
        await roundtrip(nc)
        assert "@" not in (nc.connected_url or "@"), "credentials must not leak into the URL"
    finally:
        await nc.close()


@pytest.mark.parametrize(
    "credentials",
    [{"user": USER, "password": "wrong"}, {"user": "nobody", "password": PASSWORD}, {}],
)
async def test_wrong_credentials_fail_fast(
    auth_server: NatsServer, credentials: dict[str, str]
) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(AuthorizationError) as info:
        await natswire.connect(auth_server.url, connect_timeout=5, **credentials)
    assert loop.time() - start < 2.5, "must fail on the server's -ERR, not the timeout"
    assert "authorization" in str(info.value).lower()


async def test_token(token_server: NatsServer) -> None:
    nc = await natswire.connect(token_server.url, token=TOKEN)
    try:
        await roundtrip(nc)
    finally:
        await nc.close()


async def test_token_in_url(token_server: NatsServer) -> None:
    nc = await natswire.connect(f"nats://{TOKEN}@{token_server.host}:{token_server.port}")
    try:
        await roundtrip(nc)
    finally:
        await nc.close()


async def test_wrong_token_fails_fast(token_server: NatsServer) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(AuthorizationError):
        await natswire.connect(token_server.url, token="nope", connect_timeout=5)
    assert loop.time() - start < 2.5


async def test_nats_py_accepts_the_same_credentials(
    auth_server: NatsServer, token_server: NatsServer
) -> None:
    """Sanity check of the fixtures with the independent client."""
    import nats

    peer = await nats.connect(auth_server.url, user=USER, password=PASSWORD, allow_reconnect=False)
    await peer.close()
    peer = await nats.connect(token_server.url, token=TOKEN, allow_reconnect=False)
    await peer.close()
