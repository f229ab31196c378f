"""The blocking workloads: code without an event loop publishing and requesting.

- ``syncpub`` / ``syncreq`` (``--client natswire``): :mod:`natswire.sync`, one
  connection, N blocking ``publish`` calls then a ``flush`` barrier / N sequential
  ``request`` calls.
- ``pyrunpub`` / ``pyrunreq`` (``--client nats-py``): what a synchronous program does with
  nats-py, which needs an event loop: each call is ``asyncio.run(...)`` of connect,
  publish (+ flush) or request, close, since a nats-py connection cannot outlive the
  loop it was made on.
- ``rawsyncreq`` (``--client raw``): the floor of a blocking request, over a bare socket.

Each returns the worker's JSON result (``metrics`` and the server counters to expect).
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import nats

import natswire.sync

from .common import PUB_SUBJECT, REQ_SUBJECT, host_port, now, payload, percentile


def _connect(url: str, errors: list[str]) -> natswire.sync.Client:
    return natswire.sync.connect(url, error_cb=lambda exc: errors.append(repr(exc)))


def _check(errors: list[str]) -> None:
    if errors:
        raise RuntimeError(f"client reported {len(errors)} error(s): {errors[:3]}")


def syncpub(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    errors: list[str] = []
    nc = _connect(url, errors)
    data = payload(size)
    publish = nc.publish
    subject = PUB_SUBJECT
    for _ in range(warmup):
        publish(subject, data)
    nc.flush(30)
    t0 = now()
    for _ in range(n):
        publish(subject, data)
    nc.flush(60)
    elapsed = now() - t0
    nc.close()
    _check(errors)
    return {"metrics": {"rate": n / elapsed}, "expect_in": warmup + n, "expect_out": 0}


def _latencies(lat: list[float], n: int, elapsed: float) -> dict[str, float]:
    lat.sort()
    return {
        "rate": n / elapsed,
        "p50": percentile(lat, 0.5) * 1e6,
        "p99": percentile(lat, 0.99) * 1e6,
    }


def syncreq(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    errors: list[str] = []
    nc = _connect(url, errors)
    data = payload(size)
    request = nc.request
    for _ in range(warmup):
        request(REQ_SUBJECT, data, timeout=5.0)
    lat: list[float] = []
    append = lat.append
    t0 = now()
    for _ in range(n):
        t = now()
        msg = request(REQ_SUBJECT, data, timeout=5.0)
        append(now() - t)
        if len(msg.data) != size:
            raise RuntimeError("bad reply")
    elapsed = now() - t0
    nc.close()
    _check(errors)
    return {
        "metrics": _latencies(lat, n, elapsed),
        "expect_in": 2 * (warmup + n),
        "expect_out": 2 * (warmup + n),
    }


def rawsyncreq(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """The raw client's column of the blocking req-reply row: a blocking socket, one
    ``sendall`` per request, ``recv`` until its reply is complete. No thread, no loop, no
    parsing beyond the reply's size: what no blocking client can beat."""
    sock = socket.create_connection(host_port(url), timeout=5.0)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    inbox = b"_INBOX.raw" + os.urandom(8).hex().encode()
    sock.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB %b.* 1\r\n' % inbox)
    buf = b""
    data = payload(size)
    head = b"PUB " + REQ_SUBJECT.encode() + b" " + inbox + b"."
    tail = b" %d\r\n%b\r\n" % (size, data)

    def more() -> bytes:
        got = sock.recv(65536)
        if not got:
            raise ConnectionError("the server closed the connection")
        return got

    def request(i: int) -> bytes:
        # A reply is matched to its request by its subject, as any client must.
        nonlocal buf
        token = b"%x" % i
        sock.sendall(head + token + tail)
        expected = b"MSG " + inbox + b"." + token + b" "
        while True:
            end = buf.find(b"\r\n")
            if end < 0:
                buf += more()
                continue
            line = buf[:end]
            if not line.startswith(b"MSG "):
                if line == b"PING":
                    sock.sendall(b"PONG\r\n")
                elif line.startswith(b"-ERR"):
                    raise RuntimeError(line.decode(errors="replace"))
                buf = buf[end + 2 :]
                continue
            stop = end + 2 + int(line[line.rfind(b" ") + 1 :])
            while len(buf) < stop + 2:
                buf += more()
            reply, buf = buf[end + 2 : stop], buf[stop + 2 :]
            if line.startswith(expected):
                return reply

    for i in range(warmup):
        request(i)
    lat: list[float] = []
    append = lat.append
    t0 = now()
    for i in range(n):
        t = now()
        reply = request(i)
        append(now() - t)
        if len(reply) != size:
            raise RuntimeError("bad reply")
    elapsed = now() - t0
    sock.close()
    return {
        "metrics": _latencies(lat, n, elapsed),
        "expect_in": 2 * (warmup + n),
        "expect_out": 2 * (warmup + n),
    }


async def _py_publish(url: str, data: bytes) -> None:
    nc = await nats.connect(url, allow_reconnect=False)
    await nc.publish(PUB_SUBJECT, data)
    await nc.flush()
    await nc.close()


async def _py_request(url: str, data: bytes) -> bytes:
    nc = await nats.connect(url, allow_reconnect=False)
    msg = await nc.request(REQ_SUBJECT, data, timeout=5.0)
    await nc.close()
    return bytes(msg.data)


def pyrunpub(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    data = payload(size)
    for _ in range(warmup):
        asyncio.run(_py_publish(url, data))
    t0 = now()
    for _ in range(n):
        asyncio.run(_py_publish(url, data))
    elapsed = now() - t0
    return {"metrics": {"rate": n / elapsed}, "expect_in": warmup + n, "expect_out": 0}


def pyrunreq(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    data = payload(size)
    for _ in range(warmup):
        asyncio.run(_py_request(url, data))
    lat: list[float] = []
    t0 = now()
    for _ in range(n):
        t = now()
        reply = asyncio.run(_py_request(url, data))
        lat.append(now() - t)
        if len(reply) != size:
            raise RuntimeError("bad reply")
    elapsed = now() - t0
    return {
        "metrics": _latencies(lat, n, elapsed),
        "expect_in": 2 * (warmup + n),
        "expect_out": 2 * (warmup + n),
    }
