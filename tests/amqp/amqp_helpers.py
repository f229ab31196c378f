"""Helpers for the AMQP adapter tests."""

from __future__ import annotations

import asyncio
import contextlib

from natswire import amqp


class Collector:
    """An ``on_message`` callback that keeps deliveries and lets a test wait for them."""

    def __init__(self) -> None:
        self.deliveries: list[amqp.Delivery] = []
        self._changed = asyncio.Event()

    def __call__(self, delivery: amqp.Delivery) -> None:
        self.deliveries.append(delivery)
        self._changed.set()

    @property
    def bodies(self) -> list[bytes]:
        return [d.body for d in self.deliveries]

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[amqp.Delivery]:
        """Wait until at least ``count`` deliveries arrived; fail after ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.deliveries) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"expected {count} deliveries, got {len(self.deliveries)}: {self.bodies}"
                )
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return self.deliveries

    async def quiet(self, seconds: float = 0.3) -> list[amqp.Delivery]:
        """Wait ``seconds`` and return what arrived (to check that nothing more came)."""
        await asyncio.sleep(seconds)
        return self.deliveries


async def declare_bound(
    ch: amqp.Channel,
    queue: str,
    exchange: str,
    keys: list[str],
    **declare: object,
) -> None:
    await ch.queue_declare(queue, **declare)  # type: ignore[arg-type]
    for key in keys:
        await ch.queue_bind(queue, exchange, key)
