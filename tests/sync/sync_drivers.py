"""One small async interface over natswire's two clients, so a scenario is written once
and run against both: the asyncio client as it is, the blocking client
(:mod:`natswire.sync`) with each call on a worker thread (``asyncio.to_thread``), so the
test's event loop, and the nats-py peer on it, keep running while it blocks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import natswire
import natswire.sync
from natswire.jetstream.api import PubAck

#: The ``sync_connect`` fixture: ``sync_connect(url=None, **options)``.
SyncConnect = Callable[..., natswire.sync.Client]


class Inbox(Protocol):
    async def next(self, timeout: float = 2.0) -> Any: ...


class Puller(Protocol):
    async def fetch(self, batch: int, timeout: float) -> list[Any]: ...

    async def ack(self, msg: Any) -> None: ...


class Driver(Protocol):
    """The calls a scenario makes; messages keep nats-py's attributes (``subject``,
    ``reply``, ``data``, ``headers``; ``metadata`` for JetStream ones)."""

    name: str

    async def publish(self, subject: str, data: bytes, headers: Any = None) -> None: ...

    async def subscribe(self, subject: str) -> Inbox: ...

    async def serve(self, subject: str, answer: Callable[[Any], bytes]) -> None: ...

    async def request(
        self, subject: str, data: bytes, timeout: float = 2.0, headers: Any = None
    ) -> Any: ...

    async def flush(self) -> None: ...

    async def js_publish(self, subject: str, data: bytes, msg_id: str | None = None) -> PubAck: ...

    async def js_pull(self, subject: str, durable: str) -> Puller: ...

    async def close(self) -> None: ...


class AsyncioDriver:
    name = "asyncio"

    def __init__(self, nc: natswire.Client) -> None:
        self.nc = nc

    async def publish(self, subject: str, data: bytes, headers: Any = None) -> None:
        await self.nc.publish(subject, data, headers=headers)

    async def subscribe(self, subject: str) -> Inbox:
        sub = await self.nc.subscribe(subject)

        class _Inbox:
            async def next(self, timeout: float = 2.0) -> Any:
                return await sub.next_msg(timeout)

        return _Inbox()

    async def serve(self, subject: str, answer: Callable[[Any], bytes]) -> None:
        async def cb(msg: natswire.Message) -> None:
            await msg.respond(answer(msg))

        await self.nc.subscribe(subject, cb=cb)

    async def request(
        self, subject: str, data: bytes, timeout: float = 2.0, headers: Any = None
    ) -> Any:
        return await self.nc.request(subject, data, timeout=timeout, headers=headers)

    async def flush(self) -> None:
        await self.nc.flush()

    async def js_publish(self, subject: str, data: bytes, msg_id: str | None = None) -> PubAck:
        return await self.nc.jetstream().publish(subject, data, msg_id=msg_id)

    async def js_pull(self, subject: str, durable: str) -> Puller:
        psub = await self.nc.jetstream().pull_subscribe(subject, durable=durable)

        class _Puller:
            async def fetch(self, batch: int, timeout: float) -> list[Any]:
                return list(await psub.fetch(batch, timeout=timeout))

            async def ack(self, msg: Any) -> None:
                await msg.ack()

        return _Puller()

    async def close(self) -> None:
        await self.nc.close()


class BlockingDriver:
    name = "blocking"

    def __init__(self, nc: natswire.sync.Client) -> None:
        self.nc = nc

    async def publish(self, subject: str, data: bytes, headers: Any = None) -> None:
        await asyncio.to_thread(self.nc.publish, subject, data, headers=headers)

    async def subscribe(self, subject: str) -> Inbox:
        sub = await asyncio.to_thread(self.nc.subscribe, subject)

        class _Inbox:
            async def next(self, timeout: float = 2.0) -> Any:
                return await asyncio.to_thread(sub.next_msg, timeout)

        return _Inbox()

    async def serve(self, subject: str, answer: Callable[[Any], bytes]) -> None:
        def cb(msg: natswire.sync.Message) -> None:
            msg.respond(answer(msg))

        await asyncio.to_thread(self.nc.subscribe, subject, cb=cb)

    async def request(
        self, subject: str, data: bytes, timeout: float = 2.0, headers: Any = None
    ) -> Any:
        return await asyncio.to_thread(
            self.nc.request, subject, data, timeout=timeout, headers=headers
        )

    async def flush(self) -> None:
        await asyncio.to_thread(self.nc.flush)

    async def js_publish(self, subject: str, data: bytes, msg_id: str | None = None) -> PubAck:
        js = self.nc.jetstream()
        return await asyncio.to_thread(js.publish, subject, data, msg_id=msg_id)

    async def js_pull(self, subject: str, durable: str) -> Puller:
        js = self.nc.jetstream()
        psub = await asyncio.to_thread(js.pull_subscribe, subject, durable=durable)

        class _Puller:
            async def fetch(self, batch: int, timeout: float) -> list[Any]:
                return await asyncio.to_thread(psub.fetch, batch, timeout)

            async def ack(self, msg: Any) -> None:
                await asyncio.to_thread(msg.ack)

        return _Puller()

    async def close(self) -> None:
        await asyncio.to_thread(self.nc.close)


async def open_driver(kind: str, url: str) -> Driver:
    """A connected driver of ``kind`` (``"asyncio"`` or ``"blocking"``)."""
    if kind == "asyncio":
        return AsyncioDriver(await natswire.connect(url, connect_timeout=2.0))
    nc = await asyncio.to_thread(natswire.sync.connect, url, connect_timeout=2.0)
    return BlockingDriver(nc)
