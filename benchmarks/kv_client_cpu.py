"""The client's own CPU per KV round trip, without nats-server: a fake server in the
same process and event loop answers each request at once (a JetStream ack for a publish,
a Direct Get answer for a Direct Get), so the figures are the client's work plus a fixed,
small cost of the fake server and the loopback socket, the same for every client.
natswire (``nc.request``, ``js.publish``, ``kv.put``, ``kv.get``) next to nats-py's
calls and the minimal asyncio client of :mod:`benchmarks.kv_floor`.

Run: ``python -m benchmarks.kv_client_cpu [--n 3000] [--rounds 7]``; the figures are
process CPU microseconds per round trip, min and median of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import nats

import natswire
from natswire.jetstream.kv import KeyValue

from .kv_floor import AsyncRaw

ACK = b'{"stream":"KV_b","seq":123456}'
STORED_HEADERS = (
    b"NATS/1.0\r\nNats-Stream: KV_b\r\nNats-Subject: $KV.b.k1\r\nNats-Sequence: 2\r\n"
    b"Nats-Time-Stamp: 2026-12-06T11:56:42.499185668Z\r\n\r\n"
)
VALUE = b"0123456789abcdef"
INFO = (
    b'INFO {"server_id":"fake","version":"2.10.0","proto":1,"headers":true,'
    b'"max_payload":1048576}\r\n'
)


class FakeServer(asyncio.Protocol):
    """Enough of nats-server for request-reply: INFO, PONG, and for each ``PUB`` with
    a reply subject an answer delivered to the client's latest subscription."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buf = b""
        self.sid = b"1"
        self.transport.write(INFO)

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        out: list[bytes] = []
        while (end := buf.find(b"\r\n")) >= 0:
            line = buf[:end]
            if line.startswith(b"PUB "):
                args = line.split()
                stop = end + 2 + int(args[-1]) + 2
                if len(buf) < stop:
                    break
                buf = buf[stop:]
                if len(args) == 4:
                    out.append(self._answer(args[1], args[2]))
                elif args[1].startswith(b"_R."):  # the raw client's connect check
                    out.append(b"MSG %b %b 0\r\n\r\n" % (args[1], self.sid))
                continue
            if line.startswith(b"SUB "):
                self.sid = line.split()[-1]
            elif line == b"PING":
                out.append(b"PONG\r\n")
            buf = buf[end + 2 :]
        self.buf = buf
        if out:
            self.transport.write(b"".join(out))

    def _answer(self, subject: bytes, reply: bytes) -> bytes:
        if subject.startswith(b"$JS.API.DIRECT.GET."):
            size = len(STORED_HEADERS)
            return b"HMSG %b %b %d %d\r\n%b%b\r\n" % (
                reply, self.sid, size, size + len(VALUE), STORED_HEADERS, VALUE
            )  # fmt: skip
        return b"MSG %b %b %d\r\n%b\r\n" % (reply, self.sid, len(ACK), ACK)


async def main(n: int, rounds: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FakeServer, "127.0.0.1", 0)
    url = f"nats://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    nw = await natswire.connect(url)
    js = nw.jetstream()
    kv = KeyValue("b", "KV_b", "$KV.b.", js, True)
    py = await nats.connect(url)
    pjs = py.jetstream()
    raw = await AsyncRaw.connect(url)
    get_subject = b"$JS.API.DIRECT.GET.KV_b.$KV.b.k1"
    variants: dict[str, Callable[[], Awaitable[object]]] = {
        "raw request (ack)": lambda: raw.request(b"$KV.b.k1", VALUE),
        "raw request (direct get)": lambda: raw.request(get_subject, b""),
        "natswire nc.request": lambda: nw.request("$KV.b.k1", VALUE, timeout=5.0),
        "natswire js.publish": lambda: js.publish("$KV.b.k1", VALUE),
        "natswire kv.put": lambda: kv.put("k1", VALUE),
        "natswire kv.get": lambda: kv.get("k1"),
        "nats-py nc.request": lambda: py.request("$KV.b.k1", VALUE, timeout=5.0),
        "nats-py js.publish": lambda: pjs.publish("$KV.b.k1", VALUE),
        "nats-py js.get_msg(direct)": lambda: pjs.get_msg("KV_b", subject="$KV.b.k1", direct=True),
    }
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, call in variants.items():
            for _ in range(200):
                await call()
            c0 = time.process_time()
            for _ in range(n):
                await call()
            cpu[name].append((time.process_time() - c0) / n * 1e6)
    print(f"CPU microseconds per round trip against an in-process fake server, {rounds}x{n}:")
    for name, values in cpu.items():
        print(f"  {name:28} min {min(values):6.1f}  median {statistics.median(values):6.1f}")
    raw.transport.close()  # type: ignore[union-attr]
    await nw.close()
    await py.close()
    server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.n, args.rounds))
