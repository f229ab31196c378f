"""The blocking client uses the asyncio client's auth and TLS (the CONNECT fields, TLS
context and credentials of ``natswire.client.connect_info``): each way in, and each way
of being refused, against a real nats-server."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from certs import TlsFiles, make_tls_files

import natswire.sync
from natswire.errors import AuthorizationError, NoServersError, SecureConnectionRequiredError
from natswire.server import NatsServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_server(tls_files: TlsFiles) -> Iterator[NatsServer]:
    with NatsServer(tls_cert=tls_files.server_cert, tls_key=tls_files.server_key) as server:
        yield server


@pytest.fixture(scope="module")
def user_server() -> Iterator[NatsServer]:
    with NatsServer(user="alice", password="s3cret") as server:
        yield server


def context(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


def roundtrip(nc: natswire.sync.Client) -> bytes:
    sub = nc.subscribe("auth.check")
    nc.publish("auth.check", b"ok")
    return sub.next_msg(2).data


def test_tls_with_a_verifying_context(tls_server: NatsServer, tls_files: TlsFiles) -> None:
    url = f"nats://127.0.0.1:{tls_server.port}"
    with natswire.sync.connect(url, tls=context(tls_files.ca), tls_hostname="localhost") as nc:
        assert roundtrip(nc) == b"ok"


def test_tls_with_an_unknown_ca_is_refused(tls_server: NatsServer, tls_files: TlsFiles) -> None:
    with pytest.raises(NoServersError):
        natswire.sync.connect(tls_server.url, tls=context(tls_files.other_ca), connect_timeout=2.0)


def test_tls_asked_of_a_server_without_it(server: NatsServer, tls_files: TlsFiles) -> None:
    with pytest.raises(SecureConnectionRequiredError):
        natswire.sync.connect(server.url, tls=context(tls_files.ca))


def test_user_and_password_in_options_and_in_the_url(user_server: NatsServer) -> None:
    with natswire.sync.connect(user_server.url, user="alice", password="s3cret") as nc:
        assert roundtrip(nc) == b"ok"
    url = f"nats://alice:s3cret@127.0.0.1:{user_server.port}"
    with natswire.sync.connect(url) as nc:
        assert roundtrip(nc) == b"ok"


def test_wrong_password_raises_the_servers_error(user_server: NatsServer) -> None:
    with pytest.raises(AuthorizationError):
        natswire.sync.connect(user_server.url, user="alice", password="wrong")


def test_websocket_servers_are_refused_at_connect() -> None:
    with pytest.raises(ValueError, match="TCP only"):
        natswire.sync.connect("ws://127.0.0.1:1", connect_timeout=0.5)
