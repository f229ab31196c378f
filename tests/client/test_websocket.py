"""NATS over WebSocket (``ws://``, ``wss://``) against a real nats-server's websocket
listener: messaging, JetStream, TLS, reconnect, nats-py on TCP as the peer, the upgrade
headers, refused upgrades, and the fault proxy splitting and freezing the link."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from certs import make_tls_files
from faultproxy import FaultProxy
from support import eventually, peer_sync

import natswire
from natswire.errors import NoServersError, StaleConnectionError
from natswire.server import NatsCluster, NatsServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def ws_server() -> Iterator[NatsServer]:
    with NatsServer(websocket_port=-1, jetstream=True, http_port=-1) as srv:
        yield srv


@pytest.fixture
async def ws_client(ws_server: NatsServer) -> AsyncIterator[natswire.Client]:
    nc = await natswire.connect(ws_server.websocket_url, reconnect_time_wait=0.05)
    yield nc
    await nc.close()


async def test_publish_subscribe_and_request(ws_client: natswire.Client) -> None:
    sub = await ws_client.subscribe("ws.echo")
    await ws_client.publish("ws.echo", b"one", headers={"K": ["a", "b"]})
    msg = await sub.next_msg(timeout=2)
    assert msg.data == b"one"
    assert msg.headers is not None and msg.headers.get_all("K") == ["a", "b"]

    async def respond(msg: natswire.Message) -> None:
        await msg.respond(b"re:" + msg.data)

    await ws_client.subscribe("ws.service", cb=respond)
    reply = await ws_client.request("ws.service", b"q", timeout=2)
    assert reply.data == b"re:q"
    assert ws_client.server_info.get("max_payload", 0) > 0


async def test_many_small_and_one_large_message_arrive_in_order(
    ws_client: natswire.Client,
) -> None:
    sub = await ws_client.subscribe("ws.bulk")
    count = 5000
    for index in range(count):
        await ws_client.publish("ws.bulk", b"%d" % index)
    large = bytes(range(256)) * 3500  # 896000 bytes: frames with a 64-bit length
    await ws_client.publish("ws.bulk", large)
    for index in range(count):
        assert (await sub.next_msg(timeout=5)).data == b"%d" % index
    assert (await sub.next_msg(timeout=5)).data == large


async def test_jetstream_over_websocket(ws_client: natswire.Client) -> None:
    js = ws_client.jetstream()
    await js.add_stream(name="WSSTREAM", subjects=["wsjs.>"])
    for index in range(10):
        ack = await js.publish("wsjs.item", b"%d" % index)
        assert ack.stream == "WSSTREAM"
    psub = await js.pull_subscribe("wsjs.item", durable="wsworker")
    messages = await psub.fetch(10, timeout=5)
    assert [m.data for m in messages] == [b"%d" % i for i in range(10)]
    for message in messages:
        await message.ack()


async def test_interop_with_nats_py_on_tcp(
    ws_server: NatsServer, ws_client: natswire.Client
) -> None:
    peer = await nats.connect(ws_server.url)
    try:
        from_peer = await ws_client.subscribe("interop.to_ws")
        to_peer = await peer.subscribe("interop.to_tcp")
        await ws_client.flush()
        await peer_sync(peer)
        await peer.publish("interop.to_ws", b"from nats-py", headers={"H": "1"})
        await ws_client.publish("interop.to_tcp", b"from natswire")
        msg = await from_peer.next_msg(timeout=2)
        assert msg.data == b"from nats-py" and msg.headers is not None
        assert msg.headers["H"] == "1"
        assert (await to_peer.next_msg(timeout=2)).data == b"from natswire"

        async def respond(msg: natswire.Message) -> None:
            await msg.respond(msg.data.upper())

        await ws_client.subscribe("interop.svc", cb=respond)
        await ws_client.flush()
        reply = await peer.request("interop.svc", b"shout", timeout=2)
        assert reply.data == b"SHOUT"
    finally:
        await peer.close()


async def test_reconnects_after_a_server_restart() -> None:
    async with NatsServer(websocket_port=-1) as server:
        reconnected = asyncio.Event()
        disconnected = asyncio.Event()
        nc = await natswire.connect(
            server.websocket_url,
            reconnect_time_wait=0.05,
            max_reconnect_attempts=-1,
            reconnected_cb=reconnected.set,
            disconnected_cb=disconnected.set,
        )
        try:
            sub = await nc.subscribe("ws.restart")
            await nc.flush()
            await asyncio.to_thread(server.restart)
            await asyncio.wait_for(disconnected.wait(), 10)
            await asyncio.wait_for(reconnected.wait(), 10)
            await nc.publish("ws.restart", b"after")
            assert (await sub.next_msg(timeout=5)).data == b"after"
            assert nc.stats.reconnects == 1
            assert nc.connected_url is not None
            assert nc.connected_url.startswith("ws://")
        finally:
            await nc.close()


async def test_wss_with_the_tls_option(tmp_path: Path) -> None:
    files = make_tls_files(tmp_path)
    async with NatsServer(
        tls_cert=files.server_cert, tls_key=files.server_key, websocket_port=-1
    ) as server:
        assert server.websocket_url.startswith("wss://")
        context = ssl.create_default_context(cafile=str(files.ca))
        nc = await natswire.connect(server.websocket_url, tls=context)
        try:
            sub = await nc.subscribe("wss.topic")
            await nc.publish("wss.topic", b"secret")
            assert (await sub.next_msg(timeout=2)).data == b"secret"
        finally:
            await nc.close()
        # A certificate the client does not trust fails the connection.
        untrusted = ssl.create_default_context(cafile=str(files.other_ca))
        with pytest.raises(NoServersError):
            await natswire.connect(server.websocket_url, tls=untrusted, connect_timeout=2)


@contextlib.asynccontextmanager
async def upgrade_recorder(target_port: int) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A relay to ``target_port`` that records each upgrade request and the head of its
    answer: yields its port and the list they are appended to."""
    heads: list[bytes] = []

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        heads.append(request)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
        up_writer.write(request)
        answer = await up_reader.readuntil(b"\r\n\r\n")
        heads.append(answer)
        writer.write(answer)

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            while data := await source.read(65536):
                sink.write(data)
            sink.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    relay_server = await asyncio.start_server(relay, "127.0.0.1", 0)
    try:
        yield relay_server.sockets[0].getsockname()[1], heads
    finally:
        relay_server.close()


