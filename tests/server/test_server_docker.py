"""docker/: the compose cluster's files, and NatsServer in a container (NATSWIRE_SERVER=docker).

The file checks run everywhere, with the real nats-server binary. The container tests need a
reachable Docker engine and skip (saying why) without one; with one they start the official
image, talk to it over a raw socket and stop it.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_helpers import read_info, receive_until

from natswire.httpjson import HTTPStatusError, get_json
from natswire.server import (
    DOCKER_IMAGE,
    NatsCluster,
    NatsServer,
    NatsServerError,
    find_nats_server,
    free_port,
    free_ports,
    live_servers,
)

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("no_leaked_servers")]

DOCKER_DIR = Path(__file__).resolve().parents[2] / "docker"
COMPOSE_FILE = DOCKER_DIR / "docker-compose.yml"
NODES = ("nats-1", "nats-2", "nats-3")


def binary_version() -> str:
    out = subprocess.run(
        [find_nats_server(), "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"v(\d+\.\d+\.\d+)", out)
    assert match, out
    return match.group(1)


def refuses(port: int) -> bool:
    """Nothing accepts on the port, or what accepts (a proxy) closes without a byte."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            return sock.recv(1) == b""
    except (ConnectionRefusedError, ConnectionResetError):
        return True


def js_request(port: int, subject: str, payload: bytes = b"") -> dict[str, Any]:
    """One request over a raw connection (CONNECT, SUB inbox, PUB, wait for the MSG)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        buf = b""

        def line() -> bytes:
            nonlocal buf
            while b"\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                buf += chunk
            first, buf = buf.split(b"\r\n", 1)
            return first

        assert line().startswith(b"INFO {")
        sock.sendall(
            b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\n'
            b"SUB _INBOX.d 1\r\n"
            + f"PUB {subject} _INBOX.d {len(payload)}\r\n".encode()
            + payload
            + b"\r\n"
        )
        while True:
            frame = line()
            if frame == b"PING":
                sock.sendall(b"PONG\r\n")
            elif frame.startswith(b"MSG "):
                size = int(frame.split()[-1])
                while len(buf) < size + 2:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed")
                    buf += chunk
                reply: dict[str, Any] = json.loads(buf[:size])
                return reply
            elif frame.startswith(b"-ERR"):
                raise AssertionError(frame.decode())


# --------------------------------------------------------------------------- docker/ files


def test_compose_file_describes_a_three_node_jetstream_cluster() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    services = re.findall(r"^  (nats-\d):\s*$", text, flags=re.MULTILINE)
    assert services == list(NODES)
    assert f"image: {DOCKER_IMAGE}" in text
    # Client and monitoring ports: the standard ones on the first node, others beside them.
    for host_port in ("4222", "4223", "4224", "8222", "8223", "8224"):
        assert re.search(rf'"127\.0\.0\.1:{host_port}:(4222|8222)"', text), host_port
    for node in NODES:
        assert f"./{node}.conf:/etc/nats/nats.conf:ro" in text
        assert f"{node}-data:/data" in text
    assert '"--config", "/etc/nats/nats.conf"' in text


def test_compose_file_structure_when_yaml_is_available() -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (not a dependency)")
    compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert sorted(compose["services"]) == list(NODES)
    first = compose["services"]["nats-1"]
    assert first["image"] == DOCKER_IMAGE
    assert "127.0.0.1:4222:4222" in first["ports"]
    assert "127.0.0.1:8222:8222" in first["ports"]
    assert sorted(compose["volumes"]) == [f"{node}-data" for node in NODES]


def test_docker_image_matches_the_installed_binary() -> None:
    assert f"nats:{binary_version()}" == DOCKER_IMAGE


@pytest.mark.parametrize("node", NODES)
def test_config_file_passes_nats_server_test_mode(node: str, tmp_path: Path) -> None:
    """``nats-server -t -c FILE`` (the real binary) accepts each node's configuration."""
    conf = tmp_path / f"{node}.conf"
    shutil.copy(DOCKER_DIR / f"{node}.conf", conf)
    result = subprocess.run(
        [find_nats_server(), "-t", "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout + result.stderr

    text = conf.read_text(encoding="utf-8")
    assert re.search(rf"^server_name: {node}$", text, flags=re.MULTILINE)
    assert re.search(r"^\s*name: natswire$", text, flags=re.MULTILINE)  # the cluster name
    assert re.search(r'store_dir: "/data"', text)
    for other in NODES:
        assert f"nats-route://{other}:6222" in text


def test_config_files_form_a_jetstream_cluster(tmp_path: Path) -> None:
    """The three files, with the compose names and ports mapped to loopback, run as a cluster.

    Every rewrite must apply, so this also pins down the shape of the files.
    """
    count = len(NODES)
    ports = free_ports(3 * count)  # distinct, unlike repeated free_port()
    client, http, route = ports[:count], ports[count : 2 * count], ports[2 * count :]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for index, node in enumerate(NODES):
            text = (DOCKER_DIR / f"{node}.conf").read_text(encoding="utf-8")
            rewrites = [
                (r"^listen: 0\.0\.0\.0:4222$", f"listen: 127.0.0.1:{client[index]}"),
                (r"^http: 0\.0\.0\.0:8222$", f"http: 127.0.0.1:{http[index]}"),
                (
                    r'client_advertise: "127\.0\.0\.1:\d+"',
                    f'client_advertise: "127.0.0.1:{client[index]}"',
                ),
                (r'store_dir: "/data"', f'store_dir: "{tmp_path / node}"'),
                (r"listen: 0\.0\.0\.0:6222", f"listen: 127.0.0.1:{route[index]}"),
            ]
            rewrites += [
                (rf"nats-route://{other}:6222", f"nats-route://127.0.0.1:{route[i]}")
                for i, other in enumerate(NODES)
            ]
            for pattern, replacement in rewrites:
                text, hits = re.subn(pattern, replacement, text, flags=re.MULTILINE)
                assert hits == 1, f"{node}.conf: {pattern!r} matched {hits} times"
            conf = tmp_path / f"{node}.conf"
            conf.write_text(text, encoding="utf-8")
            procs.append(
                subprocess.Popen(
                    [find_nats_server(), "-c", str(conf)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )

        deadline = time.monotonic() + 30
        while True:
            try:
                jsz = [get_json(f"http://127.0.0.1:{p}/jsz") for p in http]
                routez = [get_json(f"http://127.0.0.1:{p}/routez") for p in http]
                leaders = {(j.get("meta_cluster") or {}).get("leader") for j in jsz}
                routed = all(
                    {r.get("remote_name") for r in rz.get("routes") or ()} >= set(NODES) - {node}
                    for rz, node in zip(routez, NODES, strict=True)
                )
                sizes = {(j.get("meta_cluster") or {}).get("cluster_size") for j in jsz}
                if routed and len(leaders) == 1 and None not in leaders and sizes == {count}:
                    break
            except (OSError, HTTPStatusError):
                pass
            assert time.monotonic() < deadline, "the cluster did not form within 30 s"
            time.sleep(0.2)

        assert leaders <= set(NODES)
        info = read_info(client[0])
        assert info["server_name"] == "nats-1"
        assert info["cluster"] == "natswire"
        assert info["jetstream"] is True
        # Clients outside Docker learn the other nodes at their advertised host ports.
        deadline = time.monotonic() + 10
        while {f"127.0.0.1:{p}" for p in client[1:]} - set(info.get("connect_urls") or ()):
            assert time.monotonic() < deadline, info.get("connect_urls")
            time.sleep(0.2)
            info = read_info(client[0])
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --------------------------------------------------------------------------- backend choice


def test_backend_defaults_to_the_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NATSWIRE_SERVER", raising=False)
    assert NatsServer().backend == "process"
    monkeypatch.setenv("NATSWIRE_SERVER", "")
    assert NatsServer().backend == "process"
    monkeypatch.setenv("NATSWIRE_SERVER", "Docker")
    assert NatsServer().backend == "docker"
    assert NatsServer(backend="process").backend == "process"


def test_unknown_backend_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATSWIRE_SERVER", "podman")
    with pytest.raises(ValueError, match="NATSWIRE_SERVER"):
        NatsServer()


def test_docker_backend_refuses_clustering(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATSWIRE_SERVER", "docker")
    with pytest.raises(ValueError, match="docker-compose"):
        NatsServer(routes=["127.0.0.1:6222"])
    with pytest.raises(ValueError, match="not supported with the docker backend"):
        NatsCluster(3).start()


def test_unreachable_engine_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """With DOCKER_HOST on a port where nothing listens, start() says no engine is reachable."""
    pytest.importorskip("docker", reason="the docker Python package is not installed")
    monkeypatch.setenv("NATSWIRE_SERVER", "docker")
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    server = NatsServer(jetstream=True)
    with pytest.raises(NatsServerError, match="no Docker engine is reachable"):
        server.start()
    assert not server.is_running
    assert server.store_dir is None  # the temporary directory was removed again
    assert server not in live_servers()


# --------------------------------------------------------------------------- in a container


@pytest.fixture
def docker_client() -> Iterator[Any]:
    """A client of a reachable Docker engine, or a skip saying why there is none."""
    docker = pytest.importorskip("docker", reason="the docker Python package is not installed")
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker engine reachable: {exc}")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def docker_backend(docker_client: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("NATSWIRE_SERVER", "docker")
    return docker_client


def container_gone(client: Any, container_id: str) -> bool:
    docker = pytest.importorskip("docker")
    try:
        client.containers.get(container_id)
    except docker.errors.NotFound:
        return True
    return False


def test_docker_start_info_stop(docker_backend: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NATSWIRE_DOCKER_IMAGE", raising=False)
    server = NatsServer()
    assert server.backend == "docker"
    server.start()
    try:
        assert server.is_running
        assert server.pid is not None
        container_id = server.container_id
        assert container_id is not None
        container = docker_backend.containers.get(container_id)
        assert container.image.tags and DOCKER_IMAGE in container.image.tags
        assert server.url == f"nats://127.0.0.1:{server.port}"
        info = read_info(server.port)
        assert info["version"] == DOCKER_IMAGE.split(":", 1)[1]
        assert info["port"] == server.port
        assert not info.get("auth_required", False)
        assert any("Server is ready" in line for line in server.log_lines())
    finally:
        server.stop()
    assert not server.is_running
    assert server.returncode == 0
    assert container_gone(docker_backend, container_id)
    assert refuses(info["port"])
    server.stop()  # idempotent


def test_docker_config_file_is_mounted(docker_backend: Any) -> None:
    with NatsServer(user="alice", password="s3cret", max_payload=12345) as server:
        assert server.config_file is not None
        info = read_info(server.port)
        assert info["auth_required"] is True
        assert info["max_payload"] == 12345


def test_docker_monitoring_port(docker_backend: Any) -> None:
    with NatsServer(http_port=-1) as server:
        assert server.http_port is not None and server.http_port != server.port
        assert server.monitor_url == f"http://127.0.0.1:{server.http_port}"
        varz = get_json(f"{server.monitor_url}/varz")
        assert varz["port"] == server.port
        assert get_json(f"{server.monitor_url}/healthz")["status"] == "ok"


def test_docker_kill_and_restart_keep_port_and_jetstream_data(docker_backend: Any) -> None:
    with NatsServer(jetstream=True) as server:
        port = server.port
        first = server.container_id
        store = server.store_dir
        assert store is not None and store.is_dir()
        config = {"name": "S", "subjects": ["s.>"], "storage": "file"}
        created = js_request(port, "$JS.API.STREAM.CREATE.S", json.dumps(config).encode())
        assert "error" not in created, created
        assert js_request(port, "s.1", b"hello") == {"stream": "S", "seq": 1}

        server.kill()
        assert not server.is_running
        assert server.returncode == -9
        assert first is not None and container_gone(docker_backend, first)
        assert refuses(port)

        server.restart()
        assert server.port == port
        assert server.container_id not in (None, first)
        info = js_request(port, "$JS.API.STREAM.INFO.S")
        assert info["state"]["messages"] == 1
    assert not store.exists()


def test_docker_lame_duck_mode(docker_backend: Any) -> None:
    """SIGUSR2 reaches the container's nats-server; stop() then ends it (SIGINT)."""
    with NatsServer() as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        try:
            assert sock.recv(65536).startswith(b"INFO {")
            sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\nPING\r\n')
            receive_until(sock, b"PONG\r\n", "the PONG")  # an INFO may come first
            server.enter_lame_duck_mode()
            receive_until(sock, b'"ldm":true', "the lame duck INFO")
        finally:
            sock.close()
    assert not server.is_running
    assert server.returncode is not None
