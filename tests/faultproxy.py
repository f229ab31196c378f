"""A loopback TCP proxy for fault-injection tests.

Sits between a client and a server and can, at any moment:

- ``freeze()``: stop forwarding in both directions without closing anything (a
  half-dead link: the sockets stay open, nothing moves, write buffers fill up);
- ``thaw()``: resume forwarding what was held back;
- ``cut()``: close every connection cleanly (FIN);
- ``reset()``: abort every connection (RST);
- ``delay``: hold each chunk this many seconds before forwarding it;
- ``split_server_stream``: forward the server's bytes to the client one byte per
  write.

Everything runs on the test's event loop and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field


@dataclass
class _Link:
    client_reader: asyncio.StreamReader
    client_writer: asyncio.StreamWriter
    server_reader: asyncio.StreamReader
    server_writer: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class FaultProxy:
    """Forward ``127.0.0.1:<port>`` to ``target_host:target_port``, with faults on demand."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self.delay = 0.0
        self.split_server_stream = False
        self.accepting = True
        self.connections_made = 0
        self._server: asyncio.Server | None = None
        self._links: list[_Link] = []
        self._flowing = asyncio.Event()
        self._flowing.set()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.thaw()
        await self._close_links(abort=True)

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def freeze(self) -> None:
        """Stop moving bytes; keep every socket open."""
        self._flowing.clear()

    def thaw(self) -> None:
        """Move bytes again."""
        self._flowing.set()

    async def cut(self) -> None:
        """Close every proxied connection (FIN)."""
        await self._close_links(abort=False)

    async def reset(self) -> None:
        """Abort every proxied connection (RST)."""
        await self._close_links(abort=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.accepting:
            writer.transport.abort()
            return
        try:
            server_reader, server_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            writer.transport.abort()
            return
        self.connections_made += 1
        link = _Link(reader, writer, server_reader, server_writer)
        self._links.append(link)
        link.tasks = [
            asyncio.create_task(self._pump(reader, server_writer, split=False)),
            asyncio.create_task(self._pump(server_reader, writer, split=True)),
        ]

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, split: bool
    ) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                await self._flowing.wait()
                if self.delay:
                    await asyncio.sleep(self.delay)
                    await self._flowing.wait()
                if split and self.split_server_stream:
                    for index in range(len(data)):
                        writer.write(data[index : index + 1])
                        await writer.drain()
                else:
                    writer.write(data)
                    await writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _close_links(self, *, abort: bool) -> None:
        links, self._links = self._links, []
        for link in links:
            for writer in (link.client_writer, link.server_writer):
                if abort:
                    writer.transport.abort()
                else:
                    writer.close()
            for task in link.tasks:
                task.cancel()
        for link in links:
            for task in link.tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
