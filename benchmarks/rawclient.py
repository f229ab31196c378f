"""The ``raw`` row: a minimal hand-written asyncio NATS client.

It does the per-message work a client must do, by hand and nothing more: one ``publish``
call per message that formats ``PUB <subject> <size>\\r\\n`` and appends header, payload and
CRLF to a buffer written once per event-loop iteration (or at 64 KiB); on receive a
find/split loop that extracts every MSG's subject, sid, reply and payload and hands them to
the subscription's callback (HMSG too, its headers checked for a status line only);
request-reply through one wildcard inbox with a future and a timeout timer per request;
an empty ``PUB`` to a reply subject for JetStream acks. No validation, no reconnect, no
headers on the send side: it is the pure-Python ceiling the real clients are compared
against.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from typing import Any

from .common import host_port

WRITE_THRESHOLD = 65536
#: (subject, reply, payload) -> None
RawCallback = Callable[[bytes, "bytes | None", bytes], None]


class RawConnection(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.out = bytearray()
        self.scheduled = False
        self.paused = False
        self.writable: asyncio.Future[None] | None = None
        self.buf = b""
        self.subs: dict[bytes, RawCallback] = {}
        self.pongs: deque[asyncio.Future[None]] = deque()
        self.info: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.next_sid = 1
        self.inbox_prefix = b""
        self.requests: dict[bytes, asyncio.Future[bytes]] = {}
        self.next_token = 0
        self.errors: list[str] = []
        #: sid -> what a status message (an HMSG with a status line) to that
        #: subscription goes to, ``hook(subject, status line)``; without one it fails
        #: the request it answers.
        self.status_hooks: dict[bytes, Callable[[bytes, str], None]] = {}

    # ------------------------------------------------------------------ setup

    @classmethod
    async def connect(cls, url: str) -> RawConnection:
        loop = asyncio.get_running_loop()
        host, port = host_port(url)
        _, proto = await loop.create_connection(lambda: cls(loop), host, port)
        await proto.info
        fields = {
            "verbose": False,
            "pedantic": False,
            "headers": True,
            "no_responders": True,
            "protocol": 1,
            "lang": "python-raw",
            "version": "0",
        }
        proto.transport.write(b"CONNECT " + json.dumps(fields).encode() + b"\r\n")  # type: ignore[union-attr]
        await proto.flush()
        return proto

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        for fut in self.pongs:
            if not fut.done():
                fut.set_exception(ConnectionError(f"connection lost: {exc}"))

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._write()
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)

    # ------------------------------------------------------------------ send

    def _write(self) -> None:
        self.scheduled = False
        if self.out and not self.paused:
            data = self.out
            self.out = bytearray()
            self.transport.write(data)  # type: ignore[union-attr]

    async def publish(self, subject: str, payload: bytes, reply: bytes | None = None) -> None:
        out = self.out
        if reply is None:
            out += b"PUB %b %d\r\n" % (subject.encode(), len(payload))
        else:
            out += b"PUB %b %b %d\r\n" % (subject.encode(), reply, len(payload))
        out += payload
        out += b"\r\n"
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self._write)
        elif len(out) > WRITE_THRESHOLD:
            self._write()
            if self.paused:
                if self.writable is None or self.writable.done():
                    self.writable = self.loop.create_future()
                await self.writable

    def echo(self, subject: bytes, reply: bytes | None, data: bytes) -> None:
        """A subscription callback that answers every request with its own payload."""
        if reply is None:
            return
        out = self.out
        out += b"PUB %b %d\r\n" % (reply, len(data))
        out += data
        out += b"\r\n"
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self._write)

    def ack(self, reply: bytes) -> None:
        """An empty message to ``reply`` (a JetStream ack), from a delivery callback."""
        out = self.out
        out += b"PUB %b 0\r\n\r\n" % reply
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self._write)
        elif len(out) > WRITE_THRESHOLD:
            self._write()

    def _control(self, line: bytes) -> None:
        self.out += line
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self._write)

    async def flush(self) -> None:
        """PING queued behind everything buffered; returns on the PONG."""
        fut = self.loop.create_future()
        self.pongs.append(fut)
        self._control(b"PING\r\n")
        await fut

    def subscribe(self, subject: str, cb: RawCallback, queue: str = "") -> bytes:
        sid = b"%d" % self.next_sid
        self.next_sid += 1
        self.subs[sid] = cb
        if queue:
            self._control(b"SUB %b %b %b\r\n" % (subject.encode(), queue.encode(), sid))
        else:
            self._control(b"SUB %b %b\r\n" % (subject.encode(), sid))
        return sid

    # ------------------------------------------------------------------ request

    def start_inbox(self, prefix: bytes) -> None:
        self.inbox_prefix = prefix + b"."
        self.subscribe(prefix.decode() + ".*", self._on_response)

    def _status_reply(self, subject: bytes, error: str) -> None:
        """A status (404, 503, ...) came instead of a reply: the request fails with it."""
        self.errors.append(error)
        fut = self.requests.pop(subject[len(self.inbox_prefix) :], None)
        if fut is not None and not fut.done():
            fut.set_exception(RuntimeError(error))

    def _on_response(self, subject: bytes, reply: bytes | None, payload: bytes) -> None:
        fut = self.requests.pop(subject[len(self.inbox_prefix) :], None)
        if fut is not None and not fut.done():
            fut.set_result(payload)

    async def request(self, subject: str, payload: bytes, timeout: float = 5.0) -> bytes:
        self.next_token += 1
        token = b"%x" % self.next_token
        loop = self.loop
        fut: asyncio.Future[bytes] = loop.create_future()
        self.requests[token] = fut
        timer = loop.call_later(timeout, fut.cancel)
        await self.publish(subject, payload, self.inbox_prefix + token)
        try:
            return await fut
        finally:
            timer.cancel()
            self.requests.pop(token, None)

    # ------------------------------------------------------------------ receive

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        subs = self.subs
        pos = 0
        end_all = len(buf)
        find = buf.find
        startswith = buf.startswith
        while True:
            end = find(b"\r\n", pos)
            if end < 0:
                break
            if startswith(b"MSG ", pos):
                args = buf[pos + 4 : end].split()
                if len(args) == 3:
                    subject, sid, size_field = args
                    reply = None
                else:
                    subject, sid, reply, size_field = args
                start = end + 2
                stop = start + int(size_field)
                if stop + 2 > end_all:
                    break
                cb = subs.get(sid)
                if cb is not None:
                    cb(subject, reply, buf[start:stop])
                pos = stop + 2
            elif startswith(b"HMSG ", pos):
                # Replies with headers (Direct Get): the payload is delivered; a status
                # line (404, 503, ...) is an error, never a reply.
                args = buf[pos + 5 : end].split()
                subject, sid, reply = args[0], args[1], args[2] if len(args) == 5 else None
                start = end + 2
                mid = start + int(args[-2])
                stop = start + int(args[-1])
                if stop + 2 > end_all:
                    break
                if buf.startswith(b"NATS/1.0\r\n", start):
                    cb = subs.get(sid)
                    if cb is not None:
                        cb(subject, reply, buf[mid:stop])
                else:
                    status = buf[start : buf.find(b"\r\n", start)].decode(errors="replace")
                    hook = self.status_hooks.get(sid)
                    if hook is not None:
                        hook(subject, status)
                    else:
                        self._status_reply(subject, f"{subject.decode(errors='replace')}: {status}")
                pos = stop + 2
            else:
                self._control_line(buf[pos:end])
                pos = end + 2
        self.buf = buf[pos:] if pos < end_all else b""

    def _control_line(self, line: bytes) -> None:
        if line == b"PING":
            self.transport.write(b"PONG\r\n")  # type: ignore[union-attr]
        elif line == b"PONG":
            if self.pongs:
                fut = self.pongs.popleft()
                if not fut.done():
                    fut.set_result(None)
        elif line.startswith(b"INFO "):
            if not self.info.done():
                self.info.set_result(json.loads(line[5:]))
        elif line.startswith(b"-ERR"):
            self.errors.append(line.decode(errors="replace"))
        elif line == b"+OK":
            pass
        else:
            self.errors.append(f"unexpected line {line[:80]!r}")

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class RawParser:
    """The raw row of the parser micro-benchmark: the same find/split loop, producing
    one tuple per frame (MSG and HMSG), keeping the unparsed tail between calls."""

    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> list[tuple[bytes, ...]]:
        buf = self.buf + data if self.buf else data
        frames: list[tuple[bytes, ...]] = []
        append = frames.append
        pos = 0
        end_all = len(buf)
        find = buf.find
        startswith = buf.startswith
        while True:
            end = find(b"\r\n", pos)
            if end < 0:
                break
            if startswith(b"MSG ", pos):
                args = buf[pos + 4 : end].split()
                if len(args) == 3:
                    subject, sid, size_field = args
                    reply = b""
                else:
                    subject, sid, reply, size_field = args
                start = end + 2
                stop = start + int(size_field)
                if stop + 2 > end_all:
                    break
                append((subject, sid, reply, buf[start:stop]))
                pos = stop + 2
            elif startswith(b"HMSG ", pos):
                args = buf[pos + 5 : end].split()
                if len(args) == 4:
                    subject, sid, hsize, size_field = args
                    reply = b""
                else:
                    subject, sid, reply, hsize, size_field = args
                start = end + 2
                mid = start + int(hsize)
                stop = start + int(size_field)
                if stop + 2 > end_all:
                    break
                append((subject, sid, reply, buf[start:mid], buf[mid:stop]))
                pos = stop + 2
            else:
                append((buf[pos:end],))
                pos = end + 2
        self.buf = buf[pos:] if pos < end_all else b""
        return frames
