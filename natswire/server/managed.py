"""Starting and stopping as context managers, and the servers stopped at interpreter exit."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

_Managed = TypeVar("_Managed", bound="ManagedProcesses")


class ManagedProcesses:
    """Context managers around ``start()`` and ``stop()``, sync and async.

    Entering starts (and stops again if starting fails); leaving stops. The async forms run
    them in a worker thread, and a caller cancelled while starting does not leak processes.
    ``start()`` and ``astart()`` return the object, so ``srv = NatsServer().start()`` works.
    """

    def start(self: _Managed) -> _Managed:
        raise NotImplementedError

    def stop(self, timeout: float = 10.0) -> None:
        raise NotImplementedError

    def __enter__(self: _Managed) -> _Managed:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def astart(self: _Managed) -> _Managed:
        """:meth:`start` in a worker thread; returns the object."""
        await _start_in_thread(self.start, self.stop)
        return self

    async def astop(self, timeout: float = 10.0) -> None:
        """:meth:`stop` in a worker thread."""
        await asyncio.to_thread(self.stop, timeout)

    async def __aenter__(self: _Managed) -> _Managed:
        try:
            await self.astart()
        except BaseException:
            await asyncio.to_thread(self.stop)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()


async def _start_in_thread(start: Callable[[], object], stop: Callable[[], None]) -> None:
    """Run ``start`` in a worker thread; if the caller is cancelled, ``stop`` once it returns.

    ``asyncio.to_thread`` cannot interrupt the thread, so without this a task cancelled while
    a server boots would leave the server running.
    """
    future = asyncio.ensure_future(asyncio.to_thread(start))
    try:
        await asyncio.shield(future)
    except asyncio.CancelledError:

        def _abandon(done: asyncio.Future[object]) -> None:
            if not done.cancelled() and done.exception() is None:
                threading.Thread(target=stop, name="nats-server-stop").start()

        future.add_done_callback(_abandon)
        raise


#: Servers that own a process or a temporary directory; stopped at interpreter exit.
#: Read it with :func:`live_servers`; :class:`~natswire.server.NatsServer` adds and
#: removes itself through :func:`register` and :func:`unregister`.
LIVE_SERVERS: set[ManagedProcesses] = set()
_LIVE_LOCK = threading.Lock()


def register(owner: ManagedProcesses) -> None:
    """Note that ``owner`` holds a process or a temporary directory."""
    with _LIVE_LOCK:
        LIVE_SERVERS.add(owner)


def unregister(owner: ManagedProcesses) -> None:
    """Note that ``owner`` has released everything it held."""
    with _LIVE_LOCK:
        LIVE_SERVERS.discard(owner)


def live_servers() -> list[ManagedProcesses]:
    """The servers that still hold a process or a temporary directory (a snapshot)."""
    with _LIVE_LOCK:
        return list(LIVE_SERVERS)


def _stop_all_at_exit() -> None:
    for server in live_servers():
        with contextlib.suppress(Exception):
            server.stop(timeout=2.0)


atexit.register(_stop_all_at_exit)