async def test_connection_headers_are_sent_with_the_upgrade(ws_server: NatsServer) -> None:
    assert ws_server.websocket_port is not None
    async with upgrade_recorder(ws_server.websocket_port) as (port, heads):
        nc = await natswire.connect(
            f"ws://127.0.0.1:{port}/nats",
            ws_connection_headers={"Authorization": "Bearer t0k", "X-Many": ["1", "2"]},
        )
        try:
            await nc.flush()
        finally:
            await nc.close()
    request = heads[0].decode()
    assert request.startswith("GET /nats HTTP/1.1\r\n")
    assert "\r\nAuthorization: Bearer t0k\r\n" in request
    assert "\r\nX-Many: 1\r\nX-Many: 2\r\n" in request
    assert "\r\nSec-WebSocket-Version: 13\r\n" in request
    assert "Sec-WebSocket-Extensions" not in request  # no compression unless asked


@pytest.mark.parametrize("server_compresses", [True, False])
async def test_compression_when_asked_for_and_the_server_allows_it(
    server_compresses: bool,
) -> None:
    async with NatsServer(websocket_port=-1, websocket_compression=server_compresses) as server:
        assert server.websocket_port is not None
        async with upgrade_recorder(server.websocket_port) as (port, heads):
            nc = await natswire.connect(f"ws://127.0.0.1:{port}", ws_compression=True)
            peer = await natswire.connect(server.url)
            try:
                sub = await nc.subscribe("ws.packed")
                from_ws = await peer.subscribe("ws.packed.back")
                await nc.flush()
                await peer.flush()
                text = b"MSG-like text that compresses well. " * 20_000
                for index in range(300):
                    await peer.publish("ws.packed", b"%d" % index)
                await peer.publish("ws.packed", text)
                await nc.publish("ws.packed.back", text)
                await nc.publish("ws.packed.back", b"small")
                for index in range(300):
                    assert (await sub.next_msg(timeout=5)).data == b"%d" % index
                assert (await sub.next_msg(timeout=5)).data == text
                assert (await from_ws.next_msg(timeout=5)).data == text
                assert (await from_ws.next_msg(timeout=5)).data == b"small"
            finally:
                await nc.close()
                await peer.close()
        assert b"Sec-WebSocket-Extensions: permessage-deflate" in heads[0]
        assert (b"permessage-deflate" in heads[1]) is server_compresses


