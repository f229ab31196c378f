"""Free ports and the ``host:port`` forms the harness writes and reads."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on ``host`` a moment ago.

    The port is found by binding to port 0 and closing the socket, so another process can
    take it before it is used; prefer ``port=-1`` (the server picks) where possible.
    """
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free ports (all sockets are held open until every port is known)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def connect_host(host: str) -> str:
    """The address a local client uses to reach a server bound to ``host``."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host in ("::", "[::]"):
        return "::1"
    return host


def host_port(host: str, port: int) -> str:
    """``host:port`` a local client connects to (IPv6 hosts in brackets)."""
    host = connect_host(host)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind_addr(host: str, port: int) -> str:
    """``host:port`` for a listen address (IPv6 hosts in brackets)."""
    host = host or "0.0.0.0"
    return f"[{host.strip('[]')}]:{port}" if ":" in host else f"{host}:{port}"


def split_addr(addr: str) -> tuple[str, int]:
    """``("host", port)`` from ``host:port`` or ``[v6host]:port``."""
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)
