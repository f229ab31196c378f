"""How much of a sequential KV round trip is the server's: the per-call time of
``kv.put`` (acked) and ``kv.get`` (Direct Get) for natswire and nats-py next to the same
request written by hand, over a blocking socket (no event loop at all: the server's
latency plus the kernel's) and over a minimal asyncio protocol (the cheapest an asyncio
client can be).

Run: ``python -m benchmarks.kv_floor [--n 5000] [--rounds 5]``; the figures are
microseconds per call, the median of the rounds (each round runs every variant once, in
alternating order), with the min and max.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import nats

import natswire
from natswire.server import NatsServer

from .common import host_port, payload

VALUE = payload(16)
KEYS = 100


class BlockingRaw:
    """Request-reply over a blocking socket: one ``sendall`` per request, ``recv`` until
    the one reply (MSG or HMSG) is complete."""

    def __init__(self, url: str) -> None:
        self.sock = socket.create_connection(host_port(url))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self._line()  # INFO
        fields = {"verbose": False, "pedantic": False, "headers": True, "protocol": 1}
        # Each raw client has its own reply prefix: a shared one would fill this buffer
        # with the other's replies and later requests would read them instead of waiting.
        self.prefix = b"_RB%b" % os.urandom(4).hex().encode()
        self.sock.sendall(
            b"CONNECT %b\r\nSUB %b.* 1\r\nPING\r\n" % (json.dumps(fields).encode(), self.prefix)
        )
        while self._line() != b"PONG":
            pass
        self.token = 0

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def request(self, subject: bytes, body: bytes) -> bytes:
        self.token += 1
        self.sock.sendall(
            b"PUB %b %b.%d %d\r\n%b\r\n" % (subject, self.prefix, self.token, len(body), body)
        )
        while True:
            line = self._line()
            if line.startswith(b"MSG ") or line.startswith(b"HMSG "):
                size = int(line.rsplit(b" ", 1)[1]) + 2
                while len(self.buf) < size:
                    self.buf += self.sock.recv(65536)
                reply, self.buf = self.buf[: size - 2], self.buf[size:]
                return reply
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")

    def close(self) -> None:
        self.sock.close()


class AsyncRaw(asyncio.Protocol):
    """Request-reply over a minimal asyncio protocol: the request written at once, the
    reply's future resolved from ``data_received`` (MSG or HMSG, payload sliced out)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.waiter: asyncio.Future[bytes] | None = None
        self.token = 0
        self.prefix = b"_RA%b" % os.urandom(4).hex().encode()

    @classmethod
    async def connect(cls, url: str) -> AsyncRaw:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(cls, *host_port(url))
        fields = {"verbose": False, "pedantic": False, "headers": True, "protocol": 1}
        proto.waiter = loop.create_future()
        assert proto.transport is not None
        proto.transport.write(
            b"CONNECT %b\r\nSUB %b.* 1\r\nPUB %b.0 0\r\n\r\n"
            % (json.dumps(fields).encode(), proto.prefix, proto.prefix)
        )
        await proto.waiter
        return proto

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        while True:
            end = buf.find(b"\r\n")
            if end < 0:
                break
            if buf.startswith(b"MSG ") or buf.startswith(b"HMSG "):
                stop = end + 2 + int(buf[:end].rsplit(b" ", 1)[1])
                if stop + 2 > len(buf):
                    break
                waiter, self.waiter = self.waiter, None
                if waiter is not None:
                    waiter.set_result(buf[end + 2 : stop])
                buf = buf[stop + 2 :]
            else:
                if buf.startswith(b"PING"):
                    assert self.transport is not None
                    self.transport.write(b"PONG\r\n")
                buf = buf[end + 2 :]
        self.buf = buf

    async def request(self, subject: bytes, body: bytes) -> bytes:
        self.token += 1
        self.waiter = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(
            b"PUB %b %b.%d %d\r\n%b\r\n" % (subject, self.prefix, self.token, len(body), body)
        )
        return await self.waiter


async def _timed(n: int, call: Callable[[int], Awaitable[Any]]) -> tuple[float, float]:
    for i in range(KEYS):
        await call(i)
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        await call(i)
    return (time.perf_counter() - t0) / n * 1e6, (time.process_time() - c0) / n * 1e6


def _timed_sync(n: int, call: Callable[[int], Any]) -> tuple[float, float]:
    for i in range(KEYS):
        call(i)
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        call(i)
    return (time.perf_counter() - t0) / n * 1e6, (time.process_time() - c0) / n * 1e6


async def main(n: int, rounds: int) -> None:
    server = NatsServer(jetstream=True)
    server.start()
    try:
        url = server.url
        nw = await natswire.connect(url)
        py = await nats.connect(url)
        bucket = f"floor{os.urandom(4).hex()}"
        kv_nw = await nw.jetstream().create_key_value(bucket=bucket, history=1, direct=True)
        kv_py = await py.jetstream().key_value(bucket)
        blocking = BlockingRaw(url)
        araw = await AsyncRaw.connect(url)
        put_subjects = [f"$KV.{bucket}.k{i}".encode() for i in range(KEYS)]
        get_subjects = [
            f"$JS.API.DIRECT.GET.KV_{bucket}.$KV.{bucket}.k{i}".encode() for i in range(KEYS)
        ]
        keys = [f"k{i}" for i in range(KEYS)]
        variants: dict[str, Callable[[], Awaitable[tuple[float, float]]]] = {
            "put blocking raw": lambda: asyncio.to_thread(
                _timed_sync, n, lambda i: blocking.request(put_subjects[i % KEYS], VALUE)
            ),
            "put asyncio raw": lambda: _timed(
                n, lambda i: araw.request(put_subjects[i % KEYS], VALUE)
            ),
            "put natswire": lambda: _timed(n, lambda i: kv_nw.put(keys[i % KEYS], VALUE)),
            "put nats-py": lambda: _timed(n, lambda i: kv_py.put(keys[i % KEYS], VALUE)),
            "get blocking raw": lambda: asyncio.to_thread(
                _timed_sync, n, lambda i: blocking.request(get_subjects[i % KEYS], b"")
            ),
            "get asyncio raw": lambda: _timed(
                n, lambda i: araw.request(get_subjects[i % KEYS], b"")
            ),
            "get natswire": lambda: _timed(n, lambda i: kv_nw.get(keys[i % KEYS])),
            "get nats-py": lambda: _timed(n, lambda i: kv_py.get(keys[i % KEYS])),
        }
        results: dict[str, list[float]] = {name: [] for name in variants}
        cpu: dict[str, list[float]] = {name: [] for name in variants}
        order = list(variants)
        for r in range(rounds):
            for name in order if r % 2 == 0 else reversed(order):
                wall, used = await variants[name]()
                results[name].append(wall)
                cpu[name].append(used)
        print(f"microseconds per call, {rounds} rounds of {n}: wall median [min-max], CPU median")
        for name, values in results.items():
            low, high = min(values), max(values)
            print(
                f"  {name:18} {statistics.median(values):7.1f}  [{low:.1f}-{high:.1f}]"
                f"  cpu {statistics.median(cpu[name]):6.1f}"
            )
        for op in ("put", "get"):
            py_us = statistics.median(results[f"{op} nats-py"])
            for name in ("blocking raw", "asyncio raw", "natswire"):
                us = statistics.median(results[f"{op} {name}"])
                print(f"  {op}: {name} / nats-py rate = {py_us / us:.2f}x")
        blocking.close()
        assert araw.transport is not None
        araw.transport.close()
        await nw.jetstream().delete_key_value(bucket)
        await nw.close()
        await py.close()
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.n, args.rounds))
