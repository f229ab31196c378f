"""The nats-server configuration as data: ServerOptions and config_text (no process runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from natswire.server import NatsCluster, NatsServer, ServerOptions, config_text
from natswire.server.config import Ports, backend_from_environment, quote, route_urls


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        NatsServer(user="alice")
    with pytest.raises(ValueError):
        NatsServer(tls_cert="cert.pem")
    with pytest.raises(ValueError):
        NatsServer(store_dir="/tmp/x")
    with pytest.raises(TypeError):
        NatsCluster(port=4222)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"user": "alice"}, "user and password must be given together"),
        ({"password": "pw"}, "user and password must be given together"),
        ({"user": "a", "password": "b", "token": "t"}, "either user/password or token"),
        ({"tls_cert": Path("/c")}, "tls_cert and tls_key must be given together"),
        ({"tls_verify": True}, "need tls_cert and tls_key"),
        ({"store_dir": Path("/s")}, "store_dir needs jetstream=True"),
        ({"startup_timeout": 0}, "startup_timeout must be positive"),
        ({"backend": "podman"}, "NATSWIRE_SERVER must be"),
        ({"backend": "docker", "routes": ("nats-route://h:1",)}, "docker-compose"),
        ({"backend": "docker", "websocket_port": -1}, "websocket_port is not supported"),
        ({"websocket_compression": True}, "websocket_compression needs websocket_port"),
    ],
)
def test_options_reject_bad_combinations(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ServerOptions(**options)  # type: ignore[arg-type]


def test_the_server_keeps_its_keywords_as_options(tmp_path: Path) -> None:
    server = NatsServer(
        jetstream=True,
        store_dir=tmp_path / "js",
        routes=["127.0.0.1:6222"],
        extra_args=["-DV"],
        backend="process",
    )
    options = server.options
    assert options.store_dir == (tmp_path / "js").resolve()
    assert options.routes == ("nats-route://127.0.0.1:6222",)
    assert options.extra_args == ("-DV",)
    assert options.clustered and not options.tls
    assert options.docker_image  # resolved even for the process backend


def test_no_options_need_no_file() -> None:
    assert config_text(ServerOptions()) is None
    assert config_text(ServerOptions(host="::1", port=4222, http_port=-1)) is None


def test_authorization_and_limits() -> None:
    text = config_text(
        ServerOptions(server_name="n1", user="alice", password='s3"cret', max_payload=1024)
    )
    assert text == (
        'server_name: "n1"\n'
        "authorization {\n"
        '  user: "alice"\n'
        '  password: "s3\\"cret"\n'
        "}\n"
        "max_payload: 1024\n"
    )
    assert config_text(ServerOptions(token="t0ken")) == ('authorization {\n  token: "t0ken"\n}\n')


def test_jetstream_store_and_paths_as_the_server_sees_them() -> None:
    options = ServerOptions(jetstream=True)
    with pytest.raises(ValueError, match="store_dir"):
        config_text(options)
    assert config_text(options, store_dir=Path("/data/js")) == (
        'jetstream {\n  store_dir: "/data/js"\n}\n'
    )
    inside = {Path("/data/js"): "/natswire-store"}
    text = config_text(options, store_dir=Path("/data/js"), path_of=inside.__getitem__)
    assert text == 'jetstream {\n  store_dir: "/natswire-store"\n}\n'


def test_tls_block() -> None:
    options = ServerOptions(
        tls_cert=Path("/t/cert.pem"),
        tls_key=Path("/t/key.pem"),
        tls_ca=Path("/t/ca.pem"),
        tls_verify=True,
        tls_handshake_first=True,
    )
    assert options.tls
    assert config_text(options) == (
        "tls {\n"
        '  cert_file: "/t/cert.pem"\n'
        '  key_file: "/t/key.pem"\n'
        '  ca_file: "/t/ca.pem"\n'
        "  verify: true\n"
        "  timeout: 2\n"
        "  handshake_first: true\n"
        "}\n"
    )
    plain = ServerOptions(tls_cert=Path("/t/cert.pem"), tls_key=Path("/t/key.pem"))
    text = config_text(plain)
    assert text is not None and "verify: false" in text
    assert "ca_file" not in text and "handshake_first" not in text


def test_cluster_block_only_with_a_cluster_port() -> None:
    options = ServerOptions(
        host="::1", cluster_name="c", routes=route_urls(["127.0.0.1:6222", "nats://h:7"])
    )
    assert options.routes == ("nats-route://127.0.0.1:6222", "nats://h:7")
    assert config_text(options) is None
    assert config_text(options, cluster_port=6333) == (
        "cluster {\n"
        '  name: "c"\n'
        '  listen: "[::1]:6333"\n'
        "  routes: [\n"
        '    "nats-route://127.0.0.1:6222"\n'
        '    "nats://h:7"\n'
        "  ]\n"
        "}\n"
    )
    assert config_text(ServerOptions(cluster_port=-1), cluster_port=-1) == (
        'cluster {\n  listen: "127.0.0.1:-1"\n}\n'
    )


def test_websocket_block_only_with_a_websocket_port() -> None:
    plain = ServerOptions(websocket_port=-1)
    assert config_text(plain) is None
    assert config_text(plain, websocket_port=-1) == (
        'websocket {\n  listen: "127.0.0.1:-1"\n  no_tls: true\n}\n'
    )
    packed = ServerOptions(websocket_port=-1, websocket_compression=True)
    assert config_text(packed, websocket_port=-1) == (
        'websocket {\n  listen: "127.0.0.1:-1"\n  no_tls: true\n  compression: true\n}\n'
    )
    secure = ServerOptions(
        tls_cert=Path("/t/cert.pem"), tls_key=Path("/t/key.pem"), websocket_port=8443
    )
    text = config_text(secure, websocket_port=8443)
    assert text is not None
    assert text.endswith(
        "websocket {\n"
        '  listen: "127.0.0.1:8443"\n'
        "  tls {\n"
        '    cert_file: "/t/cert.pem"\n'
        '    key_file: "/t/key.pem"\n'
        "  }\n"
        "}\n"
    )


def test_extra_text_comes_last_verbatim() -> None:
    text = config_text(ServerOptions(max_payload=10, config_extra="debug: true"))
    assert text == "max_payload: 10\ndebug: true\n"
    assert config_text(ServerOptions(config_extra="x {")) == "x {\n"


def test_quote_escapes_and_refuses_control_characters() -> None:
    assert quote('a"b\\c\nd\te\rf') == '"a\\"b\\\\c\\nd\\te\\rf"'
    with pytest.raises(ValueError, match="control character"):
        quote("bell\x07")


def test_ports_to_ask() -> None:
    plain = ServerOptions(port=4333, http_port=-1)
    assert Ports.to_ask(plain, None, None, None) == Ports(client=4333, http=-1, cluster=None)
    # After a first start, the ports found are asked for again.
    assert Ports.to_ask(plain, 5000, 5001, 5002) == Ports(client=5000, http=5001, cluster=None)
    clustered = ServerOptions(cluster_name="c")
    assert Ports.to_ask(clustered, None, None, None) == Ports(client=-1, http=None, cluster=-1)
    assert Ports.to_ask(clustered, 1, None, 6222).cluster == 6222
    assert Ports.to_ask(ServerOptions(cluster_port=7000), None, None, None).cluster == 7000
    websocket = ServerOptions(websocket_port=-1)
    assert Ports.to_ask(plain, None, None, None, 5003).websocket is None
    assert Ports.to_ask(websocket, None, None, None).websocket == -1
    assert Ports.to_ask(websocket, 1, None, None, 5003).websocket == 5003


def test_backend_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NATSWIRE_SERVER", raising=False)
    assert backend_from_environment(None) == "process"
    monkeypatch.setenv("NATSWIRE_SERVER", " Docker ")
    assert backend_from_environment(None) == "docker"
    assert backend_from_environment("process") == "process"
