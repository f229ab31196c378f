"""Raw-socket helpers for the nats-server harness tests (no natswire client involved)."""

from __future__ import annotations

import json
import socket
from typing import Any


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


def receive_until(sock: socket.socket, marker: bytes, what: str) -> bytes:
    """Read from ``sock`` until ``marker`` has arrived; fail naming ``what`` on close."""
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before {what}: {data!r}"
        data += chunk
    return data


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


def refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False
