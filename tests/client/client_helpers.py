"""Helpers shared by the client tests."""

from __future__ import annotations

import asyncio


class ErrorLog:
    """An ``error_cb`` that records what it got and lets a test wait for it."""

    def __init__(self) -> None:
        self.errors: list[Exception] = []
        self._event = asyncio.Event()

    async def __call__(self, error: Exception) -> None:
        self.errors.append(error)
        self._event.set()

    def of_type(self, kind: type[Exception]) -> list[Exception]:
        return [e for e in self.errors if isinstance(e, kind)]

    async def wait_for(self, kind: type[Exception], timeout: float = 5.0) -> Exception:
        """The first recorded error of ``kind``, waiting up to ``timeout`` seconds."""

        async def _wait() -> Exception:
            while True:
                found = self.of_type(kind)
                if found:
                    return found[0]
                self._event.clear()
                await self._event.wait()

        return await asyncio.wait_for(_wait(), timeout)
