"""The connection's upkeep: one ticker for every periodic duty.

While connected: every second, the consumers that are due forget lost pull requests,
keep a single-active pin and pull; every quarter second, held deliveries are kept from
the ack wait (``+WPI``); and idle exclusive and auto-delete queues are kept from their
inactive threshold. (The
expiry sweep runs in a task of its own: :mod:`natswire.amqp.sweep`.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .consumer import ConsumerSet
from .options import AmqpOptions
from .topology import Topology

if TYPE_CHECKING:
    from .._client import Client
    from .channel import Channel
    from .queues import QueueSpec

logger = logging.getLogger("natswire.amqp")

#: How often the ticker looks at what is due (s).
TICK = 0.25
#: How often it asks every started consumer whether it is due (s): a pass over 20,000
#: consumers costs milliseconds, and consumers pull on their own events in between.
CONSUMER_TICK = 1.0


class Upkeep:
    """The periodic duties of one adapter connection."""

    def __init__(
        self,
        nc: Client,
        options: AmqpOptions,
        consumers: ConsumerSet,
        channels: Callable[[], Iterable[Channel]],
        topology: Topology,
    ) -> None:
        self._nc = nc
        self._options = options
        self._consumers = consumers
        self._channels = channels
        self._topology = topology
        self._keepalive: dict[str, Channel] = {}  # exclusive/auto-delete queue -> channel
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ queue watch

    def queue_seen(self, spec: QueueSpec, channel: Channel) -> None:
        """An exclusive or auto-delete queue declared on ``channel`` is kept alive while
        that channel is open."""
        if spec.exclusive or spec.auto_delete:
            self._keepalive[spec.name] = channel

    def queue_gone(self, queue: str) -> None:
        """``queue`` was deleted: nothing to keep alive."""
        self._keepalive.pop(queue, None)

    def channel_closed(self, channel: Channel) -> None:
        """``channel`` closed: the queues it kept alive are left to their threshold."""
        for queue, owner in list(self._keepalive.items()):
            if owner is channel:
                del self._keepalive[queue]

    # -------------------------------------------------------------- the ticker

    def start(self) -> None:
        """Start the ticker (once)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the ticker and wait for it."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self) -> None:
        options = self._options
        last_keepalive = last_consumers = time.monotonic()
        touch_every = options.ack_wait / 3
        while True:
            await asyncio.sleep(TICK)
            if not self._nc.is_connected:
                continue
            now = time.monotonic()
            try:
                if now - last_consumers >= CONSUMER_TICK:
                    last_consumers = now
                    for consumer in self._consumers:
                        if consumer.due(now):
                            await consumer.tick(now)
                for channel in list(self._channels()):
                    await channel.touch(now, touch_every)
                if now - last_keepalive >= options.orphan_timeout / 4:
                    last_keepalive = now
                    await self._keep_alive()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.debug("natswire.amqp: upkeep: %s", exc)

    async def _keep_alive(self) -> None:
        """Exclusive and auto-delete queues without a consumer here are kept from the
        consumer's inactive threshold by a pull request that can deliver nothing."""
        for queue in list(self._keepalive):
            if self._consumers.consumes(queue):
                continue
            found = await self._topology.find_queue(queue)
            if found is None:
                self._keepalive.pop(queue, None)
                continue
            await self._topology.ping_queue(found[1])
