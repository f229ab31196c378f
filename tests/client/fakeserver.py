"""An in-memory NATS server for the client edge cases a real nats-server never produces.

Built on the server-role parser and the server-side encoders of ``natswire.protocol``.
It listens on 127.0.0.1 with a free port, answers the handshake, routes PUB/HPUB to
matching SUBs (``*`` and ``>`` included), and lets a test script the rest: send INFO
late or again, ``-ERR`` at any moment, malformed or partial frames, stop answering
PINGs, refuse the handshake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from natswire.protocol import (
    PING,
    PONG,
    Connect,
    Frame,
    HPub,
    Parser,
    Pub,
    RemoteProtocolError,
    Role,
    Sub,
    Unsub,
    encode_err,
    encode_hmsg,
    encode_info,
    encode_msg,
    encode_ping,
    encode_pong,
)

ConnectHook = Callable[["FakeConnection"], "Awaitable[None] | None"]


def subject_matches(pattern: bytes, subject: bytes) -> bool:
    parts = pattern.split(b".")
    tokens = subject.split(b".")
    for i, part in enumerate(parts):
        if part == b">":
            return len(tokens) > i
        if i >= len(tokens) or (part != b"*" and part != tokens[i]):
            return False
    return len(parts) == len(tokens)


class FakeConnection(asyncio.Protocol):
    """The server side of one client connection."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.parser = Parser(Role.SERVER)
        self.transport: asyncio.Transport | None = None
        self.frames: list[Frame] = []
        self.connect: dict[str, Any] | None = None
        self.subs: dict[bytes, Sub] = {}
        self.pings_received = 0
        self.pongs_received = 0
        self.answer_pings = server.answer_pings
        self.closed = asyncio.get_running_loop().create_future()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ asyncio protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.append(self)
        self.server._changed.set()
        if self.server.info_delay is None:
            return
        if self.server.info_delay == 0:
            self.send_info()
        else:
            asyncio.get_running_loop().call_later(self.server.info_delay, self.send_info)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.parser.receive_data(data)
        except RemoteProtocolError as exc:
            self.send(encode_err(f"Parser Error: {exc}"[:100].replace("'", "")))
            self.close()
            return
        for frame in frames:
            self.frames.append(frame)
            self._on_frame(frame)
        self._changed.set()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        self._changed.set()

    # -------------------------------------------------------------------------- frames

    def _on_frame(self, frame: Frame) -> None:
        if isinstance(frame, Connect):
            self.connect = frame.fields
            hook = self.server.on_connect
            if hook is not None:
                result = hook(self)
                if result is not None:
                    task = asyncio.ensure_future(result)
                    self.server.tasks.add(task)
                    task.add_done_callback(self.server.tasks.discard)
        elif frame is PING:
            self.pings_received += 1
            # The handshake PING is always answered, later ones only when asked to.
            if self.answer_pings or self.pings_received == 1:
                self.send(encode_pong())
        elif frame is PONG:
            self.pongs_received += 1
        elif isinstance(frame, Sub):
            self.subs[frame.sid] = frame
        elif isinstance(frame, Unsub):
            self.subs.pop(frame.sid, None)
        elif isinstance(frame, (Pub, HPub)):
            self.server.route(frame)

    # ------------------------------------------------------------------------ scripting

    @property
    def is_closed(self) -> bool:
        return self.closed.done()

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def send_info(self, **fields: Any) -> None:
        self.send(encode_info({**self.server.info, **fields}))

    def send_err(self, message: str) -> None:
        self.send(encode_err(message))

    def send_ping(self) -> None:
        self.send(encode_ping())

    def send_msg(
        self, subject: str, sid: bytes | int, payload: bytes, reply: str | None = None
    ) -> None:
        self.send(encode_msg(subject, sid, payload, reply))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds, re-checked after every received frame."""

        async def _wait() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(_wait(), timeout)

    async def wait_sub(self, subject: str, timeout: float = 5.0) -> bytes:
        """The sid of the client's subscription to ``subject``, once it arrives."""
        wanted = subject.encode()
        await self.wait_for(lambda: any(s.subject == wanted for s in self.subs.values()), timeout)
        return next(sid for sid, s in self.subs.items() if s.subject == wanted)


class FakeServer:
    """Listen on 127.0.0.1 and a free port; one :class:`FakeConnection` per client.

    Args:
        info: fields of the INFO sent on connect (merged over sensible defaults).
        info_delay: seconds before the first INFO; ``None`` sends none (the test does).
        answer_pings: answer the client's PINGs after the handshake's.
        on_connect: called with the connection when its CONNECT arrives (may be async).
    """

    def __init__(
        self,
        *,
        info: dict[str, Any] | None = None,
        info_delay: float | None = 0,
        answer_pings: bool = True,
        on_connect: ConnectHook | None = None,
    ) -> None:
        self.info: dict[str, Any] = {
            "server_id": "FAKE",
            "server_name": "fake",
            "version": "2.99.0",
            "proto": 1,
            "go": "none",
            "host": "127.0.0.1",
            "port": 0,
            "headers": True,
            "max_payload": 1024 * 1024,
            "client_id": 1,
        }
        self.info.update(info or {})
        self.info_delay = info_delay
        self.answer_pings = answer_pings
        self.on_connect = on_connect
        self.connections: list[FakeConnection] = []
        self.tasks: set[asyncio.Future[None]] = set()
        self._server: asyncio.Server | None = None
        self._changed = asyncio.Event()

    async def start(self) -> FakeServer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: FakeConnection(self), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self.info["port"] = self.port
        return self

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in self.connections:
            if conn.transport is not None:
                conn.transport.abort()
        if self._server is not None:
            await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def __aenter__(self) -> FakeServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def connection(self, index: int, timeout: float = 5.0) -> FakeConnection:
        """The ``index``-th connection (0-based), once a client has made it."""

        async def _wait() -> FakeConnection:
            while len(self.connections) <= index:
                self._changed.clear()
                await self._changed.wait()
            return self.connections[index]

        return await asyncio.wait_for(_wait(), timeout)

    async def ready(self, index: int = 0, timeout: float = 5.0) -> FakeConnection:
        """The ``index``-th connection once its handshake PING has been answered."""
        conn = await self.connection(index, timeout)
        await conn.wait_for(lambda: conn.pings_received >= 1, timeout)
        return conn

    def route(self, frame: Pub | HPub) -> None:
        """Deliver a published message to every matching subscription."""
        for conn in self.connections:
            if conn.is_closed:
                continue
            for sid, sub in list(conn.subs.items()):
                if not subject_matches(sub.subject, frame.subject):
                    continue
                if isinstance(frame, HPub):
                    data = encode_hmsg(
                        frame.subject, sid, frame.raw_headers, frame.payload, frame.reply
                    )
                else:
                    data = encode_msg(frame.subject, sid, frame.payload, frame.reply)
                conn.send(data)
