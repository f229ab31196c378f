"""NatsServer running the nats-server binary: lifecycle, options, TLS (no mocks)."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time
from pathlib import Path

import pytest
from certs import make_tls_files
from server_helpers import RawClient, read_info, receive_until, refuses

from natswire.httpjson import get_json
from natswire.server import NatsServer, NatsServerError, live_servers

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaked_servers")]


def test_start_stop_and_info() -> None:
    server = NatsServer()
    server.start()
    try:
        assert server.is_running
        assert server.pid is not None
        assert server.host == "127.0.0.1"
        assert server.url == f"nats://127.0.0.1:{server.port}"
        assert server.http_port is None
        assert server.store_dir is None
        info = read_info(server.port)
        assert info["port"] == server.port
        assert not info.get("auth_required", False)
        assert any("Server is ready" in line for line in server.log_lines())
    finally:
        server.stop()
    assert not server.is_running
    assert server.pid is None
    assert server.returncode == 0
    server.stop()  # idempotent


def test_restart_keeps_port() -> None:
    with NatsServer() as server:
        port = server.port
        first_pid = server.pid
        server.restart()
        assert server.port == port
        assert server.pid != first_pid
        assert read_info(port)["port"] == port


def test_kill_refuses_connections_and_restart_recovers() -> None:
    with NatsServer() as server:
        port = server.port
        server.kill()
        assert not server.is_running
        assert server.returncode == -9
        assert refuses(port)
        server.restart()
        assert server.port == port
        assert read_info(port)["port"] == port


def test_user_password_auth_required() -> None:
    with NatsServer(user="alice", password='s3"cret') as server:
        assert read_info(server.port)["auth_required"] is True


def test_token_auth_required() -> None:
    with NatsServer(token="t0ken") as server:
        assert read_info(server.port)["auth_required"] is True


def test_max_payload_in_info() -> None:
    with NatsServer(max_payload=12345) as server:
        assert read_info(server.port)["max_payload"] == 12345


def test_jetstream_in_info_and_data_survives_kill() -> None:
    with NatsServer(jetstream=True) as server:
        assert read_info(server.port)["jetstream"] is True
        store = server.store_dir
        assert store is not None and store.is_dir()

        client = RawClient(server.port)
        config = {"name": "S", "subjects": ["s.>"], "storage": "file"}
        created = client.request("$JS.API.STREAM.CREATE.S", json.dumps(config).encode())
        assert "error" not in created, created
        ack = client.request("s.1", b"hello")
        assert ack == {"stream": "S", "seq": 1}
        client.close()

        server.kill()
        server.restart()
        assert server.store_dir == store
        client = RawClient(server.port)
        info = client.request("$JS.API.STREAM.INFO.S")
        client.close()
        assert info["state"]["messages"] == 1
    assert not store.exists()  # the owned temporary store goes with stop()


def test_caller_store_dir_is_kept(tmp_path: Path) -> None:
    store = tmp_path / "js"
    with NatsServer(jetstream=True, store_dir=store) as server:
        assert server.store_dir == store
    assert (store / "jetstream").is_dir()


def test_monitoring_varz() -> None:
    with NatsServer(http_port=-1) as server:
        assert server.http_port is not None and server.http_port > 0
        assert server.monitor_url == f"http://127.0.0.1:{server.http_port}"
        varz = get_json(f"{server.monitor_url}/varz")
        assert varz["port"] == server.port  # varz "http_port" is -1: the configured value


def test_lame_duck_mode() -> None:
    with NatsServer() as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        try:
            assert sock.recv(65536).startswith(b"INFO {")
            # Async INFO (such as the lame duck notice) only goes to clients that sent
            # CONNECT with protocol >= 1.
            sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\nPING\r\n')
            receive_until(sock, b"PONG\r\n", "the PONG")  # an INFO may come first
            server.enter_lame_duck_mode()
            receive_until(sock, b'"ldm":true', "the lame duck INFO")
        finally:
            sock.close()
        deadline = time.monotonic() + 5
        while not refuses(server.port):
            assert time.monotonic() < deadline, "listener still open in lame duck mode"
            time.sleep(0.05)
    assert not server.is_running


def test_startup_failure_reports_log() -> None:
    server = NatsServer(config_extra="this_is_not { valid", startup_timeout=5)
    with pytest.raises(NatsServerError, match="exited during startup") as excinfo:
        server.start()
    assert excinfo.value.log_lines
    assert "nats-server log lines" in str(excinfo.value)
    assert not server.is_running
    assert server.config_file is None  # temp dir of a failed first start is removed


def test_start_returns_the_server() -> None:
    server = NatsServer().start()
    try:
        assert isinstance(server, NatsServer)
        assert server.is_running
        assert read_info(server.port)["port"] == server.port
    finally:
        server.stop()
    assert not server.is_running


async def test_astart_returns_the_server() -> None:
    server = await NatsServer().astart()
    try:
        assert isinstance(server, NatsServer)
        assert server.is_running
    finally:
        await server.astop()
    assert not server.is_running


async def test_async_context_manager() -> None:
    async with NatsServer() as server:
        assert server.is_running
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        line = await asyncio.wait_for(reader.readline(), 5)
        writer.close()
        await writer.wait_closed()
        assert line.startswith(b"INFO {")
        assert json.loads(line[5:])["port"] == server.port
        await server.arestart()
        assert server.is_running
    assert not server.is_running


async def test_cancelled_astart_does_not_leak_the_process() -> None:
    server = NatsServer()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(server.astart(), timeout=0.001)
    # start() goes on in its thread; once it is done the server is stopped.
    deadline = time.monotonic() + 10
    while server.returncode is None or server in live_servers():
        assert time.monotonic() < deadline, "server left running after a cancelled astart"
        await asyncio.sleep(0.05)


# --------------------------------------------------------------------------- TLS


def test_tls_server(tmp_path: Path) -> None:
    files = make_tls_files(tmp_path)
    with NatsServer(
        tls_cert=files.server_cert, tls_key=files.server_key, tls_ca=files.ca
    ) as server:
        assert server.url == f"tls://127.0.0.1:{server.port}"
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        try:
            first = sock.recv(65536)
            assert first.startswith(b"INFO {")
            assert json.loads(first.split(b"\r\n", 1)[0][5:])["tls_required"] is True
            context = ssl.create_default_context(cafile=str(files.ca))
            with context.wrap_socket(sock, server_hostname="localhost") as tls:
                tls.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
                assert tls.recv(64) == b"PONG\r\n"
        finally:
            sock.close()


def test_websocket_listener_reports_its_port_and_keeps_it_across_restarts() -> None:
    with NatsServer(websocket_port=-1) as server:
        port = server.websocket_port
        assert port is not None and port != server.port
        assert server.websocket_url == f"ws://127.0.0.1:{port}"
        request = (
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(request)
            answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 101")
        assert b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in answer
        server.restart()
        assert server.websocket_port == port
    assert server.websocket_port is None
    with NatsServer() as plain:
        assert plain.websocket_port is None
        with pytest.raises(RuntimeError, match="no WebSocket listener"):
            _ = plain.websocket_url