async def test_a_server_that_does_not_upgrade_is_not_connected_to(ws_server: NatsServer) -> None:
    # The NATS port answers with INFO, the monitoring port with 404: neither upgrades.
    for port in (ws_server.port, ws_server.http_port):
        with pytest.raises(NoServersError, match="WebSocket upgrade"):
            await natswire.connect(f"ws://127.0.0.1:{port}", connect_timeout=2)


async def test_websocket_and_other_urls_do_not_mix(ws_server: NatsServer) -> None:
    with pytest.raises(ValueError, match="mixing of websocket and non websocket URLs"):
        await natswire.connect([ws_server.websocket_url, ws_server.url])


async def test_server_stream_split_into_single_bytes(ws_server: NatsServer) -> None:
    assert ws_server.websocket_port is not None
    async with FaultProxy("127.0.0.1", ws_server.websocket_port) as proxy:
        proxy.split_server_stream = True
        url = f"ws://127.0.0.1:{proxy.port}"
        nc = await natswire.connect(url)
        publisher = await natswire.connect(url)
        try:
            sub = await nc.subscribe("ws.split")
            await nc.flush()
            count = 300
            for index in range(count):
                await publisher.publish(
                    "ws.split", b"payload %d \r\n MSG end" % index, headers={"I": str(index)}
                )
            await publisher.flush()
            for index in range(count):
                msg = await sub.next_msg(timeout=10)
                assert msg.data == b"payload %d \r\n MSG end" % index
                assert msg.headers is not None and msg.headers["I"] == str(index)
        finally:
            await nc.close()
            await publisher.close()


async def test_frozen_link_is_detected_within_the_ping_bound(ws_server: NatsServer) -> None:
    assert ws_server.websocket_port is not None
    ping_interval, max_outstanding = 0.4, 2
    errors: list[Exception] = []
    disconnected = asyncio.Event()
    async with FaultProxy("127.0.0.1", ws_server.websocket_port) as proxy:
        nc = await natswire.connect(
            f"ws://127.0.0.1:{proxy.port}",
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
                # Bursts within one event-loop pass fill the write buffer until publish
                # waits for it to drain, which it never does.
                for _ in range(100):
                    await nc.publish("ws.heavy", payload)
                await asyncio.sleep(0)
            detected_after = time.monotonic() - frozen_at
            assert disconnected.is_set()
            assert detected_after <= ping_interval * (max_outstanding + 1) + 0.5
            assert any(isinstance(error, StaleConnectionError) for error in errors)
            proxy.thaw()
            await nc.flush(timeout=5)
            assert nc.is_connected
        finally:
            await nc.close()


async def test_failover_and_lame_duck_across_a_cluster_over_websocket() -> None:
    extra = 'lame_duck_duration: "30s"\nlame_duck_grace_period: "1s"\n'
    with NatsCluster(size=3, websocket_port=-1, config_extra=extra) as cluster:
        node_a, node_b, node_c = cluster.servers
        ws_urls = {node.websocket_url for node in cluster.servers}
        events: list[str] = []
        reconnected = asyncio.Event()

        def on_reconnect() -> None:
            events.append("reconnected")
            reconnected.set()

        nc = await natswire.connect(
            node_a.websocket_url,
            reconnect_time_wait=0.05,
            lame_duck_mode_cb=lambda: events.append("lame duck"),
            reconnected_cb=on_reconnect,
            disconnected_cb=lambda: events.append("disconnected"),
        )
        publisher = await natswire.connect(node_c.url)
        try:
            # The cluster tells a WebSocket client its nodes' WebSocket addresses.
            await eventually(lambda: set(nc.servers) == ws_urls, timeout=10)
            sub = await nc.subscribe("ws.cluster")
            await nc.flush()
            node_a.enter_lame_duck_mode()
            await asyncio.wait_for(reconnected.wait(), 10)
            assert node_a.is_running, "the client moved only after the node closed"
            assert events[:2] == ["lame duck", "reconnected"]
            assert "disconnected" not in events
            moved_to = nc.connected_url
            assert moved_to in ws_urls - {node_a.websocket_url}

            reconnected.clear()
            (node_b if moved_to == node_b.websocket_url else node_c).kill()
            await asyncio.wait_for(reconnected.wait(), 10)
            assert nc.connected_url is not None and nc.connected_url.startswith("ws://")
            await asyncio.sleep(0.3)  # let the interest reach the publisher's node
            if node_c.is_running:
                await publisher.publish("ws.cluster", b"after failover")
                await publisher.flush()
            else:
                await nc.publish("ws.cluster", b"after failover")
            assert (await sub.next_msg(timeout=5)).data == b"after failover"
        finally:
            await nc.close()
            await publisher.close()
