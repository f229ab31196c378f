"""A plain-socket publisher for the receive-only and memory workloads.

``python -m benchmarks.sender --url URL --subject S --size B --count N`` connects with a
blocking socket, writes N pre-encoded PUB frames in 64 KiB writes, then PING and waits for
the PONG (so the server has processed every PUB) and exits. It does no per-message Python
work, so only the subscriber's receive path is measured.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys

from .common import host_port, payload


def _read_until(sock: socket.socket, marker: bytes, buf: bytes = b"") -> bytes:
    while marker not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    return buf


def send(url: str, subject: str, size: int, count: int) -> None:
    host, port = host_port(url)
    with socket.create_connection((host, port), timeout=120) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _read_until(sock, b"\r\n")
        connect = {"verbose": False, "pedantic": False, "lang": "python-sender", "version": "0"}
        sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        buf = _read_until(sock, b"PONG\r\n")
        frame = b"PUB %b %d\r\n" % (subject.encode(), size) + payload(size) + b"\r\n"
        per_chunk = max(1, 65536 // len(frame))
        chunk = frame * per_chunk
        full, rest = divmod(count, per_chunk)
        for _ in range(full):
            sock.sendall(chunk)
        if rest:
            sock.sendall(frame * rest)
        sock.sendall(b"PING\r\n")
        buf = _read_until(sock, b"PONG\r\n", buf.split(b"PONG\r\n", 1)[1])
        if b"-ERR" in buf:
            raise RuntimeError(f"server error: {buf[:200]!r}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--subject", required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args()
    send(args.url, args.subject, args.size, args.count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
